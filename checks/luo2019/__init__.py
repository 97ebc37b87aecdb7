"""Monte Carlo checks of Luo et al. (ICLR 2019), Sections L1-L4 of THEOREMS.md."""

from . import priors

__all__ = ["priors"]
