"""Tests of the reduced-state online-SGD simulator (``online_sgd_reduced``) against the N-dimensional one.

The reduced chain claims the law of the N-dimensional process; the tests hold it to that claim:
one reduced step equals the N-dimensional step's order parameters when both see the same input,
the chi-square sampler has the moments of its law, the two simulators agree in the means and
variances of (gamma, R, L) at several times for every student within a Bonferroni threshold, a
reduction with the wrong degrees of freedom is told apart when the runs give the power, and the
documented draws, blocks, fixed points and divergence marking hold. Each statistical test has a
false-alarm rate of ALPHA.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from bnsym.errors import UsageError
from bnsym.mc.stats import bonferroni_z, normal_quantile
from bnsym.sim import teacher_student as TS
from bnsym.sim.teacher_student import Student, chi_square, online_sgd, online_sgd_reduced, reduced_sgd_step, sgd_step

pytestmark = pytest.mark.usefixtures("one_torch_thread")

ALPHA = 0.001
DEVICE = torch.device("cpu")
STUDENTS = [(method, activation) for method in ("bn", "wn", "sgd") for activation in ("relu", "erf")]
VARIANTS = {"bn": ("plain", "printed", "frozen"), "wn": ("plain", "frozen"), "sgd": ("plain",)}
OPTIONS = {"plain": {}, "printed": {"gamma_rate": "printed"}, "frozen": {"frozen_length": True}}


def _generator(seed: int) -> torch.Generator:
    return torch.Generator(device=DEVICE).manual_seed(seed)


def _student(method: str, activation: str, variant: str = "plain") -> Student:
    return Student(method, activation, zeta=0.25 if method == "bn" else 0.0, **OPTIONS[variant])


def _start(method: str) -> dict:
    return dict(gamma0=1.0, R0=0.2, L0=1.0) if method != "sgd" else dict(gamma0=0.6, R0=0.2, L0=None)


# --- one step ---------------------------------------------------------------------------------------------------


def _state_and_input(N: int, rows: int, seed: int, along_teacher: bool = False):
    """w, gamma, x, w* (||w*|| = sqrt(N)) and the reduced coordinates of w and x in the basis (u*, e)."""
    generator = _generator(seed)
    w_star = torch.randn(rows, N, generator=generator, dtype=torch.float64)
    u_star = w_star / w_star.norm(dim=-1, keepdim=True)
    w_star = math.sqrt(N) * u_star
    w = 1.3 * torch.randn(rows, N, generator=generator, dtype=torch.float64)
    if along_teacher:
        w = -1.3 * math.sqrt(N) * u_star  # R = -1 (at R = 1 a wn student would be the teacher, a fixed point)
    x = torch.randn(rows, N, generator=generator, dtype=torch.float64) / math.sqrt(N)
    gamma = 0.5 + torch.rand(rows, generator=generator, dtype=torch.float64)
    parallel = (w * u_star).sum(-1)
    off = w - parallel.unsqueeze(-1) * u_star
    perpendicular = off.norm(dim=-1)
    z1 = math.sqrt(N) * (x * u_star).sum(-1)
    if along_teacher:  # no e: all of x off u* goes into rest (z2 = 0), the law the docstring gives for q = 0
        z2 = torch.zeros(rows, dtype=torch.float64)
        y = math.sqrt(N) * x - z1.unsqueeze(-1) * u_star
    else:
        e = off / perpendicular.unsqueeze(-1)
        z2 = math.sqrt(N) * (x * e).sum(-1)
        y = math.sqrt(N) * x - z1.unsqueeze(-1) * u_star - z2.unsqueeze(-1) * e
    return w, gamma, x, w_star, u_star, parallel, perpendicular, torch.stack((z1, z2), -1), y.square().sum(-1)


STEP_CASES = [(m, a, v, along) for m, a in STUDENTS for v in VARIANTS[m] for along in (False, True)]


@pytest.mark.parametrize("method, activation, variant, along_teacher", STEP_CASES)
def test_one_reduced_step_is_the_n_dimensional_step(method, activation, variant, along_teacher):
    """The same x fed to sgd_step (N-dimensional) and, through its coordinates, to reduced_sgd_step."""
    N, rows = 30, 6
    student = _student(method, activation, variant)
    w, gamma, x, w_star, u_star, p, q, z, rest = _state_and_input(N, rows, seed=5, along_teacher=along_teacher)
    if method == "wn":
        gamma = torch.ones(rows, dtype=torch.float64)
    eta = torch.linspace(0.2, 2.5, rows, dtype=torch.float64)
    target = 1.7 * math.sqrt(N) if variant == "frozen" else None
    new_w, new_gamma = sgd_step(student, w, gamma, x, w_star, eta, target_norm=target)
    new_p, new_q, reduced_gamma = reduced_sgd_step(student, N, p, q, gamma, z, rest, eta, target_norm=target)
    expected_p = (new_w * u_star).sum(-1)
    expected_q = (new_w - expected_p.unsqueeze(-1) * u_star).norm(dim=-1)
    assert not (torch.allclose(expected_p, p) and torch.allclose(expected_q, q))  # the step moved the state
    scale = math.sqrt(N)
    torch.testing.assert_close(new_p / scale, expected_p / scale, rtol=0, atol=1e-12)
    torch.testing.assert_close(new_q / scale, expected_q / scale, rtol=0, atol=1e-12)
    torch.testing.assert_close(reduced_gamma, new_gamma, rtol=0, atol=1e-12)


def test_reduced_step_arguments_are_checked():
    one = torch.ones(3, dtype=torch.float64)
    with pytest.raises(UsageError, match="coordinates"):
        reduced_sgd_step(Student("bn", "relu"), 10, one, one, 1.0, torch.ones(3, dtype=torch.float64), one, 0.5)
    with pytest.raises(UsageError, match="student must be a Student"):
        reduced_sgd_step("bn", 10, one, one, 1.0, torch.ones(3, 2, dtype=torch.float64), one, 0.5)


# --- the chi-square sampler -------------------------------------------------------------------------------------


@pytest.mark.parametrize("dof", [1, 8, 248])
def test_chi_square_has_mean_k_and_variance_2k(dof):
    """z-tests of the sample mean (known variance 2k) and sample variance (known fourth moment) of n draws.

    The central fourth moment of chi^2_k is 12 k (k + 4), so the sample variance has variance
    (12 k (k + 4) - 4 k^2) / n to first order."""
    n = 40_000
    draws = chi_square(dof, (n,), _generator(dof), DEVICE).numpy()
    assert draws.shape == (n,) and draws.dtype == np.float64 and bool((draws >= 0).all())
    z = bonferroni_z(ALPHA, 2)
    assert abs(draws.mean() - dof) / math.sqrt(2 * dof / n) < z
    assert abs(draws.var(ddof=1) - 2 * dof) / math.sqrt((12 * dof * (dof + 4) - 4 * dof**2) / n) < z


def test_chi_square_reproducible_zero_dof_and_dtype():
    first = chi_square(6, (5, 4), _generator(1), DEVICE, torch.float32)
    assert first.shape == (5, 4) and first.dtype == torch.float32
    assert torch.equal(first, chi_square(6, (5, 4), _generator(1), DEVICE, torch.float32))
    assert not torch.equal(first, chi_square(6, (5, 4), _generator(2), DEVICE, torch.float32))
    assert torch.equal(chi_square(0, (3,), _generator(1), DEVICE), torch.zeros(3, dtype=torch.float64))
    with pytest.raises(UsageError, match="dof must be an integer >= 0"):
        chi_square(-1, (3,), _generator(1), DEVICE)


# --- agreement in law with the N-dimensional run ----------------------------------------------------------------


def _moment_gaps(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """|mean difference| and |variance difference| of two samples along axis 0, each over its standard error.

    The sample variance's standard error is sqrt((m4 - s^4) / n), m4 the sample fourth central moment."""
    def moments(v: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        n = v.shape[0]
        var = v.var(axis=0, ddof=1)
        m4 = ((v - v.mean(axis=0)) ** 4).mean(axis=0)
        return v.mean(axis=0), var / n, var, (m4 - var**2) / n

    mean_a, se2_a, var_a, vse2_a = moments(a)
    mean_b, se2_b, var_b, vse2_b = moments(b)
    return np.abs(mean_a - mean_b) / np.sqrt(se2_a + se2_b), np.abs(var_a - var_b) / np.sqrt(vse2_a + vse2_b)


RUN = dict(N=20, etas=[0.5, 1.5], times=[0.25, 1.0, 2.0], device=DEVICE)
REPLICAS = 3000


@pytest.mark.parametrize("method, activation, variant",
                         [(m, a, "plain") for m, a in STUDENTS] + [("bn", "relu", "frozen"), ("wn", "erf", "frozen")])
def test_reduced_chain_agrees_in_law_with_the_n_dimensional_run(method, activation, variant):
    """Means and variances of every non-constant column (gamma, R, L; sgd's scale is its L) at 2 rates x 3 times.

    Columns that are constant by construction (gamma of wn, a frozen L) must be equal in both
    runs and are not tested statistically; the rest share one Bonferroni threshold."""
    student = _student(method, activation, variant)
    full = online_sgd(student, replicas=REPLICAS, generator=_generator(1), **_start(method), **RUN).numpy()
    reduced = online_sgd_reduced(student, replicas=REPLICAS, generator=_generator(2), **_start(method),
                                 **RUN).numpy()
    assert reduced.shape == full.shape == (2, REPLICAS, 3, 3)
    assert bool(np.isfinite(reduced).all()) and bool(np.isfinite(full).all())
    tested = [1] if method == "sgd" else [0, 1]  # sgd: column 0 repeats L
    constant = {"wn": [0]}.get(method, [])
    if variant == "frozen":
        constant = [*constant, 2]
    else:
        tested.append(2)
    if method == "wn":
        tested.remove(0)
    for c in constant:
        np.testing.assert_allclose(reduced[..., c], full[..., c], rtol=1e-12, atol=0)
    a = np.moveaxis(full[..., tested], 1, 0)  # [replicas, etas, times, columns]
    b = np.moveaxis(reduced[..., tested], 1, 0)
    mean_gap, variance_gap = _moment_gaps(a, b)
    z = bonferroni_z(ALPHA, 2 * mean_gap.size)
    assert float(mean_gap.max()) < z, f"mean gaps {mean_gap.round(2)} standard errors, z = {z:.2f}"
    assert float(variance_gap.max()) < z, f"variance gaps {variance_gap.round(2)} standard errors, z = {z:.2f}"


def test_a_reduction_with_n_degrees_of_freedom_is_told_apart(monkeypatch):
    """chi^2_N for ||y||^2 (as if the two in-span coordinates were not taken out) against the N-dimensional run.

    At N = 10 the wrong law adds 2 / N to the mean of ||x||^2 and so grows the length of a BN
    student too fast. The test shows it has power first: the shift of the mean L^2 at t = 2,
    measured as the paired difference of the right and wrong chains on common seeds and taken
    at the lower end of its z_{alpha/2} interval, must be at least (z_{alpha/2} + z_{0.999})
    standard errors of the unpaired comparison; then the wrong chain's mean must differ from the
    N-dimensional run's by more than z_{alpha/2} of those standard errors."""
    student = _student("bn", "relu")
    run = dict(N=10, etas=[1.5], times=[2.0], device=DEVICE, **_start("bn"))
    replicas = 4000
    full = online_sgd(student, replicas=replicas, generator=_generator(3), **run)[0, :, 0, 2].numpy() ** 2
    right = online_sgd_reduced(student, replicas=replicas, generator=_generator(4), **run)[0, :, 0, 2].numpy() ** 2

    def wrong_chi_square(dof, shape, generator, device, dtype=torch.float64):
        return chi_square(dof + 2, shape, generator, device, dtype)

    monkeypatch.setattr(TS, "chi_square", wrong_chi_square)
    wrong = online_sgd_reduced(student, replicas=replicas, generator=_generator(4), **run)[0, :, 0, 2].numpy() ** 2
    z = bonferroni_z(ALPHA, 1)
    paired = wrong - right
    shift_low = paired.mean() - z * paired.std(ddof=1) / math.sqrt(replicas)
    se = math.hypot(full.std(ddof=1), wrong.std(ddof=1)) / math.sqrt(replicas)
    assert shift_low >= (z + normal_quantile(0.999)) * se, f"no power: shift >= {shift_low:.3g}, se {se:.3g}"
    assert abs(wrong.mean() - full.mean()) / se > z


# --- the run ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["bn", "sgd"])
def test_first_step_follows_documented_draw_order(method):
    """Rebuild the first step from the documented draws: randn((K, 2, replicas)), then chi^2_{N-2} of (K, replicas)."""
    N, replicas, etas, steps = 25, 4, [0.5, 3.0], 3
    student = Student(method, "erf", zeta=0.1 if method == "bn" else 0.0)
    gamma0, R0, L0, length = (0.8, 0.3, 1.4, 1.4) if method == "bn" else (1.4, 0.3, None, 1.4)
    out = online_sgd_reduced(student, N, etas, replicas, [0.0, 1.0 / N, steps / N], gamma0=gamma0, R0=R0, L0=L0,
                             generator=_generator(9), device=DEVICE)
    generator = _generator(9)
    z = torch.randn((steps, 2, replicas), generator=generator, dtype=torch.float64)
    rest = chi_square(N - 2, (steps, replicas), generator, DEVICE)
    p0 = torch.full((replicas,), R0 * length * math.sqrt(N), dtype=torch.float64)
    q0 = torch.full((replicas,), math.sqrt(1 - R0**2) * length * math.sqrt(N), dtype=torch.float64)
    for e, eta in enumerate(etas):  # every learning rate sees the same draws
        p, q, gamma = reduced_sgd_step(student, N, p0, q0, gamma0, z[0].T, rest[0], eta)
        norm = torch.hypot(p, q)
        scale = gamma if method == "bn" else norm / math.sqrt(N)
        expected = torch.stack((scale, p / norm, norm / math.sqrt(N)), -1)
        torch.testing.assert_close(out[e, :, 1], expected, rtol=1e-13, atol=1e-14)
    initial = torch.tensor([gamma0, R0, length], dtype=torch.float64).expand(2, replicas, 3)
    torch.testing.assert_close(out[:, :, 0], initial, rtol=0, atol=1e-14)


def test_a_run_of_many_blocks_is_the_serial_run(monkeypatch):
    arguments = dict(N=20, etas=[0.5, 2.0], replicas=3, times=[0.0, 0.35, 1.5], gamma0=1.0, R0=0.2, L0=1.0,
                     device=DEVICE)
    student = Student("bn", "relu", zeta=0.25)
    one_block = online_sgd_reduced(student, generator=_generator(12), **arguments)
    monkeypatch.setattr(TS, "REDUCED_BLOCK_BYTES", 4 * 3 * 3 * 8)  # 4 steps per block: 8 blocks for 30 steps
    ahead = online_sgd_reduced(student, generator=_generator(12), **arguments)

    def in_turn(draw, sizes, device):
        for k in sizes:
            yield draw(k)

    monkeypatch.setattr(TS, "_drawn_ahead", in_turn)
    serial = online_sgd_reduced(student, generator=_generator(12), **arguments)
    assert torch.equal(ahead, serial)
    assert ahead.shape == one_block.shape and not torch.equal(ahead, one_block)  # other blocks, other numbers


@pytest.mark.parametrize("method, activation", [(m, a) for m in ("wn", "sgd") for a in ("relu", "erf")])
def test_teacher_is_a_fixed_point(method, activation):
    """R0 = 1 (no perpendicular part): the student is the teacher (up to scale for wn) and stays there."""
    L0 = 1.7 if method == "wn" else None
    out = online_sgd_reduced(Student(method, activation), N=50, etas=[0.5, 2.0], replicas=3, times=[0.0, 1.0, 2.0],
                             gamma0=1.0, R0=1.0, L0=L0, generator=_generator(0), device=DEVICE)
    expected = torch.tensor([1.0, 1.0, 1.0 if L0 is None else L0], dtype=torch.float64).expand_as(out)
    torch.testing.assert_close(out, expected, rtol=0, atol=1e-12)


def test_divergent_runs_give_nan_and_spare_the_others():
    out = online_sgd_reduced(Student("sgd", "relu"), N=50, etas=[0.1, 1e4], replicas=4, times=[0.0, 1.0, 20.0],
                             gamma0=1.0, R0=0.2, generator=_generator(0), device=DEVICE)
    assert bool(torch.isfinite(out[0]).all())
    assert bool(torch.isnan(out[1, :, -1]).all())
    assert bool(torch.isfinite(out[:, :, 0]).all())


def test_float32_progress_and_reproducibility():
    calls = []
    arguments = dict(N=40, etas=[0.3, 1.2], replicas=3, times=[0.0, 3.0], gamma0=1.0, R0=0.2, device=DEVICE)
    out = online_sgd_reduced(Student("bn", "relu"), generator=_generator(4), dtype=torch.float32,
                             progress=lambda done, total: calls.append((done, total)), **arguments)
    assert out.dtype == torch.float32 and bool(torch.isfinite(out).all())
    assert calls and calls[-1] == (120, 120)
    again = online_sgd_reduced(Student("bn", "relu"), generator=_generator(4), dtype=torch.float32, **arguments)
    assert torch.equal(out, again)


@pytest.mark.parametrize("change, pattern", [
    ({"N": 1}, "N must be an integer >= 2, got 1"),
    ({"etas": [0.1, -0.2]}, "etas must be >= 0"),
    ({"R0": -1.0}, r"R0 must lie in \(-1, 1\]"),
    ({"dtype": torch.float16}, "dtype must be torch.float64 or torch.float32"),
    ({"generator": 3}, "generator must be a torch.Generator"),
    ({"student": Student("sgd", "relu"), "L0": 2.0}, "method 'sgd' takes L0 = gamma0"),
])
def test_bad_run_arguments_are_usage_errors(change, pattern):
    arguments = dict(student=Student("bn", "relu"), N=10, etas=[0.1], replicas=2, times=[0.0, 1.0], gamma0=1.0,
                     R0=0.0, L0=1.0, generator=_generator(0), device=DEVICE)
    arguments.update(change)
    with pytest.raises(UsageError, match=pattern):
        online_sgd_reduced(**arguments)
