"""Tests for convexnn.persistence: pickle and the plain .npz format."""

import io
import json
import pickle
import subprocess
import sys
import warnings
import zipfile

import numpy as np
import pytest
from sklearn.base import BaseEstimator

import convexnn
from convexnn import __version__
from convexnn.deep.estimators import DeepConvexReLUClassifier, DeepConvexReLURegressor
from convexnn.estimators import ConvexReLUClassifier, ConvexReLURegressor
from convexnn.persistence import FORMAT_VERSION, _digest, load, register, registered, save
from convexnn.results import ConvergenceWarning
from convexnn.solvers import get_solver


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((50, 3))
    y = np.maximum(X @ [1.0, -1.0, 0.5], 0) + 0.1 * rng.standard_normal(50)
    labels = np.array(["low", "mid", "high"])[np.digitize(y, np.quantile(y, [1 / 3, 2 / 3]))]
    return X, y, labels


@pytest.fixture(scope="module")
def models(data):
    """Fitted models of every exported estimator class, fitted once for the module (the tests
    only read them). The deep ones need not be optimal here (with the augmented Lagrangian they
    stopped at max_iter; 'auto' now solves them by the interior-point method, which converges)."""
    X, y, labels = data
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        deep = [
            DeepConvexReLURegressor(n_patterns=6, n_upper_patterns=3, depth=4, max_iter=300,
                                    random_state=1).fit(X, y),
            DeepConvexReLUClassifier(n_patterns=6, n_upper_patterns=3, max_iter=300,
                                     random_state=0).fit(X, labels),
            DeepConvexReLUClassifier(n_patterns=4, n_upper_patterns=2, max_iter=200,
                                     fit_intercept=False, pattern_search="sgd",
                                     random_state=0).fit(X, y > 0.5),
        ]
    return [
        ConvexReLURegressor(n_patterns=8, random_state=0).fit(X, y),
        ConvexReLURegressor(n_patterns=8, formulation="gated", random_state=0).fit(
            X, np.column_stack([y, X[:, 0]])
        ),
        ConvexReLURegressor(n_patterns=8, fit_intercept=False, random_state=0).fit(X, y),
        ConvexReLUClassifier(n_patterns=8, random_state=0).fit(X, labels),
        ConvexReLUClassifier(n_patterns=8, formulation="gated", random_state=0).fit(X, y > 0.5),
        # a model of a regularization path has no sgd_objective_
        ConvexReLURegressor(n_patterns=8, random_state=0).regularization_path(X, y, [1e-2])
        .estimators[0],
    ] + deep


def _exported_estimators():
    return {
        getattr(convexnn, name) for name in convexnn.__all__
        if isinstance(getattr(convexnn, name), type)
        and issubclass(getattr(convexnn, name), BaseEstimator)
    }


def _assert_same(a, b, where):
    """``a`` and ``b`` equal bit for bit: arrays (values and dtype), numbers, None, and objects
    (networks, patterns) attribute by attribute."""
    if isinstance(a, np.ndarray):
        assert isinstance(b, np.ndarray), where
        assert a.dtype == b.dtype or a.dtype.kind == b.dtype.kind == "U", where
        assert a.shape == b.shape, where
        np.testing.assert_array_equal(a, b, err_msg=where)
    elif isinstance(a, (list, tuple)):
        assert type(b) is type(a) and len(b) == len(a), where
        for i, (u, v) in enumerate(zip(a, b)):
            _assert_same(u, v, f"{where}[{i}]")
    elif isinstance(a, dict):
        assert type(b) is dict and list(b) == list(a), where
        for key in a:
            _assert_same(a[key], b[key], f"{where}[{key!r}]")
    elif a is None or isinstance(a, (bool, str)):
        assert b is a or (isinstance(a, str) and b == a), where
    elif isinstance(a, (int, float, np.number)):
        assert type(b) is type(a) and (b == a or (np.isnan(a) and np.isnan(b))), where
    else:
        assert type(b) is type(a), where
        assert vars(a).keys() == vars(b).keys(), where
        for name in vars(a):
            _assert_same(getattr(a, name), getattr(b, name), f"{where}.{name}")


#: the cross-validated estimators have no file form of their own: their refitted model is saved
#: (``model.best_estimator_.save(path)``, tested in tests/test_model_selection.py)
_SAVED_THROUGH_BEST_ESTIMATOR = {convexnn.ConvexReLURegressorCV, convexnn.ConvexReLUClassifierCV}


