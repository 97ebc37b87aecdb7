"""Tests of the online-SGD teacher-student simulator (``bnsym.sim.teacher_student``).

They check the process itself, never a formula of the theory: the hand-written gradient step
against torch.autograd, the documented draw order, exact invariances of the dynamics (w.dw = 0
for normalised students, the teacher as a fixed point), reproducibility and argument checks.
"""

from __future__ import annotations

import math

import pytest
import torch

from bnsym.errors import UsageError
from bnsym.sim.teacher_student import Student, gaussian_pair_terms, online_sgd, sgd_step

DEVICE = torch.device("cpu")
STUDENTS = [(method, activation) for method in ("bn", "wn", "sgd") for activation in ("relu", "erf")]


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _generator(seed: int) -> torch.Generator:
    return torch.Generator(device=DEVICE).manual_seed(seed)


def _run(student: Student, seed: int = 0, **changes) -> torch.Tensor:
    arguments = dict(N=40, etas=[0.3, 1.2], replicas=3, times=[0.0, 0.5, 1.0], gamma0=1.0, R0=0.2,
                     generator=_generator(seed), device=DEVICE)
    arguments.update(changes)
    return online_sgd(student, **arguments)


# --- the step ---------------------------------------------------------------------------------------------------


def _activation(name: str, u: torch.Tensor) -> torch.Tensor:
    return torch.relu(u) if name == "relu" else torch.erf(u / math.sqrt(2.0))


def _loss(student: Student, w: torch.Tensor, gamma: torch.Tensor, x: torch.Tensor, w_star: torch.Tensor):
    """Sum over rows of the per-sample loss, written from its definition for autograd."""
    N = w.shape[-1]
    if student.method == "sgd":
        s = (w * x).sum(-1)
    else:
        s = gamma * math.sqrt(N) * (w * x).sum(-1) / w.norm(dim=-1)
    t = (w_star * x).sum(-1)
    loss = 0.5 * (_activation(student.activation, t) - _activation(student.activation, s)).square()
    return (loss + 0.5 * student.zeta * gamma.square()).sum()


def _random_state(N: int, rows: int, seed: int):
    generator = _generator(seed)
    w = torch.randn(rows, N, generator=generator, dtype=torch.float64) * 1.3
    w_star = torch.randn(rows, N, generator=generator, dtype=torch.float64)
    w_star = w_star / w_star.norm(dim=-1, keepdim=True) * math.sqrt(N)
    x = torch.randn(rows, N, generator=generator, dtype=torch.float64) / math.sqrt(N)
    gamma = 0.5 + torch.rand(rows, generator=generator, dtype=torch.float64)
    return w, gamma, x, w_star


VARIANTS = {"bn": ("plain", "printed", "frozen"), "wn": ("plain", "frozen"), "sgd": ("plain",)}
STEP_CASES = [(method, activation, variant) for method, activation in STUDENTS for variant in VARIANTS[method]]


