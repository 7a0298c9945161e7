"""Array namespaces for the first-order solvers: numpy, PyTorch, CuPy through ``array-api-compat``.

The native first-order solvers (FISTA, the augmented Lagrangian), the block operators, the smooth
losses and the penalties compute with the functions of an *array namespace* ``xp`` (the Python
array API standard) instead of numpy's, so the same code runs on numpy arrays, on torch tensors on
the CPU or a GPU, and on CuPy arrays. ``array-api-compat`` supplies the namespace for each library
(its wrappers make numpy, torch and CuPy follow the standard) and the helpers used here.

What stays on the host (numpy, float64): the patterns, the problem's own record of its data, the
cvxpy and interior-point solvers, the exact cone projections (scipy NNLS) that polish the augmented
Lagrangian's point, and the float64 confirmation of a certificate at the end of a solve. None of
these runs inside an iteration.

Scikit-learn's convention for estimators is followed: with ``sklearn.set_config(
array_api_dispatch=True)`` (scikit-learn also needs ``SCIPY_ARRAY_API=1`` in the environment
before scipy is imported), :func:`dispatch_namespace` reports the namespace and device of a non-numpy
input, and the estimators return their fitted arrays and predictions in it.
"""

import numpy as np
from array_api_compat import array_namespace, device as array_device
from array_api_compat import is_array_api_obj, is_cupy_array, is_numpy_array, is_torch_array

__all__ = [
    "NUMPY",
    "get_namespace",
    "namespace_of",
    "is_numpy_namespace",
    "float_dtype",
    "to_namespace",
    "to_numpy",
    "dispatch_namespace",
]

#: numpy's array-API namespace (``array_api_compat.numpy``): the default everywhere
NUMPY = array_namespace(np.empty(0))


def is_numpy_namespace(xp):
    """Whether ``xp`` is numpy (``array_api_compat.numpy``, numpy itself, or None)."""
    return xp is None or xp is NUMPY or xp is np


def get_namespace(*arrays):
    """``(xp, device)`` of the arrays: their array-API namespace and device.

    numpy arrays, Python scalars, lists, None and other objects that are not arrays of an array-API
    library (sparse matrices, data frames: left to the caller's validation) give ``(NUMPY,
    'cpu')``; a mix of libraries is refused by ``array_api_compat.array_namespace`` with a
    TypeError.

    Parameters
    ----------
    *arrays : arrays, scalars or None

    Returns
    -------
    xp : module
        The array-API namespace (``array_api_compat.numpy``, ``array_api_compat.torch``, ...).
    device : object
        The device of the first array of that namespace (``'cpu'`` for numpy).
    """
    library = _library_arrays(arrays)
    if not library:
        return NUMPY, "cpu"
    return array_namespace(*library), array_device(library[0])


def namespace_of(*arrays):
    """The array-API namespace of the arrays (no device): :func:`get_namespace`'s first half,
    cheap enough to call several times per iteration (numpy arrays return at once)."""
    library = _library_arrays(arrays)
    if not library:
        return NUMPY
    return array_namespace(*library)


def _library_arrays(arrays):
    """The arguments that are arrays of an array-API library other than numpy."""
    return [a for a in arrays if not isinstance(a, np.ndarray) and a is not None
            and not is_numpy_array(a) and is_array_api_obj(a)]


def float_dtype(xp, dtype):
    """The namespace's float dtype named like the numpy dtype ``dtype`` (float32 or float64)."""
    name = np.dtype(dtype).name
    if name not in ("float32", "float64"):
        raise ValueError(f"dtype must be 'float32' or 'float64', got {dtype!r}.")
    return getattr(xp, name)


def to_namespace(x, xp, device, dtype=None):
    """``x`` (any array or array-like) as an array of namespace ``xp`` on ``device``.

    Parameters
    ----------
    x : array-like
    xp : module
        Target namespace (from :func:`get_namespace`).
    device : object
        Target device (ignored for numpy).
    dtype : numpy dtype or str, optional
        float32 or float64; None keeps the dtype of ``x``.
    """
    target = None if dtype is None else float_dtype(xp, dtype)
    if is_numpy_namespace(xp):
        return np.asarray(to_numpy(x), dtype=target)
    if not is_numpy_array(x) and array_namespace(x) is not xp:
        x = to_numpy(x)  # from another library: through the host
    return xp.asarray(x, dtype=target, device=device)


def to_numpy(x):
    """A numpy array with the values of ``x`` when ``x`` is an array of another array-API library
    (copied to the host when it lives on a device); anything else (numpy arrays, lists, sparse
    matrices, None) is returned unchanged for the caller's own validation."""
    if x is None or isinstance(x, np.ndarray):
        return x
    if is_torch_array(x):
        return x.detach().cpu().numpy()
    if is_cupy_array(x):
        return x.get()
    if is_array_api_obj(x):
        return np.asarray(x)
    return x


def dispatch_namespace(*arrays):
    """``(xp, device)`` of the inputs when scikit-learn's array API dispatch is on and they are not
    numpy arrays; None otherwise (the estimators then work in numpy as usual).

    Parameters
    ----------
    *arrays : arrays or None
        The estimator's inputs (``X``, ``y``).
    """
    from sklearn import get_config

    if not get_config().get("array_api_dispatch", False):
        return None
    xp, device = get_namespace(*arrays)
    if is_numpy_namespace(xp):
        return None
    return xp, device


def like_input(values, X):
    """``values`` (a numpy result) in the namespace and on the device of the input ``X`` when
    scikit-learn's array API dispatch is on and ``X`` is not a numpy array; else unchanged.

    Non-numeric arrays (class labels that are strings) stay numpy arrays.
    """
    namespace = dispatch_namespace(X)
    if namespace is None or values is None:
        return values
    values = np.asarray(values)
    if values.dtype.kind not in "biuf":
        return values
    xp, device = namespace
    if values.dtype.kind == "f":
        return to_namespace(values, xp, device, _float_name(X))
    return xp.asarray(values, device=device)


def _float_name(X):
    """'float32' when ``X`` is float32, else 'float64' (the estimators compute in float64)."""
    return "float32" if "float32" in str(X.dtype) else "float64"


def move_fitted(estimator, xp, device, names=("coefs_", "intercepts_", "gates_")):
    """Convert the estimator's fitted array attributes ``names`` (arrays, lists of arrays or None)
    to namespace ``xp`` on ``device`` (float64), as scikit-learn's array-API estimators leave their
    fitted attributes in the namespace of the training data."""
    for name in names:
        value = getattr(estimator, name, None)
        if value is None:
            continue
        if isinstance(value, list):
            setattr(estimator, name, [to_namespace(v, xp, device, "float64") for v in value])
        else:
            setattr(estimator, name, to_namespace(value, xp, device, "float64"))
