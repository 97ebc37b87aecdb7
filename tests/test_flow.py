"""Flows (ODE-valued process claims), one-sided process claims and the threshold digest."""

from __future__ import annotations

import math
from typing import Any

import pytest
import sympy as sp
import torch

from bnsym import Flow, Param, ProcessClaim, Source, Theorem
from bnsym.errors import DefinitionError
from bnsym.flow import solve, value_on_flow
from bnsym.mc.engine import MonteCarloCheck, RunOptions, run_check
from bnsym.verdict import Status

X = Param("x", lo=0, hi=1)
X0 = Param("x0", lo=0, hi=1)
K = Param("k", lo=0, lo_open=True, sample_hi=5)
TIME = Param("time", lo=0, sample_hi=10)
DECAY = Flow(state=(X,), rhs=(-K.symbol * X.symbol,), initial=(X0,), time=TIME, title="decay")
LOGISTIC = Flow(state=(X,), rhs=(X.symbol * (1 - X.symbol),), initial=(X0,), time=TIME, title="logistic")


def test_flow_matches_known_solutions() -> None:
    sol = solve(DECAY, {"x0": 0.8, "k": 1.3, "time": 2.0})
    assert abs(sol.state["x"] - 0.8 * math.exp(-2.6)) < 1e-9
    assert sol.error < 1e-9
    sol = solve(LOGISTIC, {"x0": 0.1, "time": 3.0})
    exact = 1 / (1 + 9 * math.exp(-3.0))
    assert abs(sol.state["x"] - exact) < 1e-9


def test_flow_value_and_errors() -> None:
    value, err = value_on_flow(X.symbol - X0.symbol, DECAY, {"x0": 0.5, "k": 1.0, "time": 1.0})
    assert abs(value - (0.5 * math.exp(-1) - 0.5)) < 1e-9 and err < 1e-8
    assert solve(DECAY, {"x0": 0.5, "k": 1.0, "time": 0.0}).state["x"] == 0.5
    with pytest.raises(DefinitionError, match="no value for k"):
        solve(DECAY, {"x0": 0.5, "time": 1.0})
    with pytest.raises(DefinitionError, match="negative time"):
        solve(DECAY, {"x0": 0.5, "k": 1.0, "time": -1.0})
    with pytest.raises(DefinitionError, match="same"):
        Flow(state=(X,), rhs=(), initial=(X0,), time=TIME)


def test_flow_state_stays_in_its_domain() -> None:
    # dx/dt = 1 pushes x past its upper end 1; the integrator holds it on the boundary
    push = Flow(state=(X,), rhs=(sp.Integer(1),), initial=(X0,), time=TIME)
    assert solve(push, {"x0": 0.5, "time": 2.0}).state["x"] == 1.0


def _decay_sim(rate_factor: float) -> Any:
    """A process whose mean follows dx/dt = -k x: x(t) = x0 exp(-k t), observed with unit noise."""
    def simulate(points: list[dict[str, Any]], n: int, gen: torch.Generator, device: torch.device) -> torch.Tensor:
        out = []
        for p in points:
            mean = p["x0"] * math.exp(-rate_factor * p["k"] * p["time"])
            noise = torch.randn(n, generator=gen, dtype=torch.float64, device=device) * 0.05
            out.append((mean + noise).unsqueeze(-1))
        return torch.stack(out)
    return simulate


def _theorem(claim: ProcessClaim) -> Theorem:
    return Theorem("t", Source("test"), params=(X, X0, K, TIME), claims=(claim,))


@pytest.mark.parametrize("factor,expected", [(1.0, Status.CONSISTENT), (1.1, Status.REFUTED)])
def test_flow_claim_checked_against_the_ode(factor: float, expected: Status) -> None:
    claim = ProcessClaim(title="x follows the decay flow", quantity="x(t)", value=X.symbol, flow=DECAY)
    check = MonteCarloCheck(claim=claim, simulate=_decay_sim(factor),
                            points=[{"x0": 0.9, "k": 1.0, "time": 1.0}, {"x0": 0.5, "k": 2.0, "time": 0.5}],
                            pilot_units=500)
    v = run_check(check, _theorem(claim), "flow", RunOptions(seed=1, samples=4000))
    assert v.status is expected, v.summary