@pytest.mark.parametrize("method, activation, variant", STEP_CASES)
def test_hand_step_is_an_autograd_gradient_step(method, activation, variant):
    options = {"plain": {}, "printed": {"gamma_rate": "printed"}, "frozen": {"frozen_length": True}}[variant]
    zeta = 0.3 if method == "bn" else 0.0
    student = Student(method, activation, zeta=zeta, **options)
    N, rows = 30, 6
    w, gamma, x, w_star = _random_state(N, rows, seed=3)
    if method == "wn":
        gamma = torch.ones(rows, dtype=torch.float64)
    eta = torch.linspace(0.2, 2.0, rows, dtype=torch.float64)
    target = 1.7 * math.sqrt(N) if variant == "frozen" else None

    w_leaf, gamma_leaf = w.clone().requires_grad_(True), gamma.clone().requires_grad_(True)
    _loss(student, w_leaf, gamma_leaf, x, w_star).backward()
    assert w_leaf.grad is not None and gamma_leaf.grad is not None
    expected_w = w - eta.unsqueeze(-1) * w_leaf.grad
    if target is not None:
        expected_w = expected_w * (target / expected_w.norm(dim=-1, keepdim=True))
    eta_gamma = eta if variant == "printed" else eta / N
    expected_gamma = gamma - eta_gamma * gamma_leaf.grad if method == "bn" else gamma

    w_before = w.clone()
    new_w, new_gamma = sgd_step(student, w, gamma, x, w_star, eta, target_norm=target)
    assert torch.equal(w, w_before)  # inputs untouched
    assert not torch.allclose(new_w, w)  # the step moved w
    torch.testing.assert_close(new_w, expected_w, rtol=1e-12, atol=1e-13)
    torch.testing.assert_close(new_gamma, expected_gamma, rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("method", ["bn", "sgd"])
def test_first_step_follows_documented_draw_order(method):
    """Rebuild the teacher, the initial student and the first input from the documented draws."""
    N, replicas, R0, L0, etas = 25, 4, 0.3, 1.4, [0.5, 3.0]
    student = Student(method, "erf", zeta=0.1 if method == "bn" else 0.0)
    gamma0, L0_arg = (0.8, L0) if method == "bn" else (L0, None)
    out = online_sgd(student, N, etas, replicas, [0.0, 1.0 / N], gamma0=gamma0, R0=R0, L0=L0_arg,
                     generator=_generator(9), device=DEVICE)

    generator = _generator(9)
    u_star = torch.randn(replicas, N, generator=generator, dtype=torch.float64)
    u_star = u_star / u_star.norm(dim=-1, keepdim=True)
    v = torch.randn(replicas, N, generator=generator, dtype=torch.float64)
    v = v - (v * u_star).sum(-1, keepdim=True) * u_star
    v = v / v.norm(dim=-1, keepdim=True)
    w_star = math.sqrt(N) * u_star
    w0 = L0 * math.sqrt(N) * (R0 * u_star + math.sqrt(1 - R0**2) * v)
    x = torch.randn(1, replicas, N, generator=generator, dtype=torch.float64)[0] / math.sqrt(N)
    for e, eta in enumerate(etas):  # every learning rate sees the same draws
        w1, gamma1 = sgd_step(student, w0, torch.full((replicas,), gamma0, dtype=torch.float64), x, w_star, eta)
        length = w1.norm(dim=-1) / math.sqrt(N)
        overlap = (w1 * w_star).sum(-1) / (w1.norm(dim=-1) * w_star.norm(dim=-1))
        scale = gamma1 if method == "bn" else length
        torch.testing.assert_close(out[e, :, 1], torch.stack((scale, overlap, length), -1), rtol=1e-11, atol=1e-12)


# --- the run ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["bn", "wn", "sgd"])
def test_shape_reproducibility_and_initial_record(method):
    student = Student(method, "relu")
    gamma0, R0, L0 = (0.7, -0.4, 1.6) if method == "bn" else (1.0, -0.4, 1.6) if method == "wn" else (1.3, -0.4, None)
    times = [0.0, 2.0, 0.5, 0.0]  # any order, repeats allowed
    first = _run(student, seed=4, times=times, gamma0=gamma0, R0=R0, L0=L0)
    second = _run(student, seed=4, times=times, gamma0=gamma0, R0=R0, L0=L0)
    other = _run(student, seed=5, times=times, gamma0=gamma0, R0=R0, L0=L0)
    assert first.shape == (2, 3, 4, 3) and first.dtype == torch.float64
    assert torch.equal(first, second)
    assert not torch.equal(first, other)
    assert bool(torch.isfinite(first).all())
    length0 = gamma0 if L0 is None else L0
    initial = torch.tensor([gamma0, R0, length0], dtype=torch.float64).expand(2, 3, 3)
    torch.testing.assert_close(first[:, :, 0], initial, rtol=0, atol=1e-12)
    assert torch.equal(first[:, :, 0], first[:, :, 3])
    assert not torch.equal(first[:, :, 1], first[:, :, 2])
    if method == "sgd":
        assert torch.equal(first[..., 0], first[..., 2])  # sgd's scale is its length
    if method == "wn":
        assert bool((first[..., 0] == 1).all())


@pytest.mark.parametrize("method", ["bn", "wn"])
@pytest.mark.parametrize("activation", ["relu", "erf"])
def test_length_never_decreases_and_freezes_on_request(method, activation):
    N, steps, L0 = 30, 60, 0.8
    times = [k / N for k in range(steps + 1)]
    free = _run(Student(method, activation), N=N, times=times, etas=[0.5, 4.0], L0=L0)
    lengths = free[..., 2]
    assert bool((lengths[..., 1:] >= lengths[..., :-1] * (1 - 1e-14)).all())  # rounding only
    assert bool((lengths[..., -1] > L0 * (1 + 1e-6)).all())  # and it does grow
    frozen = _run(Student(method, activation, frozen_length=True), N=N, times=times, etas=[0.5, 4.0], L0=L0)
    torch.testing.assert_close(frozen[..., 2], torch.full_like(frozen[..., 2], L0), rtol=1e-13, atol=0)
    assert bool((frozen[..., -1, 1] != frozen[..., 0, 1]).all())  # the direction still moves


@pytest.mark.parametrize("method, activation", [(m, a) for m in ("wn", "sgd") for a in ("relu", "erf")])
def test_teacher_is_a_fixed_point(method, activation):
    """With w along w* (R0 = 1, gamma = 1, and ||w|| = ||w*|| for sgd) s = t, so delta = 0 up to rounding."""
    L0 = 1.7 if method == "wn" else None
    out = _run(Student(method, activation), N=50, times=[0.0, 1.0, 2.0], etas=[0.5, 2.0], R0=1.0, L0=L0)
    length0 = 1.0 if L0 is None else L0
    expected = torch.tensor([1.0, 1.0, length0], dtype=torch.float64).expand_as(out)
    torch.testing.assert_close(out, expected, rtol=0, atol=1e-12)


def test_printed_gamma_rate_is_about_n_times_faster():
    N, steps = 100, 3
    arguments = dict(N=N, etas=[0.05], replicas=8, times=[steps / N], gamma0=1.0, R0=0.1, L0=1.0)
    corrected = _run(Student("bn", "erf"), seed=2, **arguments)
    printed = _run(Student("bn", "erf", gamma_rate="printed"), seed=2, **arguments)
    ratio = (printed[..., 0] - 1).abs().mean() / (corrected[..., 0] - 1).abs().mean()
    assert N / 2 < ratio < 2 * N


def test_divergent_runs_give_nan_without_error_and_spare_the_others():
    out = _run(Student("sgd", "relu"), N=50, etas=[0.1, 1e4], replicas=4, times=[0.0, 1.0, 20.0], gamma0=1.0,
               L0=None)
    assert bool(torch.isfinite(out[0]).all())
    assert bool(torch.isnan(out[1, :, -1]).all())
    assert bool(torch.isfinite(out[:, :, 0]).all())


def test_float32_and_progress():
    calls = []
    out = _run(Student("bn", "relu"), times=[0.0, 3.0], dtype=torch.float32,
               progress=lambda done, total: calls.append((done, total)))
    assert out.dtype == torch.float32 and bool(torch.isfinite(out).all())
    assert calls and calls[-1] == (120, 120)
    assert [done for done, _ in calls] == sorted(done for done, _ in calls)


@pytest.mark.parametrize("student_options, pattern", [
    ({"method": "adam"}, "method must be one of bn, wn, sgd, got 'adam'"),
    ({"activation": "tanh"}, "activation must be one of relu, erf, got 'tanh'"),
    ({"gamma_rate": "fast"}, "gamma_rate must be one of corrected, printed"),
    ({"zeta": -1.0}, "zeta must be >= 0.0"),
    ({"zeta": float("nan")}, "zeta must be a finite real"),
    ({"frozen_length": 1}, "frozen_length must be True or False"),
    ({"method": "wn", "zeta": 0.1}, "zeta .* applies to method 'bn' only"),
    ({"method": "sgd", "gamma_rate": "printed"}, "gamma_rate applies to method 'bn' only"),
    ({"method": "sgd", "frozen_length": True}, "frozen_length applies to methods 'bn' and 'wn' only"),
])
def test_bad_student_is_a_usage_error(student_options, pattern):
    options = {"method": "bn", "activation": "relu", **student_options}
    with pytest.raises(UsageError, match=pattern):
        Student(**options)


@pytest.mark.parametrize("change, pattern", [
    ({"N": 1}, "N must be an integer >= 2, got 1"),
    ({"N": 10.0}, "N must be an integer >= 2"),
    ({"replicas": 0}, "replicas must be an integer >= 1"),
    ({"etas": []}, "etas must be a non-empty"),
    ({"etas": [0.1, -0.2]}, "etas must be >= 0"),
    ({"etas": [[0.1]]}, "etas must be a non-empty sequence or 1-D tensor"),
    ({"etas": ["a"]}, "etas must be a sequence or 1-D tensor of real numbers"),
    ({"times": [0.0, -1.0]}, "times must be >= 0"),
    ({"times": [float("inf")]}, "times must be finite"),
    ({"R0": 1.5}, r"R0 must lie in \(-1, 1\]"),
    ({"R0": -1.0}, r"R0 must lie in \(-1, 1\]"),
    ({"gamma0": 0.0}, "gamma0 must be > 0.0"),
    ({"L0": -1.0}, "L0 must be > 0.0"),
    ({"dtype": torch.float16}, "dtype must be torch.float64 or torch.float32"),
    ({"generator": 3}, "generator must be a torch.Generator"),
    ({"device": "meta"}, "generator is on cpu, the run on meta"),
    ({"progress": 5}, "progress must be callable"),
    ({"student": "bn"}, "student must be a Student"),
    ({"student": Student("wn", "relu"), "gamma0": 0.5}, "method 'wn' fixes gamma = 1"),
    ({"student": Student("sgd", "relu"), "L0": 2.0}, "method 'sgd' takes L0 = gamma0"),
])
def test_bad_run_arguments_are_usage_errors(change, pattern):
    arguments = dict(student=Student("bn", "relu"), N=10, etas=[0.1], replicas=2, times=[0.0, 1.0], gamma0=1.0,
                     R0=0.0, L0=1.0, generator=_generator(0), device=DEVICE)
    arguments.update(change)
    with pytest.raises(UsageError, match=pattern):
        online_sgd(**arguments)


# --- the Gaussian pair ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("activation", ["relu", "erf"])
def test_gaussian_pair_terms_follow_their_draws(activation):
    gamma, R, n = 1.3, 0.4, 2000
    terms = gaussian_pair_terms(activation, gamma, R, n, _generator(7), DEVICE)
    assert terms.shape == (n, 3) and terms.dtype == torch.float64
    assert torch.equal(terms, gaussian_pair_terms(activation, gamma, R, n, _generator(7), DEVICE))
    assert not torch.equal(terms, gaussian_pair_terms(activation, gamma, R, n, _generator(8), DEVICE))
    z = torch.randn(2, n, generator=_generator(7), dtype=torch.float64)
    s, t = gamma * z[0], R * z[0] + math.sqrt(1 - R**2) * z[1]
    s_leaf = s.clone().requires_grad_(True)
    _activation(activation, s_leaf).sum().backward()
    assert s_leaf.grad is not None
    delta = s_leaf.grad * (_activation(activation, t) - _activation(activation, s))
    torch.testing.assert_close(terms, torch.stack((delta * s, delta**2, delta * t), -1), rtol=1e-13, atol=1e-15)
    if activation == "relu":
        assert bool((terms[s <= 0] == 0).all())
        assert bool((terms[s > 0, 0] != 0).any())


@pytest.mark.parametrize("change, pattern", [
    ({"activation": "tanh"}, "activation must be one of relu, erf"),
    ({"R": 1.2}, r"R must lie in \[-1, 1\]"),
    ({"gamma": float("nan")}, "gamma must be a finite real"),
    ({"n": 0}, "n must be an integer >= 1"),
])
def test_bad_gaussian_pair_arguments_are_usage_errors(change, pattern):
    arguments = dict(activation="relu", gamma=1.0, R=0.5, n=10, generator=_generator(0), device=DEVICE)
    arguments.update(change)
    with pytest.raises(UsageError, match=pattern):
        gaussian_pair_terms(**arguments)
