"""Tests for convexnn.persistence: pickle and the plain .npz format."""

import io
import json
import pickle
import zipfile

import numpy as np
import pytest

from convexnn import __version__
from convexnn.estimators import ConvexReLUClassifier, ConvexReLURegressor
from convexnn.persistence import FORMAT_VERSION, _digest, load, save


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((50, 3))
    y = np.maximum(X @ [1.0, -1.0, 0.5], 0) + 0.1 * rng.standard_normal(50)
    labels = np.array(["low", "mid", "high"])[np.digitize(y, np.quantile(y, [1 / 3, 2 / 3]))]
    return X, y, labels


@pytest.fixture(scope="module")
def models(data):
    """Five fitted models, fitted once for the module (the tests only read them)."""
    X, y, labels = data
    return [
        ConvexReLURegressor(n_patterns=8, random_state=0).fit(X, y),
        ConvexReLURegressor(n_patterns=8, formulation="gated", random_state=0).fit(
            X, np.column_stack([y, X[:, 0]])
        ),
        ConvexReLURegressor(n_patterns=8, fit_intercept=False, random_state=0).fit(X, y),
        ConvexReLUClassifier(n_patterns=8, random_state=0).fit(X, labels),
        ConvexReLUClassifier(n_patterns=8, formulation="gated", random_state=0).fit(X, y > 0.5),
    ]


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
        scalars = (
            "objective_", "n_iter_", "solver_status_", "n_active_neurons_", "n_features_in_"
        )
        for name in scalars:
            assert getattr(again, name) == getattr(model, name)
        for a, b in zip(model.coefs_ + model.intercepts_, again.coefs_ + again.intercepts_):
            np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(again.patterns_.mask, model.patterns_.mask)
    np.testing.assert_array_equal(again.classes_, model.classes_)


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
    assert meta["params"]["n_patterns"] == 8


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
    # the same program, started at the saved solution: same optimum to the solver's tolerance
    assert again.objective_ == pytest.approx(model.objective_, rel=2e-6)
    np.testing.assert_allclose(again.predict(X), model.predict(X), atol=1e-4)


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
        meta["params"]["alpha"] = 5.0

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
    message = r"format version 2 \(written by convexnn 9.0\).*Upgrade convexnn"
    with pytest.raises(ValueError, match=message):
        load(path)


def test_load_checks_the_class(data, tmp_path, models):
    path = tmp_path / "m.npz"
    models[0].save(path)
    with pytest.raises(ValueError, match="holds a ConvexReLURegressor, not a ConvexReLUClassifier"):
        ConvexReLUClassifier.load(path)


def test_save_to_a_file_object(data, models):
    model = models[3]
    buffer = io.BytesIO()
    save(model, buffer)
    buffer.seek(0)
    assert zipfile.is_zipfile(buffer)
    buffer.seek(0)
    np.testing.assert_array_equal(load(buffer).predict(data[0]), model.predict(data[0]))
