"""Tests of the mini-batch BN regression simulator (``bnsym.sim.regression``).

They check the process itself, never a formula of the theory: the documented draws, the
forward pass against torch's own batch_norm, the hand-written gradients against torch.autograd,
one epoch rebuilt step by step, training to the teacher on a noiseless well-posed problem, the
least-squares and ridge estimators against torch.linalg.lstsq, reproducibility and argument checks.
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from bnsym.errors import UsageError
from bnsym.sim.regression import (
    EPS,
    Problems,
    excess_error,
    learning_rate_schedule,
    least_squares_error,
    least_squares_weights,
    minibatch_gradients,
    minibatch_loss,
    normalized_output,
    ridge_weights,
    sample_problems,
    train,
    train_bn,
)

DEVICE = torch.device("cpu")
KEYS = ("eps_gen", "weight_error", "offset_sq", "gamma", "beta", "train_loss", "offset", "w_norm")


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _generator(seed: int) -> torch.Generator:
    return torch.Generator(device=DEVICE).manual_seed(seed)


def _problems(B: int = 3, N: int = 8, alpha: float = 3.0, sigma: float = 0.4, seed: int = 0) -> Problems:
    return sample_problems(B, N, alpha, sigma, _generator(seed), DEVICE)


def _state(Z: int, B: int, N: int, seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    generator = _generator(seed)
    w = torch.randn(Z, B, N, generator=generator, dtype=torch.float64)
    gamma = 0.5 + torch.rand(Z, B, generator=generator, dtype=torch.float64)
    beta = torch.randn(Z, B, generator=generator, dtype=torch.float64)
    return w, gamma, beta


# --- the problems -----------------------------------------------------------------------------------------------


def test_problems_follow_documented_draws():
    B, N, alpha, sigma = 4, 10, 2.5, 0.3
    problems = _problems(B, N, alpha, sigma, seed=5)
    P = round(alpha * N)
    assert (problems.B, problems.P, problems.N) == (B, P, N)
    generator = _generator(5)
    g = torch.randn(B, N, generator=generator, dtype=torch.float64)
    w_star = math.sqrt(N) * g / g.norm(dim=-1, keepdim=True)
    X = torch.randn(B, P, N, generator=generator, dtype=torch.float64) / math.sqrt(N)
    xi = torch.randn(B, P, generator=generator, dtype=torch.float64)
    torch.testing.assert_close(problems.w_star, w_star, rtol=1e-14, atol=1e-14)
    torch.testing.assert_close(problems.X, X, rtol=1e-14, atol=1e-14)
    torch.testing.assert_close(problems.y, (X * w_star.unsqueeze(1)).sum(-1) + sigma * xi, rtol=1e-12, atol=1e-13)
    torch.testing.assert_close(problems.w_star.square().sum(-1), torch.full((B,), float(N), dtype=torch.float64))


# --- the network ------------------------------------------------------------------------------------------------


def test_batch_forward_is_torch_batch_norm():
    """BN in training mode with affine (gamma, beta): the problems are torch's channels."""
    problems = _problems(B=5, N=7, seed=1)
    M = 6
    x = problems.X[:, :M]
    w, gamma, beta = (t[0] for t in _state(1, 5, 7, seed=2))
    h = (x * w.unsqueeze(1)).sum(-1)  # [B, M]
    expected = F.batch_norm(h.T, None, None, weight=gamma, bias=beta, training=True, eps=EPS).T
    torch.testing.assert_close(normalized_output(w, gamma, beta, x), expected, rtol=1e-12, atol=1e-12)


