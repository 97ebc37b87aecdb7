"""Kohler et al. (section K): the GDNP simulators against autograd and linear algebra, their argument
checks, the checks wired to their claims, and mutants of the closed forms refuted by their checks."""

from __future__ import annotations

import math

import pytest
import sympy as sp
import torch

from bnsym import ProcessClaim, Source, Theorem
from bnsym.errors import UsageError
from bnsym.mc.engine import MonteCarloCheck, RunOptions, run_check
from bnsym.sim import gdnp as G
from bnsym.sim.quadratic import random_problems
from bnsym.verdict import Status
from checks.kohler2019 import halfspaces as HC
from checks.kohler2019 import least_squares as LC
from derivations.kohler2019 import processes as P


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.fixture
def problems(one_torch_thread):
    return random_problems(6, 4, 1.0, 50.0, _gen(1))


def test_rayleigh_gradient_matches_autograd(problems):
    S, u = problems.H, -problems.g
    w = torch.randn(6, 4, generator=_gen(2), dtype=torch.float64, requires_grad=True)
    (auto,) = torch.autograd.grad(G.rayleigh(w, S, u).sum(), w)
    torch.testing.assert_close(G.rayleigh_grad(w.detach(), S, u), auto, rtol=1e-12, atol=1e-12)


def test_rayleigh_minimum_is_minus_u_S_inverse_u(problems):
    S, u = problems.H, -problems.g
    closed = -(u * torch.linalg.solve(S, u.unsqueeze(-1)).squeeze(-1)).sum(-1)
    torch.testing.assert_close(G.rayleigh_minimum(S, u), closed, rtol=1e-12, atol=0)
    w = torch.randn(6, 4, generator=_gen(3), dtype=torch.float64)
    torch.testing.assert_close(G.rayleigh_gap(w, S, u), G.rayleigh(w, S, u) - closed, rtol=1e-9, atol=1e-12)
    w_opt = torch.linalg.solve(S, u.unsqueeze(-1)).squeeze(-1)  # the minimiser S^-1 u: gap 0
    assert float(G.rayleigh_gap(w_opt, S, u).abs().max()) < 1e-14 * float(closed.abs().min())


def test_gdnp_on_least_squares_descends_and_lengthens(problems):
    runs = G.least_squares(problems, 50, _gen(4), scales=(1.0,), learning_rates=(1.0,))
    gap = runs.gdnp[0]
    assert torch.all(gap[:, 1:] <= gap[:, :-1] * (1 + 1e-12))
    assert torch.all(runs.gd[0, :, 1:] <= runs.gd[0, :, :-1] * (1 + 1e-12))
    assert torch.allclose(runs.gd[0, :, 0], gap[:, 0], rtol=1e-10)  # the same start, at the optimal length


def test_gdnp_takes_the_step_eta_t(problems):
    """The first GDNP step is w - eta_0 grad rho(w_0) with eta_0 = w_0'S w_0/(2 Lmax |rho(w_0)|), from the same
    w_0 ~ N(0, I) the simulator draws (a step scaled by 1.5 or 0.5 gives another gap)."""
    S, u = problems.H, -problems.g
    runs = G.least_squares(problems, 1, _gen(8), scales=(1.0,))
    w0 = torch.randn(problems.B, problems.d, generator=_gen(8), dtype=torch.float64)
    L = problems.eigenvalues[:, -1]
    eta = torch.einsum("bi,bij,bj->b", w0, S, w0) / (2 * L * G.rayleigh(w0, S, u).abs())
    for factor, same in ((1.0, True), (1.5, False), (0.5, False)):
        w1 = w0 - (factor * eta).unsqueeze(-1) * G.rayleigh_grad(w0, S, u)
        close = torch.allclose(runs.gdnp[0, :, 1], G.rayleigh_gap(w1, S, u), rtol=1e-9, atol=0)
        assert close is same, factor


def test_gd_diverges_to_inf_or_nan_without_raising(problems):
    runs = G.least_squares(problems, 400, _gen(5), scales=(), learning_rates=(3.0,))
    last = runs.gd[0, :, -1]
    assert torch.all(~torch.isfinite(last) | (last > 1e10))


@pytest.fixture
def halfspaces(one_torch_thread):
    return G.halfspace_problems(random_problems(3, 3, 1.0, 10.0, _gen(6)), 200, 1.0, _gen(7))


