"""Symbolic verification of claims: the prover first, the numeric fallback second.

``verify_claim`` turns one claim into a :class:`~bnsym.verdict.Verdict`. A derivation is
verified link by link, so a failure names the first link that disagrees. Process claims
(statements about a random process) are not decided here: ``bnsym check`` runs their
Monte Carlo checks. A Gaussian expectation gets no symbolic attempt: it is compared with
its closed form by 2-D quadrature (:mod:`bnsym.quadrature`), NUMERIC at best.

Time: every SymPy and mpmath computation on a claim's expressions runs in a forked child
under a wall-clock budget (:mod:`bnsym.budget`); the parent only reads free symbols and
builds verdicts. :class:`Settings` states the bound this gives per claim, and
``Settings.claim_budget`` caps a claim's total time, however many links it has.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import sympy as sp

from . import numeric, prover, quadrature
from .budget import Deadline, budgets_enforced, run_with_budget, unenforced_reason
from .claims import Asymptotic, Claim, Derivation, GaussianExpectation, Identity, Inequality, ProcessClaim, Theorem
from .errors import DefinitionError
from .params import Param, params_of
from .verdict import Status, Verdict, weakest


@dataclass(frozen=True)
class Settings:
    """Budgets and precision of a verification run.

    Without ``claim_budget`` a claim's time is bounded by its parts, each under its own budget
    (plus one fork and kill per part): an identity, inequality or asymptotic claim by
    ``strategies * budget + numeric_budget`` (5, 1 and 1 strategies), a Gaussian expectation by
    ``numeric_budget``, and a derivation of ``n`` links by ``n * (5 * budget + numeric_budget)``, plus
    ``numeric_budget`` for each link whose justification maps its expression first. At the defaults
    that is 110 s for an identity and grows with the links of a chain. ``claim_budget`` (seconds)
    caps the whole claim: every strategy and numeric check gets the smaller of its own budget and the
    time the claim has left, and what the time did not reach is UNDECIDED, its summary naming the
    claim budget. Budgets are enforced only where a child can be forked (:mod:`bnsym.budget`).
    """

    budget: float = prover.DEFAULT_BUDGET  # seconds per symbolic strategy
    numeric_budget: float = 60.0  # seconds for the numeric fallback of one claim or link
    points: int = numeric.DEFAULT_POINTS
    dps: int = numeric.DEFAULT_DPS
    seed: int = 0
    symbolic: bool = True  # False: skip the prover (numeric only)
    quadrature_points: int = quadrature.DEFAULT_POINTS  # points for a GaussianExpectation (2-D quadrature each)
    quadrature_dps: int = quadrature.DEFAULT_DPS
    claim_budget: float | None = None  # seconds for all the work on one claim; None: only the per-part budgets


def _params(theorem: Theorem, claim: Claim, exprs: tuple[sp.Expr, ...]) -> list[Param]:
    dom = theorem.domain(claim)
    syms: set[sp.Symbol] = set()
    for e in exprs:
        syms |= e.free_symbols
    return params_of(sp.Tuple(*syms) if syms else sp.S.Zero, dom)


def numeric_verdict(claim_id: str, res: Any, role: str, proof: prover.ProofResult | None,
                    started: float) -> Verdict:
    """The verdict of a numeric result: NUMERIC (holds at every point), REFUTED (with its counterexample) or
    UNDECIDED; the prover's attempts, when there were any, go into the evidence."""
    tried = list(proof.tried) if proof else []
    evidence: dict[str, Any] = {
        "points": res.points, "digits": res.dps, "region": res.region,
        "strategies_tried": tried, "prover_note": proof.detail if proof else "",
    }
    if unenforced_reason():
        evidence["budgets"] = unenforced_reason()
    if res.decided is True:
        return Verdict(claim_id, Status.NUMERIC, "mpmath", res.detail, evidence,
                       time.perf_counter() - started, role)
    if res.decided is False:
        evidence["counterexample"] = res.counterexample
        return Verdict(claim_id, Status.REFUTED, "mpmath", res.detail, evidence,
                       time.perf_counter() - started, role)
    return Verdict(claim_id, Status.UNDECIDED, "mpmath", res.detail or "numeric check undecided", evidence,
                   time.perf_counter() - started, role)