def test_population_forward_uses_training_set_statistics():
    problems = _problems(B=3, N=6, seed=3)
    x = problems.X[:, 2:6]
    w, gamma, beta = _state(2, 3, 6, seed=4)
    h_all = (problems.X * w.unsqueeze(-2)).sum(-1)  # [Z, B, P]
    mu, var = h_all.mean(-1, keepdim=True), h_all.var(-1, unbiased=False, keepdim=True)
    h = (x * w.unsqueeze(-2)).sum(-1)
    expected = gamma.unsqueeze(-1) * (h - mu) / torch.sqrt(var + EPS) + beta.unsqueeze(-1)
    torch.testing.assert_close(normalized_output(w, gamma, beta, x, problems.X), expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("population", [False, True])
def test_hand_gradients_are_autograd_gradients(population):
    problems = _problems(B=4, N=9, seed=6)
    x, y = problems.X[:, 3:10], problems.y[:, 3:10]
    inputs = problems.X if population else None
    w, gamma, beta = _state(3, 4, 9, seed=7)
    zeta = torch.tensor([[0.0], [0.1], [0.7]], dtype=torch.float64)
    leaves = [t.clone().requires_grad_(True) for t in (w, gamma, beta)]
    loss = minibatch_loss(*leaves, x, y, zeta, inputs)
    grads = torch.autograd.grad(loss.sum(), leaves)
    hand = minibatch_gradients(w, gamma, beta, x, y, zeta, inputs)
    torch.testing.assert_close(hand[0], loss.detach(), rtol=1e-12, atol=1e-13)
    for got, expected in zip(hand[1:], grads):
        torch.testing.assert_close(got, expected, rtol=1e-11, atol=1e-12)


# --- training ---------------------------------------------------------------------------------------------------


def test_learning_rate_schedule():
    rates = learning_rate_schedule(0.5, epochs=5, batches_per_epoch=3)
    assert rates.shape == (15,)
    assert bool((rates[:6] == 0.5).all())  # floor(5/2) = 2 constant epochs
    torch.testing.assert_close(rates[6:], 0.5 * torch.arange(9, 0, -1, dtype=torch.float64) / 9)


@pytest.mark.parametrize("normalization", ["batch", "population"])
def test_training_follows_documented_draws_and_steps(normalization):
    """Rebuild two epochs from the documented draws, each step from ``minibatch_gradients``."""
    problems = _problems(B=3, N=5, alpha=2.2, seed=8)  # P = 11, M = 3: 3 batches, 2 pairs dropped
    M, epochs, eta, eta_affine, zeta = 3, 2, 0.7, 0.2, 0.05
    out = train(problems, M, epochs, eta, _generator(9), DEVICE, normalization=normalization, zeta=zeta,
                eta_affine=eta_affine)

    generator = _generator(9)
    u = torch.randn(3, 5, generator=generator, dtype=torch.float64)
    w = math.sqrt(5) * u / u.norm(dim=-1, keepdim=True)
    gamma, beta = torch.ones(3, dtype=torch.float64), torch.zeros(3, dtype=torch.float64)
    rates = learning_rate_schedule(eta, epochs, 3)
    inputs = problems.X if normalization == "population" else None
    step = 0
    for _ in range(epochs):
        order = torch.argsort(torch.rand(3, 11, generator=generator, dtype=torch.float64), dim=-1)
        for k in range(3):
            index = order[:, k * M:(k + 1) * M]
            x = torch.stack([problems.X[i, index[i]] for i in range(3)])
            y = torch.stack([problems.y[i, index[i]] for i in range(3)])
            _, d_w, d_gamma, d_beta = minibatch_gradients(w, gamma, beta, x, y, zeta, inputs)
            rate = float(rates[step])
            affine_rate = rate * eta_affine / eta
            w, gamma, beta = w - rate * d_w, gamma - affine_rate * d_gamma, beta - affine_rate * d_beta
            step += 1

    h = (problems.X * w.unsqueeze(1)).sum(-1)
    mu, sigma = h.mean(-1), torch.sqrt(h.var(-1, unbiased=False) + EPS)
    v, b = gamma.unsqueeze(-1) * w / sigma.unsqueeze(-1), beta - gamma * mu / sigma
    fit = gamma.unsqueeze(-1) * (h - mu.unsqueeze(-1)) / sigma.unsqueeze(-1) + beta.unsqueeze(-1)
    expected = {"gamma": gamma, "beta": beta, "v": v, "offset": b, "offset_sq": b.square(),
                "weight_error": (v - problems.w_star).square().sum(-1) / 5, "w_norm": w.norm(dim=-1),
                "train_loss": 0.5 * (problems.y - fit).square().mean(-1), "eps_gen": excess_error(problems, v, b)}
    for name, value in expected.items():
        torch.testing.assert_close(out[name], value, rtol=1e-11, atol=1e-12, msg=name)


def test_shapes_reproducibility_and_batched_settings():
    problems = _problems(B=4, N=6, seed=10)
    arguments = dict(M=4, epochs=3, eta=2.0, device=DEVICE, eta_affine=0.3)
    first = train_bn(problems, generator=_generator(1), **arguments)
    again = train_bn(problems, generator=_generator(1), **arguments)
    other = train_bn(problems, generator=_generator(2), **arguments)
    for name in KEYS:
        assert first[name].shape == (4,) and first[name].dtype == torch.float64
        assert torch.equal(first[name], again[name])
    assert first["v"].shape == (4, 6)
    assert not torch.equal(first["eps_gen"], other["eps_gen"])
    torch.testing.assert_close(first["eps_gen"], first["weight_error"] + first["offset_sq"], rtol=0, atol=0)

    zetas = [0.0, 0.1, 0.4]
    several = train(problems, generator=_generator(1), normalization="population", zeta=zetas, **arguments)
    assert several["eps_gen"].shape == (3, 4) and several["v"].shape == (3, 4, 6)
    for i, zeta in enumerate(zetas):  # each row is the run with that zeta alone, on the same draws
        alone = train(problems, generator=_generator(1), normalization="population", zeta=zeta, **arguments)
        for name in KEYS:
            torch.testing.assert_close(several[name][i], alone[name], rtol=1e-12, atol=1e-13)
    assert bool((several["gamma"][0] > several["gamma"][2]).all())  # the decay shrinks gamma


def test_batch_equals_population_when_the_batch_is_the_training_set():
    problems = _problems(B=3, N=6, alpha=2.0, seed=11)  # P = 12
    arguments = dict(M=12, epochs=20, eta=3.0, device=DEVICE, eta_affine=0.5, zeta=0.05)
    bn = train(problems, generator=_generator(3), normalization="batch", **arguments)
    pn = train(problems, generator=_generator(3), normalization="population", **arguments)
    for name in KEYS:
        torch.testing.assert_close(bn[name], pn[name], rtol=1e-9, atol=1e-11)


def test_population_normalisation_learns_a_noiseless_teacher():
    problems = _problems(B=4, N=16, alpha=4.0, sigma=0.0, seed=12)  # P = 64
    out = train(problems, M=8, epochs=60, eta=16 * 0.3, generator=_generator(4), device=DEVICE,
                normalization="population", eta_affine=0.3)
    start = train(problems, M=8, epochs=1, eta=1e-12, generator=_generator(4), device=DEVICE,
                  normalization="population")
    assert bool((start["eps_gen"] > 0.5).all())
    assert bool((out["eps_gen"] < 1e-6).all())
    assert bool((out["train_loss"] < 1e-6).all())
    label_std = problems.y.var(-1, unbiased=False).sqrt()  # gamma is the training-set std of w*.x
    torch.testing.assert_close(out["gamma"], label_std, rtol=0, atol=1e-3)


def test_excess_error_is_the_excess_test_error():
    """Against a sampled test error: fresh x ~ N(0, I/N), labels w*.x + sigma xi."""
    problems = _problems(B=2, N=5, seed=13)
    v = problems.w_star + 0.5 * torch.randn(2, 5, generator=_generator(14), dtype=torch.float64)
    b = torch.tensor([0.3, -0.2], dtype=torch.float64)
    n = 200_000
    x = torch.randn(n, 2, 5, generator=_generator(15), dtype=torch.float64) / math.sqrt(5)
    squared = ((x * (problems.w_star - v)).sum(-1) - b).square()  # the noise's share is sigma^2 exactly
    estimate, stderr = squared.mean(0), squared.std(0) / math.sqrt(n)
    assert bool(((excess_error(problems, v, b) - estimate).abs() < 5 * stderr).all())


# --- estimators -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("alpha", [3.0, 0.5])
def test_least_squares_is_lstsq(alpha):
    problems = _problems(B=3, N=12, alpha=alpha, seed=16)
    driver = "gelsd"  # minimum norm when P < N
    solution = torch.linalg.lstsq(problems.X, problems.y.unsqueeze(-1), driver=driver).solution.squeeze(-1)
    v, b = least_squares_weights(problems)
    torch.testing.assert_close(v, solution, rtol=1e-9, atol=1e-10)
    assert bool((b == 0).all())
    expected = (solution - problems.w_star).square().sum(-1) / 12
    torch.testing.assert_close(least_squares_error(problems), expected, rtol=1e-9, atol=1e-11)


def test_least_squares_with_intercept_is_lstsq_with_a_ones_column():
    problems = _problems(B=3, N=6, alpha=3.0, seed=17)
    design = torch.cat((problems.X, torch.ones_like(problems.X[..., :1])), dim=-1)
    solution = torch.linalg.lstsq(design, problems.y.unsqueeze(-1), driver="gelsd").solution.squeeze(-1)
    v, b = least_squares_weights(problems, intercept=True)
    torch.testing.assert_close(torch.cat((v, b.unsqueeze(-1)), -1), solution, rtol=1e-9, atol=1e-10)
    torch.testing.assert_close(least_squares_error(problems, intercept=True), excess_error(problems, v, b))


@pytest.mark.parametrize("intercept", [False, True])
def test_ridge_is_lstsq_of_the_augmented_system(intercept):
    problems = _problems(B=3, N=6, alpha=0.5, seed=18)  # P = 3 < N: ridge is still well posed
    lam = 0.3
    X, y = problems.X, problems.y
    if intercept:
        X, y = X - X.mean(1, keepdim=True), y - y.mean(1, keepdim=True)
    augmented = torch.cat((X, math.sqrt(lam) * torch.eye(6, dtype=torch.float64).expand(3, 6, 6)), dim=1)
    targets = torch.cat((y, torch.zeros(3, 6, dtype=torch.float64)), dim=1)
    solution = torch.linalg.lstsq(augmented, targets.unsqueeze(-1)).solution.squeeze(-1)
    v, b = ridge_weights(problems, lam, intercept=intercept)
    torch.testing.assert_close(v, solution, rtol=1e-9, atol=1e-10)
    expected_b = problems.y.mean(1) - (problems.X.mean(1) * v).sum(-1) if intercept else torch.zeros(3).double()
    torch.testing.assert_close(b, expected_b, rtol=1e-12, atol=1e-12)


# --- argument checks --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("change, pattern", [
    ({"B": 0}, "B must be an integer >= 1"),
    ({"N": 2.0}, "N must be an integer >= 1"),
    ({"alpha": 0.0}, "alpha must be > 0.0"),
    ({"alpha": 0.1}, r"P = round\(alpha N\) must be >= 2"),
    ({"sigma": -0.1}, "sigma must be >= 0.0"),
    ({"sigma": float("nan")}, "sigma must be a finite real"),
    ({"generator": 1}, "generator must be a torch.Generator"),
    ({"device": "meta"}, "generator is on cpu, the run on meta"),
])
def test_bad_problem_arguments_are_usage_errors(change, pattern):
    arguments = dict(B=2, N=5, alpha=2.0, sigma=0.1, generator=_generator(0), device=DEVICE)
    arguments.update(change)
    with pytest.raises(UsageError, match=pattern):
        sample_problems(**arguments)


