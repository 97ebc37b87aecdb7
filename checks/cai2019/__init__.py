"""Monte Carlo checks of Cai, Li, Shen (ICML 2019), Section C of THEOREMS.md."""

from . import convergence, figures, local_rate

__all__ = ["convergence", "figures", "local_rate"]
