"""Monte Carlo checks of Kohler et al. (AISTATS 2019), Section K of THEOREMS.md."""

from . import curvature, figures, halfspaces, least_squares

__all__ = ["curvature", "figures", "halfspaces", "least_squares"]