def _numeric_seconds(settings: Settings, deadline: Deadline | None) -> tuple[float, str]:
    """The budget of one numeric computation, and what to say when it is spent."""
    seconds = settings.numeric_budget if deadline is None else deadline.clip(settings.numeric_budget)
    if seconds < settings.numeric_budget:
        return seconds, deadline.note() if deadline is not None else ""
    return seconds, f"numeric budget of {settings.numeric_budget:g} s spent"


def run_numeric(fn: Any, args: tuple[Any, ...], settings: Settings, deadline: Deadline | None = None) -> Any:
    """``fn(*args)``, a numeric check, under the numeric budget (clipped to the claim's deadline); an undecided
    :class:`~bnsym.numeric.NumericResult` saying why when the budget is spent or the check fails."""
    seconds, spent = _numeric_seconds(settings, deadline)
    out = run_with_budget(fn, *args, seconds=seconds)
    if out.ok:
        return out.value
    return numeric.NumericResult(None, 0, settings.dps, detail=spent if out.timed_out else out.error)


def equality_verdict(claim_id: str, lhs: sp.Expr, rhs: sp.Expr, params: list[Param], role: str,
                     settings: Settings, *, deadline: Deadline | None = None) -> Verdict:
    """``lhs == rhs`` on the parameters' domains: the prover first, then the numeric check; PROVEN, NUMERIC,
    REFUTED (an exact nonzero difference, or a counterexample) or UNDECIDED."""
    started = time.perf_counter()
    proof = prover.prove_equal(lhs, rhs, settings.budget, deadline=deadline) if settings.symbolic else None
    if proof is not None and proof.decided is True:
        return Verdict(claim_id, Status.PROVEN, f"sympy:{proof.strategy}", f"closed by {proof.strategy}",
                       {"strategy": proof.strategy, "strategies_tried": list(proof.tried)},
                       time.perf_counter() - started, role)
    res = run_numeric(numeric.check_equal, (lhs, rhs, params, settings.points, settings.dps, settings.seed),
                      settings, deadline)
    if proof is not None and proof.decided is False:  # an exact nonzero difference beats any tolerance
        return symbolic_refutation(claim_id, proof, res, role, started,
                                   f"difference reduces to a nonzero constant ({proof.strategy})")
    return numeric_verdict(claim_id, res, role, proof, started)


def symbolic_refutation(claim_id: str, proof: prover.ProofResult, res: Any, role: str, started: float,
                        what: str) -> Verdict:
    """REFUTED by the prover; the numeric result adds its counterexample when it found one."""
    v = numeric_verdict(claim_id, res, role, proof, started)
    v.status, v.method = Status.REFUTED, f"sympy:{proof.strategy}"
    v.summary = what + (f"; {res.detail}" if res.decided is False else "")
    v.evidence["strategy"] = proof.strategy
    return v


def _gaussian_expectation(theorem: Theorem, claim: GaussianExpectation, claim_id: str, role: str,
                          settings: Settings, started: float, deadline: Deadline | None = None) -> Verdict:
    """No symbolic attempt: the expectation is compared with its closed form by 2-D quadrature at
    ``settings.quadrature_points`` random points, ``settings.quadrature_dps`` digits."""
    syms = claim.free_symbols()
    params = params_of(sp.Tuple(*syms) if syms else sp.S.Zero, theorem.domain(claim))
    quadrature.warm(settings.quadrature_dps)  # rules built once here, inherited by every budgeted child
    seconds, spent = _numeric_seconds(settings, deadline)
    out = run_with_budget(quadrature.check_gaussian_expectation, claim, params, settings.quadrature_points,
                          settings.quadrature_dps, settings.seed, seconds=seconds)
    if out.ok:
        res = out.value
    else:
        res = numeric.NumericResult(None, 0, settings.quadrature_dps, detail=spent if out.timed_out else out.error)
    v = numeric_verdict(claim_id, res, role, None, started)
    v.method = "mpmath:quadrature"
    v.evidence["prover_note"] = "no symbolic attempt: an expectation is checked by quadrature only"
    v.evidence["max_relative_deviation"] = res.max_residual
    return v


