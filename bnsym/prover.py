"""The symbolic prover: a ladder of SymPy strategies, each under a wall-clock budget.

For an equality ``a == b`` the ladder tries to reduce ``a - b`` to zero, cheapest first:
structural comparison, expand/cancel/together, gammasimp (with expand_func), trigsimp,
and finally simplify. The first strategy that closes the step is recorded in the
verdict. A strategy that reduces the difference to a nonzero *number* refutes the step.

For ``lhs == rhs + O(var**-order)`` (var -> oo) the ladder compares series: the
difference is expanded in ``eps = 1/var`` (Gamma functions through the Stirling series
of log-Gamma) and every coefficient below ``eps**order`` must vanish.

For an inequality the prover asks SymPy's assumption system about the simplified
difference; it rarely decides, and then the numeric fallback takes over.

All SymPy work runs in the budgeted children, the difference ``lhs - rhs`` included, so a
hostile expression costs at most ``len(ladder) * budget`` (plus a fork per strategy) here.
A :class:`~bnsym.budget.Deadline` caps the ladder as a whole: a strategy gets the smaller of
its budget and the time left, and once the deadline has passed no further strategy runs.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

import sympy as sp

from .budget import Deadline, run_with_budget, unenforced_reason

DEFAULT_BUDGET = 10.0  # seconds per strategy


@dataclass
class ProofResult:
    """``decided`` is True (proven), False (refuted) or None (undecided)."""

    decided: bool | None
    strategy: str
    detail: str = ""
    seconds: float = 0.0
    tried: tuple[str, ...] = ()


def _is_zero(e: sp.Expr) -> bool | None:
    """True if ``e`` is zero, False if it is certainly a nonzero number, None otherwise."""
    if e == 0:
        return True
    if e.is_number:
        z = e.is_zero
        if z is False:
            return False
        if z is None:
            v = sp.N(e, 60)
            if v.is_Number and abs(v) > sp.Float("1e-40"):
                return False
    return None


def _structural(d: sp.Expr) -> bool | None:
    return _is_zero(d)


def _expand_cancel(d: sp.Expr) -> bool | None:
    return _is_zero(sp.cancel(sp.together(sp.expand(d))))


def _gammasimp(d: sp.Expr) -> bool | None:
    r = _is_zero(sp.gammasimp(d))
    if r is None:
        r = _is_zero(sp.cancel(sp.gammasimp(sp.expand_func(d))))
    return r


def _trigsimp(d: sp.Expr) -> bool | None:
    return _is_zero(sp.trigsimp(d))


def _simplify(d: sp.Expr) -> bool | None:
    r = _is_zero(sp.simplify(d))
    if r is None:
        r = _is_zero(sp.simplify(sp.expand_func(d)))
    return r


EQUALITY_LADDER: list[tuple[str, Callable[[sp.Expr], bool | None]]] = [
    ("structural", _structural),
    ("expand-cancel-together", _expand_cancel),
    ("gammasimp", _gammasimp),
    ("trigsimp", _trigsimp),
    ("simplify", _simplify),
]


def _on_difference(strategy: Callable[[sp.Expr], bool | None], lhs: sp.Expr, rhs: sp.Expr) -> bool | None:
    """Run in the child: build ``lhs - rhs`` there (sympify and subtraction can be slow too), then the strategy."""
    return strategy(sp.sympify(lhs) - sp.sympify(rhs))


def _run_ladder(ladder: list[tuple[str, Callable[[sp.Expr], bool | None]]], lhs: sp.Expr, rhs: sp.Expr,
                budget: float, deadline: Deadline | None = None) -> ProofResult:
    start = time.perf_counter()
    tried: list[str] = []
    notes: list[str] = []
    if unenforced_reason():
        notes.append(unenforced_reason())
    for name, strategy in ladder:
        seconds = budget if deadline is None else deadline.clip(budget)
        if deadline is not None and seconds <= 0:
            notes.append(f"{deadline.note()} before {name}")
            break
        tried.append(name)
        out = run_with_budget(_on_difference, strategy, lhs, rhs, seconds=seconds)
        if out.timed_out:
            notes.append(f"{name}: " + (f"budget of {budget:g} s spent" if seconds >= budget or deadline is None
                                        else deadline.note()))
            continue
        if not out.ok:
            notes.append(f"{name}: {out.error}")
            continue
        if out.value is not None:
            return ProofResult(out.value, name, "; ".join(notes), time.perf_counter() - start, tuple(tried))
    return ProofResult(None, "", "; ".join(notes) or "no strategy closed it", time.perf_counter() - start,
                       tuple(tried))


def prove_equal(lhs: sp.Expr, rhs: sp.Expr, budget: float = DEFAULT_BUDGET, *,
                deadline: Deadline | None = None) -> ProofResult:
    """Try to prove ``lhs == rhs`` identically (on the symbols' assumptions), each strategy under
    ``budget`` seconds and all of them before ``deadline``."""
    return _run_ladder(EQUALITY_LADDER, lhs, rhs, budget, deadline)


# -- asymptotic series ------------------------------------------------------------------

def stirling_series(expr: sp.Expr, var: sp.Symbol, n: int) -> sp.Expr:
    """Expansion of ``expr`` in ``eps = 1/var`` up to (not including) ``eps**n``.

    Each additive term holding Gamma functions is expanded through its logarithm, with
    ``log Gamma`` replaced by its Stirling series (which SymPy knows), then
    exponentiated; other terms are expanded directly. The result is a polynomial in
    ``eps`` (possibly with half-integer powers), returned in terms of ``1/var``.
    """
    eps = sp.Dummy("eps", positive=True)
    e = sp.expand(sp.sympify(expr).subs(var, 1 / eps))
    total = sp.S.Zero
    for term in sp.Add.make_args(e):
        if not term.has(sp.gamma):
            total += sp.series(term, eps, 0, n).removeO()
            continue
        log_term = sp.S.Zero
        for factor in sp.Mul.make_args(term):
            base, power = factor.as_base_exp()
            if isinstance(base, sp.gamma):
                log_term += power * sp.loggamma(base.args[0])
            else:
                log_term += sp.expand_log(sp.log(factor), force=True)
        log_series = sp.series(log_term, eps, 0, n + 1).removeO()
        total += sp.series(sp.exp(log_series), eps, 0, n).removeO()
    return sp.expand(total.subs(eps, 1 / var))


def _series_coefficients_vanish(d: sp.Expr, var: sp.Symbol, order: int) -> bool | None:
    s = stirling_series(d, var, order)
    s = sp.expand(sp.simplify(s))
    r = _is_zero(s)
    if r is not None:
        return r
    # a coefficient of a power below the order that is a nonzero number refutes the claim
    eps = sp.Dummy("eps", positive=True)
    poly = sp.expand(s.subs(var, 1 / eps))
    coefficients: dict[sp.Expr, sp.Expr] = {}
    for term in sp.Add.make_args(poly):
        c, power = term.as_coeff_exponent(eps)
        coefficients[power] = coefficients.get(power, sp.S.Zero) + c
    for c in coefficients.values():
        c = sp.simplify(c)
        if c.is_number and _is_zero(c) is False:
            return False
    return None


def prove_asymptotic(
    lhs: sp.Expr, rhs: sp.Expr, var: sp.Symbol, order: int, budget: float = DEFAULT_BUDGET, *,
    deadline: Deadline | None = None
) -> ProofResult:
    """Try to prove ``lhs - rhs = O(var**-order)`` as ``var -> oo`` by series comparison."""
    ladder = [("series comparison", lambda e: _series_coefficients_vanish(e, var, order))]
    return _run_ladder(ladder, lhs, rhs, budget, deadline)


def series_coefficients(expr: sp.Expr, var: sp.Symbol, n: int) -> sp.Expr:
    """Public helper: the large-``var`` series of ``expr`` to ``var**-(n-1)``, simplified."""
    return sp.expand(sp.simplify(stirling_series(expr, var, n)))


# -- inequalities ------------------------------------------------------------------------

def _sign_of(d: sp.Expr, op: str) -> bool | None:
    for form in (d, sp.factor(sp.simplify(d))):
        pos, nonneg = form.is_positive, form.is_nonnegative
        neg, nonpos = form.is_negative, form.is_nonpositive
        verdict = {
            ">": pos, ">=": nonneg, "<": neg, "<=": nonpos,
        }[op]
        if verdict is True:
            return True
        # definite violation only when the difference is a number
        if form.is_number and verdict is False:
            return False
    return None


def prove_inequality(lhs: sp.Expr, op: str, rhs: sp.Expr, budget: float = DEFAULT_BUDGET, *,
                     deadline: Deadline | None = None) -> ProofResult:
    """Try to prove ``lhs OP rhs`` from the symbols' assumptions."""
    ladder = [("assumptions", lambda e: _sign_of(e, op))]
    return _run_ladder(ladder, lhs, rhs, budget, deadline)
