"""Reverse-mode differentiation of a forward pass written once: a chain of numpy layers.

Every network the package trains by gradient is a chain: the data flows through layers one after
the other, and the parameters enter the layers. A model writes its forward pass once as a
:class:`Chain`; each layer computes its output and records its vector-Jacobian product, and
:meth:`Chain.backward` replays them in reverse order, from the cotangent of the output (e.g. the
loss's gradient) to the gradient of every trainable array the layers registered::

    chain = Chain(A).linear(U).multiply(mask).linear(w2)   # f = (mask * (A U)) w2
    value, grads = chain.loss(loss, y)                     # grads = [dF/dU, dF/dw2]

The layers:

* :meth:`~Chain.linear`: ``x W`` (or ``x W^T``) with an optional scalar multiplier and bias;
  ``W`` of shape (fan_in,) maps to one output per row;
* :meth:`~Chain.grouped`: ``K`` independent linear maps at once (parallel sub-networks);
* :meth:`~Chain.split_linear`: the scalar outputs of ``K`` networks whose hidden units sit side
  by side;
* :meth:`~Chain.relu` and :meth:`~Chain.activation` (any elementwise ``sigma`` with ``sigma'``);
* :meth:`~Chain.multiply`: a fixed factor, a 0/1 mask (gated ReLU, a ReLU pattern) or per-unit
  multipliers (masses);
* :meth:`~Chain.column` and :meth:`~Chain.combine`: the output as a vector.

Only the trainable arrays get gradients, and the first layer does not pass a cotangent on to the
data. A linear layer whose weight is a vector (a scalar output, ``f = h w``) sends the cotangent
``g w^T`` back *factored*: masks multiply ``g`` and the weight gradient below is
``(x^T (mask * g)) * w``, a product with the column scaling after it, not an ``n x m`` outer product
(the two-layer networks' Adam hot path). Penalties that are not part of the forward pass (weight
decay, path penalty) keep their own explicit gradients in the models.
"""

import numpy as np

__all__ = ["Chain"]


class _Factored:
    """The cotangent ``G * s`` with ``s`` scaling the last axis, kept as its two factors."""

    __slots__ = ("G", "s")

    def __init__(self, G, s):
        self.G, self.s = G, s

    def array(self):
        return self.G * self.s


def _array(dy):
    return dy.array() if type(dy) is _Factored else dy


