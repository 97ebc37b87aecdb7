"""Monte Carlo checks of Luo et al. (ICLR 2019), Sections L1-L4 of THEOREMS.md."""

from . import identity, pn_wn, priors, theorem1

__all__ = ["identity", "pn_wn", "priors", "theorem1"]