def _constant_sim(values: dict[float, float]) -> Any:
    def simulate(points: list[dict[str, Any]], n: int, gen: torch.Generator, device: torch.device) -> torch.Tensor:
        return torch.stack([values[p["f"]] + 0.1 * torch.randn(n, 1, generator=gen, dtype=torch.float64)
                            for p in points])
    return simulate


@pytest.mark.parametrize("op,mean,expected", [(">", 0.2, Status.CONSISTENT), (">", -0.2, Status.REFUTED),
                                              ("<", -0.2, Status.CONSISTENT), ("<", 0.2, Status.REFUTED)])
def test_one_sided_claims(op: str, mean: float, expected: Status) -> None:
    claim = ProcessClaim(title="a sign", quantity="q", value=0, op=op)
    check = MonteCarloCheck(claim=claim, simulate=_constant_sim({1.0: mean}), points=[{"f": 1.0}])
    v = run_check(check, _theorem(claim), "sign", RunOptions(seed=0, samples=2000))
    assert v.status is expected, v.summary


def test_one_sided_claim_is_not_refuted_by_noise_at_the_bound() -> None:
    claim = ProcessClaim(title="a sign", quantity="q", value=0, op=">")
    check = MonteCarloCheck(claim=claim, simulate=_constant_sim({1.0: 0.0}), points=[{"f": 1.0}])
    v = run_check(check, _theorem(claim), "sign", RunOptions(seed=3, samples=2000))
    assert v.status is Status.CONSISTENT


def test_one_sided_and_asymptotic_do_not_mix() -> None:
    with pytest.raises(DefinitionError, match="one-sided"):
        ProcessClaim(title="x", quantity="q", value=0, op="<", var=K, order=1)
    with pytest.raises(DefinitionError, match="op must be"):
        ProcessClaim(title="x", quantity="q", value=0, op="!=")


def test_measured_threshold_interpolates_the_sign_change() -> None:
    from checks.luo2019.learning_rates import measured_threshold

    # raw statistic y = eta - 2 (sign change at 2); rows hold the signed estimate s * y
    rows = [{"method": "wn", "activation": "relu", "f": f, "eta_eff": 2 * f,
             "estimate": (1 if f > 1 else -1) * (2 * f - 2), "stderr": 0.01} for f in (0.5, 0.9, 1.2, 1.5)]
    found = measured_threshold(rows)
    (entry,) = found["thresholds"]
    assert abs(entry["measured"] - 2.0) < 1e-12 and entry["stderr"] > 0
    rows_no_change = [dict(r, estimate=-1.0 if r["f"] < 1 else 1.0) for r in rows]  # y > 0 everywhere
    assert "no sign change" in measured_threshold(rows_no_change)["summary"]


def test_student_t_thresholds() -> None:
    from bnsym.mc.stats import OrderFit, normal_quantile, student_t_quantile

    assert abs(student_t_quantile(0.975, 10) - 2.2281388519862744) < 1e-9
    assert abs(student_t_quantile(0.995, 1) - 63.656741162871583) < 1e-6
    assert student_t_quantile(1 - 1e-4, 10**6) == normal_quantile(1 - 1e-4)
    assert student_t_quantile(1 - 1e-4, 95) > normal_quantile(1 - 1e-4) * 1.03
    known = OrderFit([10, 20, 40], [0.1, 0.05, 0.025], [0.01] * 3, [1.0] * 3, 1, 1e-3)
    estimated = OrderFit([10, 20, 40], [0.1, 0.05, 0.025], [0.01] * 3, [1.0] * 3, 1, 1e-3, units=50)
    assert estimated.critical > known.critical and estimated.resolution > known.resolution


def test_non_finite_estimates_are_undecided_not_refuted() -> None:
    claim = ProcessClaim(title="a sign", quantity="q", value=0, op=">")

    def diverged(points: list[dict[str, Any]], n: int, gen: torch.Generator, device: torch.device) -> torch.Tensor:
        return torch.full((len(points), n, 1), math.nan, dtype=torch.float64)

    check = MonteCarloCheck(claim=claim, simulate=diverged, points=[{"f": 1.0}])
    v = run_check(check, _theorem(claim), "sign", RunOptions(seed=0, samples=100))
    assert v.status is Status.UNDECIDED and "non-finite" in v.summary
