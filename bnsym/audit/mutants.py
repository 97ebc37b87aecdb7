"""Mutants of a closed form: the small, plausible slips a check is meant to catch.

A mutant is the closed form with one deliberate error in it:

* ``scale`` -- the whole expression times ``1 + delta`` (a relative error of exactly ``delta``;
  the ladder of deltas measures the smallest relative error the check resolves);
* ``constant`` -- one numeric constant scaled by ``1 + delta`` (every occurrence of that number);
* ``sign`` -- one term of a sum with its sign flipped (the whole expression when there is no sum);
* ``exponent`` -- a numeric exponent moved by one, up and down;
* ``swap`` -- two symbols exchanged;
* ``drop`` -- one term of a sum left out.

Mutants are built from the SymPy expression only, and the same expression, mutated, goes
through the check exactly as the original does. Two mutants that are the same expression are
kept once, and a mutant equal to the original as an expression is dropped; one that only
*evaluates* to the original (``x**2 * y`` with ``x`` and ``y`` swapped in a symmetric form) is
recognised later, numerically, by :func:`equivalent`.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any, Iterable

import mpmath
import sympy as sp

from ..numeric import compile_mpmath
from ..params import Param

SCALES = (0.5, 0.2, 0.1, 0.05, 0.02, 0.01, 0.005, 0.002, 0.001)  # relative errors of the scale ladder
TEN_PERCENT = sp.Rational(1, 10)  # the error the criterion names: every check must catch it
PER_KIND = 3  # structural mutants of each kind (the first ones in the expression's own order)
EQUIVALENCE_POINTS = 12  # random domain points at which a mutant is compared with the original
EQUIVALENCE_DPS = 30
EQUIVALENCE_TOLERANCE = mpmath.mpf(10) ** -20  # relative; far above 30-digit round-off, far below any slip


@dataclass(frozen=True)
class Mutant:
    """One deliberate error: its kind, what changed (in words) and the mutated expression.

    ``delta`` is the relative scale of a ``scale`` or ``constant`` mutant (signed), else ``None``.
    """

    kind: str
    change: str
    expr: sp.Expr
    delta: float | None = None


def _rational(delta: float) -> sp.Rational:
    return sp.Rational(str(delta))


def scale_mutants(expr: sp.Expr, scales: Iterable[float] = SCALES) -> list[Mutant]:
    """The whole expression times ``1 + delta`` and ``1 - delta`` for each delta. A claimed value of 0
    cannot be scaled: it is offset by ``+- delta`` instead, an absolute error (the engine measures the
    resolution of a claimed 0 in absolute terms; for a log-ratio quantity it is a relative error of the
    ratio)."""
    out = []
    for d in scales:
        for s in (1, -1):
            if expr == 0:
                out.append(Mutant("scale", f"offset {s * _rational(d)}", s * _rational(d), s * float(d)))
                continue
            factor = 1 + s * _rational(d)
            out.append(Mutant("scale", f"x {factor}", sp.Mul(factor, expr, evaluate=False), s * float(d)))
    return out


def _rebuild(expr: sp.Expr, mapping: dict[sp.Basic, sp.Basic]) -> sp.Expr:
    """``expr`` with ``mapping`` applied, its nodes rebuilt unevaluated."""
    with sp.evaluate(False):
        return expr.xreplace(mapping)


def _preorder(expr: sp.Basic) -> list[sp.Basic]:
    return list(sp.preorder_traversal(expr))


def _adds(expr: sp.Expr) -> list[sp.Add]:
    seen: list[sp.Add] = []
    for node in _preorder(expr):
        if isinstance(node, sp.Add) and node not in seen:
            seen.append(node)
    return seen


def _constants(expr: sp.Expr) -> list[sp.Number]:
    seen: list[sp.Number] = []
    for node in _preorder(expr):
        if isinstance(node, sp.Number) and node not in (0, 1, -1) and node not in seen and node.is_finite:
            seen.append(node)
    return seen


def structural_mutants(expr: sp.Expr, per_kind: int = PER_KIND, delta: sp.Rational = TEN_PERCENT) -> list[Mutant]:
    """Constant, sign, exponent, swap and drop mutants: at most ``per_kind`` of each."""
    found: dict[str, list[Mutant]] = {k: [] for k in ("constant", "sign", "exponent", "swap", "drop")}

    def add(kind: str, change: str, new: sp.Expr, d: float | None = None) -> None:
        if len(found[kind]) < per_kind:
            found[kind].append(Mutant(kind, change, new, d))

    for c in _constants(expr):
        for s in (1, -1):
            new_c = c * (1 + s * delta)
            add("constant", f"constant {c} -> {new_c}", _rebuild(expr, {c: new_c}), s * float(delta))
    adds = _adds(expr)
    for node in adds:
        for term in node.args:
            rest = [t for t in node.args if t is not term]
            add("sign", f"sign of the term {term}", _rebuild(expr, {node: sp.Add(*rest, -term, evaluate=False)}))
            add("drop", f"term {term} dropped", _rebuild(expr, {node: sp.Add(*rest, evaluate=False)}))
    if not adds and expr != 0:
        add("sign", "sign of the whole expression", -expr)
    for node in _preorder(expr):
        if isinstance(node, sp.Pow) and isinstance(node.exp, sp.Number):
            for step in (1, -1):
                e = node.exp + step
                if e != 0:
                    add("exponent", f"exponent of {node.base}: {node.exp} -> {e}",
                        _rebuild(expr, {node: sp.Pow(node.base, e, evaluate=False)}))
    symbols = sorted(expr.free_symbols, key=lambda s: s.name)
    for i, a in enumerate(symbols):
        for b in symbols[i + 1:]:
            add("swap", f"{a} <-> {b}", _rebuild(expr, {a: b, b: a}))
    return [m for kind in found.values() for m in kind]


def distinct(original: sp.Expr, candidates: Iterable[Mutant]) -> list[Mutant]:
    """The candidates with duplicates and forms identical to the original dropped, in order."""
    out: list[Mutant] = []
    seen = {original}
    for m in candidates:
        if m.expr in seen:
            continue
        seen.add(m.expr)
        out.append(m)
    return out


def mutants(expr: sp.Expr, scales: Iterable[float] = SCALES, per_kind: int = PER_KIND) -> list[Mutant]:
    """The scale ladder, then the structural mutants; duplicates and unchanged forms dropped.

    Mutants are rebuilt unevaluated: rebuilding a ``Max`` or a ``Piecewise`` with evaluation on asks SymPy
    to compare its symbolic arguments, which can take minutes; evaluated or not, the mutant is the same
    function, and the check evaluates it numerically."""
    return distinct(expr, scale_mutants(expr, scales) + structural_mutants(expr, per_kind))


def _round_off(f0: Any, f1: Any, args: list[Any], gap: Any) -> bool:
    """Whether a gap between two values is round-off: it shrinks by many orders at twice the digits (two forms
    of an expression identically 0 differ only so), where a real difference keeps its size."""
    try:
        with mpmath.workdps(2 * EQUIVALENCE_DPS):
            again = abs(mpmath.mpmathify(f0(*args)) - mpmath.mpmathify(f1(*args)))
    except Exception:
        return False
    return bool(again <= gap * mpmath.mpf(10) ** -(EQUIVALENCE_DPS // 2))


def equivalent(original: sp.Expr, mutant: sp.Expr, domain: dict[sp.Symbol, Param], seed: int = 0,
               points: int = EQUIVALENCE_POINTS) -> bool:
    """Whether the mutant evaluates to the original at ``points`` random points of the domain (to 20
    digits, at 30-digit precision): then it is the same function, not an error, and no check can catch
    it. A point where either side cannot be evaluated is skipped; no evaluable point means not shown
    equivalent."""
    symbols = sorted(original.free_symbols | mutant.free_symbols, key=lambda s: s.name)
    params = [domain[s] for s in symbols]
    try:
        f0, f1 = compile_mpmath(original, symbols), compile_mpmath(mutant, symbols)
    except Exception:  # a form lambdify cannot print (an undefined function ...): not shown equivalent
        return False
    rng = random.Random(seed)
    compared = 0
    with mpmath.workdps(EQUIVALENCE_DPS):
        for _ in range(points):
            args = [p.random(rng, EQUIVALENCE_DPS) for p in params]
            try:
                a, b = mpmath.mpmathify(f0(*args)), mpmath.mpmathify(f1(*args))
            except Exception:  # outside the domain of a function, or a form mpmath cannot evaluate
                continue
            if not (mpmath.isfinite(a) and mpmath.isfinite(b)):
                continue
            compared += 1
            gap = abs(a - b)
            if gap > EQUIVALENCE_TOLERANCE * max(abs(a), abs(b)) and not _round_off(f0, f1, args, gap):
                return False
    return compared > 0