def test_every_exported_estimator_is_registered_and_tested(models):
    exported = _exported_estimators() - _SAVED_THROUGH_BEST_ESTIMATOR
    assert len(exported) == 4
    assert set(registered().values()) == exported
    assert {type(model) for model in models} == exported


def _outputs(model, X):
    out = [model.predict(X)]
    if hasattr(model, "predict_proba"):
        out += [model.predict_proba(X), model.decision_function(X)]
    return out


def test_pickle_round_trip_gives_identical_predictions(data, models):
    X = data[0] * 1.7 + 0.3  # new points, not only the training ones
    for model in models:
        again = pickle.loads(pickle.dumps(model))
        for a, b in zip(_outputs(model, X), _outputs(again, X)):
            np.testing.assert_array_equal(a, b)


def test_save_load_round_trip_is_bit_for_bit(data, tmp_path, models):
    X = data[0] * 1.7 + 0.3
    for i, model in enumerate(models):
        path = tmp_path / f"model{i}.npz"
        model.save(path)
        again = type(model).load(path)
        assert type(again) is type(model)
        assert again.get_params() == model.get_params()
        for a, b in zip(_outputs(model, X), _outputs(again, X)):
            assert a.dtype == b.dtype or a.dtype.kind == b.dtype.kind == "U"
            np.testing.assert_array_equal(a, b)
        # every attribute fit set (fitted ones and the private network state) comes back
        assert vars(again).keys() == vars(model).keys()
        for name, value in vars(model).items():
            _assert_same(value, getattr(again, name), f"{type(model).__name__}.{name}")
    assert models[0].sgd_objective_ is not None and models[5].restricted_gap_ is not None
    assert not hasattr(models[5], "sgd_objective_")


def test_loaded_deep_model_predicts_what_it_saved(data, tmp_path, models):
    X = data[0][:7]
    model = models[-2]  # deep, three classes
    again = load(model.save(tmp_path / "deep"))
    np.testing.assert_array_equal(again.predict_proba(X), model.predict_proba(X))
    assert again.patterns_.sizes == model.patterns_.sizes
    assert again.lower_bound_ == model.lower_bound_ and again.lower_bound_ is not None


def test_save_and_load_agree_on_the_file_name(data, tmp_path, models, monkeypatch):
    monkeypatch.chdir(tmp_path)
    model = models[0]
    X = data[0]
    assert model.save("model") == "model.npz"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.npz"]
    for name in ("model", "model.npz", tmp_path / "model"):
        np.testing.assert_array_equal(load(name).predict(X), model.predict(X))
        np.testing.assert_array_equal(ConvexReLURegressor.load(name).predict(X), model.predict(X))
    assert save(model, "other.npz") == "other.npz"  # no second suffix
    assert save(model, tmp_path / "third.bin") == str(tmp_path / "third.bin.npz")
    assert load("third.bin").objective_ == model.objective_
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.npz", "other.npz", "third.bin.npz"]
    # a model file renamed without its suffix is still read under the name given
    (tmp_path / "other.npz").rename(tmp_path / "renamed")
    assert load("renamed").objective_ == model.objective_
    with pytest.raises(FileNotFoundError, match="'missing.npz' or 'missing'"):
        load("missing")


def test_persistence_is_reachable_after_import_convexnn():
    code = "import convexnn; print(convexnn.persistence.load.__module__)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "convexnn.persistence"


def test_file_is_plain_arrays_and_json_with_the_version(data, tmp_path, models):
    model = models[3]
    path = tmp_path / "clf.npz"
    save(model, path)
    with np.load(path, allow_pickle=False) as archive:  # would raise on any pickled entry
        assert all(archive[name].dtype != object for name in archive.files)
        meta = json.loads(str(archive["__metadata__"]))
    assert meta["convexnn_version"] == __version__
    assert meta["format_version"] == FORMAT_VERSION
    assert meta["estimator"] == "ConvexReLUClassifier"
    assert meta["state"]["params"]["n_patterns"] == 8
    assert meta["state"]["attributes"]["n_iter_"] == model.n_iter_


