"""bnsym: a symbolic-numeric checker for derivations in the theory of batch normalization.

The symbolic half (parameters, claims, prover, numeric fallback) needs SymPy and mpmath
only; torch is imported by the Monte Carlo half (``bnsym.mc``, ``bnsym.sim``) alone.
"""

from .claims import (
                     Asymptotic,
                     Claim,
                     Derivation,
                     Erratum,
                     Flow,
                     GaussianExpectation,
                     Identity,
                     Inequality,
                     Measurement,
                     ProcessClaim,
                     Sign,
                     Source,
                     Theorem,
                     by,
)
from .errors import BnsymError
from .params import Param
from .verdict import Status, Verdict

__version__ = "0.1.0"

__all__ = [
    "Asymptotic", "BnsymError", "Claim", "Derivation", "Erratum", "Flow", "GaussianExpectation", "Identity",
    "Inequality", "Measurement", "Param", "ProcessClaim", "Sign", "Source", "Status", "Theorem", "Verdict", "by",
    "__version__",
]
