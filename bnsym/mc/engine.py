"""Monte Carlo checks: a process claim, a simulator of the process, and a verdict.

A :class:`MonteCarloCheck` pairs a :class:`~bnsym.claims.ProcessClaim` with a simulator
that runs the process itself (samples batches, normalises them with their own
statistics, evaluates the loss ...). The simulator never sees the closed form: the
claimed value reaches numeric code only through ``lambdify`` of the claim's one SymPy
expression, evaluated with mpmath at the point's parameter values.

Running a check:

1. the points are grouped into simulator calls (points equal on ``batch_keys`` share one
   call and one tensor, with common random numbers);
2. each call streams chunks of units into float64 accumulators until the target
   resolution is reached (sample size from a pilot estimate of the unit variance) or
   ``max_units`` is spent, or exactly ``samples`` units when the user fixes them;
3. exact claims get a z-test per point, asymptotic claims an order fit per ladder
   (see :mod:`bnsym.mc.stats`); every row records estimate, standard error, claimed
   value, samples and resolution, and the verdict records seed, device and time.
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import mpmath
import sympy as sp
import torch

from ..claims import Measurement, ProcessClaim, Theorem
from ..errors import BnsymError, DefinitionError
from ..numeric import compile_mpmath
from ..verdict import Status, Verdict
from .stats import POWER, OrderFit, ZTest, bonferroni_z, normal_quantile, student_t_quantile
from .stream import Estimand, MomentAccumulator, first

Simulator = Callable[[list[dict[str, Any]], int, torch.Generator, torch.device], torch.Tensor]
PointEstimand = Callable[[torch.Tensor, dict[str, Any]], torch.Tensor]


# the columns a verdict adds to a point's row ("z", the z-score, is left out: it is a common parameter name)
ROW_KEYS = frozenset({"estimate", "stderr", "claimed", "samples", "resolution", "absolute_resolution", "pass",
                      "worst", "nan_units", "relative_stderr"})


@dataclass(frozen=True)
class MonteCarloCheck:
    """A simulation of the process behind ``claim``.

    ``simulate(points, n, generator, device)`` returns observations of shape
    ``[len(points), n, k]`` for ``n`` independent units (batches); ``estimand(mean, point)``
    maps the mean observation vector to the estimated quantity (default: the first column).
    ``points`` is a sequence of dicts, or a function returning one (evaluated when the
    check runs): each dict gives a value for every free symbol of the claim's value,
    plus any process settings the simulator needs (the law, the activation ...).
    """

    claim: ProcessClaim
    simulate: Simulator
    points: Sequence[dict[str, Any]] | Callable[[], Sequence[dict[str, Any]]]
    estimand: PointEstimand = first
    batch_keys: tuple[str, ...] | None = None
    process: str = ""
    max_units: int = 1_000_000
    chunk_elements: int = 1 << 21  # draws per chunk: keeps each tensor near 16 MB
    pilot_units: int = 4_000
    unit_size: str = "M"  # the point's key giving the draws per unit (a batch of M, a weight vector of N)
    min_chunk: int = 64
    digest: Callable[[list[dict[str, Any]]], dict[str, Any]] | None = None  # extra findings from the rows
    roundoff: float = 0.0  # for a bound on every instance: the derived round-off allowance of one unit's value

    def chunk_units(self, points: list[dict[str, Any]]) -> int:
        """Units per chunk, so that a chunk holds about ``chunk_elements`` draws."""
        per_unit = max(int(p.get(self.unit_size, 1)) for p in points) * len(points)
        return max(self.min_chunk, self.chunk_elements // per_unit)

    def resolved_points(self) -> list[dict[str, Any]]:
        pts = [dict(p) for p in (self.points() if callable(self.points) else self.points)]
        for p in pts:
            clash = sorted(set(p) & ROW_KEYS)
            if clash:
                raise DefinitionError(f"check of {self.claim.title!r}: point key(s) {', '.join(clash)} would be"
                                      f" overwritten by the verdict's own columns; rename them")
        return pts


@dataclass(frozen=True)
class RunOptions:
    """How a suite of checks is run."""

    seed: int = 0
    device: torch.device = torch.device("cpu")
    alpha: float = 0.01  # suite-wide false-alarm rate
    resolution: float = 0.04  # target relative resolution per test
    samples: int | None = None  # fixed units per point (overrides resolution)
    tests_in_suite: int = 1  # for the Bonferroni split of alpha
    progress: Callable[[str], None] | None = None
    cache: dict[Any, Any] = field(default_factory=dict, compare=False)  # simulations shared by checks of a run
    reuse_only: bool = False  # test on the units already in the cache, simulate nothing more (mutant audits)


@dataclass
class _Row:
    point: dict[str, Any]
    claimed: float
    tested: float = math.nan  # what the relative resolution refers to (see tested_parts)
    estimate: float = math.nan
    stderr: float = math.nan
    units: int = 0
    worst: float = math.nan  # a bound on every unit: the unit value farthest on the wrong side
    nonfinite: int = 0  # ... and how many unit values were nan


class _Extremes:
    """Per point of a group: the most extreme unit value of an estimand on each side, and the nan count."""

    def __init__(self, points: int) -> None:
        self.high = [-math.inf] * points
        self.low = [math.inf] * points
        self.nan = [0] * points

    def add(self, i: int, values: torch.Tensor) -> None:
        finite_or_inf = values[~torch.isnan(values)]
        self.nan[i] += int(values.numel() - finite_or_inf.numel())
        if finite_or_inf.numel():
            self.high[i] = max(self.high[i], float(finite_or_inf.max()))
            self.low[i] = min(self.low[i], float(finite_or_inf.min()))


def count_tests(check: MonteCarloCheck) -> int:
    """How many statistical tests the check contributes (points, or ladders when asymptotic; none for a
    measurement, which tests nothing)."""
    if isinstance(check.claim, Measurement) or check.claim.every:
        return 0  # a measurement tests nothing; a bound on every unit (with its round-off allowance) cannot false-alarm
    pts = check.resolved_points()
    if check.claim.asymptotic:
        assert check.claim.var is not None
        return len(_ladders_from_points(check.claim.var.name, pts))
    return len(pts)


def seed_for(base: int, process: str, points: str) -> int:
    """A reproducible seed per (run seed, process, points of a simulator call), independent of run order."""
    digest = hashlib.sha256(f"{base}:{process}:{points}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & (2**63 - 1)


def claimed_values(claim: ProcessClaim, theorem: Theorem, pts: list[dict[str, Any]]) -> list[float]:
    """The closed form at each point, via lambdify of the claim's value (mpmath, 30 digits);
    for a claim on a flow, the value on the ODE solution at the point's time."""
    dom = theorem.domain(claim)
    if claim.flow is not None:
        from ..flow import value_on_flow

        out = []
        for p in pts:
            for name, v in p.items():
                sym = next((s for s in dom if s.name == name), None)
                if sym is not None and not isinstance(v, str):
                    dom[sym].check(v)
            out.append(value_on_flow(claim.value, claim.flow, p)[0])
        return out
    symbols = sorted(claim.value.free_symbols, key=lambda s: s.name)
    fn = compile_mpmath(claim.value, symbols)
    out = []
    for p in pts:
        args = []
        for s in symbols:
            if s.name not in p:
                raise DefinitionError(f"check point {p} gives no value for {s.name}")
            dom[s].check(p[s.name])
            args.append(mpmath.mpf(p[s.name]))
        with mpmath.workdps(30):
            out.append(float(fn(*args)))
    return out


