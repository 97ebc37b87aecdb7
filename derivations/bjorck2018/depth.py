"""Placeholder: replaced by the module's real claims."""

import sympy as sp

from bnsym import Identity, Param, Source, Theorem

_p = Param("x", sample_lo=0, sample_hi=1)
_x = _p.symbol
placeholder = Identity(title="placeholder", lhs=_x, rhs=_x)
B3 = Theorem(title="placeholder", source=Source("placeholder"), params=(_p,), claims=(placeholder,))
