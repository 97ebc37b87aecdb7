"""Symbolic verification of claims: the prover first, the numeric fallback second.

``verify_claim`` turns one claim into a :class:`~bnsym.verdict.Verdict`. A derivation is
verified link by link, so a failure names the first link that disagrees. Process claims
(statements about a random process) are not decided here: ``bnsym check`` runs their
Monte Carlo checks. A Gaussian expectation gets no symbolic attempt: it is compared with
its closed form by 2-D quadrature (:mod:`bnsym.quadrature`), NUMERIC at best.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import sympy as sp

from . import numeric, prover, quadrature
from .budget import run_with_budget
from .claims import Asymptotic, Claim, Derivation, GaussianExpectation, Identity, Inequality, ProcessClaim, Theorem
from .params import Param, params_of
from .verdict import Status, Verdict, weakest


@dataclass(frozen=True)
class Settings:
    """Budgets and precision of a verification run."""

    budget: float = prover.DEFAULT_BUDGET  # seconds per symbolic strategy
    numeric_budget: float = 60.0  # seconds for the numeric fallback of one claim or link
    points: int = numeric.DEFAULT_POINTS
    dps: int = numeric.DEFAULT_DPS
    seed: int = 0
    symbolic: bool = True  # False: skip the prover (numeric only)
    quadrature_points: int = quadrature.DEFAULT_POINTS  # points for a GaussianExpectation (2-D quadrature each)
    quadrature_dps: int = quadrature.DEFAULT_DPS


def _params(theorem: Theorem, claim: Claim, exprs: tuple[sp.Expr, ...]) -> list[Param]:
    dom = theorem.domain(claim)
    syms: set[sp.Symbol] = set()
    for e in exprs:
        syms |= e.free_symbols
    return params_of(sp.Tuple(*syms) if syms else sp.S.Zero, dom)


def _numeric_verdict(claim_id: str, res: Any, role: str, proof: prover.ProofResult | None,
                     started: float) -> Verdict:
    tried = list(proof.tried) if proof else []
    evidence: dict[str, Any] = {
        "points": res.points, "digits": res.dps, "region": res.region,
        "strategies_tried": tried, "prover_note": proof.detail if proof else "",
    }
    if res.decided is True:
        return Verdict(claim_id, Status.NUMERIC, "mpmath", res.detail, evidence,
                       time.perf_counter() - started, role)
    if res.decided is False:
        evidence["counterexample"] = res.counterexample
        return Verdict(claim_id, Status.REFUTED, "mpmath", res.detail, evidence,
                       time.perf_counter() - started, role)
    return Verdict(claim_id, Status.UNDECIDED, "mpmath", res.detail or "numeric check undecided", evidence,
                   time.perf_counter() - started, role)


def _run_numeric(fn: Any, args: tuple[Any, ...], settings: Settings) -> Any:
    out = run_with_budget(fn, *args, seconds=settings.numeric_budget)
    if out.ok:
        return out.value
    why = f"numeric budget of {settings.numeric_budget:g} s spent" if out.timed_out else out.error
    return numeric.NumericResult(None, 0, settings.dps, detail=why)


def _equality(claim_id: str, lhs: sp.Expr, rhs: sp.Expr, params: list[Param], role: str,
              settings: Settings) -> Verdict:
    started = time.perf_counter()
    proof = prover.prove_equal(lhs, rhs, settings.budget) if settings.symbolic else None
    if proof is not None and proof.decided is True:
        return Verdict(claim_id, Status.PROVEN, f"sympy:{proof.strategy}", f"closed by {proof.strategy}",
                       {"strategy": proof.strategy, "strategies_tried": list(proof.tried)},
                       time.perf_counter() - started, role)
    res = _run_numeric(numeric.check_equal, (lhs, rhs, params, settings.points, settings.dps, settings.seed),
                       settings)
    if proof is not None and proof.decided is False:  # an exact nonzero difference beats any tolerance
        return _symbolic_refutation(claim_id, proof, res, role, started,
                                    f"difference reduces to a nonzero constant ({proof.strategy})")
    return _numeric_verdict(claim_id, res, role, proof, started)


def _symbolic_refutation(claim_id: str, proof: prover.ProofResult, res: Any, role: str, started: float,
                         what: str) -> Verdict:
    """REFUTED by the prover; the numeric result adds its counterexample when it found one."""
    v = _numeric_verdict(claim_id, res, role, proof, started)
    v.status, v.method = Status.REFUTED, f"sympy:{proof.strategy}"
    v.summary = what + (f"; {res.detail}" if res.decided is False else "")
    v.evidence["strategy"] = proof.strategy
    return v


def _gaussian_expectation(theorem: Theorem, claim: GaussianExpectation, claim_id: str, role: str,
                          settings: Settings, started: float) -> Verdict:
    """No symbolic attempt: the expectation is compared with its closed form by 2-D quadrature at
    ``settings.quadrature_points`` random points, ``settings.quadrature_dps`` digits."""
    syms = claim.free_symbols()
    params = params_of(sp.Tuple(*syms) if syms else sp.S.Zero, theorem.domain(claim))
    quadrature.warm(settings.quadrature_dps)  # rules built once here, inherited by every budgeted child
    out = run_with_budget(quadrature.check_gaussian_expectation, claim, params, settings.quadrature_points,
                          settings.quadrature_dps, settings.seed, seconds=settings.numeric_budget)
    if out.ok:
        res = out.value
    else:
        why = f"numeric budget of {settings.numeric_budget:g} s spent" if out.timed_out else out.error
        res = numeric.NumericResult(None, 0, settings.quadrature_dps, detail=why)
    v = _numeric_verdict(claim_id, res, role, None, started)
    v.method = "mpmath:quadrature"
    v.evidence["prover_note"] = "no symbolic attempt: an expectation is checked by quadrature only"
    v.evidence["max_relative_deviation"] = res.max_residual
    return v


def verify_claim(theorem: Theorem, claim: Claim, claim_id: str, role: str = "claim",
                 settings: Settings = Settings()) -> Verdict | None:
    """Verify one claim; ``None`` for a process claim (decided by ``bnsym check``)."""
    started = time.perf_counter()
    if isinstance(claim, ProcessClaim):
        return None
    if isinstance(claim, GaussianExpectation):
        return _gaussian_expectation(theorem, claim, claim_id, role, settings, started)
    params = _params(theorem, claim, claim.expressions())
    if isinstance(claim, Identity):
        return _equality(claim_id, claim.lhs, claim.rhs, params, role, settings)
    if isinstance(claim, Derivation):
        links = []
        for i, a, b, why in claim.links:
            if why.apply is not None:
                mapped = run_with_budget(why.apply, a, seconds=settings.numeric_budget)
                if not mapped.ok:
                    why_failed = "budget spent" if mapped.timed_out else mapped.error
                    links.append(Verdict(f"{claim_id}[{i}]", Status.ERROR, str(why.name),
                                         f"could not apply {why.name}: {why_failed}", {"justification": str(why)},
                                         0.0, role))
                    continue
                a = mapped.value
            link_params = _params(theorem, claim, (a, b))
            v = _equality(f"{claim_id}[{i}]", a, b, link_params, role, settings)
            v.evidence["justification"] = str(why)
            links.append(v)
        status = weakest([v.status for v in links])
        bad = next((v for v in links if not v.status.holds), None)
        summary = (f"all {len(links)} links hold" if bad is None
                   else f"link {bad.claim_id.rsplit('[', 1)[-1].rstrip(']')} {bad.status.value}: {bad.summary}")
        return Verdict(claim_id, status, "chain", summary, {"links": len(links)},
                       time.perf_counter() - started, role, links)
    if isinstance(claim, Asymptotic):
        assert claim.var is not None
        var = theorem.domain(claim)[claim.var.symbol]
        proof = (prover.prove_asymptotic(claim.lhs, claim.rhs, var.symbol, claim.order, settings.budget)
                 if settings.symbolic else None)
        if proof is not None and proof.decided is True:
            return Verdict(claim_id, Status.PROVEN, f"sympy:{proof.strategy}",
                           f"series agree below order {var.name}^-{claim.order}",
                           {"strategy": proof.strategy}, time.perf_counter() - started, role)
        res = _run_numeric(numeric.check_asymptotic,
                           (claim.lhs, claim.rhs, var, claim.order, params, 4, settings.dps, settings.seed), settings)
        if proof is not None and proof.decided is False:
            return _symbolic_refutation(claim_id, proof, res, role, started,
                                        f"a series coefficient below {var.name}^-{claim.order} is a nonzero number")
        return _numeric_verdict(claim_id, res, role, proof, started)
    if isinstance(claim, Inequality):
        proof = (prover.prove_inequality(claim.lhs, claim.op, claim.rhs, settings.budget)
                 if settings.symbolic else None)
        if proof is not None and proof.decided is True:
            return Verdict(claim_id, Status.PROVEN, f"sympy:{proof.strategy}", "sign follows from the assumptions",
                           {"strategy": proof.strategy}, time.perf_counter() - started, role)
        res = _run_numeric(numeric.check_inequality,
                           (claim.lhs, claim.op, claim.rhs, params, settings.points, settings.dps, settings.seed),
                           settings)
        if proof is not None and proof.decided is False:
            return _symbolic_refutation(claim_id, proof, res, role, started,
                                        "the difference is a number of the wrong sign")
        return _numeric_verdict(claim_id, res, role, proof, started)
    return Verdict(claim_id, Status.ERROR, "none", f"no verifier for {type(claim).__name__}", {},
                   time.perf_counter() - started, role)
