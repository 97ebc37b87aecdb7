"""Parameters: a SymPy symbol together with its domain.

A parameter is declared once. From its domain come

* the SymPy assumptions of its symbol (``positive``, ``integer``, ...), so that
  simplification is sound on the domain;
* random points for numeric checks (mpmath numbers at any precision);
* the hypothesis strategy for property tests (imported only when asked for).

>>> M = Param("M", lo=4, integer=True, sample_hi=256, law="log")
>>> M.symbol.is_integer, M.symbol.is_positive
(True, True)
>>> M.contains(3), M.contains(8)
(False, True)
"""

from __future__ import annotations

import decimal
import math
import random
from dataclasses import dataclass, field
from typing import Any

import mpmath
import sympy as sp

from .errors import DefinitionError, DomainError

LAWS = ("uniform", "log")


@dataclass(frozen=True)
class Param:
    """A real (or integer) parameter on the interval from ``lo`` to ``hi``.

    ``lo``/``hi`` of ``None`` mean unbounded. ``lo_open``/``hi_open`` make an end open.
    ``sample_lo``/``sample_hi`` bound the region random points are drawn from when the
    domain itself is unbounded (they default to the domain's ends). ``law`` is the
    sampling law inside that region: ``"uniform"`` or ``"log"`` (log-uniform, for
    scale parameters such as a batch size).
    """

    name: str
    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False
    hi_open: bool = False
    integer: bool = False
    law: str = "uniform"
    sample_lo: float | None = None
    sample_hi: float | None = None
    latex: str | None = None
    symbol: sp.Symbol = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.law not in LAWS:
            raise DefinitionError(f"parameter {self.name}: law must be one of {LAWS}, not {self.law!r}")
        if self.lo is not None and self.hi is not None and self.lo > self.hi:
            raise DefinitionError(f"parameter {self.name}: empty domain [{self.lo}, {self.hi}]")
        lo, hi = self.region
        if not (math.isfinite(lo) and math.isfinite(hi)):
            raise DefinitionError(
                f"parameter {self.name}: unbounded domain needs sample_lo/sample_hi for random points"
            )
        if self.law == "log" and lo <= 0:
            raise DefinitionError(f"parameter {self.name}: log law needs a positive sampling region")
        if lo > hi:
            raise DefinitionError(f"parameter {self.name}: empty sampling region [{_num(lo)}, {_num(hi)}]")
        # random points come from the sampling region and must lie in the domain: a region outside it
        # (or a domain with no point, such as (1, 1) or the integers in [0.2, 0.8]) could never give one
        if (self.lo is not None and lo < self.lo) or (self.hi is not None and hi > self.hi):
            raise DefinitionError(f"parameter {self.name}: sampling region [{_num(lo)}, {_num(hi)}] is not inside"
                                  f" its domain {self.describe()}")
        if not self._has_point(lo, hi):
            raise DefinitionError(f"parameter {self.name}: no point of its domain {self.describe()} lies in the"
                                  f" sampling region [{_num(lo)}, {_num(hi)}]")
        object.__setattr__(self, "symbol", sp.Symbol(self.name, **self.assumptions))

    def _has_point(self, lo: float, hi: float) -> bool:
        """Whether the sampling region ``[lo, hi]`` holds a point of the domain (an integer, if integer)."""
        if self.integer:
            return any(self.contains(k) for k in (math.ceil(lo), math.ceil(lo) + 1, math.floor(hi) - 1,
                                                  math.floor(hi)) if lo <= k <= hi)
        return lo < hi or self.contains(lo)

    # -- SymPy side -------------------------------------------------------------------
    @property
    def assumptions(self) -> dict[str, bool]:
        """SymPy assumptions implied by the domain."""
        out: dict[str, bool] = {"real": True}
        if self.integer:
            out["integer"] = True
        if self.lo is not None:
            if self.lo > 0 or (self.lo == 0 and self.lo_open):
                out["positive"] = True
            elif self.lo >= 0:
                out["nonnegative"] = True
        if self.hi is not None:
            if self.hi < 0 or (self.hi == 0 and self.hi_open):
                out["negative"] = True
            elif self.hi <= 0:
                out["nonpositive"] = True
        return out

    # -- sampling ---------------------------------------------------------------------
    @property
    def region(self) -> tuple[float, float]:
        """The closed region random points are drawn from."""
        lo = self.sample_lo if self.sample_lo is not None else self.lo
        hi = self.sample_hi if self.sample_hi is not None else self.hi
        return (float(lo) if lo is not None else -math.inf, float(hi) if hi is not None else math.inf)

    def contains(self, value: Any) -> bool:
        """Whether ``value`` lies in the declared domain."""
        try:
            v = float(value)
        except (TypeError, ValueError):
            return False
        if not math.isfinite(v):
            return False
        if self.integer and v != int(v):
            return False
        if self.lo is not None and (v < self.lo or (self.lo_open and v == self.lo)):
            return False
        if self.hi is not None and (v > self.hi or (self.hi_open and v == self.hi)):
            return False
        return True

    def check(self, value: Any) -> Any:
        """Return ``value`` if it lies in the domain, else raise :class:`DomainError`."""
        if not self.contains(value):
            raise DomainError(f"{self.name}={value!r} lies outside its domain {self.describe()}")
        return int(value) if self.integer else value

    def text(self, value: Any) -> str:
        """``value`` as text; an integer parameter's value without a fractional part (``380``, not ``380.0``).

        >>> Param("M", lo=2, integer=True, sample_hi=1000).text("380.0"), Param("x", sample_lo=0, sample_hi=1).text(0.5)
        ('380', '0.5')
        """
        if self.integer:
            try:
                d = decimal.Decimal(str(value))
            except (decimal.InvalidOperation, ValueError):
                return str(value)
            if d.is_finite() and d == d.to_integral_value():
                return str(int(d))
        return str(value)

    def describe(self) -> str:
        """The domain in interval notation, e.g. ``[4, oo) integer``."""
        left = "(" if self.lo_open or self.lo is None else "["
        right = ")" if self.hi_open or self.hi is None else "]"
        lo = "-oo" if self.lo is None else _num(self.lo)
        hi = "oo" if self.hi is None else _num(self.hi)
        return f"{left}{lo}, {hi}{right}" + (" integer" if self.integer else "")

    def random(self, rng: random.Random, dps: int = 50) -> mpmath.mpf:
        """One random point of the sampling region, as an mpmath number at ``dps`` digits.

        Open ends are respected: a point equal to an open end is redrawn.
        """
        lo, hi = self.region
        with mpmath.workdps(dps):
            for _ in range(1000):
                u = mpmath.mpf(rng.random())
                if self.law == "log":
                    v = mpmath.exp(mpmath.log(lo) + u * (mpmath.log(hi) - mpmath.log(lo)))
                else:
                    v = mpmath.mpf(lo) + u * (mpmath.mpf(hi) - mpmath.mpf(lo))
                if self.integer:
                    v = mpmath.mpf(int(mpmath.nint(v)))
                if self.contains(v):
                    return v
        raise DefinitionError(f"parameter {self.name}: could not draw a point in {self.describe()}")

    def strategy(self) -> Any:
        """A hypothesis strategy over the sampling region (hypothesis imported lazily)."""
        from hypothesis import strategies as st

        lo, hi = self.region
        if self.integer:
            return st.integers(min_value=math.ceil(lo), max_value=math.floor(hi)).filter(self.contains)
        return st.floats(
            min_value=lo, max_value=hi, allow_nan=False, allow_infinity=False,
            exclude_min=self.lo_open and lo == self.lo, exclude_max=self.hi_open and hi == self.hi,
        )

    def tex(self) -> str:
        """How the symbol is typeset."""
        return self.latex if self.latex is not None else sp.latex(self.symbol)


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(float(x))


def params_of(expr: sp.Basic, declared: dict[sp.Symbol, Param]) -> list[Param]:
    """The declared parameters among the free symbols of ``expr``, sorted by name.

    Raises :class:`DefinitionError` naming any free symbol that has no declared domain.
    """
    out = []
    for s in sorted(expr.free_symbols, key=lambda s: s.name):
        if s not in declared:
            raise DefinitionError(f"symbol {s} in {expr} has no declared parameter domain")
        out.append(declared[s])
    return out