def tested_parts(claim: ProcessClaim, pts: list[dict[str, Any]], claimed: list[float]) -> tuple[list[float], str]:
    """What a relative resolution refers to, per point, and its name.

    For an asymptotic claim whose value decays to its limit (``sigma_P (1 - c/M)``), the
    decaying part ``value - limit``: a check must resolve the coefficient it asserts, not
    only the limit. Otherwise (exact claims, or a value equal to its limit) the value.
    """
    if claim.var is None or claim.flow is not None:
        return claimed, "value"
    part = decaying_part(claim.value, claim.var.symbol)
    if part is None or part == 0:
        return claimed, "value"
    symbols = sorted(part.free_symbols, key=lambda s: s.name)
    fn = compile_mpmath(part, symbols)
    with mpmath.workdps(30):
        values = [float(fn(*[mpmath.mpf(p[s.name]) for s in symbols])) for p in pts]
    return values, "value - limit"


_DECAYING: dict[tuple[sp.Expr, sp.Symbol], sp.Expr | None] = {}


def _decaying_part(value: sp.Expr, var: sp.Symbol) -> sp.Expr | None:
    """``value - lim value`` as ``var -> oo``, or None when the limit is not finite."""
    limit = sp.limit(value, var, sp.oo)
    return sp.simplify(value - limit) if limit.is_finite else None