def test_loaded_model_refits_and_warm_starts(data, tmp_path):
    X, y, _ = data
    # column generation's program here is solved to tol within the default max_iter (the 'auto'
    # choice, Adam's patterns, needs ~22k iterations), as the comparison below assumes
    model = ConvexReLURegressor(n_patterns=8, random_state=0, warm_start=True,
                                pattern_search="column_generation").fit(X, y)
    model.save(tmp_path / "m.npz")
    again = ConvexReLURegressor.load(tmp_path / "m.npz")
    again.set_params(random_state=5).fit(X, y)  # warm start: keeps the saved gates
    np.testing.assert_array_equal(again.patterns_.gates, model.patterns_.gates)
    # the same program, started at the saved solution: both certified to its optimum, so the
    # objectives differ by at most the larger gap and the predictions (squared loss, mean
    # scaling: ||p - p*|| <= sqrt(2 n gap) each) by the sum of the two radii
    gaps = [m.restricted_gap_ * abs(m.objective_) for m in (again, model)]
    assert abs(again.objective_ - model.objective_) <= max(gaps) + 1e-12
    radius = sum(np.sqrt(2 * X.shape[0] * max(g, 0.0)) for g in gaps)
    assert np.linalg.norm(again.predict(X) - model.predict(X)) <= radius + 1e-9
    assert radius <= 1e-2 * np.linalg.norm(model.predict(X))


def test_feature_names_survive(data, tmp_path):
    X, y, _ = data
    model = ConvexReLURegressor(n_patterns=4, random_state=0).fit(X, y)
    model.feature_names_in_ = np.array(["a", "b", "c"], dtype=object)  # as validate_data sets it
    model.save(tmp_path / "m.npz")
    again = load(tmp_path / "m.npz")
    assert again.feature_names_in_.dtype == object
    np.testing.assert_array_equal(again.feature_names_in_, ["a", "b", "c"])


def test_unfitted_or_unsavable_models_are_refused(data, tmp_path):
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        ConvexReLURegressor().save(tmp_path / "m.npz")
    X, _, _ = data
    clf = ConvexReLUClassifier(n_patterns=4, random_state=0).fit(X, np.arange(50) % 2)
    # classes in an object array: numbers are stored as numbers, anything else is refused
    clf.classes_ = np.array([3, 7], dtype=object)
    clf.save(tmp_path / "ints.npz")
    np.testing.assert_array_equal(load(tmp_path / "ints.npz").predict(X), clf.predict(X))
    clf.classes_ = np.array([3, (7,)], dtype=object)
    with pytest.raises(ValueError, match="classes_ has entries of mixed"):
        clf.save(tmp_path / "mixed.npz")


