"""Luo et al. L5-L8: the dynamics claims, their checks and small simulations (fast tier).

The full Monte Carlo checks run under the ``montecarlo`` marker and in ``bnsym check``; here
small online-SGD runs (N = 300) test the threshold behaviour over learning rates drawn by
hypothesis from each side of eta_max, and the decay zeta of BN from its domain.
"""

from __future__ import annotations

import math

import pytest
import sympy as sp
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bnsym.flow import solve
from bnsym.registry import load_builtin
from bnsym.sim.teacher_student import Student, online_sgd
from bnsym.verdict import Status
from bnsym.verify import verify_claim
from derivations.luo2019 import dynamics as D
from derivations.luo2019 import fixed_points as F
from derivations.luo2019 import learning_rates as LR

PROPERTY = settings(max_examples=6, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow])
N_SMALL, RUNS, T, EPS = 300, 12, 3.0, 0.02


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _log_gap(method: str, eta: float, zeta: float = 0.0, gamma0: float = 1.0, seed: int = 0) -> float:
    """Mean log((1 - R(T))/(1 - R(0))) over RUNS small online-SGD runs started at R(0) = 1 - EPS."""
    student = Student(method, "relu", zeta=zeta, frozen_length=method != "sgd")
    gen = torch.Generator().manual_seed(seed)
    runs = online_sgd(student, N=N_SMALL, etas=[eta], replicas=RUNS, times=[T], gamma0=gamma0, R0=1 - EPS,
                      L0=None if method == "sgd" else 1.0, generator=gen, device=torch.device("cpu"))
    gap = 1 - runs[0, :, -1, 1].to(torch.float64)
    return float(torch.log(gap.clamp_min(1e-300) / EPS).mean())


ETA_MAX_RELU = float(LR.ETA_MAX_WN["relu"])


@pytest.mark.parametrize("method", ["wn", "sgd"])
def test_overlap_converges_below_eta_max(method: str) -> None:
    @PROPERTY
    @given(f=st.floats(0.3, 0.8))
    def below(f: float) -> None:
        assert _log_gap(method, f * ETA_MAX_RELU) < 0

    below()


@pytest.mark.parametrize("method", ["wn", "sgd"])
def test_overlap_moves_away_above_eta_max(method: str) -> None:
    @PROPERTY
    @given(f=st.floats(1.3, 2.0))
    def above(f: float) -> None:
        assert _log_gap(method, f * ETA_MAX_RELU) > 0

    above()


def test_bn_has_no_threshold_at_two_plus_four_zeta() -> None:
    """Below the printed eta_max of BN the overlap still moves away from 1 (length held fixed)."""
    @PROPERTY
    @given(zeta=st.floats(0.25, 1.0), f=st.floats(0.5, 0.9))
    def below(zeta: float, f: float) -> None:
        g0 = float(F.gamma0_relu.subs(F.zeta.symbol, zeta))
        eta_eff = f * float(LR.eta_max_bn_relu.rhs.subs(LR.zeta.symbol, zeta))
        assert _log_gap("bn", eta_eff / g0, zeta=zeta, gamma0=g0) > 0

    below()


def test_flows_of_the_three_students_rest_at_their_fixed_points() -> None:
    rest = {"bn": dict(gamma_init=1.0, R_init=1.0, L_init=1.0, zeta=0.0, eta=1.0, time=2.0),
            "wn": dict(R_init=1.0, L_init=1.0, eta=1.0, time=2.0),
            "sgd": dict(gamma_init=1.0, R_init=1.0, eta=1.0, time=2.0)}
    for method, point in rest.items():
        state = solve(D.flow(method, "relu"), point).state
        assert all(abs(v - 1.0) < 1e-12 for v in state.values()), (method, state)


def test_bn_flow_leaves_its_printed_fixed_point() -> None:
    zeta = 0.5
    g0 = float(F.gamma0_relu.subs(F.zeta.symbol, zeta))
    state = solve(D.flow("bn", "relu"), dict(gamma_init=g0, R_init=1.0, L_init=1.0, zeta=zeta, eta=2.0,
                                             time=1.0)).state
    assert state["R"] < 1 - 1e-3 and state["L"] > 1 + 1e-3


def test_sgd_threshold_is_where_the_r_eigenvalue_changes_sign() -> None:
    """The threshold claim's eta_max is the root of the SGD R eigenvalue (the derivation's own formula)."""
    for act, eta_max in LR.ETA_MAX_WN.items():
        at = LR.erf_values(sp.Integer(1)) if act == "erf" else LR.relu_values(sp.Integer(1))
        rate = LR.sgd_rate.rhs.subs(at)
        assert abs(float(rate.subs(LR.eta.symbol, eta_max))) < 1e-12
        assert float(rate.subs(LR.eta.symbol, 0.9 * eta_max)) < 0 < float(rate.subs(LR.eta.symbol, 1.1 * eta_max))


def test_erratum_verdicts_of_the_dynamics() -> None:
    catalog = load_builtin()
    expected = {"luo2019.L6.bn_point_printed": Status.REFUTED, "luo2019.L6.bn_point_corrected": Status.PROVEN,
                "luo2019.L7.block_singular_full": Status.PROVEN,
                "luo2019.L7.eta_max_wn_erf": Status.PROVEN, "luo2019.L7.eta_max_bn_relu": Status.PROVEN}
    for cid, status in expected.items():
        entry, claim, role = catalog.claim(cid)
        v = verify_claim(entry.theorem, claim, cid, role)
        assert v is not None and v.status is status, (cid, v.summary if v else None)


def test_erf_eta_max_value() -> None:
    assert math.isclose(float(LR.ETA_MAX_WN["erf"]), math.pi * math.sqrt(15) / 3, rel_tol=1e-14)
    assert math.isclose(float(LR.ETA_MAX_WN["erf"]), 4.0557786759736, rel_tol=1e-12)
