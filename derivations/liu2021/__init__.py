"""Liu et al. The Implicit Biases of Stochastic Gradient Descent on Deep Neural Networks with Batch
Normalization. 2021.

Section S of THEOREMS.md: scale invariance of a BN layer and its consequences (S1), the gradient in
the inputs' span and the orthogonal component under SGD, momentum, Adam, weight decay and weight
rescaling (S2), and the same statements tested on torch networks (S3).
"""

from .processes import S3
from .scale import S1
from .span import S2

__all__ = ["S1", "S2", "S3"]
