"""Kohler, Daneshmand, Lucchi, Zhou, Neymeyr, Hofmann. Exponential convergence rates for Batch
Normalization: the power of length-direction decoupling in non-convex optimization. AISTATS 2019.

Section K of THEOREMS.md: least squares in normalized coordinates and GDNP (K1), Gaussian
halfspaces, Stein's lemma and the critical points (K2), and the simulated processes (K3).
"""

from .halfspaces import K2
from .least_squares import K1
from .processes import K3

__all__ = ["K1", "K2", "K3"]