def decaying_part(value: sp.Expr, var: sp.Symbol) -> sp.Expr | None:
    """:func:`_decaying_part` under the prover's budget per strategy (a limit or a simplification can run for
    hours); when the budget is spent the resolution refers to the whole value, and the verdict says so
    (``resolution_of``); the test itself does not depend on it. Cached per (value, var)."""
    key = (value, var)
    if key not in _DECAYING:
        from ..budget import run_with_budget
        from ..prover import DEFAULT_BUDGET

        got = run_with_budget(_decaying_part, value, var, seconds=DEFAULT_BUDGET)
        _DECAYING[key] = got.value if got.ok else None
    return _DECAYING[key]


def _resolution_scale(tested: float) -> float:
    """Relative resolution is measured against the tested part; a tested zero against 1 (absolute)."""
    return abs(tested) if tested else 1.0


SAFETY = 1.1  # sample-size margin over the pilot's variance estimate
ORDER_FIT_TERMS = 2  # the declared order and the next; 3 (first neglected term too) cost 4x the samples on L2
PROGRESS_EVERY = 2.0  # seconds between progress lines of a long simulation
TOP_UPS = 2  # re-estimations of the sample size after the pilot


def _bind(estimand: PointEstimand, point: dict[str, Any]) -> Estimand:
    return lambda mean: estimand(mean, point)


class _GroupRun:
    """One simulator call site: the points of a group, their generator and accumulator."""

    def __init__(self, check: MonteCarloCheck, rows: list[_Row], gen: torch.Generator, options: RunOptions,
                 label: str = "", acc: MomentAccumulator | None = None, extremes: _Extremes | None = None):
        self.check, self.rows, self.gen, self.options, self.label = check, rows, gen, options, label
        self.reported = time.perf_counter()
        self.points = [r.point for r in rows]
        self.acc = acc if acc is not None else MomentAccumulator()
        self.extremes = extremes if extremes is not None else _Extremes(len(rows))
        self.estimands = [_bind(check.estimand, p) for p in self.points]

    def run_to(self, goal: int) -> None:
        goal = min(goal, self.check.max_units)
        chunk = self.check.chunk_units(self.points)
        while self.acc.count < goal:
            n = min(chunk, goal - self.acc.count)
            obs = self.check.simulate(self.points, n, self.gen, self.options.device)
            self.acc.add(obs)
            if self.check.claim.every:  # the estimand of each unit's own observations ([k, n] -> [n])
                x = obs.to(torch.float64)
                for i, p in enumerate(self.points):
                    self.extremes.add(i, self.check.estimand(x[i].T, p).reshape(-1))
            if self.options.progress and time.perf_counter() - self.reported > PROGRESS_EVERY:
                self.reported = time.perf_counter()
                self.options.progress(f"  {self.label}: {self.acc.count}/{goal} units")
        value, stderr, _ = self.acc.estimate(self.estimands)
        for i, r in enumerate(self.rows):
            r.estimate, r.stderr, r.units = float(value[i]), float(stderr[i]), self.acc.count
            if self.check.claim.every:
                r.worst = self.extremes.high[i] if self.check.claim.op == "<" else self.extremes.low[i]
                r.nonfinite = self.extremes.nan[i]

    def pilot(self) -> None:
        n = self.check.pilot_units
        if self.options.samples is not None:
            n = min(n, self.options.samples)
        self.run_to(n)

    def goal_for(self, z: float, target: float) -> int:
        """Units for every point's z-test to reach the target resolution (from the current standard errors)."""
        need = self.acc.count
        for r in self.rows:
            if not (math.isfinite(r.stderr) and math.isfinite(r.tested)):
                continue  # a non-finite estimate (a diverged run) is reported, not chased with more units
            reach = (z + normal_quantile(POWER)) * r.stderr / _resolution_scale(r.tested)
            need = max(need, math.ceil(self.acc.count * SAFETY * (reach / target) ** 2))
        return need

    def goal_for_precision(self, target: float) -> int:
        """Units for every point's relative standard error to reach ``target`` (a measurement)."""
        need = self.acc.count
        for r in self.rows:
            if not (math.isfinite(r.stderr) and math.isfinite(r.estimate)) or r.estimate == 0:
                continue
            need = max(need, math.ceil(self.acc.count * SAFETY * (r.stderr / (target * abs(r.estimate))) ** 2))
        return need


