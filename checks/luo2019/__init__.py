"""Monte Carlo checks of Luo et al. (ICLR 2019), Sections L1-L9 of THEOREMS.md."""

from . import dynamics, figures, generalization, identity, learning_rates, pn_wn, priors, theorem1

__all__ = ["dynamics", "figures", "generalization", "identity", "learning_rates", "pn_wn", "priors", "theorem1"]
