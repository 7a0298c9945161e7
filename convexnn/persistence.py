"""Save and load fitted estimators as plain ``.npz`` files that execute no code when loaded.

Pickle can run arbitrary code when a file is opened, so a model from an untrusted source must not be
unpickled. :func:`save` writes only numeric (and unicode string) arrays with ``numpy.savez`` plus
one JSON string, and :func:`load` reads them with ``np.load(allow_pickle=False)`` and rebuilds the
estimator from a fixed list of classes. The JSON metadata records:

* ``format`` / ``format_version``: what this file is and the layout version. A file whose layout
  is newer than this package reads is refused with a message to upgrade convexnn.
* ``convexnn_version``: the package version that wrote it (informational).
* ``estimator`` and ``params``: the class name (looked up in a whitelist) and its parameters.
* the fitted scalars (``objective_``, ``n_iter_``, ...), and ``sha256``: a digest of the metadata
  and of every array (names, dtypes, shapes, bytes). It detects truncation and accidental or
  careless edits; it is not a signature (anyone can recompute it), so trust still comes from where
  the file came from, but opening a hostile file cannot run code.

Predictions after a round trip are bit for bit those of the saved model: the arrays are stored
exactly and prediction runs the same code on them.
"""

import hashlib
import json
import zipfile

import numpy as np

from . import __version__
from .networks import GatedReLUNetwork, ReLUNetwork
from .patterns import ActivationPatterns

__all__ = ["save", "load", "FORMAT_VERSION"]

FORMAT = "convexnn-estimator"
#: Layout version written by :func:`save`; :func:`load` reads files up to this version.
FORMAT_VERSION = 1
_META_KEY = "__metadata__"


def _estimator_classes():
    from .estimators import ConvexReLUClassifier, ConvexReLURegressor

    return {cls.__name__: cls for cls in (ConvexReLURegressor, ConvexReLUClassifier)}


def _digest(meta, arrays):
    """SHA-256 over the metadata (without the digest) and every array, in name order."""
    h = hashlib.sha256()
    h.update(json.dumps({k: v for k, v in meta.items() if k != "sha256"}, sort_keys=True).encode())
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        h.update(f"{name}|{a.dtype.str}|{a.shape}|".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def _plain_array(values, what):
    """``values`` as an array numpy can store without pickle (numbers, bools or unicode)."""
    a = np.asarray(values)
    if a.dtype == object:
        values = list(a.ravel())
        if all(isinstance(v, str) for v in values):
            return a.astype(str)
        numeric = (int, float, np.number)
        if values and all(isinstance(v, numeric) and not isinstance(v, bool) for v in values):
            return np.array(values).reshape(a.shape)
        raise ValueError(
            f"{what} has entries of mixed or non-numeric, non-string type ({a.dtype}); only "
            "numbers and strings can be saved without pickle. Use pickle for this model."
        )
    if a.dtype.kind not in "biufU":
        raise ValueError(f"{what} of dtype {a.dtype} cannot be saved without pickle.")
    return a


def save(estimator, path):
    """Write a fitted convexnn estimator to ``path`` (a ``.npz`` file).

    Parameters
    ----------
    estimator : ConvexReLURegressor or ConvexReLUClassifier
        Fitted. A ``solver`` given as an instance is stored by name only and becomes
        ``'auto'`` when loaded (refits then use the default solver).
    path : str or path-like
        Destination; numpy appends ``.npz`` when the name lacks it.
    """
    from sklearn.utils.validation import check_is_fitted

    classes = _estimator_classes()
    if type(estimator).__name__ not in classes:
        raise ValueError(f"save handles {sorted(classes)}, got {type(estimator).__name__}.")
    check_is_fitted(estimator)
    params = {
        k: v.item() if isinstance(v, np.generic) else v for k, v in estimator.get_params().items()
    }
    solver = params["solver"]
    if not isinstance(solver, str):
        params["solver"] = "auto"
    if params["random_state"] is not None and not isinstance(params["random_state"], int):
        params["random_state"] = None  # a RandomState's state is not kept
    arrays = {
        "offset": estimator._offset,
        "patterns_gates": estimator.patterns_.gates,
        "patterns_mask": estimator.patterns_.mask,
    }
    for c, (net, coef) in enumerate(zip(estimator._networks, estimator._coef)):
        arrays[f"net{c}_W1"] = net.W1
        arrays[f"net{c}_w2"] = net.w2
        arrays[f"coef{c}"] = coef
        if net.b1 is not None:
            arrays[f"net{c}_b1"] = net.b1
        if isinstance(net, GatedReLUNetwork):
            arrays[f"net{c}_gates"] = net.gates
            if net.gate_bias is not None:
                arrays[f"net{c}_gate_bias"] = net.gate_bias
    if hasattr(estimator, "classes_"):
        arrays["classes"] = _plain_array(estimator.classes_, "classes_")
    if hasattr(estimator, "feature_names_in_"):
        arrays["feature_names_in"] = _plain_array(estimator.feature_names_in_, "feature_names_in_")
    meta = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "convexnn_version": __version__,
        "estimator": type(estimator).__name__,
        "params": params,
        "solver_saved_as": None if isinstance(solver, str) else repr(solver),
        "n_outputs": len(estimator._networks),
        "patterns_fit_intercept": estimator.patterns_.fit_intercept,
        "n_features_in_": int(estimator.n_features_in_),
        "objective_": float(estimator.objective_),
        "n_iter_": int(estimator.n_iter_),
        "solver_status_": str(estimator.solver_status_),
    }
    meta["sha256"] = _digest(meta, arrays)
    np.savez(path, **arrays, **{_META_KEY: np.array(json.dumps(meta))})


