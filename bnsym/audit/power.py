"""``bnsym audit power``: how large an error in a closed form each check would catch.

For every claim with a Monte Carlo or a numeric check, the closed form is mutated
(:mod:`bnsym.audit.mutants`) and each mutant is run through the same check as the original:

* a Monte Carlo check runs once on the original claim; every mutant is then tested on *the same
  simulated units* (the engine's cache, nothing simulated again), at the same points, with the same
  suite-wide false-alarm split. So a mutant missed is missed by the very run that passed the claim;
* a numeric check (the 50-digit fallback of ``bnsym verify``, or the 2-D quadrature of a Gaussian
  expectation) runs on each mutant at the same random points, under the same budget.

A mutant *caught* is one the check REFUTES. Reported per claim: each mutant with its relative
deviation from the original at the check's points, whether it was caught, the smallest scale error
``1 +- delta`` caught (the measured resolution, beside the resolution the check claims), and whether
a 10% error is caught. A mutant that evaluates to the original on the domain is *equivalent* (no
check can tell it apart) and is counted as such, never as missed.

A one-sided claim (a bound) can only be shown wrong by a mutant that makes it *tighter* than the
truth: one 10% tighter that still holds is no error. For bounds the audit reports the slack measured
at the check points, and a 10% tightening counts as catchable only where the slack is below 10%.
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import sympy as sp

from ..claims import (
    Asymptotic,
    Claim,
    Derivation,
    GaussianExpectation,
    Identity,
    Inequality,
    Measurement,
    ProcessClaim,
    Theorem,
)
from ..params import Param, params_of
from ..verdict import Status, Verdict
from .mutants import SCALES, TEN_PERCENT, Mutant, distinct, equivalent, mutants, scale_mutants, structural_mutants

NUMERIC_SCALES = (0.1, 0.01, 1e-4, 1e-8)  # a 50-digit check resolves far below these; the ladder shows it
TEN = float(TEN_PERCENT)
NOT_EVALUABLE = "NOT EVALUABLE"
NOTHING_TESTABLE = "no 10% scale mutant could be tested (every one equivalent or not evaluable)"
DEFECT = "a 10% error escaped"  # the reason that marks a defect of a check (exit code 1)


@dataclass
class MutantResult:
    """One mutant's fate: its relative deviation at the check's points and the check's verdict on it."""

    kind: str
    change: str
    delta: float | None
    deviation: float | None  # largest relative deviation from the original at the check's points
    tightening: float | None  # for a bound: how much tighter than the original (relative, > 0 tighter)
    status: str  # the check's status on the mutant; "EQUIVALENT" when it is the same function
    caught: bool

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class ClaimPower:
    """The audit of one claim's check."""

    claim_id: str
    claim_kind: str
    check: str  # "monte-carlo: <process>", "numeric", "quadrature"
    role: str
    original: str  # the check's status on the claim itself
    claimed_resolution: float | None  # what the check states (relative; None for a bound or a 50-digit check)
    smallest_caught: float | None = None  # the smallest scale error caught, both signs (or tightening, for a bound)
    catches_ten_percent: bool | None = None
    slack: float | None = None  # a bound's smallest relative margin at the check points
    instance_fraction: float | None = None  # a bound on every instance: the fraction of breaking instances caught
    reason: str = ""  # why a 10% error is not caught (and what would change that), or why nothing was run
    mutants: list[MutantResult] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def caught(self) -> int:
        return sum(m.caught for m in self.mutants)

    @property
    def equivalent(self) -> int:
        return sum(m.status == "EQUIVALENT" for m in self.mutants)

    @property
    def tried(self) -> int:
        return sum(m.status != "EQUIVALENT" and not m.status.startswith(NOT_EVALUABLE) for m in self.mutants)

    def to_json(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out.update(caught=self.caught, tried=self.tried, equivalent=self.equivalent)
        return out


def _domain(theorem: Theorem, claim: Claim) -> dict[sp.Symbol, Param]:
    return theorem.domain(claim)


def smallest_caught(results: list[MutantResult], one_sided: bool) -> float | None:
    """The smallest scale error such that it and every larger one in the ladder were caught: for an
    equality both ``1 + delta`` and ``1 - delta``; for a bound the tightening by ``delta``."""
    by_size: dict[float, list[bool]] = {}
    for m in results:
        if m.kind != "scale" or m.delta is None or m.status == "EQUIVALENT" or m.status.startswith(NOT_EVALUABLE):
            continue
        if one_sided and not (m.tightening is not None and m.tightening > 0):
            continue
        by_size.setdefault(abs(m.delta), []).append(m.caught)
    best = None
    for size in sorted(by_size, reverse=True):
        if not all(by_size[size]):
            break
        best = size
    return best


def _ten_percent(results: list[MutantResult], one_sided: bool) -> bool | None:
    tens = [m for m in results if m.kind == "scale" and m.delta is not None and math.isclose(abs(m.delta), TEN)
            and m.status != "EQUIVALENT"]
    if one_sided:
        tens = [m for m in tens if m.tightening is not None and m.tightening > 0]
    return all(m.caught for m in tens) if tens else None


# ---------------------------------------------------------------- Monte Carlo checks


def audit_monte_carlo(check: Any, theorem: Theorem, claim_id: str, role: str, options: Any,
                      per_kind: int, scales: tuple[float, ...] = SCALES,
                      say: Callable[[str], None] | None = None) -> ClaimPower:
    """Run ``check`` on its claim, then every mutant of the claimed value on the same units."""
    from ..mc.engine import run_check, tested_parts

    started = time.perf_counter()
    claim: ProcessClaim = check.claim
    label = f"monte-carlo: {check.process}" if check.process else "monte-carlo"
    if isinstance(claim, Measurement):
        return ClaimPower(claim_id, claim.kind, label, role, "MEASURED", None,
                          reason="a measurement: no closed form to mutate")
    v0 = run_check(check, theorem, claim_id, options, role)
    out = ClaimPower(claim_id, claim.kind, label, role, v0.status.value, _resolution(v0))
    if role == "printed":
        out.reason = "the printed form of an erratum: refuted as printed; see the corrected form"
        out.seconds = time.perf_counter() - started
        return out
    if v0.status != Status.CONSISTENT:
        out.reason = f"the check does not pass the claim itself ({v0.status.value}): nothing to compare mutants with"
        out.seconds = time.perf_counter() - started
        return out
    pts = check.resolved_points()
    base = _claimed_at(v0, pts)
    tested, _ = tested_parts(claim, pts, base)
    one_sided = claim.op != "=="
    sign = 1.0 if claim.op == "<" else -1.0
    reuse = dataclasses.replace(options, reuse_only=True, progress=None)
    domain = _domain(theorem, claim)
    if claim.every:  # its stated resolution is a fraction of instances, not a relative error
        out.instance_fraction, out.claimed_resolution = out.claimed_resolution, None
    elif one_sided:
        out.claimed_resolution = _one_sided_resolution(v0)
    for m in _monte_carlo_mutants(claim, scales, per_kind):
        mclaim = _replace_value(claim, m.expr)
        if mclaim is None:
            out.mutants.append(MutantResult(m.kind, m.change, m.delta, None, None, f"{NOT_EVALUABLE}: not a claim",
                                            False))
            continue
        try:
            vm = run_check(dataclasses.replace(check, claim=mclaim), theorem, claim_id, reuse, role)
            values = _claimed_at(vm, pts)
        except Exception as exc:  # a mutant outside the domain of its functions (a log of a negative number ...)
            out.mutants.append(MutantResult(m.kind, m.change, m.delta, None, None, f"{NOT_EVALUABLE}: {exc}", False))
            continue
        dev = [abs(a - b) / (abs(t) if t else 1.0) for a, b, t in zip(values, base, tested)]
        tight = [sign * (b - a) / (abs(b) if b else 1.0) for a, b in zip(values, base)] if one_sided else None
        largest = _finite_max(dev)
        # the same function on the domain *and* at every check point: no check could tell it apart
        if (largest is None or largest <= SAME_AT_POINTS) and _same_function(claim.value, m.expr, domain, options.seed):
            out.mutants.append(MutantResult(m.kind, m.change, m.delta, largest, None, "EQUIVALENT", False))
            continue
        out.mutants.append(MutantResult(m.kind, m.change, m.delta, largest,
                                        _finite_max(tight) if tight is not None else None, vm.status.value,
                                        vm.status == Status.REFUTED))
    if one_sided:
        out.slack = _slack(v0, claim)
    out.smallest_caught = smallest_caught(out.mutants, one_sided)
    out.catches_ten_percent = _ten_percent(out.mutants, one_sided)
    out.reason = _reason(out, one_sided)
    out.seconds = time.perf_counter() - started
    if say:
        say(f"  {claim_id}: {out.caught}/{out.tried} mutants caught"
            + (f", smallest scale error caught {out.smallest_caught:g}" if out.smallest_caught else ""))
    return out


SAME_AT_POINTS = 1e-12  # relative deviation at the check points below which a mutant is not told apart there


def _monte_carlo_mutants(claim: ProcessClaim, scales: tuple[float, ...], per_kind: int) -> list[Mutant]:
    """The mutants of a process claim's value. For an asymptotic claim whose value decays to a limit the check's
    stated resolution refers to the decaying part (``value - limit``): its scale ladder is ``limit + (1 +- delta)
    (value - limit)``, an error in the coefficient the claim asserts, and the whole value times 1.1 and 0.9 is
    kept as a ``limit`` mutant of its own."""
    from ..mc.engine import decaying_part

    part = None
    if claim.asymptotic and claim.flow is None:
        assert claim.var is not None
        part = decaying_part(claim.value, claim.var.symbol)
    if part is None or part == 0:
        return mutants(claim.value, scales, per_kind)
    limit = sp.simplify(claim.value - part)
    ladder = [Mutant("scale", f"value - limit {m.change}", sp.Add(limit, m.expr, evaluate=False), m.delta)
              for m in scale_mutants(part, scales)]
    whole = [Mutant("limit", f"whole value {m.change}", m.expr, m.delta) for m in scale_mutants(claim.value, (TEN,))]
    return distinct(claim.value, ladder + whole + structural_mutants(claim.value, per_kind))


def _one_sided_resolution(v: Verdict) -> float | None:
    """A one-sided test's resolution relative to the bound: the largest absolute resolution over the points,
    over the bound's size there (absolute where the bound is 0)."""
    rel = [r["absolute_resolution"] / (abs(r["claimed"]) if r.get("claimed") else 1.0)
           for r in v.evidence.get("rows", []) if isinstance(r.get("absolute_resolution"), float)]
    return max(rel) if rel else None


def _point_key(point: dict[str, Any]) -> tuple:
    return tuple(sorted((k, v if isinstance(v, (str, int)) else float(v)) for k, v in point.items()))


def _claimed_at(v: Verdict, pts: list[dict[str, Any]]) -> list[float]:
    """The claimed value at each point, in the order of ``pts``, as the verdict's rows report it (the engine
    evaluated it there; evaluating the closed form again would only repeat that). The rows of a verdict come
    in the order of its points; a ladder's rows are matched to the points by their settings."""
    if v.status == Status.ERROR:
        raise ValueError(v.summary)
    ev = v.evidence
    rows = ev.get("rows")
    if rows is not None and len(rows) == len(pts):
        return [float(r["claimed"]) for r in rows]
    ladder_rows = [r for lad in ev.get("ladders", []) for r in lad["rows"]]
    out = []
    for p in pts:
        key = _point_key(p)
        match = [r for r in ladder_rows if _point_key({k: r[k] for k in p if k in r}) == key]
        if not match:
            raise ValueError(f"no claimed value at {p} ({v.status.value}: {v.summary})")
        out.append(float(match[0]["claimed"]))
    return out


def _replace_value(claim: ProcessClaim, value: sp.Expr) -> ProcessClaim | None:
    try:
        return dataclasses.replace(claim, value=value)
    except Exception:
        return None


def _same_function(a: sp.Expr, b: sp.Expr, domain: dict[sp.Symbol, Param], seed: int) -> bool:
    try:
        return equivalent(a, b, domain, seed)
    except KeyError:  # a symbol without a domain (cannot happen for a mutant of a declared claim)
        return False


def _finite_max(xs: list[float]) -> float | None:
    finite = [x for x in xs if math.isfinite(x)]
    return max(finite) if finite else None


def _resolution(v: Verdict) -> float | None:
    r = v.evidence.get("resolution")
    return float(r) if isinstance(r, (int, float)) and math.isfinite(r) else None


def _slack(v: Verdict, claim: ProcessClaim) -> float | None:
    """The bound's smallest relative margin over the check points: from each point's estimate (a bound in
    the mean) or its worst unit (a bound on every unit)."""
    sign = 1.0 if claim.op == "<" else -1.0
    margins = []
    for row in v.evidence.get("rows", []):
        seen = row.get("worst") if claim.every else row.get("estimate")
        claimed = row.get("claimed")
        if isinstance(seen, float) and isinstance(claimed, float) and math.isfinite(seen):
            # relative to the bound; absolute where the bound is 0, as its offset mutants are
            margins.append(sign * (claimed - seen) / (abs(claimed) if claimed else 1.0))
    return min(margins) if margins else None


def _percent(x: float) -> str:
    return f"{100 * x:.0f}%" if abs(x) >= 0.1 else f"{100 * x:.2g}%"


def _reason(out: ClaimPower, one_sided: bool) -> str:
    if out.catches_ten_percent:
        return ""
    if out.catches_ten_percent is None:
        return NOTHING_TESTABLE
    resolution = out.claimed_resolution or 0.0
    if one_sided and out.slack is not None and out.slack + resolution >= TEN:
        return (f"a bound with {_percent(out.slack)} slack at its check points (resolution {_percent(resolution)}):"
                " a bound 10% tighter still holds there, so it is no error there; to test tightness, add check"
                " points where the bound is nearly attained")
    if out.claimed_resolution is not None and out.claimed_resolution > TEN:
        return (f"the check resolves {_percent(out.claimed_resolution)} only: raise its samples (or lower"
                " `--resolution`) until the stated resolution is below 10%")
    return (f"{DEFECT} a check that claims to resolve it: a defect of the check's stated resolution"
            " (or a miss at the stated detection probability); rerun with another seed to tell them apart")


# ---------------------------------------------------------------- numeric checks


def _numeric_targets(claim: Claim) -> tuple[tuple[str, sp.Expr], tuple[str, sp.Expr] | None] | None:
    """Where a symbolic claim is mutated: the scale ladder goes on the side it is compared with (the right
    side, a derivation's last step, an expectation's value; a 0 there is offset), the structural mutants on
    the side that holds a formula (the right side, or the left when the right is a bare number such as the
    0 of ``expr == 0``; a derivation's last non-constant step). None when nothing can be mutated."""
    if isinstance(claim, GaussianExpectation):
        return ("value", claim.value), ("value", claim.value) if not claim.value.is_number else None
    if isinstance(claim, (Identity, Inequality, Asymptotic)):
        formula = ("rhs", claim.rhs) if not claim.rhs.is_number else (
            ("lhs", claim.lhs) if not claim.lhs.is_number else None)
        return ("rhs", claim.rhs), formula
    if isinstance(claim, Derivation):
        last = len(claim.chain) - 1
        formula = next(((f"step {i}", claim.chain[i][0]) for i in range(last, -1, -1)
                        if not claim.chain[i][0].is_number), None)
        return (f"step {last}", claim.chain[last][0]), formula
    return None


def _numeric_one(theorem: Theorem, claim: Claim, where: str, expr: sp.Expr, settings: Any) -> str:
    """The status the numeric check gives the claim with ``where`` replaced by ``expr``."""
    from .. import numeric, quadrature

    dom = theorem.domain(claim)

    def params(*exprs: sp.Expr) -> list[Param]:
        syms: set[sp.Symbol] = set()
        for e in exprs:
            syms |= e.free_symbols
        return params_of(sp.Tuple(*syms) if syms else sp.S.Zero, dom)

    if isinstance(claim, GaussianExpectation):
        mut = dataclasses.replace(claim, value=expr)
        res = quadrature.check_gaussian_expectation(mut, _ge_params(mut, dom), settings.quadrature_points,
                                                    settings.quadrature_dps, settings.seed)
    elif isinstance(claim, Derivation):
        k = int(where.split()[1])
        res = None
        for i, a, b, why in claim.links:
            if k not in (i - 1, i):
                continue
            a = expr if i - 1 == k else a
            b = expr if i == k else b
            if why.apply is not None:
                a = why.apply(a)
            r = numeric.check_equal(a, b, params(a, b), settings.points, settings.dps, settings.seed)
            if r.decided is False:
                return "REFUTED"
            res = r if res is None or r.decided is None else res
        assert res is not None
    else:
        lhs, rhs = (expr, claim.rhs) if where == "lhs" else (claim.lhs, expr)  # type: ignore[attr-defined]
        if isinstance(claim, Identity):
            res = numeric.check_equal(lhs, rhs, params(lhs, rhs), settings.points, settings.dps, settings.seed)
        elif isinstance(claim, Inequality):
            res = numeric.check_inequality(lhs, claim.op, rhs, params(lhs, rhs), settings.points, settings.dps,
                                           settings.seed)
        else:
            assert isinstance(claim, Asymptotic) and claim.var is not None
            var = dom[claim.var.symbol]
            res = numeric.check_asymptotic(lhs, rhs, var, claim.order, params(lhs, rhs), 4, settings.dps,
                                           settings.seed)
    assert res is not None
    return {True: "NUMERIC", False: "REFUTED", None: "UNDECIDED"}[res.decided]


def _ge_params(claim: GaussianExpectation, dom: dict[sp.Symbol, Param]) -> list[Param]:
    syms = claim.free_symbols()
    return params_of(sp.Tuple(*syms) if syms else sp.S.Zero, dom)


def _numeric_batch(theorem: Theorem, claim: Claim, original: tuple[str, sp.Expr], batch: list[tuple[str, Mutant]],
                   settings: Any) -> tuple[str, list[str]]:
    """The numeric check's status on the claim itself, then (only when it holds) on each mutant; a mutant whose
    check raises is NOT EVALUABLE, the others keep their results."""
    first = _numeric_one(theorem, claim, original[0], original[1], settings)
    if first != "NUMERIC":
        return first, []
    out = []
    for where, m in batch:
        try:
            out.append(_numeric_one(theorem, claim, where, m.expr, settings))
        except Exception as exc:
            out.append(f"{NOT_EVALUABLE}: {type(exc).__name__}: {exc}")
    return first, out


def audit_numeric(theorem: Theorem, claim: Claim, claim_id: str, role: str, settings: Any, per_kind: int,
                  say: Callable[[str], None] | None = None) -> ClaimPower:
    """Every mutant of the claim's closed form through the numeric check (no prover: the audit asks what
    the numeric check catches), all in one budgeted child process."""
    from ..budget import run_with_budget
    from ..numeric import GUARD_DIGITS

    started = time.perf_counter()
    method = "quadrature" if isinstance(claim, GaussianExpectation) else "numeric"
    resolution = 10.0 ** -((settings.quadrature_dps if method == "quadrature" else settings.dps) - GUARD_DIGITS)
    out = ClaimPower(claim_id, claim.kind, method, role, "", resolution)
    targets = _numeric_targets(claim)
    if role == "printed":
        out.original, out.reason = "", "the printed form of an erratum: see the corrected form"
        return out
    if targets is None:
        out.reason = "no closed form to mutate"
        return out
    (scaled_where, scaled), formula = targets
    domain = theorem.domain(claim)
    scales = NUMERIC_SCALES if method == "numeric" else NUMERIC_SCALES[:2]
    candidates = [(scaled_where, scaled, m) for m in mutants(scaled, scales, 0)]
    if formula is not None:
        candidates += [(formula[0], formula[1], m) for m in structural_mutants(formula[1], per_kind if method ==
                                                                                "numeric" else 1)]
    todo: list[tuple[str, Mutant]] = []
    for where, original, m in candidates:
        if _same_function(original, m.expr, domain, settings.seed):
            out.mutants.append(MutantResult(m.kind, m.change, m.delta, None, None, "EQUIVALENT", False))
        else:
            todo.append((where, m))
    budget = settings.numeric_budget * max(1, len(todo))
    got = run_with_budget(_numeric_batch, theorem, claim, (scaled_where, scaled), todo, settings,
                          seconds=budget + settings.numeric_budget)
    if not got.ok:
        out.original = "UNDECIDED"
        out.reason = ("the numeric checks of the mutants spent their budget" if got.timed_out
                      else f"the numeric check failed: {got.error}")
        out.seconds = time.perf_counter() - started
        return out
    out.original, statuses = got.value
    if out.original != "NUMERIC":
        out.mutants = []
        out.reason = (f"the numeric check does not hold the claim itself at {settings.points} points"
                      f" ({out.original}): nothing to compare mutants with; the claim rests on its SymPy proof")
        out.seconds = time.perf_counter() - started
        return out
    one_sided = isinstance(claim, Inequality)
    side_sign = (1 if scaled == 0 else _sign_on_domain(scaled, domain, settings.seed)) if one_sided else 0
    for (where, m), status in zip(todo, statuses):
        tight = None
        if one_sided and m.kind == "scale" and m.delta is not None and side_sign:
            tight = _inequality_tightening(claim, where, m.delta * side_sign)
        deviation = abs(m.delta) if m.kind == "scale" and m.delta is not None else None
        out.mutants.append(MutantResult(m.kind, m.change, m.delta, deviation, tight, status, status == "REFUTED"))
    out.smallest_caught = smallest_caught(out.mutants, one_sided)
    out.catches_ten_percent = _ten_percent(out.mutants, one_sided)
    if out.catches_ten_percent is None:
        out.reason = NOTHING_TESTABLE
    elif not out.catches_ten_percent:
        tens = [m for m in out.mutants if m.kind == "scale" and m.delta is not None and math.isclose(abs(m.delta), TEN)]
        if tens and all(m.status == "UNDECIDED" for m in tens):
            out.reason = ("the numeric check cannot evaluate this form at its sampled points (a sum over a symbolic"
                          " range, an undefined function): a mutant is UNDECIDED, so it never passes, but it is not"
                          " refuted either; the claim rests on its SymPy proof. Plan: a numeric check at explicit"
                          " sizes")
        elif one_sided:
            out.reason = _reason_inequality(claim)
        else:
            out.reason = f"{DEFECT} the numeric check: the mutated side may not matter at the sampled points"
    out.seconds = time.perf_counter() - started
    if say:
        say(f"  {claim_id}: {out.caught}/{out.tried} mutants caught")
    return out


def _inequality_tightening(claim: Claim, where: str, change: float) -> float:
    """How much tighter ``lhs OP rhs`` becomes when the mutated side moves by ``change`` (relative, signed):
    lowering the upper side, or raising the lower one, tightens."""
    assert isinstance(claim, Inequality)
    upper = (claim.op in ("<", "<=")) == (where == "rhs")  # the mutated side is the larger one
    return -change if upper else change


def _sign_on_domain(expr: sp.Expr, domain: dict[sp.Symbol, Param], seed: int, points: int = 8) -> int:
    """+1 or -1 when ``expr`` has that sign at every evaluable random point of the domain, else 0."""
    import random

    import mpmath

    from ..numeric import compile_mpmath

    symbols = sorted(expr.free_symbols, key=lambda s: s.name)
    try:
        fn = compile_mpmath(expr, symbols)
    except Exception:  # a form lambdify cannot print: the sign is unknown
        return 0
    rng = random.Random(seed)
    signs = set()
    with mpmath.workdps(30):
        for _ in range(points):
            try:
                v = mpmath.mpmathify(fn(*[domain[s].random(rng, 30) for s in symbols]))
            except Exception:
                continue
            if isinstance(v, mpmath.mpf) and v != 0:
                signs.add(1 if v > 0 else -1)
    return signs.pop() if len(signs) == 1 else 0


def _reason_inequality(claim: Claim) -> str:
    return ("an inequality with slack: a side scaled by 10% may still satisfy it, so the scaled mutant is no error;"
            " the structural mutants (sign, exponent, dropped term) show what the check catches")