def _simulate(check: MonteCarloCheck, runs: list[_GroupRun], options: RunOptions, z: float, claim: ProcessClaim,
              alpha_test: float) -> None:
    """Pilot every group, then top up until the target resolution (or ``max_units``, or ``--samples``)."""
    if options.reuse_only:
        for g in runs:
            g.run_to(0)  # the estimates of the units already drawn
        return
    for g in runs:
        g.pilot()
    if options.samples is not None:
        for g in runs:
            g.run_to(options.samples)
        return
    if claim.every:  # no variance to chase: every unit the check allows is looked at
        for g in runs:
            g.run_to(check.max_units)
        return
    for _ in range(TOP_UPS):
        if isinstance(claim, Measurement):
            goals = [g.goal_for_precision(options.resolution) for g in runs]
        elif claim.asymptotic:
            goals = _ladder_goals(claim, runs, options.resolution, alpha_test)
        else:
            goals = [g.goal_for(z, options.resolution) for g in runs]
        if all(goal <= g.acc.count or g.acc.count >= check.max_units for g, goal in zip(runs, goals)):
            return
        for g, goal in zip(runs, goals):
            g.run_to(goal)


def _ladder_goals(claim: ProcessClaim, runs: list[_GroupRun], target: float, alpha_test: float) -> list[int]:
    """Units per group so that every ladder's order fit reaches the target resolution.

    The fit's resolution scales as 1/sqrt(units): each ladder's factor (resolution/target)^2
    multiplies the units of the groups on it.
    """
    var = claim.var
    assert var is not None
    rows = [r for g in runs for r in g.rows]
    factor = {id(r): 1.0 for r in rows}
    for idx in _ladders_from_points(var.name, [r.point for r in rows]).values():
        ladder = sorted((rows[i] for i in idx), key=lambda r: float(r.point[var.name]))
        if not all(math.isfinite(r.estimate) and math.isfinite(r.stderr) and r.stderr > 0 for r in ladder):
            continue  # reported as non-finite by the verdict
        fit = _fit(claim, ladder, alpha_test)
        f = SAFETY * (fit.resolution / target) ** 2 if math.isfinite(fit.resolution) else 1.0
        for r in ladder:
            factor[id(r)] = max(factor[id(r)], f)
    return [math.ceil(g.acc.count * max(factor[id(r)] for r in g.rows)) for g in runs]


def _fit(claim: ProcessClaim, ladder: list[_Row], alpha_test: float) -> OrderFit:
    assert claim.var is not None
    xs = [float(r.point[claim.var.name]) for r in ladder]
    tested = [r.tested for r in ladder]
    if not any(tested):  # a claimed 0: resolution is the smallest constant offset caught (absolute)
        tested = [1.0] * len(ladder)
    return OrderFit(xs, [r.estimate - r.claimed for r in ladder], [r.stderr for r in ladder],
                    tested, claim.order, alpha_test, ORDER_FIT_TERMS,
                    units=min(r.units for r in ladder) if all(r.units > 1 for r in ladder) else None)


def _groups(check: MonteCarloCheck, pts: list[dict[str, Any]]) -> list[list[int]]:
    if check.batch_keys is None:
        return [[i] for i in range(len(pts))]
    out: dict[tuple, list[int]] = {}
    for i, p in enumerate(pts):
        out.setdefault(tuple(repr(p.get(k)) for k in check.batch_keys), []).append(i)
    return list(out.values())