def _read(path):
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {name: data[name] for name in data.files}
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, KeyError) as exc:
        if isinstance(exc, FileNotFoundError):
            raise
        raise ValueError(
            f"{path} is not a readable convexnn model file (truncated, corrupted or not an .npz "
            f"written by convexnn's save): {exc}"
        ) from exc
    if _META_KEY not in arrays:
        raise ValueError(f"{path} is an .npz file but not a convexnn model (no metadata entry).")
    try:
        meta = json.loads(str(arrays.pop(_META_KEY)))
    except (json.JSONDecodeError, TypeError) as exc:
        raise ValueError(f"{path}: the model file's metadata is not valid JSON: {exc}") from exc
    return meta, arrays


def load(path):
    """Read an estimator written by :func:`save`, without executing code from the file.

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    ConvexReLURegressor or ConvexReLUClassifier
        Fitted, with the saved parameters; predictions equal the saved model's bit for bit.

    Raises
    ------
    ValueError
        When the file is truncated or not a convexnn model, was modified after it was written
        (digest mismatch), or uses a newer format version than this convexnn reads.
    """
    meta, arrays = _read(path)
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ValueError(f"{path} is not a convexnn model file (format {meta.get('format')!r}).")
    version = meta.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION or version < 1:
        raise ValueError(
            f"{path} uses model format version {version!r} (written by convexnn "
            f"{meta.get('convexnn_version')}); this convexnn {__version__} reads format versions "
            f"1 to {FORMAT_VERSION}. Upgrade convexnn to load it, or refit the model."
        )
    if meta.get("sha256") != _digest(meta, arrays):
        raise ValueError(
            f"{path} failed its integrity check: its arrays or metadata were modified after it "
            "was written (sha256 mismatch). Do not use this file; save the model again."
        )
    classes = _estimator_classes()
    name = meta.get("estimator")
    if name not in classes:
        raise ValueError(f"{path} holds an unknown estimator {name!r}; known: {sorted(classes)}.")
    try:
        return _rebuild(classes[name], meta, arrays)
    except (KeyError, ValueError, TypeError) as exc:
        raise ValueError(f"{path} is inconsistent and cannot be loaded: {exc}") from exc


def _rebuild(cls, meta, arrays):
    params = meta["params"]
    est = cls(**params)
    est._validate_params()
    gated = params["formulation"] == "gated"
    networks, coefs = [], []
    for c in range(int(meta["n_outputs"])):
        W1, w2 = arrays[f"net{c}_W1"], arrays[f"net{c}_w2"]
        b1 = arrays.get(f"net{c}_b1")
        if gated:
            gates, gate_bias = arrays[f"net{c}_gates"], arrays.get(f"net{c}_gate_bias")
            net = GatedReLUNetwork(gates, W1, w2, b1, gate_bias)
        else:
            net = ReLUNetwork(W1, w2, b1)
        networks.append(net)
        coefs.append(arrays[f"coef{c}"])
    est.patterns_ = ActivationPatterns(
        arrays["patterns_gates"], arrays["patterns_mask"], meta["patterns_fit_intercept"]
    )
    est._networks = networks
    est._coef = coefs
    est._offset = arrays["offset"]
    est._n_outputs = len(networks)
    if "classes" in arrays:
        est.classes_ = arrays["classes"]
    if "feature_names_in" in arrays:
        est.feature_names_in_ = arrays["feature_names_in"].astype(object)
    est.n_features_in_ = int(meta["n_features_in_"])
    est.objective_ = float(meta["objective_"])
    est.n_iter_ = int(meta["n_iter_"])
    est.solver_status_ = str(meta["solver_status_"])
    est._set_weights()
    for net in networks:
        if net.n_features != est.n_features_in_:
            raise ValueError(
                f"a network has {net.n_features} inputs but n_features_in_ is {est.n_features_in_}."
            )
    return est
