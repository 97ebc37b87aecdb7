"""Cai, Li, Shen. A Quantitative Analysis of the Effect of Batch Normalization on Gradient Descent. ICML 2019.

Section C of THEOREMS.md: the BN model on least squares and BNGD as gradient descent (C1), scale
invariance, norm growth and the scaling law (C2), the stationary set (C3), the Jacobian at a minimum
with H*, its interlacing and the local rate (C4), and what simulated BNGD and GD do (C5).
"""

from .convergence import C5
from .jacobian import C4
from .model import C1, C2
from .stationary import C3

__all__ = ["C1", "C2", "C3", "C4", "C5"]
