"""The numeric fallback: mpmath at high precision at random points of the domain.

Used where the symbolic prover is undecided. A claim that holds at every sampled
point is reported ``NUMERIC`` (never ``PROVEN``); one that fails at a point is
``REFUTED`` with that point and the two values.

Tolerances are derived from the working precision: at ``dps`` digits a true identity
leaves a relative residual of order ``10**-(dps - GUARD_DIGITS)`` after cancellation.
Before a point is declared a counterexample it is re-evaluated at twice the precision;
a residual that does not shrink with precision is a real difference, not round-off.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any, Callable

import mpmath
import sympy as sp

from .params import Param

DEFAULT_DPS = 50
DEFAULT_POINTS = 24
GUARD_DIGITS = 15  # digits a true identity may lose to cancellation
MIN_DPS = GUARD_DIGITS + 15  # below this the residual tolerance says nothing
ASYMPTOTIC_DECADES = (3, 4, 5, 6, 7, 8)  # var = 10**k for the remainder-order test


@dataclass
class NumericResult:
    decided: bool | None
    points: int
    dps: int
    max_residual: float = 0.0
    counterexample: dict[str, Any] = field(default_factory=dict)
    detail: str = ""
    region: dict[str, str] = field(default_factory=dict)


def compile_mpmath(expr: sp.Expr, symbols: list[sp.Symbol]) -> Callable[..., Any]:
    """``expr`` as an mpmath function of ``symbols`` (positional).

    The symbols are renamed before lambdify, so a parameter named like a function
    (``gamma`` beside ``Gamma(x)``) cannot shadow it in the generated code.
    """
    safe = [sp.Dummy(f"arg{i}") for i in range(len(symbols))]
    return sp.lambdify(safe, sp.sympify(expr).xreplace(dict(zip(symbols, safe))), modules="mpmath")



def _real(v: Any) -> Any:
    if isinstance(v, mpmath.mpc):
        if abs(v.imag) <= abs(v.real) * mpmath.mpf(10) ** (-(mpmath.mp.dps - GUARD_DIGITS)) or v.imag == 0:
            return v.real
        raise ValueError(f"complex value {v}")
    return mpmath.mpf(v)


def _draw(params: list[Param], rng: random.Random, dps: int) -> list[Any]:
    return [p.random(rng, dps) for p in params]


MAX_CORNER_PARAMS = 6  # 2**6 corners at most


def _corners(params: list[Param]) -> list[list[Any]]:
    """The corners of the sampling region that lie in the domain (closed ends), for a few parameters."""
    if not params or len(params) > MAX_CORNER_PARAMS:
        return []
    out: list[list[Any]] = [[]]
    for p in params:
        ends = [v for v in p.region if p.contains(v)]
        if not ends:
            return []
        out = [c + [mpmath.mpf(v)] for c in out for v in ends]
    return out


def _region(params: list[Param]) -> dict[str, str]:
    out = {}
    for p in params:
        lo, hi = p.region
        out[p.name] = f"[{lo:g}, {hi:g}] {p.law}" + (" integer" if p.integer else "")
    return out


def _evaluate(fn: Callable[..., Any], point: list[Any], dps: int) -> Any:
    """A real value of ``fn`` at ``point`` (ValueError when it is complex)."""
    with mpmath.workdps(dps):
        return _real(_value(fn, point, dps))


def check_equal(lhs: sp.Expr, rhs: sp.Expr, params: list[Param], points: int = DEFAULT_POINTS,
                dps: int = DEFAULT_DPS, seed: int = 0) -> NumericResult:
    """Compare ``lhs`` and ``rhs`` at ``points`` random points to ``dps`` digits."""
    if dps < MIN_DPS:
        raise ValueError(f"dps must be at least {MIN_DPS}, not {dps}")
    symbols = [p.symbol for p in params]
    f = compile_mpmath(sp.sympify(lhs) - sp.sympify(rhs), symbols)
    fl, fr = compile_mpmath(lhs, symbols), compile_mpmath(rhs, symbols)
    rng = random.Random(seed)
    worst = 0.0
    evaluated = 0
    failures: list[str] = []
    for _ in range(points):
        point = _draw(params, rng, dps)
        try:
            with mpmath.workdps(dps):
                # complex values are compared as they are: a complex side against a real one differs
                a, b = _value(fl, point, dps), _value(fr, point, dps)
                resid = abs(_value(f, point, dps))
                _finite(a, b, resid)
                scale = max(abs(a), abs(b))
                tol = scale * mpmath.mpf(10) ** (-(dps - GUARD_DIGITS))
        except (ValueError, ZeroDivisionError, TypeError, OverflowError) as exc:
            failures.append(f"{exc}")
            continue
        evaluated += 1
        rel = float(resid / scale) if scale else float(resid)
        worst = max(worst, rel)
        if resid > tol:
            hi = 2 * dps
            resid_hi = abs(_value(f, point, hi))
            # a real difference keeps its size at twice the digits; round-off shrinks by about 10**-dps. Both
            # tests are needed: sides that are themselves round-off (an expression identically 0, whose terms
            # cancel) give a tolerance relative to round-off, which only the shrinking tells from a difference
            if (resid_hi > scale * mpmath.mpf(10) ** (-(hi - GUARD_DIGITS))
                    and resid_hi > resid * mpmath.mpf(10) ** (-(dps // 2))):
                cx = {p.name: mpmath.nstr(v, 20) for p, v in zip(params, point)}
                cx.update(lhs=mpmath.nstr(a, 20), rhs=mpmath.nstr(b, 20), residual=mpmath.nstr(resid_hi, 10))
                return NumericResult(False, evaluated, dps, rel, cx,
                                     f"differs at a point by {mpmath.nstr(resid_hi, 5)} (stable at {hi} digits)",
                                     _region(params))
    if failures:  # a claim that cannot be evaluated somewhere on its domain is not checked there
        return NumericResult(None, evaluated, dps, worst,
                             detail=f"could not evaluate at {len(failures)} of {points} points: "
                             + "; ".join(sorted(set(failures))[:3]), region=_region(params))
    return NumericResult(True, evaluated, dps, worst, detail=f"max relative residual {worst:.2e} at {evaluated} points",
                         region=_region(params))


def _value(fn: Callable[..., Any], point: list[Any], dps: int) -> Any:
    with mpmath.workdps(dps):
        v = fn(*[mpmath.mpf(x) for x in point])
        return v if isinstance(v, (mpmath.mpf, mpmath.mpc)) else mpmath.mpmathify(v)


def check_inequality(lhs: sp.Expr, op: str, rhs: sp.Expr, params: list[Param], points: int = DEFAULT_POINTS,
                     dps: int = DEFAULT_DPS, seed: int = 0) -> NumericResult:
    """Test ``lhs OP rhs`` at the corners of the sampling region that lie in the domain, then at random points."""
    symbols = [p.symbol for p in params]
    fl, fr = compile_mpmath(lhs, symbols), compile_mpmath(rhs, symbols)
    compare = {"<": lambda a, b: a < b, "<=": lambda a, b: a <= b,
               ">": lambda a, b: a > b, ">=": lambda a, b: a >= b}[op]
    rng = random.Random(seed)
    evaluated = 0
    margin = None
    corners = _corners(params)
    for i in range(len(corners) + points * 3):
        if evaluated >= points + len(corners):
            break
        point = corners[i] if i < len(corners) else _draw(params, rng, dps)
        try:
            a, b = _evaluate(fl, point, dps), _evaluate(fr, point, dps)
            _finite(a, b)
        except (ValueError, ZeroDivisionError, TypeError, OverflowError):
            continue
        evaluated += 1
        gap = float(b - a) if op in ("<", "<=") else float(a - b)
        margin = gap if margin is None else min(margin, gap)
        if not compare(a, b):
            cx = {p.name: mpmath.nstr(v, 20) for p, v in zip(params, point)}
            cx.update(lhs=mpmath.nstr(a, 20), rhs=mpmath.nstr(b, 20))
            return NumericResult(False, evaluated, dps, counterexample=cx, detail=f"fails: lhs {op} rhs is false",
                                 region=_region(params))
    if evaluated < points + len(corners):
        return NumericResult(None, evaluated, dps, detail=f"could not evaluate (or got complex values) at"
                             f" {points + len(corners) - evaluated} of {points + len(corners)} points",
                             region=_region(params))
    return NumericResult(True, evaluated, dps, detail=f"smallest margin {margin:.3e}", region=_region(params))


def check_asymptotic(lhs: sp.Expr, rhs: sp.Expr, var: Param, order: int, params: list[Param],
                     points: int = 4, dps: int = DEFAULT_DPS, seed: int = 0) -> NumericResult:
    """Test ``lhs - rhs = O(var**-order)``: the scaled remainder ``var**order (lhs - rhs)``
    must stay bounded as ``var`` runs over 10**3 ... 10**8 (other parameters random).

    A remainder of a lower order grows by a factor of 10**k per decade (k = 1/2 for an
    order half a power too low, as expansions in 1/sqrt(M) allow); the claim is refuted
    when the mean log10-slope over the last two decades exceeds 1/4, halfway between
    bounded (slope 0) and half an order too low. A logarithmic factor (slope -> 0) is
    below this test's resolution.
    """
    others = [p for p in params if p.symbol != var.symbol]
    symbols = [var.symbol] + [p.symbol for p in others]
    f = compile_mpmath(sp.sympify(lhs) - sp.sympify(rhs), symbols)
    rng = random.Random(seed)
    # the difference carries a round-off of about |lhs| 10**-work and is scaled by up to
    # 10**(order * max decade); these working digits keep the scaled round-off below ``tiny`` for
    # |lhs| up to 10**(2 * max decade + GUARD_DIGITS), and a growth is confirmed at dps digits more
    # (round-off shrinks there, a real remainder does not) before it refutes the claim
    work = dps + max(ASYMPTOTIC_DECADES) * (order + 2)
    growth_limit = mpmath.mpf(1) / 4
    tiny = mpmath.mpf(10) ** (-(dps - GUARD_DIGITS))

    def grows(q: list[Any]) -> bool:
        # mean log10-slope of the scaled remainder over the last two decades: 0 when bounded,
        # >= 1/2 when the remainder is of an order at least half a power too low
        return all(x > tiny for x in q[-3:]) and mpmath.log10(q[-1] / q[-3]) / 2 > growth_limit

    for _ in range(points):
        point = _draw(others, rng, dps)
        try:
            q = _scaled_remainders(f, point, order, work)
            if grows(q):
                q = _scaled_remainders(f, point, order, work + dps)
        except (ValueError, ZeroDivisionError, TypeError, OverflowError) as exc:
            return NumericResult(None, 0, work, detail=f"could not evaluate: {exc}", region=_region(params))
        if grows(q):
            cx = {p.name: mpmath.nstr(v, 15) for p, v in zip(others, point)}
            cx.update({f"{var.name}^{order}*remainder at {var.name}=1e{k}": mpmath.nstr(x, 8)
                       for k, x in zip(ASYMPTOTIC_DECADES, q)})
            return NumericResult(False, points, work + dps, counterexample=cx,
                                 detail=f"scaled remainder grows by x{mpmath.nstr(mpmath.sqrt(q[-1] / q[-3]), 4)}"
                                 " per decade",
                                 region=_region(params))
    return NumericResult(True, points, work,
                         detail=f"{var.name}^{order}*remainder bounded over {var.name}=1e3..1e8 at {points} points",
                         region=_region(params))


def _scaled_remainders(f: Callable[..., Any], point: list[Any], order: int, work: int) -> list[Any]:
    """``var**order * |f(var, point)|`` at ``var = 10**k`` for every decade k, computed at ``work`` digits."""
    q = []
    for k in ASYMPTOTIC_DECADES:
        with mpmath.workdps(work):
            v = mpmath.mpf(10) ** k
            q.append(abs(_real(f(v, *point))) * v ** order)
    _finite(*q)
    return q


def _finite(*values: Any) -> None:
    """Refuse nan and infinite values: a nan residual compares as neither large nor small, so it would pass
    every tolerance test; the point counts as not evaluable instead."""
    for v in values:
        if not mpmath.isfinite(v):
            raise ValueError(f"not a finite number: {v}")
