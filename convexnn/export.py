"""Fitted networks and estimators as PyTorch modules (``to_torch``); PyTorch is optional.

Each network builds its module from its own arrays (:meth:`convexnn.networks.TwoLayerNetwork.
to_torch`, :meth:`convexnn.deep.ParallelReLUNetwork.to_torch`); an estimator stacks its
networks' modules and adds its output offset, so the module's output is what ``predict``
(regressors) or ``decision_function`` (classifiers) returns, as a tensor. The modules hold the
weights as buffers in the given dtype (float64 by default, which reproduces the numpy outputs to
rounding) and take an input tensor of shape (n_samples, n_features) on any device they are moved to
with ``.to(device)``.

Install PyTorch with the ``torch`` extra (``pip install 'convexnn[torch]'``, which pins the CPU
build this project tests with).
"""

import numpy as np

__all__ = ["torch_module"]

_CLASSES = {}


def _torch():
    try:
        import torch
    except ImportError as exc:  # pragma: no cover - exercised only without torch
        raise ImportError(
            "to_torch needs PyTorch, which convexnn does not install by default: "
            "pip install 'convexnn[torch]'."
        ) from exc
    return torch


def _classes():
    """The module classes, defined once PyTorch is imported."""
    if _CLASSES:
        return _CLASSES
    torch = _torch()

    def design(x, fit_intercept):
        if not fit_intercept:
            return x
        return torch.cat([x, torch.ones(x.shape[0], 1, dtype=x.dtype, device=x.device)], dim=1)

    class TwoLayer(torch.nn.Module):
        """``f(x) = sum_j 1[a^T g_j >= 0] (a^T u_j) w2_j`` with ``a = [x, 1]`` (or ``x``).

        For a ReLU network the gates are the first layer itself (``1[a^T u_j >= 0] a^T u_j`` is
        the ReLU), for a gated one they are the fixed gates."""

        def __init__(self, first_layer, gates, w2, fit_intercept, dtype):
            super().__init__()
            self.fit_intercept = bool(fit_intercept)
            self.register_buffer("first_layer", torch.as_tensor(first_layer, dtype=dtype))
            self.register_buffer("gates", torch.as_tensor(gates, dtype=dtype))
            self.register_buffer("w2", torch.as_tensor(w2, dtype=dtype))

        def forward(self, x):
            a = design(x, self.fit_intercept)
            pre = a @ self.first_layer
            on = (a @ self.gates) >= 0
            return (pre * on) @ self.w2

    class Parallel(torch.nn.Module):
        """``f(x) = sum_k output_k relu(... relu(a W_k1) ... W_kL)`` (parallel deep ReLU)."""

        def __init__(self, layers, output, fit_intercept, dtype):
            super().__init__()
            self.fit_intercept = bool(fit_intercept)
            self.n_layers = len(layers)
            for index, layer in enumerate(layers):
                self.register_buffer(f"layer{index}", torch.as_tensor(layer, dtype=dtype))
            self.register_buffer("output", torch.as_tensor(output, dtype=dtype))

        def forward(self, x):
            a = design(x, self.fit_intercept)
            h = torch.einsum("nd,kdm->knm", a, self.layer0)
            for index in range(1, self.n_layers):
                h = torch.einsum("knm,kmp->knp", torch.relu(h), getattr(self, f"layer{index}"))
            return self.output @ torch.relu(h[:, :, 0])

    class Stacked(torch.nn.Module):
        """Per-output network modules side by side, plus the estimator's output offset."""

        def __init__(self, modules, offset, squeeze, dtype):
            super().__init__()
            self.outputs = torch.nn.ModuleList(modules)
            self.squeeze = bool(squeeze)
            self.register_buffer("offset", torch.as_tensor(offset, dtype=dtype))

        def forward(self, x):
            out = torch.stack([module(x) for module in self.outputs], dim=1) + self.offset
            return out[:, 0] if self.squeeze else out

    _CLASSES.update(TwoLayer=TwoLayer, Parallel=Parallel, Stacked=Stacked)
    return _CLASSES


def _dtype(dtype):
    torch = _torch()
    dtype = torch.float64 if dtype is None else dtype
    if dtype not in (torch.float32, torch.float64):
        raise ValueError(f"dtype must be torch.float32 or torch.float64, got {dtype!r}.")
    return dtype


def torch_module(kind, dtype=None, **arrays):
    """Build the module ``kind`` ('TwoLayer', 'Parallel' or 'Stacked') from numpy arrays.

    The networks and estimators call this from their ``to_torch``; it is the only place that
    imports PyTorch.
    """
    dtype = _dtype(dtype)
    converted = {k: (np.ascontiguousarray(v) if isinstance(v, np.ndarray) else v)
                 for k, v in arrays.items()}
    return _classes()[kind](dtype=dtype, **converted)