def test_halfspace_gradients_match_autograd(halfspaces):
    v = torch.randn(3, 3, generator=_gen(8), dtype=torch.float64, requires_grad=True)
    (auto,) = torch.autograd.grad(G.halfspace_risk(halfspaces, v).sum(), v)
    torch.testing.assert_close(G.halfspace_grad(halfspaces, v.detach()), auto, rtol=1e-12, atol=1e-12)
    w = torch.randn(3, 3, generator=_gen(9), dtype=torch.float64, requires_grad=True)
    g = torch.tensor([0.7, -1.3, 2.0], dtype=torch.float64)
    norm = torch.einsum("bi,bij,bj->b", w, halfspaces.S, w).sqrt()
    (auto_w,) = torch.autograd.grad(G.halfspace_risk(halfspaces, (g / norm).unsqueeze(-1) * w).sum(), w)
    torch.testing.assert_close(G.direction_gradient(halfspaces, w.detach(), g), auto_w, rtol=1e-11, atol=1e-12)


def test_loss_derivatives_match_autograd():
    t = torch.linspace(-6, 6, 41, dtype=torch.float64, requires_grad=True)
    (d1,) = torch.autograd.grad(G.phi(t).sum(), t, create_graph=True)
    (d2,) = torch.autograd.grad(d1.sum(), t)
    torch.testing.assert_close(d1.detach(), G.phi1(t.detach()), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(d2, G.phi2(t.detach()), rtol=1e-10, atol=1e-12)


def test_bisection_and_newton_find_the_optima(halfspaces):
    w = torch.randn(3, 3, generator=_gen(10), dtype=torch.float64)
    norm = torch.einsum("bi,bij,bj->b", w, halfspaces.S, w).sqrt()
    g = G._bisect_length(halfspaces, w, norm, 100.0, 60)
    grid = torch.linspace(-20, 20, 40001, dtype=torch.float64)
    risks = torch.stack([G.halfspace_risk(halfspaces, (x / norm).unsqueeze(-1) * w) for x in grid[::100]])
    coarse = grid[::100][risks.argmin(0)]
    assert torch.all((g - coarse).abs() <= 0.1 + 1e-12)  # the grid's spacing
    f_star = G.halfspace_minimum(halfspaces)
    f_gdnp = G.halfspace_gdnp(halfspaces, 200, _gen(11))[0, :, -1]
    assert torch.all(f_gdnp >= f_star - 1e-12) and torch.all(f_gdnp - f_star < 1e-6)


def test_bisection_outside_the_bracket_is_nan(halfspaces):
    w = torch.randn(3, 3, generator=_gen(12), dtype=torch.float64)
    norm = torch.einsum("bi,bij,bj->b", w, halfspaces.S, w).sqrt()
    assert torch.all(torch.isnan(G._bisect_length(halfspaces, w, norm, 1e-9, 10)))


@pytest.mark.parametrize("call", [
    lambda p, hp: G.least_squares(p, 0, _gen()),
    lambda p, hp: G.least_squares(p, 5, _gen(), scales=(-1.0,)),
    lambda p, hp: G.least_squares(p, 5, "not a generator"),
    lambda p, hp: G.halfspace_problems(p, 1, 1.0, _gen()),
    lambda p, hp: G.halfspace_problems(p, 10, float("nan"), _gen()),
    lambda p, hp: G.halfspace_gdnp(hp, 5, _gen(), bisection_steps=0),
    lambda p, hp: G.halfspace_gdnp(hp, 5, _gen(), bracket=0.0),
])
def test_argument_errors(problems, halfspaces, call):
    with pytest.raises(UsageError):
        call(problems, halfspaces)


def test_checks_are_wired_to_their_claims():
    from bnsym.registry import load  # noqa: PLC0415

    reg, _ = load(["kohler2019"], with_checks=True)
    for cid in ("kohler2019.K3.ls_envelope", "kohler2019.K3.ls_one_step", "kohler2019.K3.hs_envelope",
                "kohler2019.K3.stein_sampled", "kohler2019.K3.gd_vs_gdnp"):
        assert reg.checks.get(cid), cid
    assert "kohler2019.fig_gdnp" in reg.figures


def test_nan_gaps_propagate_to_the_statistic():
    gap = torch.tensor([[1.0, 0.5, float("nan"), 0.1]], dtype=torch.float64)
    stats = LC.envelope_statistics(gap, torch.zeros_like(gap), torch.tensor([1e-9], dtype=torch.float64), 1)
    assert torch.all(torch.isnan(stats))


# -- mutants: a wrong closed form is refuted ------------------------------------------------------------------
def _run(claim: ProcessClaim, check: MonteCarloCheck, samples: int | None = None) -> Status:
    theorem = Theorem(title="mutant", source=Source("test"), params=P.K3.params, claims=(claim,))
    return run_check(check, theorem, "mutant", RunOptions(seed=3, samples=samples)).status


_SMALL = [{"d": 5, "kappa": 10.0, "T": 300}]


@pytest.mark.parametrize("mutant, column", [
    (P.envelope.subs(P.steps.symbol, sp.Rational(11, 10) * P.steps.symbol), 0),  # exponent 2t -> 2.2t
    (P.envelope.subs(P.mu.symbol, sp.Rational(11, 10) * P.mu.symbol), 1),  # mu/Lmax -> 1.1 mu/Lmax
])
def test_a_wrong_envelope_is_refuted(one_torch_thread, mutant, column):
    claim = P.ls_envelope if column == 0 else P.ls_one_step
    check = LC._envelope_check(claim, column, simulate=LC.simulator(mutant), points=_SMALL, units=12)
    assert _run(claim, check) is Status.REFUTED
    honest = LC._envelope_check(claim, column, points=_SMALL, units=12)
    assert _run(claim, honest) is Status.CONSISTENT


def test_one_problem_above_the_envelope_refutes(one_torch_thread):
    def one_bad(points, n, gen, device):
        x = torch.full((len(points), n, 2), -1e-3, dtype=torch.float64)
        x[0, n // 2] = 50.0  # one group of problems far above the bound, the rest just below
        return x

    check = LC._envelope_check(P.ls_envelope, 0, simulate=one_bad, points=_SMALL, units=48)
    assert _run(P.ls_envelope, check) is Status.REFUTED


def test_a_diverged_simulation_is_undecided(one_torch_thread):
    def diverged(points, n, gen, device):
        return torch.full((len(points), n, 2), float("nan"), dtype=torch.float64)

    check = LC._envelope_check(P.ls_envelope, 0, simulate=diverged, points=_SMALL, units=12)
    assert _run(P.ls_envelope, check) is Status.UNDECIDED


def test_a_ten_percent_wrong_stein_value_is_refuted(one_torch_thread):
    wrong = ProcessClaim(title="Stein, 10% off", quantity=P.stein_sampled.quantity, value=1.1 * P.stein_sampled.value)
    points = HC.stein_points()[1:2]
    mutant = MonteCarloCheck(claim=wrong, simulate=HC.simulate_stein, points=points, process="stein mutant")
    assert _run(wrong, mutant, samples=40_000) is Status.REFUTED
    honest = MonteCarloCheck(claim=P.stein_sampled, simulate=HC.simulate_stein, points=points, process="stein")
    assert _run(P.stein_sampled, honest, samples=40_000) is Status.CONSISTENT


@pytest.mark.montecarlo
def test_halfspace_envelope_check_holds():
    check = MonteCarloCheck(claim=P.hs_envelope, simulate=HC.simulate_halfspaces, points=HC.HS_POINTS[:1],
                            process="halfspaces", unit_size="d", pilot_units=6, max_units=6, min_chunk=2)
    assert _run(P.hs_envelope, check) is Status.MEASURED
    assert math.isfinite(HC.simulate_halfspaces(HC.HS_POINTS[:1], 2, _gen(13), torch.device("cpu")).sum().item())


def test_cross_layer_blocks_match_the_autograd_hessian(one_torch_thread):
    from checks.kohler2019 import curvature as CV  # noqa: PLC0415

    gen = _gen(14)
    x = torch.randn(16, CV.D_IN, generator=gen, dtype=torch.float64)
    y = torch.randn(16, generator=gen, dtype=torch.float64)
    weights = CV._init(gen, torch.device("cpu"))
    for bn in (False, True):
        def loss(w4: torch.Tensor, w1: torch.Tensor, bn: bool = bn) -> torch.Tensor:
            ws = [w1] + weights[1:3] + [w4] + weights[4:]
            return ((CV._forward(x, ws, bn) - y) ** 2).mean()

        hess = torch.autograd.functional.hessian(loss, (weights[3], weights[0]))
        ws = [w.clone().requires_grad_(True) for w in weights]
        value = ((CV._forward(x, ws, bn) - y) ** 2).mean()
        torch.testing.assert_close(CV._block_norm(value, ws, 4, 1), torch.linalg.vector_norm(hess[0][1]),
                                   rtol=1e-10, atol=0)
