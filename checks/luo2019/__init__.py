"""Monte Carlo checks of Luo et al. (ICLR 2019), Sections L1-L8 of THEOREMS.md."""

from . import dynamics, identity, learning_rates, pn_wn, priors, theorem1

__all__ = ["dynamics", "identity", "learning_rates", "pn_wn", "priors", "theorem1"]