def _link(theorem: Theorem, claim: Derivation, link_id: str, a: sp.Expr, b: sp.Expr, why: Any, role: str,
          settings: Settings, deadline: Deadline | None) -> Verdict:
    """One link ``a == b`` of a derivation; ``a`` mapped by the justification first when it has a map.

    A map that runs out of time leaves the link UNDECIDED; one that fails, or yields a symbol with no
    declared domain, is an ERROR of that link (the other links are still checked).
    """
    started = time.perf_counter()
    evidence = {"justification": str(why)}
    if deadline is not None and deadline.spent:
        return Verdict(link_id, Status.UNDECIDED, "none", f"not checked: {deadline.note()}", evidence, 0.0, role)
    if why.apply is not None:
        seconds, spent = _numeric_seconds(settings, deadline)
        mapped = run_with_budget(why.apply, a, seconds=seconds)
        if not mapped.ok:
            status = Status.UNDECIDED if mapped.timed_out else Status.ERROR
            return Verdict(link_id, status, str(why.name),
                           f"could not apply {why.name}: {spent if mapped.timed_out else mapped.error}", evidence,
                           time.perf_counter() - started, role)
        a = mapped.value
    try:
        link_params = _params(theorem, claim, (sp.sympify(a), sp.sympify(b)))
    except (DefinitionError, sp.SympifyError) as exc:
        return Verdict(link_id, Status.ERROR, str(why.name), f"cannot check the link: {exc}", evidence,
                       time.perf_counter() - started, role)
    v = equality_verdict(link_id, a, b, link_params, role, settings, deadline=deadline)
    v.evidence.update(evidence)
    v.seconds = time.perf_counter() - started
    return v


