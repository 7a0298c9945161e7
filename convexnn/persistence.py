"""Save and load fitted estimators as plain ``.npz`` files that execute no code when loaded.

Pickle can run arbitrary code when a file is opened, so a model from an untrusted source must not be
unpickled. :func:`save` writes only numeric (and unicode string) arrays with ``numpy.savez`` plus
one JSON string, and :func:`load` reads them with ``np.load(allow_pickle=False)`` and rebuilds the
estimator from a fixed registry of classes.

This module knows the file format only. What a model consists of is the estimator's business,
told through two methods that make up the persistence protocol (named like scikit-learn's
``__sklearn_tags__``: public by convention, called by this module and by nothing else):

* ``estimator.__convexnn_state__()`` returns ``(meta, arrays)``: a dict of JSON values (its
  parameters, fitted scalars, ...) and a dict of named numpy arrays. It raises
  ``NotFittedError`` for an unfitted estimator.
* ``cls.__convexnn_from_state__(meta, arrays)`` (a classmethod) rebuilds the fitted estimator from
  them; it raises ``KeyError``, ``ValueError`` or ``TypeError`` when they are inconsistent.

A class takes part once :func:`register` has been called on it (``convexnn/__init__.py`` registers
every exported estimator). The JSON metadata of a file records:

* ``format`` / ``format_version``: what this file is and the layout version. A file of another
  layout version is refused with a message saying what to do.
* ``convexnn_version``: the package version that wrote it (informational).
* ``estimator``: the class name, looked up in the registry (no other class is ever instantiated).
* ``state``: the estimator's own metadata (for the estimators of this package: ``params``, the
  fitted scalars, ...).
* ``sha256``: a digest of the metadata and of every array (names, dtypes, shapes, bytes). It
  detects truncation and accidental or careless edits; it is not a signature (anyone can recompute
  it), so trust still comes from where the file came from, but opening a hostile file cannot run
  code.

The file name is the ``path`` given, with ``.npz`` appended when it does not already end so (as
``numpy.savez`` does); :func:`save` and :func:`load` apply the same rule, so ``save(m, 'model')``
and ``load('model')`` (or ``load('model.npz')``) name the same file.

Predictions after a round trip are bit for bit those of the saved model: the arrays are stored
exactly, the JSON floats are written with ``repr`` (which round-trips), and prediction runs the
same code on them.
"""

import hashlib
import json
import os
import zipfile

import numpy as np

from . import __version__

__all__ = ["save", "load", "register", "registered", "FORMAT_VERSION"]

FORMAT = "convexnn-estimator"
#: Layout version written by :func:`save`, the only one :func:`load` reads. Version 1 (convexnn
#: 0.1.0 before the persistence protocol) kept fewer fitted attributes and no deep models.
FORMAT_VERSION = 2
_META_KEY = "__metadata__"
_SUFFIX = ".npz"
_PROTOCOL = ("__convexnn_state__", "__convexnn_from_state__")

_REGISTRY = {}


def register(*classes):
    """Allow :func:`save` and :func:`load` to handle ``classes`` (looked up by class name).

    Parameters
    ----------
    *classes : type
        Classes that implement ``__convexnn_state__`` and ``__convexnn_from_state__`` (see the
        module docstring).

    Returns
    -------
    type
        The last class given, so that ``register`` also works as a class decorator.

    Raises
    ------
    TypeError
        When a class lacks one of the two protocol methods (the message names it).
    ValueError
        When another class of the same name is already registered.
    """
    for cls in classes:
        missing = [name for name in _PROTOCOL if not callable(getattr(cls, name, None))]
        if missing:
            raise TypeError(
                f"{cls.__name__} cannot be registered for persistence: it does not define "
                f"{' and '.join(missing)} (see convexnn.persistence)."
            )
        known = _REGISTRY.get(cls.__name__)
        if known is not None and known is not cls:
            raise ValueError(
                f"another class named {cls.__name__} ({known.__module__}) is already registered."
            )
        _REGISTRY[cls.__name__] = cls
    return classes[-1] if classes else None


def registered():
    """The registered classes, a dict from class name to class (a copy)."""
    return dict(_REGISTRY)


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