def _fmt_point(p: dict[str, Any]) -> dict[str, Any]:
    return {k: (v if isinstance(v, (str, int)) else float(v)) for k, v in p.items()}


def run_check(check: MonteCarloCheck, theorem: Theorem, claim_id: str, options: RunOptions,
              role: str = "claim") -> Verdict:
    """Run one check and turn its tests into a verdict.

    A simulator or estimand that raises gives an ERROR verdict naming the exception;
    declaration errors (a point outside its domain, a missing value) are raised as
    :class:`~bnsym.errors.BnsymError` for the caller to report.
    """
    started = time.perf_counter()
    try:
        return _run_check(check, theorem, claim_id, options, role, started)
    except BnsymError:
        raise
    except Exception as exc:  # a broken simulator is an ERROR verdict, never a refutation
        return Verdict(claim_id, Status.ERROR, "monte-carlo", f"the check failed to run: {type(exc).__name__}: {exc}",
                       {"process": check.process, "seed": options.seed, "device": str(options.device)},
                       time.perf_counter() - started, role)


def _run_check(check: MonteCarloCheck, theorem: Theorem, claim_id: str, options: RunOptions, role: str,
               started: float) -> Verdict:
    claim = check.claim
    pts = check.resolved_points()
    measured = isinstance(claim, Measurement)
    claimed = [math.nan] * len(pts) if measured else claimed_values(claim, theorem, pts)
    tested, tested_name = (claimed, "value") if measured else tested_parts(claim, pts, claimed)
    rows = [_Row(p, c, t) for p, c, t in zip(pts, claimed, tested)]
    z = bonferroni_z(options.alpha, options.tests_in_suite)
    alpha_test = options.alpha / max(1, options.tests_in_suite)
    # checks of the same simulator and process at the same points (the printed and corrected forms
    # of an erratum, or two estimands of one simulation) share its draws: a later check starts from
    # the accumulated units and their generator, and only tops them up if its own target needs more
    runs = []
    for idx in _groups(check, pts):
        group = [rows[i] for i in idx]
        key: tuple = ("group", check.simulate, check.process, repr([sorted(r.point.items()) for r in group]))
        if claim.every:  # the unit extremes belong to one estimand: share draws only with the same one
            key += (check.estimand,)
        if key not in options.cache:
            gen = torch.Generator(device=options.device)
            gen.manual_seed(seed_for(options.seed, check.process, repr([r.point for r in group])))
            options.cache[key] = (MomentAccumulator(), gen, _Extremes(len(group)))
        acc, gen, extremes = options.cache[key]
        runs.append(_GroupRun(check, group, gen, options, f"{claim_id} [{_short(group[0].point)}]", acc,
                              extremes))
    if options.progress:
        options.progress(f"{claim_id}: simulating {len(pts)} point(s) in {len(runs)} tensor call site(s)")
    _simulate(check, runs, options, z, claim, alpha_test)
    evidence: dict[str, Any] = {
        "process": check.process, "seed": options.seed, "device": str(options.device),
        "alpha_suite": options.alpha, "tests_in_suite": options.tests_in_suite,
        "resolution_of": f"relative deviation of the claimed {tested_name} caught with probability {POWER:g}",
    }
    resolution: float | None
    bad = [r for r in rows if not (math.isfinite(r.estimate) and math.isfinite(r.stderr))]
    if bad and not claim.every:  # a bound on every unit reads its units, whatever their mean
        evidence["samples"] = sum(r.units for r in rows)
        return Verdict(claim_id, Status.UNDECIDED, "monte-carlo",
                       f"non-finite estimate at {_short(bad[0].point)} (a simulated run diverged?): nothing to test",
                       evidence, time.perf_counter() - started, role)
    if claim.every:
        status, summary, resolution = _every_verdict(rows, claim.op, check.roundoff, evidence)
    elif measured:
        status, summary, resolution = _measured_verdict(rows, options, evidence)
    elif claim.asymptotic:
        status, summary, resolution = _asymptotic_verdict(claim, rows, options, evidence)
    elif claim.op != "==":
        status, summary, resolution = _one_sided_verdict(rows, claim.op, options, evidence)
    else:
        status, summary, resolution = _exact_verdict(rows, options.alpha / (2 * max(1, options.tests_in_suite)),
                                                     evidence)
    if check.digest is not None:
        found = check.digest(evidence.get("rows", []))
        evidence["digest"] = found
        if found.get("summary"):
            summary += f"; {found['summary']}"
    evidence["resolution"] = resolution
    evidence["samples"] = sum(r.units for r in rows)
    evidence["seconds"] = time.perf_counter() - started
    return Verdict(claim_id, status, "monte-carlo", summary, evidence, time.perf_counter() - started, role)


