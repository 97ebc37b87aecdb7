"""Bjorck, Gomes, Selman, Weinberger. Understanding Batch Normalization. NeurIPS 2018.

Section B of THEOREMS.md: the SGD noise of a mini-batch gradient (B1), products of Gaussian
matrices, their singular value edge and norm preservation (B2), and, as processes, divergence at
large learning rates and activation growth with depth, with and without BN (B3).
"""

from .depth import B3
from .noise import B1
from .products import B2

__all__ = ["B1", "B2", "B3"]
