"""Monte Carlo checks of Liu et al. (2021), Section S of THEOREMS.md: torch networks with BN."""