def _short(p: dict[str, Any]) -> str:
    """The point's settings and integer parameters (derived real values left out)."""
    return " ".join(f"{k}={v}" for k, v in p.items() if isinstance(v, (str, int)))


def _setting(p: dict[str, Any]) -> str:
    """Every setting of the point, reals included (a measurement's rows differ in them)."""
    return " ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in p.items())


def _t_threshold(alpha_one_side: float, units: int) -> float:
    """The test threshold for a standard error estimated from ``units`` runs (Student t, ``units - 1`` dof)."""
    return student_t_quantile(1 - alpha_one_side, units - 1)


def _every_verdict(rows: list[_Row], op: str, roundoff: float,
                   evidence: dict[str, Any]) -> tuple[Status, str, float | None]:
    """A bound on every instance: refuted by any unit beyond it by more than the round-off allowance.

    The resolution is the smallest fraction of instances breaking the bound that the sample would
    have caught with probability POWER: 1 - (1 - POWER)^(1/units)."""
    sign = 1.0 if op == "<" else -1.0
    table, failures = [], []
    for r in rows:
        excess = sign * (r.worst - r.claimed)  # > 0: on the wrong side; nan when no unit was finite
        passed = r.nonfinite == 0 and excess <= roundoff
        table.append({**_fmt_point(r.point), "estimate": r.estimate, "stderr": r.stderr, "claimed": r.claimed,
                      "worst": r.worst, "nan_units": r.nonfinite, "samples": r.units, "pass": passed})
        if r.nonfinite == 0 and excess > roundoff:
            failures.append((r, excess))
    evidence.update(test=f"bound on every unit: refuted when a unit's value is {'above' if op == '<' else 'below'} the"
                    f" bound by more than the round-off allowance {roundoff:.3g}; no statistical threshold",
                    rows=table, roundoff=roundoff)
    units = min(r.units for r in rows)
    fraction = 1 - (1 - POWER) ** (1 / units) if units > 0 else 1.0
    evidence["resolution_of"] = (f"smallest fraction of instances breaking the bound that {units} units catch with"
                                 f" probability {POWER:g}")
    if failures:
        r, excess = max(failures, key=lambda f: f[1])
        return (Status.REFUTED, f"at {_setting(r.point)}: a unit reaches {r.worst:.6g}, not {op} {r.claimed:.6g}"
                f" (beyond it by {excess:.3g}, allowance {roundoff:.3g})", fraction)
    nan = [r for r in rows if r.nonfinite]
    if nan:
        return (Status.UNDECIDED, f"{nan[0].nonfinite} unit(s) gave nan at {_setting(nan[0].point)}: the bound"
                " cannot be read there", fraction)
    margin = min(sign * (r.claimed - r.worst) for r in rows)
    return (Status.CONSISTENT, f"every unit of {len(rows)} point(s) ({units}+ units each) on the claimed side ({op}"
            f" bound; smallest margin {margin:.3g}, allowance {roundoff:.3g}); a failure on {100 * fraction:.2g}% of"
            f" instances would be caught with probability {POWER:g}", fraction)


