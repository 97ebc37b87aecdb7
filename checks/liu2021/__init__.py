"""Monte Carlo checks of Liu et al. (2021), Section S of THEOREMS.md: torch networks with BN."""

from . import dynamics, nets, roundoff, scaling, span

__all__ = ["dynamics", "nets", "roundoff", "scaling", "span"]