def _not_json(value, where):
    """Where ``value`` holds something JSON does not give back unchanged (a message), or None."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return None
    if isinstance(value, list):
        items = ((f"{where}[{i}]", v) for i, v in enumerate(value))
    elif isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            return f"a dict with non-string keys at {where}"
        items = ((f"{where}[{k!r}]", v) for k, v in value.items())
    else:
        return f"a {type(value).__name__} at {where}"
    return next((bad for w, v in items if (bad := _not_json(v, w))), None)


def _file_name(path):
    """The file :func:`save` writes for ``path``: ``path`` itself when it ends in ``.npz``, else
    ``path + '.npz'`` (numpy's rule). File objects are returned unchanged."""
    if not isinstance(path, (str, os.PathLike)):
        return path
    name = os.fspath(path)
    if isinstance(name, bytes):
        name = os.fsdecode(name)
    return name if name.endswith(_SUFFIX) else name + _SUFFIX


def save(estimator, path):
    """Write a fitted estimator to ``path`` (a ``.npz`` file).

    Parameters
    ----------
    estimator : object
        A fitted instance of a registered class (every estimator that ``convexnn`` exports:
        the two-layer and the deep regressors and classifiers). A ``solver`` given as an instance
        is stored by name only and becomes ``'auto'`` when loaded (refits then use the default
        solver).
    path : str, path-like or writable binary file object
        Destination; ``.npz`` is appended when the name does not end with it.

    Returns
    -------
    str or file object
        The file name written (``path`` with ``.npz`` appended where needed), or the file object.

    Raises
    ------
    sklearn.exceptions.NotFittedError
        When the estimator is not fitted.
    ValueError
        When its class is not registered, or its state holds values that cannot be stored
        without pickle (the message names them).
    """
    cls = type(estimator)
    if _REGISTRY.get(cls.__name__) is not cls:
        raise ValueError(f"save handles {sorted(_REGISTRY)}, got {cls.__name__}.")
    state, arrays = estimator.__convexnn_state__()
    for name in arrays:
        if not isinstance(name, str) or not name.isidentifier() or name == _META_KEY:
            raise ValueError(f"{cls.__name__}'s state has an array named {name!r}; array names "
                             f"must be identifiers other than {_META_KEY!r}.")
    arrays = {name: _plain_array(a, name) for name, a in arrays.items()}
    meta = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "convexnn_version": __version__,
        "estimator": cls.__name__,
        "state": state,
    }
    bad = _not_json(state, "state")
    if bad:
        raise ValueError(
            f"{cls.__name__}'s state metadata holds {bad}; only None, booleans, numbers, strings, "
            "lists and dicts with string keys can be stored without pickle. Use pickle for this "
            "model."
        )
    meta["sha256"] = _digest(meta, arrays)
    target = _file_name(path)
    np.savez(target, **arrays, **{_META_KEY: np.array(json.dumps(meta))})
    return target


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


def _existing_file(path):
    """The file :func:`load` reads for ``path``: the name :func:`save` writes for it, else
    ``path`` as given (a model file renamed without its suffix)."""
    target = _file_name(path)
    if not isinstance(target, str) or os.path.exists(target):
        return target
    name = os.fsdecode(os.fspath(path))
    if os.path.exists(name):
        return name
    tried = f"{target!r}" if name == target else f"{target!r} or {name!r}"
    raise FileNotFoundError(f"no convexnn model file {tried}.")


def _check_version(path, meta):
    version = meta.get("format_version")
    if version == FORMAT_VERSION:
        return
    written = f"format version {version!r} (written by convexnn {meta.get('convexnn_version')})"
    if isinstance(version, int) and not isinstance(version, bool) and 1 <= version < FORMAT_VERSION:
        raise ValueError(
            f"{path} uses the older model {written}; this convexnn {__version__} reads format "
            f"version {FORMAT_VERSION} only. Refit the model and save it again."
        )
    raise ValueError(
        f"{path} uses model {written}; this convexnn {__version__} reads format version "
        f"{FORMAT_VERSION}. Upgrade convexnn to load it, or refit the model."
    )


def load(path):
    """Read an estimator written by :func:`save`, without executing code from the file.

    Parameters
    ----------
    path : str, path-like or readable binary file object
        The name given to :func:`save` (with or without ``.npz``), or a file object.

    Returns
    -------
    estimator
        Fitted, with the saved parameters and every fitted attribute of the saved model;
        predictions equal the saved model's bit for bit.

    Raises
    ------
    FileNotFoundError
        When neither ``path`` nor ``path + '.npz'`` exists.
    ValueError
        When the file is truncated or not a convexnn model, was modified after it was written
        (digest mismatch), uses another format version than this convexnn reads, names a class
        that is not registered, or is inconsistent.
    """
    path = _existing_file(path)
    meta, arrays = _read(path)
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        format_ = meta.get("format") if isinstance(meta, dict) else None
        raise ValueError(f"{path} is not a convexnn model file (format {format_!r}).")
    _check_version(path, meta)
    if meta.get("sha256") != _digest(meta, arrays):
        raise ValueError(
            f"{path} failed its integrity check: its arrays or metadata were modified after it "
            "was written (sha256 mismatch). Do not use this file; save the model again."
        )
    name = meta.get("estimator")
    cls = _REGISTRY.get(name) if isinstance(name, str) else None
    if cls is None:
        raise ValueError(f"{path} holds an unknown estimator {name!r}; known: {sorted(_REGISTRY)}.")
    try:
        return cls.__convexnn_from_state__(meta["state"], arrays)
    except (KeyError, ValueError, TypeError, AttributeError, IndexError) as exc:
        raise ValueError(f"{path} is inconsistent and cannot be loaded: {exc!r}") from exc