def _measured_verdict(rows: list[_Row], options: RunOptions,
                      evidence: dict[str, Any]) -> tuple[Status, str, float | None]:
    """A measurement: each point's estimate with its standard error; nothing is tested."""
    table = [{**_fmt_point(r.point), "estimate": r.estimate, "stderr": r.stderr, "samples": r.units,
              "relative_stderr": r.stderr / abs(r.estimate) if r.estimate else None} for r in rows]
    evidence.update(test="none: an exploratory measurement (estimate +- standard error per point, sampled until the"
                    f" relative standard error reaches {options.resolution:g} or the unit cap)", rows=table)
    shown = "; ".join(f"{_setting(r.point) or 'point'}: {r.estimate:.4g} +- {r.stderr:.2g}" for r in rows[:4])
    more = f"; ... ({len(rows)} points)" if len(rows) > 4 else ""
    return Status.MEASURED, f"measured {shown}{more}", None


def _exact_verdict(rows: list[_Row], alpha_side: float, evidence: dict[str, Any]) -> tuple[Status, str, float | None]:
    """Two-sided test per point at level 2 alpha_side, threshold from the t law of the point's units."""
    table = []
    failures = []
    for r in rows:
        t = ZTest(r.estimate, r.stderr, r.claimed, _t_threshold(alpha_side, r.units))
        table.append({**_fmt_point(r.point), "estimate": r.estimate, "stderr": r.stderr, "claimed": r.claimed,
                      "z": t.z, "samples": r.units, "resolution": t.resolution,
                      "absolute_resolution": t.absolute_resolution, "pass": t.passed})
        if not t.passed:
            failures.append((r, t))
    z = max(_t_threshold(alpha_side, r.units) for r in rows)
    evidence.update(test=f"two-sided test per point, |z| <= t quantile at 1 - {alpha_side:.3g} with the point's"
                    f" units - 1 degrees of freedom (at most {z:.3f})", rows=table)
    relative = [row["resolution"] for row in table if row["resolution"] is not None]
    resolution = max(relative) if relative else None
    res_text = (f"resolution {100 * resolution:.2g}%" if resolution is not None else
                f"absolute resolution {max(row['absolute_resolution'] for row in table):.2g} (claimed value 0)")
    degenerate = [r for r in rows if not r.stderr > 0]
    if degenerate:
        return (Status.UNDECIDED, f"zero standard error at {_short(degenerate[0].point)}: too few units"
                f" ({degenerate[0].units}) to test", resolution)
    if failures:
        r, t = max(failures, key=lambda f: abs(f[1].z))
        return (Status.REFUTED,
                f"at {_short(r.point)}: estimate {r.estimate:.6g} +- {r.stderr:.2g} vs claimed {r.claimed:.6g}"
                f" (z = {t.z:.1f}, threshold {z:.2f})", resolution)
    return (Status.CONSISTENT,
            f"{len(rows)} point(s) agree within {z:.2f} standard errors; {res_text}", resolution)


def _one_sided_verdict(rows: list[_Row], op: str, options: RunOptions,
                       evidence: dict[str, Any]) -> tuple[Status, str, float | None]:
    """``quantity < value`` (or ``>``) at every point: refuted where the estimate lies on the
    wrong side by more than the one-sided Bonferroni threshold."""
    alpha_side = options.alpha / max(1, options.tests_in_suite)
    z1 = max(_t_threshold(alpha_side, r.units) for r in rows)
    sign = 1.0 if op == "<" else -1.0
    table, failures = [], []
    for r in rows:
        zval = (r.estimate - r.claimed) / r.stderr if r.stderr > 0 else math.inf
        passed = sign * zval <= _t_threshold(alpha_side, r.units)
        table.append({**_fmt_point(r.point), "estimate": r.estimate, "stderr": r.stderr, "claimed": r.claimed,
                      "z": zval, "samples": r.units, "absolute_resolution": (z1 + normal_quantile(POWER)) * r.stderr,
                      "pass": passed})
        if not passed:
            failures.append((r, zval))
    evidence.update(test=f"one-sided test per point: refuted when the estimate is {'above' if op == '<' else 'below'}"
                    f" the bound by more than the t quantile at 1 - {alpha_side:.3g} (units - 1 degrees of freedom;"
                    f" at most {z1:.3f}) standard errors", rows=table)
    degenerate = [r for r in rows if not r.stderr > 0]
    if degenerate:
        return (Status.UNDECIDED, f"zero standard error at {_short(degenerate[0].point)}: too few units"
                f" ({degenerate[0].units}) to test", None)
    if failures:
        r, zval = max(failures, key=lambda f: sign * f[1])
        return (Status.REFUTED, f"at {_short(r.point)}: estimate {r.estimate:.6g} +- {r.stderr:.2g} is not {op}"
                f" {r.claimed:.6g} (z = {zval:.1f}, threshold {z1:.2f})", None)
    worst = max(row["absolute_resolution"] for row in table)
    return (Status.CONSISTENT, f"{len(rows)} point(s) on the claimed side ({op} bound) within {z1:.2f} standard"
            f" errors; absolute resolution {worst:.2g}", None)


