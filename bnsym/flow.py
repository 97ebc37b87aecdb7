"""Numerical solution of a :class:`~bnsym.claims.Flow` (an ODE system given in SymPy).

The right-hand sides are compiled once with ``lambdify`` (Python floats) and integrated
by the classical fourth-order Runge-Kutta method with a fixed step. The step is halved
until two successive solutions agree to ``rtol`` (relative to the state's scale), so the
reported error bound is measured, not assumed: RK4's global error falls by 16 per
halving, and the difference of the last two solutions bounds the error of the finer one.

The state is kept inside the domains of the state parameters (a stage value that steps
outside, e.g. an overlap R slightly above 1, is put back on the boundary): the flows of
bnsym live on such closed state spaces, whose boundaries (R = 1) are invariant.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

import sympy as sp

from .claims import Flow
from .errors import DefinitionError

DEFAULT_RTOL = 1e-9
MAX_HALVINGS = 12
START_STEP = 0.01


@dataclass(frozen=True)
class FlowSolution:
    state: dict[str, float]  # state variable name -> value at the final time
    error: float  # measured bound on the largest absolute error of the state
    steps: int


def _compile(flow: Flow, params: list[sp.Symbol]) -> Callable[..., Any]:
    symbols = [p.symbol for p in flow.state] + params
    safe = [sp.Dummy(f"a{i}") for i in range(len(symbols))]
    rhs = sp.Tuple(*flow.rhs).xreplace(dict(zip(symbols, safe)))
    return sp.lambdify(safe, rhs, modules="math")


def _bounds(flow: Flow) -> list[tuple[float, float]]:
    out = []
    for p in flow.state:
        lo = -math.inf if p.lo is None else float(p.lo)
        hi = math.inf if p.hi is None else float(p.hi)
        out.append((lo, hi))
    return out


def _rk4(f: Callable[..., Any], y0: list[float], args: list[float], t_end: float, n: int,
         bounds: list[tuple[float, float]]) -> list[float]:
    h = t_end / n
    y = list(y0)

    def clip(v: list[float]) -> list[float]:
        return [min(max(x, lo), hi) for x, (lo, hi) in zip(v, bounds)]

    for _ in range(n):
        k1 = f(*y, *args)
        k2 = f(*clip([a + h / 2 * b for a, b in zip(y, k1)]), *args)
        k3 = f(*clip([a + h / 2 * b for a, b in zip(y, k2)]), *args)
        k4 = f(*clip([a + h * b for a, b in zip(y, k3)]), *args)
        y = clip([a + h / 6 * (b + 2 * c + 2 * d + e) for a, b, c, d, e in zip(y, k1, k2, k3, k4)])
    return y


def solve(flow: Flow, point: dict[str, Any], rtol: float = DEFAULT_RTOL) -> FlowSolution:
    """The state at ``point[flow.time.name]`` from the initial state in ``point``.

    ``point`` gives a value for every initial-state parameter, for the time, and for
    every other free symbol of the right-hand sides (by name).
    """
    others = sorted({s for e in flow.rhs for s in e.free_symbols} - {p.symbol for p in flow.state},
                    key=lambda s: s.name)
    missing = [s.name for s in others + [p.symbol for p in flow.initial] + [flow.time.symbol]
               if s.name not in point]
    if missing:
        raise DefinitionError(f"flow {flow.title!r}: the point gives no value for {', '.join(missing)}")
    f = _compile(flow, others)
    args = [float(point[s.name]) for s in others]
    y0 = [float(point[p.name]) for p in flow.initial]
    t_end = float(point[flow.time.name])
    if t_end < 0:
        raise DefinitionError(f"flow {flow.title!r}: negative time {t_end}")
    if t_end == 0:
        return FlowSolution({p.name: v for p, v in zip(flow.state, y0)}, 0.0, 0)
    bounds = _bounds(flow)
    n = max(1, math.ceil(t_end / START_STEP))
    prev = _rk4(f, y0, args, t_end, n, bounds)
    for _ in range(MAX_HALVINGS):
        n *= 2
        cur = _rk4(f, y0, args, t_end, n, bounds)
        err = max(abs(a - b) for a, b in zip(cur, prev))
        scale = max(1.0, max(abs(a) for a in cur))
        if err <= rtol * scale:
            return FlowSolution({p.name: v for p, v in zip(flow.state, cur)}, err, n)
        prev = cur
    raise DefinitionError(f"flow {flow.title!r}: RK4 did not converge to rtol {rtol:g} in {n} steps"
                          f" (last change {err:.3g})")


def value_on_flow(expr: sp.Expr, flow: Flow, point: dict[str, Any]) -> tuple[float, float]:
    """``expr`` evaluated with the flow's state at the point's time; returns (value, error bound)."""
    sol = solve(flow, point)
    env = dict(point)
    env.update(sol.state)
    symbols = sorted(expr.free_symbols, key=lambda s: s.name)
    missing = [s.name for s in symbols if s.name not in env]
    if missing:
        raise DefinitionError(f"the point gives no value for {', '.join(missing)}")
    safe = [sp.Dummy(f"v{i}") for i in range(len(symbols))]
    fn = sp.lambdify(safe, expr.xreplace(dict(zip(symbols, safe))), modules="math")
    value = float(fn(*[float(env[s.name]) for s in symbols]))
    # propagate the state error through expr by a finite difference bound
    grad = 0.0
    for p in flow.state:
        if p.symbol in expr.free_symbols:
            bumped = dict(env)
            h = 1e-6 * max(1.0, abs(env[p.name]))
            bumped[p.name] = env[p.name] + h
            grad += abs(float(fn(*[float(bumped[s.name]) for s in symbols])) - value) / h
    return value, grad * sol.error
