"""Monte Carlo checks of Bjorck et al. (NeurIPS 2018), Section B of THEOREMS.md."""

from . import activations, divergence, figures, noise, products

__all__ = ["activations", "divergence", "figures", "noise", "products"]