@pytest.mark.parametrize("change, pattern", [
    ({"problems": "p"}, "problems must be Problems"),
    ({"M": 1}, "M must be an integer >= 2, got 1"),
    ({"M": 11}, r"M must be <= P = 10 \(the number of training pairs\), got 11"),
    ({"M": 3.0}, "M must be an integer >= 2"),
    ({"epochs": 0}, "epochs must be an integer >= 1"),
    ({"eta": 0.0}, "eta must be > 0.0"),
    ({"eta": float("inf")}, "eta must be a finite real"),
    ({"eta_affine": -1.0}, "eta_affine must be > 0.0"),
    ({"normalization": "layer"}, "normalization must be one of batch, population, got 'layer'"),
    ({"zeta": -0.1}, "zeta must be >= 0.0"),
    ({"zeta": [0.1, -0.1]}, "zeta must be >= 0.0"),
    ({"zeta": []}, "zeta must be a number or a non-empty 1-D sequence"),
    ({"zeta": "a"}, "zeta must be a real number or a sequence of them"),
    ({"generator": None}, "generator must be a torch.Generator"),
])
def test_bad_training_arguments_are_usage_errors(change, pattern):
    arguments = dict(problems=_problems(B=2, N=5, alpha=2.0), M=4, epochs=2, eta=0.1, generator=_generator(0),
                     device=DEVICE)
    arguments.update(change)
    with pytest.raises(UsageError, match=pattern):
        train(**arguments)


def test_bad_estimator_and_network_arguments_are_usage_errors():
    problems = _problems(B=2, N=5)
    with pytest.raises(UsageError, match="lam must be > 0.0"):
        ridge_weights(problems, 0.0)
    with pytest.raises(UsageError, match="intercept must be True or False"):
        least_squares_weights(problems, intercept=1)  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="problems must be Problems"):
        least_squares_error(problems.X)  # type: ignore[arg-type]
    with pytest.raises(UsageError, match=r"Problems need X \[B, P, N\]"):
        Problems(X=problems.X, y=problems.y[:, :3], w_star=problems.w_star)
    with pytest.raises(UsageError, match="Problems.y must be a float64 tensor"):
        Problems(X=problems.X, y=problems.y.float(), w_star=problems.w_star)
    w = torch.zeros(2, 5, dtype=torch.float64)
    with pytest.raises(UsageError, match="M >= 2"):
        normalized_output(w, w[:, 0], w[:, 0], problems.X[:, :1])