def test_truncated_file_fails_clearly(data, tmp_path, models):
    path = tmp_path / "m.npz"
    models[0].save(path)
    raw = path.read_bytes()
    for cut in (10, len(raw) // 2, len(raw) - 30):
        broken = tmp_path / f"cut{cut}.npz"
        broken.write_bytes(raw[:cut])
        with pytest.raises(ValueError, match="not a readable convexnn model file"):
            load(broken)


def test_not_a_model_file_fails_clearly(tmp_path):
    np.savez(tmp_path / "other.npz", a=np.arange(3))
    with pytest.raises(ValueError, match="not a convexnn model"):
        load(tmp_path / "other.npz")
    np.savez(tmp_path / "objects.npz", __metadata__=np.array([{"a": 1}], dtype=object))
    with pytest.raises(ValueError, match="not a readable convexnn model file"):
        load(tmp_path / "objects.npz")  # allow_pickle=False refuses the object array
    with pytest.raises(FileNotFoundError):
        load(tmp_path / "missing.npz")


def _rewrite(path, edit, *, fix_digest):
    """Rewrite an .npz model after ``edit(meta, arrays)``; optionally recompute the digest."""
    with np.load(path, allow_pickle=False) as archive:
        arrays = {name: archive[name] for name in archive.files}
    meta = json.loads(str(arrays.pop("__metadata__")))
    edit(meta, arrays)
    if fix_digest:
        meta["sha256"] = _digest(meta, arrays)
    np.savez(path, **arrays, __metadata__=np.array(json.dumps(meta)))


def test_tampered_arrays_or_metadata_fail_the_integrity_check(data, tmp_path, models):
    model = models[0]

    def scale_weights(meta, arrays):
        arrays["net0_w2"] = arrays["net0_w2"] * 2.0

    def change_alpha(meta, arrays):
        meta["state"]["params"]["alpha"] = 5.0

    def change_class(meta, arrays):
        meta["estimator"] = "ConvexReLUClassifier"

    for edit in (scale_weights, change_alpha, change_class):
        path = tmp_path / f"{edit.__name__}.npz"
        model.save(path)
        _rewrite(path, edit, fix_digest=False)
        with pytest.raises(ValueError, match="failed its integrity check"):
            load(path)


def test_inconsistent_file_with_valid_digest_fails_clearly(data, tmp_path, models):
    path = tmp_path / "m.npz"
    models[0].save(path)
    _rewrite(path, lambda meta, arrays: arrays.pop("net0_W1"), fix_digest=True)
    with pytest.raises(ValueError, match="inconsistent and cannot be loaded"):
        load(path)


def test_unknown_estimator_is_not_instantiated(data, tmp_path, models):
    path = tmp_path / "m.npz"
    models[0].save(path)
    _rewrite(path, lambda meta, arrays: meta.update(estimator="os.system"), fix_digest=True)
    with pytest.raises(ValueError, match="unknown estimator 'os.system'"):
        load(path)


def test_newer_format_version_is_refused(data, tmp_path, models):
    path = tmp_path / "m.npz"
    models[0].save(path)
    _rewrite(
        path,
        lambda meta, arrays: meta.update(format_version=FORMAT_VERSION + 1, convexnn_version="9.0"),
        fix_digest=True,
    )
    message = rf"format version {FORMAT_VERSION + 1} \(written by convexnn 9.0\).*Upgrade convexnn"
    with pytest.raises(ValueError, match=message):
        load(path)


def test_older_format_version_is_refused(data, tmp_path, models):
    path = tmp_path / "m.npz"
    models[0].save(path)
    _rewrite(path, lambda meta, arrays: meta.update(format_version=1), fix_digest=True)
    with pytest.raises(ValueError, match=r"older model format version 1 .*Refit the model"):
        load(path)


def test_extra_array_with_valid_digest_is_not_set_on_the_model(data, tmp_path, models):
    path = tmp_path / "m.npz"
    models[0].save(path)
    _rewrite(path, lambda meta, arrays: arrays.update(predict=np.zeros(2)), fix_digest=True)
    with pytest.raises(ValueError, match="inconsistent.*'predict', which is not a fitted attr"):
        load(path)


def test_load_checks_the_class(data, tmp_path, models):
    path = tmp_path / "m.npz"
    models[0].save(path)
    with pytest.raises(ValueError, match="holds a ConvexReLURegressor, not a ConvexReLUClassifier"):
        ConvexReLUClassifier.load(path)
    models[6].save(path)  # a deep regressor is a ConvexReLURegressor subclass, but not one
    with pytest.raises(ValueError, match="holds a DeepConvexReLURegressor, not a ConvexReLURegr"):
        ConvexReLURegressor.load(path)


def test_solver_instance_is_saved_by_name(data, tmp_path):
    X, y, _ = data
    solver = get_solver("fista")
    model = ConvexReLURegressor(n_patterns=4, formulation="gated", solver=solver,
                                random_state=np.random.RandomState(0)).fit(X, y)
    again = load(model.save(tmp_path / "m"))
    assert again.solver == "auto" and again.random_state is None
    np.testing.assert_array_equal(again.predict(X), model.predict(X))
    with np.load(tmp_path / "m.npz") as archive:
        meta = json.loads(str(archive["__metadata__"]))
    assert meta["state"]["solver_saved_as"] == repr(solver)


def test_a_fitted_attribute_without_saved_form_is_refused(data, tmp_path, models):
    model = pickle.loads(pickle.dumps(models[0]))
    model.history_ = {"a": [1, 2]}
    with pytest.raises(TypeError, match=r"ConvexReLURegressor.history_ \(dict\) has no saved"):
        model.save(tmp_path / "m")
    model.history_ = {"a": 1.0, "b": 2}  # a dict of numbers by name is kept (as timings_ is)
    assert load(model.save(tmp_path / "m")).history_ == {"a": 1.0, "b": 2}
    model.history_ = [1.0, 2.5]  # a list of numbers is kept, as a list
    assert load(model.save(tmp_path / "m")).history_ == [1.0, 2.5]


def test_only_classes_with_the_protocol_are_registered():
    class Plain(BaseEstimator):
        def __convexnn_state__(self):
            return {}, {}

    with pytest.raises(TypeError, match="Plain .* does not define __convexnn_from_state__"):
        register(Plain)
    assert "Plain" not in registered()

    class ConvexReLURegressor(Plain):  # noqa: F811 - a different class of a registered name
        @classmethod
        def __convexnn_from_state__(cls, meta, arrays):
            return cls()

    with pytest.raises(ValueError, match="another class named ConvexReLURegressor"):
        register(ConvexReLURegressor)
    with pytest.raises(ValueError, match="save handles"):
        save(Plain(), "never-written")


def test_save_to_a_file_object(data, models):
    model = models[3]
    buffer = io.BytesIO()
    save(model, buffer)
    buffer.seek(0)
    assert zipfile.is_zipfile(buffer)
    buffer.seek(0)
    np.testing.assert_array_equal(load(buffer).predict(data[0]), model.predict(data[0]))