def verify_claim(theorem: Theorem, claim: Claim, claim_id: str, role: str = "claim",
                 settings: Settings = Settings()) -> Verdict | None:
    """Verify one claim; ``None`` for a process claim (decided by ``bnsym check``).

    With ``settings.claim_budget`` the claim's work ends by then (see :class:`Settings`).
    """
    started = time.perf_counter()
    if isinstance(claim, ProcessClaim):
        return None
    deadline = Deadline.after(settings.claim_budget) if settings.claim_budget is not None else None
    if isinstance(claim, GaussianExpectation):
        return _gaussian_expectation(theorem, claim, claim_id, role, settings, started, deadline)
    params = _params(theorem, claim, claim.expressions())
    if isinstance(claim, Identity):
        return equality_verdict(claim_id, claim.lhs, claim.rhs, params, role, settings, deadline=deadline)
    if isinstance(claim, Derivation):
        links = [_link(theorem, claim, f"{claim_id}[{i}]", a, b, why, role, settings, deadline)
                 for i, a, b, why in claim.links]
        status = weakest([v.status for v in links])
        bad = next((v for v in links if not v.status.holds), None)
        summary = (f"all {len(links)} links hold" if bad is None
                   else f"link {bad.claim_id.rsplit('[', 1)[-1].rstrip(']')} {bad.status.value}: {bad.summary}")
        unreached = sum(1 for v in links if v.summary.startswith("not checked:"))
        if unreached and deadline is not None:
            summary += f" ({unreached} of {len(links)} links not checked" + (
                ")" if deadline.note() in summary else f": {deadline.note()})")
        return Verdict(claim_id, status, "chain", summary, {"links": len(links)},
                       time.perf_counter() - started, role, links)
    if isinstance(claim, Asymptotic):
        assert claim.var is not None
        var = theorem.domain(claim)[claim.var.symbol]
        proof = (prover.prove_asymptotic(claim.lhs, claim.rhs, var.symbol, claim.order, settings.budget,
                                         deadline=deadline)
                 if settings.symbolic else None)
        if proof is not None and proof.decided is True:
            return Verdict(claim_id, Status.PROVEN, f"sympy:{proof.strategy}",
                           f"series agree below order {var.name}^-{claim.order}",
                           {"strategy": proof.strategy}, time.perf_counter() - started, role)
        res = run_numeric(numeric.check_asymptotic,
                           (claim.lhs, claim.rhs, var, claim.order, params, 4, settings.dps, settings.seed), settings,
                           deadline)
        if proof is not None and proof.decided is False:
            return symbolic_refutation(claim_id, proof, res, role, started,
                                        f"a series coefficient below {var.name}^-{claim.order} is a nonzero number")
        return numeric_verdict(claim_id, res, role, proof, started)
    if isinstance(claim, Inequality):
        proof = (prover.prove_inequality(claim.lhs, claim.op, claim.rhs, settings.budget, deadline=deadline)
                 if settings.symbolic else None)
        if proof is not None and proof.decided is True:
            return Verdict(claim_id, Status.PROVEN, f"sympy:{proof.strategy}", "sign follows from the assumptions",
                           {"strategy": proof.strategy}, time.perf_counter() - started, role)
        res = run_numeric(numeric.check_inequality,
                           (claim.lhs, claim.op, claim.rhs, params, settings.points, settings.dps, settings.seed),
                           settings, deadline)
        if proof is not None and proof.decided is False:
            return symbolic_refutation(claim_id, proof, res, role, started,
                                        "the difference is a number of the wrong sign")
        return numeric_verdict(claim_id, res, role, proof, started)
    return Verdict(claim_id, Status.ERROR, "none", f"no verifier for {type(claim).__name__}", {},
                   time.perf_counter() - started, role)


Task = tuple[Theorem, Claim, str, str]  # (theorem, claim, claim id, role)
_TASKS: list[Task] = []  # what forked workers verify, by index (inherited at fork, never pickled)
_SETTINGS = Settings()


def _cost(task: Task) -> int:
    """A rough order of a claim's work, to start the long ones first: quadratures, then long chains."""
    claim = task[1]
    if isinstance(claim, GaussianExpectation):
        return 1000
    return len(claim.links) if isinstance(claim, Derivation) else 1


def _verify_task(index: int) -> tuple[int, Verdict | None]:
    theorem, claim, claim_id, role = _TASKS[index]
    return index, verify_claim(theorem, claim, claim_id, role, _SETTINGS)


def verify_all(tasks: list[Task], settings: Settings, jobs: int = 1,
               done: Any = None) -> list[Verdict | None]:
    """``verify_claim`` of every task, in task order; with ``jobs > 1`` claims run in that many forked worker
    processes (the longest-looking first). Every claim's random points come from ``settings.seed`` alone, not
    from what ran before it, so the verdicts are the same either way, except where a wall-clock budget ends a
    computation sooner on busier cores. ``done(verdict)`` is called as each one ends."""
    out: list[Verdict | None] = [None] * len(tasks)
    if jobs <= 1 or len(tasks) < 2 or not budgets_enforced():
        for i, (theorem, claim, claim_id, role) in enumerate(tasks):
            out[i] = verify_claim(theorem, claim, claim_id, role, settings)
            if done is not None:
                done(out[i])
        return out
    import multiprocessing

    global _TASKS, _SETTINGS
    _TASKS, _SETTINGS = tasks, settings
    order = sorted(range(len(tasks)), key=lambda i: -_cost(tasks[i]))
    try:
        with multiprocessing.get_context("fork").Pool(min(jobs, len(tasks))) as pool:
            for i, verdict in pool.imap_unordered(_verify_task, order, chunksize=1):
                out[i] = verdict
                if done is not None:
                    done(verdict)
    finally:
        _TASKS, _SETTINGS = [], Settings()
    return out
