"""Expectations of polynomials in random symbols, from a table of their moments.

A :class:`MomentTable` declares random symbols (``m``, ``u``, ...) and the expectation
of each monomial up to a total degree. ``expect(expr)`` expands ``expr`` as a
polynomial in the random symbols and replaces every monomial by its moment; a monomial
beyond the table's degree is an error unless the table declares it negligible
(``drop_above``), which states the truncation order of a derivation explicitly.

>>> import sympy as sp
>>> a = sp.Symbol("a", real=True)
>>> t = MomentTable("standard normal a", (a,), {(1,): 0, (2,): 1}, drop_above=2)
>>> t.expect(3 + 2*a + 5*a**2)
8
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import sympy as sp

from .errors import DefinitionError


@dataclass(frozen=True)
class MomentTable:
    """Moments ``E[prod s_i**k_i]`` keyed by exponent tuples over ``symbols``."""

    description: str
    symbols: tuple[sp.Symbol, ...]
    moments: dict[tuple[int, ...], Any]
    drop_above: int | None = None
    _values: dict[tuple[int, ...], sp.Expr] = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        vals = {}
        for k, v in self.moments.items():
            if len(k) != len(self.symbols):
                raise DefinitionError(f"moment key {k} does not match symbols {self.symbols}")
            vals[tuple(k)] = sp.sympify(v)
        vals[tuple(0 for _ in self.symbols)] = sp.S.One
        object.__setattr__(self, "_values", vals)

    def __hash__(self) -> int:
        return hash((self.description, self.symbols))

    def expect(self, expr: sp.Expr) -> sp.Expr:
        """``E[expr]`` for ``expr`` polynomial in the random symbols."""
        poly = sp.Poly(sp.expand(expr), *self.symbols)
        total = sp.S.Zero
        for exps, coeff in poly.terms():
            if exps in self._values:
                total += coeff * self._values[exps]
            elif self.drop_above is not None and sum(exps) > self.drop_above:
                continue
            else:
                raise DefinitionError(f"{self.description}: no moment for exponents {exps}")
        return total


def truncate_degree(expr: sp.Expr, symbols: tuple[sp.Symbol, ...], degree: int) -> sp.Expr:
    """Keep the terms of total degree <= ``degree`` in ``symbols`` (expr expanded as a polynomial)."""
    poly = sp.Poly(sp.expand(expr), *symbols)
    return sp.Add(*[c * sp.Mul(*[s**k for s, k in zip(symbols, e)]) for e, c in poly.terms() if sum(e) <= degree])
