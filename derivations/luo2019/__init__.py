"""Luo, Wang, Shao, Peng. Towards Understanding Regularization in Batch Normalization. ICLR 2019.

Sections L1-L8 of THEOREMS.md: priors of the batch statistics (L1), Theorem 1 (L2),
exact forms for the identity activation (L3), PN = WN (L4), the teacher-student dynamics
(L5), their fixed points (L6), Proposition 1 (L7), Propositions 2-3 (L8) and the
generalization errors of ridge regression and the pseudo-inverse (L9; BN's part is open).
"""

from .dynamics import L5
from .fixed_points import L6
from .generalization import L9
from .identity import L3
from .learning_rates import L7
from .pn_wn import L4
from .priors import L1
from .stability import L8
from .theorem1 import L2

__all__ = ["L1", "L2", "L3", "L4", "L5", "L6", "L7", "L8", "L9"]
