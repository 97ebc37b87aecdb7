"""Tests of the BNGD and GD simulator (``bnsym.sim.bngd``) and the Cai et al. checks.

The simulator is checked against the process itself, never a formula under test: the hand-written
steps against torch.autograd of the population losses, the norm growth and the scaling law of orbits
as properties of the simulated runs (d = 50, float64), the minimum value from the problem's moments,
divergence recorded as inf/nan, the argument checks. Then the checks' wiring, and mutants: a closed
form 10% off is refuted by the relevant check at small samples.
"""

from __future__ import annotations

import dataclasses

import pytest
import sympy as sp
import torch

from bnsym import Source, Theorem
from bnsym.claims import ProcessClaim
from bnsym.errors import UsageError
from bnsym.mc.engine import MonteCarloCheck, RunOptions, run_check
from bnsym.sim import bngd as S
from bnsym.sim.quadratic import random_problems
from bnsym.verdict import Status

pytestmark = pytest.mark.usefixtures("one_torch_thread")
DEVICE = torch.device("cpu")


def _gen(seed: int) -> torch.Generator:
    return torch.Generator(device=DEVICE).manual_seed(seed)


def _setup(B: int = 4, d: int = 6, seed: int = 0, sigma: float = 0.3):
    gen = _gen(seed)
    problems = random_problems(B, d, 0.05, 2.0, gen, DEVICE, sigma=sigma)
    a0, w0 = S.random_start(problems, gen)
    return problems, a0, w0


# -- the steps against autograd ------------------------------------------------------------------------
def test_bngd_step_is_the_autograd_gradient_step():
    problems, a0, w0 = _setup()
    eps, eps_a = [0.7, 3.0], [1.0, 0.4]
    run = S.bngd(problems, eps, eps_a, a0, w0, 1)
    a = a0.clone().requires_grad_(True)
    w = w0.clone().requires_grad_(True)
    da, dw = torch.autograd.grad(S.loss_bn(problems, a, w).sum(), (a, w))
    for i, (e, ea) in enumerate(zip(eps, eps_a)):
        assert torch.allclose(run.a[i], a0 - ea * da, rtol=1e-12, atol=1e-12)
        assert torch.allclose(run.w[i], w0 - e * dw, rtol=1e-12, atol=1e-12)


def test_gd_step_is_the_autograd_gradient_step():
    problems, _, w0 = _setup()
    run = S.gd(problems, [0.3], w0, 1)
    w = w0.clone().requires_grad_(True)
    (dw,) = torch.autograd.grad(S.loss_plain(problems, w).sum(), (w,))
    assert torch.allclose(run.w[0], w0 - 0.3 * dw, rtol=1e-12, atol=1e-12)


def test_minimum_value_is_the_loss_at_the_teacher():
    problems, _, _ = _setup(sigma=0.5)
    j_star = S.minimum_value(problems)
    assert torch.allclose(j_star, S.loss_plain(problems, problems.w_star), rtol=1e-12)
    u_h = torch.sqrt(torch.einsum("bi,bij,bj->b", problems.w_star, problems.H, problems.w_star))
    assert torch.allclose(j_star, S.loss_bn(problems, u_h, 2.5 * problems.w_star), rtol=1e-12)
    assert torch.allclose(j_star, torch.full_like(j_star, 0.5**2 / 2), rtol=1e-12)


# -- invariants of the simulated runs ----------------------------------------------------------------------
def test_norm_growth_along_a_run_at_d50():
    problems, a0, w0 = _setup(B=3, d=50, seed=1)
    eps = 5.0
    run = S.bngd(problems, [eps], 1.0, a0, w0, 30, snapshots=range(31))
    for k in range(30):
        a, w = run.snapshots[k]
        a_next, w_next = run.snapshots[k + 1]
        w = w[0].clone().requires_grad_(True)
        (dw,) = torch.autograd.grad(S.loss_bn(problems, a[0], w).sum(), (w,))
        lhs = (w_next[0] ** 2).sum(-1)
        rhs = (w.detach() ** 2).sum(-1) + eps**2 * (dw**2).sum(-1)
        assert torch.allclose(lhs, rhs, rtol=1e-12), k
        assert bool((lhs >= (w.detach() ** 2).sum(-1)).all())


