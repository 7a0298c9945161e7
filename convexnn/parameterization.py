"""Parameterizations: where the scale of a layer lives, one notion for the labs' networks.

A layer sums over the units below it; give each unit a mass ``q`` (``1 / fan_in`` for equal
masses, a population's ``q_j`` in general). A parameterization says how the masses enter
(doc/math.rst, "Over-parameterization"):

* the forward pass multiplies each unit's contribution by ``q ** output_power``;
* the regularizer charges each unit's parameters with weight ``q ** penalty_power``;
* a gradient step on a unit's parameters is divided by ``q ** step_power``.

With the variance gain ``c`` of a layer (2 before a ReLU, 1 for the output) and equal masses
``1 / fan_in``, the forward multiplier is ``(c / fan_in) ** output_power`` and the initial weights
have the rest of the variance ``c / fan_in`` (:meth:`Parameterization.multiplier`,
:meth:`Parameterization.init_std`). The named ones:

============  ============  =============  ==========  =============================================
name          output_power  penalty_power  step_power
============  ============  =============  ==========  =============================================
'standard'    0             0              0           variance in the weights, ``N(0, c / fan_in)``
'ntk'         1/2           0              0           ``N(0, 1)`` weights, ``1/sqrt(m)`` multipliers
'mean_field'  1             1              1           the measure ``sum_j q_j delta``: Wasserstein
                                                       steps, regularizer ``E_rho``
'allen_zhu'   0             0              0           'standard' with the first and output layers
                                                       fixed (Allen-Zhu, Li & Song 2019)
============  ============  =============  ==========  =============================================

The over-parameterization lab's :class:`~convexnn.overparam.DeepReLUNetwork` takes 'standard',
'ntk' and 'allen_zhu' (:data:`convexnn.overparam.PARAMETERIZATIONS`); the mean-field populations
take 'mean_field' and 'ntk' (their ``scaling``, :data:`convexnn.meanfield.population.SCALINGS`).
"""

from dataclasses import dataclass

import numpy as np

__all__ = ["Parameterization", "STANDARD", "NTK", "MEAN_FIELD", "ALLEN_ZHU", "choose"]


@dataclass(frozen=True)
class Parameterization:
    """How the masses ``q`` of a layer's units enter the forward pass, the regularizer and the steps.

    Attributes
    ----------
    name : str
    output_power : float
        A unit's contribution to the sum above it is multiplied by ``q ** output_power``.
    penalty_power : float
        A unit's parameters are charged in the regularizer with weight ``q ** penalty_power``.
    step_power : float
        A gradient step on a unit's parameters is divided by ``q ** step_power``.
    fixed_ends : bool
        The first and output layers are fixed and the inputs of unit norm (the Allen-Zhu set-up:
        ``A ~ N(0, 2/m)``, ``B ~ N(0, 1)``).
    """

    name: str
    output_power: float = 0.0
    penalty_power: float = 0.0
    step_power: float = 0.0
    fixed_ends: bool = False

    # ------------------------------------------------------------------ masses
    def output_weights(self, mass):
        """``q ** output_power``: the forward multipliers of units of masses ``q``."""
        return mass**self.output_power

    def penalty_weights(self, mass):
        """``q ** penalty_power``: the regularizer's weights of units of masses ``q``."""
        return mass**self.penalty_power

    def step_scales(self, mass):
        """``1 / q ** step_power``: the step multipliers of parameters of masses ``q``."""
        return mass**-self.step_power

    # ------------------------------------------------------------------ layers of equal masses
    @property
    def in_multiplier(self):
        """Whether the variance lives (partly) in the forward multipliers (``output_power > 0``)."""
        return self.output_power > 0

    def multiplier(self, gain, fan_in):
        """Forward multiplier ``(gain / fan_in) ** output_power`` of a layer of equal masses."""
        return float(np.asarray(gain / fan_in) ** self.output_power)

    def init_std(self, gain, fan_in):
        """Standard deviation of the initial weights: ``sqrt(gain / fan_in) / multiplier``, so that
        the effective weights ``multiplier * W`` have the variance ``gain / fan_in``."""
        return float(np.sqrt(gain / fan_in)) / self.multiplier(gain, fan_in)

    # ------------------------------------------------------------------ a deep MLP's layers
    def min_depth(self):
        """Fewest hidden layers of a deep MLP (2 with fixed ends: one trained layer between)."""
        return 2 if self.fixed_ends else 1

    def gains(self, n_features, width, depth):
        """Gain ``c_l`` of each of the ``depth + 1`` layers of a deep MLP (variance times fan-in)."""
        gains = [2.0] * depth + [1.0]
        if self.fixed_ends:
            gains[0] = 2.0 * n_features / width  # A ~ N(0, 2/m) on a fan-in of n_features
            gains[-1] = float(width)  # B ~ N(0, 1) on a fan-in of m
        return gains

    def trained(self, depth):
        """Which of the ``depth + 1`` layers of a deep MLP are trained, list of bool."""
        if self.fixed_ends:
            return [False] + [True] * (depth - 1) + [False]
        return [True] * (depth + 1)


STANDARD = Parameterization("standard")
NTK = Parameterization("ntk", output_power=0.5)
MEAN_FIELD = Parameterization("mean_field", output_power=1.0, penalty_power=1.0, step_power=1.0)
ALLEN_ZHU = Parameterization("allen_zhu", fixed_ends=True)


def choose(name, menu, what="parameterization"):
    """The parameterization ``name`` (or a :class:`Parameterization` on the menu) from ``menu``, a
    dict name -> Parameterization; a ValueError names the choices (``what`` is the argument's name)."""
    if isinstance(name, Parameterization) and menu.get(name.name) == name:
        return name
    if not isinstance(name, str) or name not in menu:
        raise ValueError(f"{what} must be one of {sorted(menu)}, got {name!r}.")
    return menu[name]