def _asymptotic_verdict(claim: ProcessClaim, rows: list[_Row], options: RunOptions,
                        evidence: dict[str, Any]) -> tuple[Status, str, float]:
    var = claim.var
    assert var is not None
    alpha_test = options.alpha / max(1, options.tests_in_suite)
    ladders: list[dict[str, Any]] = []
    failed: list[dict[str, Any]] = []
    pts = [r.point for r in rows]
    for key, idx in _ladders_from_points(var.name, pts).items():
        ladder = sorted((rows[i] for i in idx), key=lambda r: float(r.point[var.name]))
        xs = [float(r.point[var.name]) for r in ladder]
        fit = _fit(claim, ladder, alpha_test)
        table = [{**_fmt_point(r.point), "estimate": r.estimate, "stderr": r.stderr, "claimed": r.claimed,
                  "samples": r.units,
                  f"{var.name}^{claim.order}*remainder": x ** claim.order * (r.estimate - r.claimed),
                  f"{var.name}^{claim.order}*stderr": x ** claim.order * r.stderr}
                 for x, r in zip(xs, ladder)]
        entry: dict[str, Any] = {"setting": dict(key), "rows": table, "fit": f"c{claim.order}/{var.name}^{claim.order}"
                 f" + c{claim.order + 1}/{var.name}^{claim.order + 1}",
                 "coefficients": list(fit.coefficients), "chi2": fit.chi2, "dof": fit.dof,
                 "critical": fit.critical, "p_value": fit.p_value, "resolution": fit.resolution,
                 "pass": fit.passed}
        ladders.append(entry)
        if not fit.passed:
            failed.append(entry)
    evidence.update(test=f"order fit of remainders, chi-square at 1 - {alpha_test:.2g}", ladders=ladders,
                    approximation_bound=f"neglected terms O({var.name}^-{claim.order + 2})")
    resolution = float(max(e["resolution"] for e in ladders))
    if failed:
        worst = max(failed, key=lambda e: e["chi2"] / max(e["critical"], 1e-300))
        setting = ", ".join(f"{k}={v}" for k, v in worst["setting"].items())
        return (Status.REFUTED,
                f"remainder is not O({var.name}^-{claim.order}) at {setting}: chi2 {worst['chi2']:.1f} >"
                f" {worst['critical']:.1f} (dof {worst['dof']})", resolution)
    return (Status.CONSISTENT,
            f"{len(ladders)} ladder(s) fit a remainder O({var.name}^-{claim.order});"
            + (f" resolution {100 * resolution:.2g}%" if any(r.tested for r in rows) else
               f" absolute resolution {resolution:.2g} (a constant offset; claimed value 0)"), resolution)


def _ladders_from_points(var_name: str, pts: list[dict[str, Any]]) -> dict[tuple, list[int]]:
    groups: dict[tuple, list[int]] = {}
    for i, p in enumerate(pts):
        key = tuple(sorted((k, v if isinstance(v, str) else float(v)) for k, v in p.items() if k != var_name))
        groups.setdefault(key, []).append(i)
    return groups


@dataclass
class SuitePlan:
    """The checks of a run, in order, with the number of tests for the Bonferroni split."""

    items: list[tuple[MonteCarloCheck, Theorem, str, str]] = field(default_factory=list)

    @property
    def tests(self) -> int:
        return sum(count_tests(c) for c, _, _, _ in self.items)