def test_scaling_law_of_orbits():
    problems, a0, w0 = _setup(B=3, d=20, seed=2)
    s, eps = 3.0, 0.8
    base = S.bngd(problems, [eps], 0.7, a0, w0, 200)
    scaled = S.bngd(problems, [s**2 * eps], 0.7, a0, s * w0, 200)
    assert torch.allclose(scaled.a, base.a, rtol=1e-9, atol=1e-12)
    assert torch.allclose(scaled.w, s * base.w, rtol=1e-9, atol=1e-12)
    assert torch.allclose(scaled.gap0, base.gap0, rtol=1e-12)


def test_rates_share_the_start_and_match_single_runs():
    problems, a0, w0 = _setup(seed=3)
    both = S.bngd(problems, [0.5, 20.0], 1.0, a0, w0, 50, tol=1e-3)
    one = S.bngd(problems, [20.0], 1.0, a0, w0, 50, tol=1e-3)
    assert torch.allclose(both.w[1], one.w[0], rtol=1e-13)
    assert torch.equal(both.hit[1], one.hit[0])


def test_divergence_is_recorded_not_raised():
    problems, _, w0 = _setup(seed=4)
    run = S.gd(problems, [20.0], w0, 400, tol=1e-3)
    assert not bool(torch.isfinite(run.w).all())
    assert bool(torch.isinf(run.hit).all())
    assert bool((run.last_k < 400).all()) and bool(torch.isfinite(run.last_gap).all())


def test_rotated_problems_have_the_given_spectrum_and_teacher():
    p = S.rotated_problems(5, (1.0, 2.0, 4.0), (1.0, -1.0, 0.5), _gen(5), DEVICE)
    evals = torch.linalg.eigvalsh(p.H)
    assert torch.allclose(evals, torch.tensor([1.0, 2.0, 4.0], dtype=torch.float64).expand(5, 3), atol=1e-12)
    coords = torch.einsum("bij,bi->bj", p.basis, p.w_star)
    assert torch.allclose(coords.abs(), torch.tensor([1.0, 1.0, 0.5], dtype=torch.float64).expand(5, 3), atol=1e-12)


# -- argument checks ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs, message", [
    ({"eps": []}, "non-empty"),
    ({"eps": [0.1, -1.0]}, "eps\\[1\\]"),
    ({"eps": [float("nan")]}, "finite"),
    ({"eps_a": [1.0, 1.0]}, "one rate per eps"),
    ({"eps_a": 0.0}, "eps_a must be >"),
    ({"iterations": 0}, "iterations"),
    ({"tol": 1.5}, "tol must lie"),
    ({"w0": torch.zeros(4, 6, dtype=torch.float64)}, "nonzero"),
    ({"w0": torch.ones(3, 6, dtype=torch.float64)}, "shape"),
    ({"a0": [0.0] * 4}, "tensor"),
])
def test_bad_arguments_are_usage_errors(kwargs, message):
    problems, a0, w0 = _setup()
    args = {"eps": [0.1], "eps_a": 1.0, "a0": a0, "w0": w0, "iterations": 5, "tol": None, **kwargs}
    with pytest.raises(UsageError, match=message):
        S.bngd(problems, **args)


def test_a_non_generator_is_refused():
    problems, _, _ = _setup()
    with pytest.raises(UsageError):
        S.random_start(problems, "not a generator")  # type: ignore[arg-type]


# -- the checks: wiring and mutants --------------------------------------------------------------------------
def test_checks_and_figure_are_wired():
    from bnsym.registry import load

    reg, _ = load(["cai2019"], with_checks=True)
    for name in ("bngd_converges", "gd_threshold", "local_rate", "iterations_vs_eps", "converged_fraction",
                 "dimension_effect"):
        assert reg.checks.get(f"cai2019.C5.{name}"), name
    assert "cai2019.fig_bngd" in reg.figures


def _status(claim: ProcessClaim, check: MonteCarloCheck, samples: int) -> Status:
    from derivations.cai2019 import C5

    theorem = Theorem(title="mutant", source=Source("test"), params=C5.params, claims=(claim,))
    return run_check(dataclasses.replace(check, claim=claim), theorem, "mutant",
                     RunOptions(seed=7, samples=samples)).status


def test_local_rate_check_holds_and_refutes_a_10_percent_wrong_effective_rate():
    from checks.cai2019 import local_rate as LRC
    from derivations.cai2019 import convergence as C
    from derivations.cai2019 import jacobian as J
    from derivations.cai2019.symbols import eps

    wrong = J.RATE.subs(eps.symbol, sp.Rational(11, 10) * eps.symbol)  # eps_hat 10% too large
    mutant = dataclasses.replace(C.local_rate, value=sp.log(wrong))
    small = dataclasses.replace(LRC.CHECK, points=lambda: [p for p in LRC._points() if p["setting"] in ("s1", "s4")])
    assert _status(C.local_rate, small, 128) == Status.CONSISTENT
    assert _status(mutant, small, 128) == Status.REFUTED