class Chain:
    """A forward pass recorded layer by layer, differentiated by :meth:`backward`.

    Every layer method computes the layer's output from :attr:`value`, records its
    vector-Jacobian product and returns the chain, so layers compose as ``Chain(x).a().b()``.

    Parameters
    ----------
    x : ndarray
        The input of the first layer (the data; it gets no gradient).

    Attributes
    ----------
    value : ndarray
        The output of the last layer.
    inputs : list of ndarray
        The input of every layer, in order (``inputs[0]`` is ``x``).
    grads : list of ndarray
        After :meth:`backward`: the gradient of each trainable array, in the order the layers
        registered them.
    cotangents : list of ndarray or None
        After ``backward(..., cotangents=True)``: the cotangent of every layer's *output*.
    """

    __slots__ = ("value", "inputs", "grads", "cotangents", "_backs")

    def __init__(self, x):
        self.value = x
        self.inputs = []
        self.grads = []
        self.cotangents = None
        self._backs = []

    def _push(self, value, back):
        self.inputs.append(self.value)
        self._backs.append(back)
        self.value = value
        return self

    def _slot(self, trainable=True):
        """Register a trainable array: the index of its gradient in :attr:`grads` (None: fixed)."""
        if not trainable:
            return None
        grads = self.grads
        grads.append(None)
        return len(grads) - 1

    # ------------------------------------------------------------------ layers
    def linear(self, W, *, bias=None, multiplier=None, transpose=False, trainable=True):
        """``z = s (x W) + b`` (``x W^T`` when ``transpose``; ``s`` a scalar, 1 when None).

        ``W`` of shape (fan_in, fan_out), or (fan_in,) for one output per row; ``bias`` of shape
        (fan_out,) (a scalar for a vector ``W``) or None. ``trainable=False`` keeps ``W`` (and ``bias``) fixed: no gradient.
        """
        x = self.value
        z = x @ W.T if transpose else x @ W
        if multiplier is not None:
            z = multiplier * z
        if bias is not None:
            z = z + bias
        iw = self._slot(trainable)
        ib = self._slot() if trainable and bias is not None else None
        grads = self.grads
        plain = not transpose and multiplier is None and bias is None

        def back(dy, need_input):
            if type(dy) is _Factored:
                if plain:  # x^T (G * s) = (x^T G) * s: the column scaling after the product
                    if iw is not None:
                        grads[iw] = (x.T @ dy.G) * dy.s
                    return dy.array() @ W.T if need_input else None
                dy = dy.array()
            if iw is not None:
                gW = dy.T @ x if transpose and W.ndim > 1 else x.T @ dy
                grads[iw] = gW if multiplier is None else multiplier * gW
            if ib is not None:
                grads[ib] = dy.sum(axis=0)
            if not need_input:
                return None
            if W.ndim == 1:  # the cotangent dy w^T, factored
                return _Factored(dy[:, None], W if multiplier is None else multiplier * W)
            dx = dy @ W if transpose else dy @ W.T
            return dx if multiplier is None else multiplier * dx

        return self._push(z, back)

    def grouped(self, W, *, trainable=True):
        """``K`` linear maps at once: ``z[k] = x W[k]`` for ``x`` (n, d), ``z[k] = x[k] W[k]`` for
        ``x`` (K, n, d); ``W`` of shape (K, d, m), ``z`` of shape (K, n, m)."""
        x = self.value
        shared = x.ndim == 2
        z = np.einsum("nd,kdm->knm" if shared else "knm,kmp->knp", x, W)
        iw = self._slot(trainable)
        grads = self.grads

        def back(dy, need_input):
            dy = _array(dy)
            if iw is not None:
                grads[iw] = np.einsum("nd,knm->kdm" if shared else "knm,knp->kmp", x, dy)
            if not need_input:
                return None
            return np.einsum("knm,kdm->nd" if shared else "knp,kmp->knm", dy, W)

        return self._push(z, back)

    def split_linear(self, W, *, trainable=True):
        """``K`` scalar outputs of ``K`` networks side by side: ``z[:, k] = x[:, k] W[k]`` for ``x``
        (n, K w) read as (n, K, w) and ``W`` of shape (K, w); ``z`` of shape (n, K)."""
        n = self.value.shape[0]
        K, w = W.shape
        x = self.value.reshape(n, K, w)
        iw = self._slot(trainable)
        grads = self.grads

        def back(dy, need_input):
            if iw is not None:
                grads[iw] = np.einsum("nkw,nk->kw", x, dy)
            return (dy[:, :, None] * W).reshape(n, K * w) if need_input else None

        return self._push(np.einsum("nkw,kw->nk", x, W), back)

    def relu(self, *, strict=True):
        """``max(z, 0)``; its derivative is ``1[z > 0]`` (``1[z >= 0]`` when not ``strict``)."""
        z = self.value

        def back(dy, need_input):
            return _array(dy) * (z > 0 if strict else z >= 0)

        return self._push(np.maximum(z, 0.0), back)

    def activation(self, sigma, derivative):
        """``sigma(z)`` elementwise, with ``derivative(z) = sigma'(z)``."""
        z = self.value

        def back(dy, need_input):
            return _array(dy) * derivative(z)

        return self._push(sigma(z), back)

    def multiply(self, factor, *, owned=False):
        """``z * factor`` with a fixed ``factor`` broadcast to ``z``: a 0/1 mask (the gates of a
        gated ReLU, a ReLU's pattern) or per-unit multipliers.

        ``owned=True`` lets :meth:`backward` overwrite ``factor`` (a float array of ``z``'s shape
        made for this chain) instead of allocating the cotangent.
        """
        z = self.value

        def back(dy, need_input):
            if type(dy) is _Factored:  # (G * s) * factor = (factor * G) * s
                if owned:
                    return _Factored(np.multiply(factor, dy.G, out=factor), dy.s)
                return _Factored(factor * dy.G, dy.s)
            return _array(dy) * factor

        return self._push(z * factor, back)

    def column(self, j=0):
        """Column ``j`` of a matrix ``z``, a vector (a network's single output)."""
        z = self.value

        def back(dy, need_input):
            if z.shape[1] == 1:
                return dy[:, None]
            full = np.zeros_like(z)
            full[:, j] = dy
            return full

        return self._push(z[:, j], back)

    def combine(self, c, *, trainable=True):
        """``sum_k c_k z[k, :, 0]`` for ``z`` of shape (K, n, 1): ``K`` sub-networks' outputs
        weighted by ``c`` of shape (K,), a vector (n,)."""
        top = self.value[:, :, 0]
        ic = self._slot(trainable)
        grads = self.grads

        def back(dy, need_input):
            if ic is not None:
                grads[ic] = top @ dy
            return dy[None, :, None] * c[:, None, None]

        return self._push(c @ top, back)

    # ------------------------------------------------------------------ differentiation
    def backward(self, seed, *, cotangents=False):
        """Gradients of ``<seed, value>`` in every trainable array, in registration order.

        Parameters
        ----------
        seed : ndarray
            The cotangent of the output, shaped like :attr:`value` (e.g. a loss's gradient in the
            predictions, or ones for the per-sample derivative of the output).
        cotangents : bool, default=False
            Also keep the cotangent of every layer's output in :attr:`cotangents`.

        Returns
        -------
        list of ndarray
            :attr:`grads`.
        """
        backs = self._backs
        dy = seed
        if cotangents:
            kept = [None] * len(backs)
            for i in range(len(backs) - 1, -1, -1):
                kept[i] = _array(dy)
                dy = backs[i](dy, i > 0)
            self.cotangents = kept
        else:
            for i in range(len(backs) - 1, 0, -1):
                dy = backs[i](dy, True)
            backs[0](dy, False)
        return self.grads

    def loss(self, loss, y):
        """``(value, grads)`` of a loss of the output: ``loss`` is a :class:`convexnn.losses.Loss`
        (its ``value`` and ``gradient``) or a function ``(output, y) -> (value, gradient)``."""
        pred = self.value
        if hasattr(loss, "gradient"):
            return loss.value(pred, y), self.backward(loss.gradient(pred, y))
        value, seed = loss(pred, y)
        return value, self.backward(seed)
