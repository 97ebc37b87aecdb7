"""Monte Carlo checks of Bjorck et al. (NeurIPS 2018), Section B of THEOREMS.md."""
