"""Luo, Wang, Shao, Peng. Towards Understanding Regularization in Batch Normalization. ICLR 2019.

Sections L1-L4 of THEOREMS.md: priors of the batch statistics (L1), Theorem 1 (L2),
exact forms for the identity activation (L3), PN = WN (L4).
"""

from .identity import L3
from .pn_wn import L4
from .priors import L1
from .theorem1 import L2

__all__ = ["L1", "L2", "L3", "L4"]