def test_gd_threshold_check_refutes_a_10_percent_wrong_threshold():
    from checks.cai2019 import convergence as CV
    from derivations.cai2019 import convergence as C

    check = next(c for c in CV.CHECKS if c.claim is C.gd_threshold)
    wrong = [{**p, "epsilon": p["epsilon"] * 1.1} for p in CV._gd_points()]  # grid centred on 2.2/lambda_max
    assert _status(C.gd_threshold, check, 32) == Status.CONSISTENT
    assert _status(C.gd_threshold, dataclasses.replace(check, points=wrong), 32) == Status.REFUTED


@pytest.mark.parametrize("wrong", [lambda lam: 2 / lam**2, lambda lam: 2 * lam, lambda lam: 2 / lam**0.5])
def test_gd_threshold_check_refutes_a_threshold_not_proportional_to_1_over_lambda_max(wrong):
    """Forms equal to 2 at lambda_max = 1 but not 2/lambda_max fail at lambda_max = 1/4 or 4."""
    from checks.cai2019 import convergence as CV
    from derivations.cai2019 import convergence as C

    check = next(c for c in CV.CHECKS if c.claim is C.gd_threshold)
    points = [{**p, "epsilon": p["f"] * wrong(p["lambda_max"])} for p in CV._gd_points()]
    assert _status(C.gd_threshold, dataclasses.replace(check, points=points), 16) == Status.REFUTED


def test_statistics_mark_an_overflowed_run():
    from checks.cai2019.convergence import PROGRESS, statistics

    problems, a0, w0 = _setup(seed=6)
    T = 400
    diverged = S.gd(problems, [1e3], w0, T, tol=1e-4)  # overflows long before T
    assert bool(torch.isinf(statistics(diverged, T)[..., PROGRESS]).all())
    fine = S.gd(problems, [0.5], w0, T, tol=1e-4)
    assert bool((statistics(fine, T)[..., PROGRESS] < 0).all())


def test_statistics_turn_a_stalled_or_diverged_run_against_the_bound():
    from checks.cai2019.convergence import PROGRESS, REACHED, statistics

    problems, a0, w0 = _setup(seed=6)
    T = 50
    stalled = S.bngd(problems, [1e-6], 1.0, torch.zeros_like(a0), w0, T, tol=1e-4)  # a = 0 and tiny eps: stuck
    assert bool((statistics(stalled, T)[..., REACHED] == 0).all())
    diverged = S.gd(problems, [50.0], w0, T, tol=1e-4)
    assert bool((statistics(diverged, T)[..., PROGRESS] > 0).all())


@pytest.mark.montecarlo
def test_bngd_convergence_check_refutes_a_diverging_rate_a():
    """eps_a = 2.5 puts |1 - eps_a| > 1: a diverges and the convergence claim must fail."""
    from checks.cai2019 import convergence as CV
    from derivations.cai2019 import convergence as C

    check = next(c for c in CV.CHECKS if c.claim is C.bngd_converges)
    bad = [{**p, "epsilon_a": 2.5} for p in CV._bngd_points() if p["epsilon_a"] == 1.0]
    assert _status(C.bngd_converges, dataclasses.replace(check, points=bad), 32) == Status.REFUTED


def test_stop_at_hit_changes_no_statistic_the_checks_read() -> None:
    """Runs that leave the tensors at their hit record the same hit iterations, and the same gap there up to
    round-off, as runs that step to T; runs that never reach tol are unchanged too."""
    from bnsym.sim import bngd as S
    from checks.cai2019.convergence import _problems

    gen = torch.Generator().manual_seed(3)
    problems, a0, w0 = _problems(96, 10, gen, torch.device("cpu"))
    eps = [0.1, 1.0, 10.0, 400.0]  # slow, fast, fast, unstable: some runs never reach tol
    full = S.bngd(problems, eps, [1.0] * len(eps), a0, w0, 3000, tol=1e-4)
    early = S.bngd(problems, eps, [1.0] * len(eps), a0, w0, 3000, tol=1e-4, stop_at_hit=True)
    assert torch.equal(full.hit, early.hit)
    reached = torch.isfinite(full.hit)
    assert bool(reached.any()) and not bool(reached.all())
    assert torch.allclose(early.gap_at_hit[reached], full.gap_at_hit[reached], rtol=1e-9, atol=0.0)
