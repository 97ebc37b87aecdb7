"""Fast tests of L3 (identity activation, exact forms) and L4 (PN = WN) of Luo et al. (ICLR 2019).

Every symbolic claim gets the verdict expected of it (printed forms of errata are refuted), and
every Monte Carlo check runs a tiny simulation (a few thousand units per point, fixed seed).
"""

from __future__ import annotations

import pytest

from bnsym.claims import Claim, ProcessClaim, Theorem
from bnsym.mc.engine import MonteCarloCheck, RunOptions, run_check
from bnsym.verdict import Status
from bnsym.verify import verify_claim
from checks.luo2019 import identity as l3_checks
from checks.luo2019 import pn_wn as l4_checks
from derivations.luo2019 import identity as l3
from derivations.luo2019 import pn_wn as l4

PROVEN, REFUTED, CONSISTENT = Status.PROVEN, Status.REFUTED, Status.CONSISTENT

EXPECTED_SYMBOLIC = {
    l3.L3: {
        "chi_square_moment": PROVEN,
        "inv_sigma_mean": PROVEN,
        "inv_sigma_sq_printed": REFUTED,
        "inv_sigma_sq_mean": PROVEN,
        "printed_zeta_is_full_loss_no_mu": PROVEN,
        "zeta_half_mu_series": PROVEN,
        "zeta_half_no_mu_series": PROVEN,
        "zeta_full_mu_series": PROVEN,
        "zeta_full_no_mu_series": PROVEN,
        "printed_zeta_limit_printed": REFUTED,
        "printed_zeta_limit": PROVEN,
        "zeta_real_exact": PROVEN,
        "zeta_real_series": PROVEN,
        "real_minus_model": PROVEN,
    },
    l4.L4: {
        "pn_equals_wn": PROVEN,
        "pn_equals_wn_scaled": PROVEN,
        "population_variance_scaled": PROVEN,
    },
}

EXPECTED_PROCESS = {
    "gap_half_mu": CONSISTENT,
    "gap_half_printed": REFUTED,
    "gap_half_no_mu": CONSISTENT,
    "gap_real_bn": CONSISTENT,
    "population_variance_process": CONSISTENT,
}

MODULES = {l3.L3: (l3, "L3"), l4.L4: (l4, "L4")}
TINY_RUN = RunOptions(seed=0, samples=4_000)


def _names(module: object) -> dict[int, str]:
    return {id(v): k for k, v in vars(module).items() if isinstance(v, Claim)}


def _claim_id(theorem: Theorem, claim: Claim) -> str:
    module, var = MODULES[theorem]
    return f"luo2019.{var}.{_names(module)[id(claim)]}"


def _symbolic_cases() -> list[tuple[Theorem, Claim, str]]:
    return [(th, c, role) for th in MODULES for c, role in th.all_claims() if not isinstance(c, ProcessClaim)]


@pytest.mark.parametrize("theorem", list(MODULES), ids=[v for _, v in MODULES.values()])
def test_every_claim_has_an_expectation(theorem: Theorem) -> None:
    module, _ = MODULES[theorem]
    names = _names(module)
    symbolic = {names[id(c)] for c, _ in theorem.all_claims() if not isinstance(c, ProcessClaim)}
    process = {names[id(c)] for c, _ in theorem.all_claims() if isinstance(c, ProcessClaim)}
    assert symbolic == set(EXPECTED_SYMBOLIC[theorem])
    assert process <= set(EXPECTED_PROCESS)


@pytest.mark.parametrize("theorem,claim,role", _symbolic_cases(),
                         ids=[_claim_id(th, c) for th, c, _ in _symbolic_cases()])
def test_symbolic_verdict(theorem: Theorem, claim: Claim, role: str) -> None:
    cid = _claim_id(theorem, claim)
    verdict = verify_claim(theorem, claim, cid, role)
    assert verdict is not None
    assert verdict.status == EXPECTED_SYMBOLIC[theorem][cid.rsplit(".", 1)[-1]], verdict.summary


def _checks() -> list[tuple[str, MonteCarloCheck]]:
    out = []
    for module in (l3_checks, l4_checks):
        out += [(name, c) for name, c in vars(module).items() if isinstance(c, MonteCarloCheck)]
    return out


def _theorem_of(claim: Claim) -> Theorem:
    return next(th for th in MODULES if any(c is claim for c, _ in th.all_claims()))


def test_every_process_claim_has_a_check() -> None:
    checked = {id(c.claim) for _, c in _checks()}
    for th in MODULES:
        for c, _ in th.all_claims():
            if isinstance(c, ProcessClaim):
                assert id(c) in checked, c.title


@pytest.mark.parametrize("name,check", _checks(), ids=[n for n, _ in _checks()])
def test_tiny_monte_carlo_run(name: str, check: MonteCarloCheck) -> None:
    theorem = _theorem_of(check.claim)
    role = next(r for c, r in theorem.all_claims() if c is check.claim)
    cid = _claim_id(theorem, check.claim)
    verdict = run_check(check, theorem, cid, TINY_RUN, role)
    rows = verdict.evidence["rows"]
    assert len(rows) == len(check.resolved_points())
    assert all(r["samples"] == TINY_RUN.samples for r in rows)
    assert verdict.status == EXPECTED_PROCESS[cid.rsplit(".", 1)[-1]], verdict.summary
