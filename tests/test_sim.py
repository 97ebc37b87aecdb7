"""Anchor tests for the laws (SymPy), their torch samplers and the BN processes.

Statistical checks use tolerances of 5 standard errors, the standard errors derived from the
exact moments of each law (influence functions of the estimators, to first order in 1/n).
"""

from __future__ import annotations

import math

import mpmath
import pytest
import sympy as sp
import torch
import torch.nn.functional as F

from bnsym.errors import DefinitionError, UsageError
from bnsym.laws import LAWS, Z, get_law
from bnsym.sim.batchnorm import ACTIVATIONS, batch_statistics, integral_of_activation, loss_gap
from bnsym.sim.laws import SAMPLERS, sample

DEVICE = torch.device("cpu")
N_DRAWS = 400_000
N_SE = 5
BN_EPS = 1e-300  # torch refuses eps=0 in training mode; 1e-300 vanishes next to a batch variance in float64

STATED = {  # (skewness, excess kurtosis) as stated for each law
    "gaussian": (0, 0),
    "laplace": (0, 3),
    "uniform": (0, sp.Rational(-6, 5)),
    "exponential": (2, 6),
    "student_t7": (0, 2),
}


def _generator(seed: int) -> torch.Generator:
    return torch.Generator(device=DEVICE).manual_seed(seed)


def _float64(values) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float64)


def _exact_expectation(law_name: str, polynomial: sp.Expr) -> sp.Expr:
    """E[polynomial(z)] from the exact moments of the law."""
    law = get_law(law_name)
    coefficients = sp.Poly(sp.expand(polynomial), Z).all_coeffs()[::-1]
    return sp.simplify(sum(c * law.moment(k) for k, c in enumerate(coefficients)))


# --- SymPy laws -------------------------------------------------------------------------------------------------


def test_every_law_has_a_sampler_and_stated_values():
    assert set(LAWS) == set(SAMPLERS) == set(STATED)


@pytest.mark.parametrize("name", sorted(STATED))
def test_law_is_standardized_with_stated_shape(name):
    law = get_law(name)
    assert [law.moment(k) for k in range(3)] == [1, 0, 1]
    skewness, excess_kurtosis = STATED[name]
    assert sp.simplify(law.skewness - skewness) == 0
    assert sp.simplify(law.excess_kurtosis - excess_kurtosis) == 0


@pytest.mark.parametrize("name", sorted(STATED))
def test_expect_agrees_with_exact_moments(name):
    law = get_law(name)
    for k in (3, 4):
        numeric = law.expect(Z**k, dps=30)
        exact = mpmath.mpf(str(sp.N(law.moment(k), 40)))
        assert abs(numeric - exact) <= mpmath.mpf(10) ** -20 * max(1, abs(exact))


def test_expect_rejects_other_symbols():
    with pytest.raises(DefinitionError, match="Z only"):
        get_law("gaussian").expect(Z * sp.Symbol("a"))


def test_unknown_law_is_a_usage_error():
    with pytest.raises(UsageError, match="unknown law 'cauchy'; known: gaussian"):
        get_law("cauchy")


# --- torch samplers ---------------------------------------------------------------------------------------------


def _standard_errors(name: str, n: int) -> dict[str, float]:
    """First-order SEs of the sample mean, variance and excess kurtosis at the exact moments."""
    law = get_law(name)
    mu3, mu4 = law.moment(3), law.moment(4)
    errors = {"mean": 1 / math.sqrt(n), "variance": math.sqrt(float(mu4 - 1) / n)}
    if law.moment(8).is_finite:
        kurtosis_influence = (Z**4 - mu4) - 4 * mu3 * Z - 2 * mu4 * (Z**2 - 1)
        errors["excess_kurtosis"] = math.sqrt(float(_exact_expectation(name, kurtosis_influence**2)) / n)
    return errors


@pytest.mark.parametrize("name", sorted(STATED))
def test_sampler_moments_within_five_standard_errors(name):
    draws = sample(name, (N_DRAWS,), _generator(11), DEVICE)
    assert draws.dtype == torch.float64 and draws.shape == (N_DRAWS,)
    centred = draws - draws.mean()
    variance = centred.square().mean()
    observed = {
        "mean": draws.mean().item(),
        "variance": variance.item(),
        "excess_kurtosis": (centred.pow(4).mean() / variance.square() - 3).item(),
    }
    expected = {"mean": 0.0, "variance": 1.0, "excess_kurtosis": float(STATED[name][1])}
    errors = _standard_errors(name, N_DRAWS)
    if name == "student_t7":
        assert "excess_kurtosis" not in errors  # E z^8 is infinite: no SE for the kurtosis
    for statistic, standard_error in errors.items():
        assert abs(observed[statistic] - expected[statistic]) <= N_SE * standard_error, statistic


@pytest.mark.parametrize("name", sorted(STATED))
def test_sampler_is_reproducible(name):
    first = sample(name, (3, 50), _generator(5), DEVICE)
    second = sample(name, (3, 50), _generator(5), DEVICE)
    other = sample(name, (3, 50), _generator(6), DEVICE)
    assert torch.equal(first, second)
    assert not torch.equal(first, other)
    assert bool(torch.isfinite(first).all())


def test_sampler_casts_dtype_and_rejects_unknown_law():
    assert sample("laplace", (4,), _generator(1), DEVICE, dtype=torch.float32).dtype == torch.float32
    with pytest.raises(UsageError, match="unknown law 'cauchy'"):
        sample("cauchy", (4,), _generator(1), DEVICE)


# --- batch statistics -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["exponential", "student_t7"])
def test_batch_statistics_match_torch(name):
    mu_b, sigma_b = batch_statistics(name, 7, 300, _generator(3), DEVICE)
    batches = sample(name, (300, 7), _generator(3), DEVICE)
    assert mu_b.shape == sigma_b.shape == (300,) and mu_b.dtype == torch.float64
    torch.testing.assert_close(mu_b, batches.mean(dim=1), rtol=1e-14, atol=1e-15)
    torch.testing.assert_close(sigma_b, torch.std(batches, dim=1, unbiased=False), rtol=1e-13, atol=1e-15)


# --- loss gap ---------------------------------------------------------------------------------------------------


def _quadratic_loss(h: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return 0.5 * h.square() - y * h


def test_identity_loss_gap_matches_torch_batch_norm():
    law, M, n_batches = "laplace", 6, 40
    gammas, betas, gamma_stars, beta_stars = [0.7, 1.3, -2.0], [0.1, -0.4, 0.9], [1.1, 0.5, 0.3], [0.0, 0.2, -1.0]
    gap = loss_gap(law, M, n_batches, _generator(21), DEVICE, activation="identity",
                   gamma=_float64(gammas), beta=_float64(betas), gamma_star=_float64(gamma_stars),
                   beta_star=_float64(beta_stars))
    assert gap.shape == (3, n_batches) and gap.dtype == torch.float64
    z = sample(law, (n_batches, M), _generator(21), DEVICE)  # loss_gap draws the batch first
    samples_by_channel = z.T  # batch_norm normalises over dim 0 for each channel: one channel per batch
    points = zip(gammas, betas, gamma_stars, beta_stars, strict=True)
    for point, (gamma, beta, gamma_star, beta_star) in enumerate(points):
        h_hat = F.batch_norm(samples_by_channel, None, None, weight=torch.full((n_batches,), gamma, dtype=z.dtype),
                             bias=torch.full((n_batches,), beta, dtype=z.dtype), training=True, eps=BN_EPS).T
        h_bar = gamma * z + beta
        y = gamma_star * z + beta_star
        expected = (_quadratic_loss(h_hat, y) - _quadratic_loss(h_bar, y)).mean(dim=1)
        torch.testing.assert_close(gap[point], expected, rtol=1e-11, atol=1e-12)


@pytest.mark.parametrize("include_self", [True, False])
@pytest.mark.parametrize("center", ["batch", "population"])
def test_identity_loss_gap_follows_documented_draw_order(include_self, center):
    law, M, n_batches, noise = "uniform", 5, 30, 0.3
    gamma, beta, gamma_star, beta_star = 1.4, -0.2, 0.8, 0.5
    gap = loss_gap(law, M, n_batches, _generator(8), DEVICE, activation="identity", gamma=gamma, beta=beta,
                   gamma_star=gamma_star, beta_star=beta_star, include_self=include_self, center=center,
                   label_noise=noise)
    generator = _generator(8)
    z = sample(law, (n_batches, M), generator, DEVICE)
    normalising = z if include_self else sample(law, (n_batches, M), generator, DEVICE)
    xi = sample("gaussian", (n_batches, M), generator, DEVICE)
    mu = normalising.mean(dim=1, keepdim=True) if center == "batch" else torch.zeros(n_batches, 1, dtype=z.dtype)
    sigma = torch.std(normalising, dim=1, keepdim=True, unbiased=False)
    h_hat, h_bar = gamma * (z - mu) / sigma + beta, gamma * z + beta
    y = gamma_star * z + beta_star + noise * xi
    expected = (_quadratic_loss(h_hat, y) - _quadratic_loss(h_bar, y)).mean(dim=1)
    torch.testing.assert_close(gap[0], expected, rtol=1e-11, atol=1e-12)


def test_parameter_points_share_draws():
    options = dict(activation="softplus", include_self=False, center="batch")
    gammas, beta_stars = _float64([0.5, 2.0]), _float64([-0.3, 0.4])
    together = loss_gap("exponential", 4, 10, _generator(2), DEVICE, gamma=gammas, beta=0.1, gamma_star=1.0,
                        beta_star=beta_stars, **options)
    for point in range(2):
        alone = loss_gap("exponential", 4, 10, _generator(2), DEVICE, gamma=gammas[point].item(), beta=0.1,
                         gamma_star=1.0, beta_star=beta_stars[point].item(), **options)
        torch.testing.assert_close(together[point], alone[0], rtol=1e-14, atol=1e-15)


@pytest.mark.parametrize("lo, hi", [(-1.0, 1.0), (0.3, 2.3), (-3.0, -1.5), (-25.0, -23.0), (12.0, 10.5), (4.0, 4.0)])
def test_softplus_quadrature_matches_mpmath(lo, hi):
    quadrature = integral_of_activation("softplus", _float64(lo), _float64(hi)).item()
    with mpmath.workdps(30):
        reference = mpmath.quad(lambda t: mpmath.log1p(mpmath.exp(t)), [lo, hi])
    assert abs(quadrature - float(reference)) <= 1e-14 * max(abs(float(reference)), 1e-300) + 1e-300


def test_identity_quadrature_is_exact():
    lo, hi = _float64([-2.0, 0.5, 3.0]), _float64([1.0, 0.25, -4.0])
    torch.testing.assert_close(integral_of_activation("identity", lo, hi), (hi**2 - lo**2) / 2, rtol=1e-15, atol=0)


def test_softplus_loss_gap_matches_mpmath_dilogarithm():
    """For softplus A(h) = -Li2(-e^h); recompute D at 40 digits from the same draws."""
    law, M, n_batches, gamma, beta, gamma_star, beta_star = "student_t7", 3, 2, 1.7, -0.6, 0.9, 0.4
    gap = loss_gap(law, M, n_batches, _generator(4), DEVICE, activation="softplus", gamma=gamma, beta=beta,
                   gamma_star=gamma_star, beta_star=beta_star)
    z = sample(law, (n_batches, M), _generator(4), DEVICE).tolist()

    def potential(h):
        return -mpmath.polylog(2, -mpmath.exp(h))

    with mpmath.workdps(40):
        for batch, values in enumerate(z):
            values = [mpmath.mpf(v) for v in values]
            mean = mpmath.fsum(values) / M
            std = mpmath.sqrt(mpmath.fsum((v - mean) ** 2 for v in values) / M)
            total = mpmath.mpf(0)
            for v in values:
                h_hat, h_bar = gamma * (v - mean) / std + beta, gamma * v + beta
                y = mpmath.log1p(mpmath.exp(gamma_star * v + beta_star))
                total += potential(h_hat) - potential(h_bar) - y * (h_hat - h_bar)
            assert abs(gap[0, batch].item() - float(total / M)) <= 1e-13


@pytest.mark.parametrize("change, pattern", [
    ({"M": 1}, "M must be an integer >= 2, got 1"),
    ({"M": 4.0}, "M must be an integer >= 2, got 4.0"),
    ({"n_batches": 0}, "n_batches must be an integer >= 1, got 0"),
    ({"activation": "relu"}, "activation must be one of identity, softplus, got 'relu'"),
    ({"center": "median"}, "center must be one of batch, population, got 'median'"),
    ({"include_self": 1}, "include_self must be True or False"),
    ({"label_noise": -0.1}, "label_noise must be a finite real >= 0"),
    ({"gamma": _float64([1.0, 2.0]), "beta": _float64([0.0, 1.0, 2.0])}, "common length P"),
    ({"gamma": torch.ones(2, 2, dtype=torch.float64)}, "gamma must be a real number or a 1-D tensor"),
    ({"beta_star": float("nan")}, "beta_star must be finite"),
    ({"law": "cauchy"}, "unknown law 'cauchy'"),
])
def test_bad_loss_gap_input_is_a_usage_error(change, pattern):
    arguments = dict(law="gaussian", M=4, n_batches=3, activation=ACTIVATIONS[0], gamma=1.0, beta=0.0,
                     gamma_star=1.0, beta_star=0.0)
    arguments.update(change)
    law, M, n_batches = arguments.pop("law"), arguments.pop("M"), arguments.pop("n_batches")
    with pytest.raises(UsageError, match=pattern):
        loss_gap(law, M, n_batches, _generator(0), DEVICE, **arguments)


def test_bad_batch_statistics_input_is_a_usage_error():
    with pytest.raises(UsageError, match="M must be an integer >= 2, got 1"):
        batch_statistics("gaussian", 1, 3, _generator(0), DEVICE)
    with pytest.raises(UsageError, match="unknown law 'cauchy'"):
        batch_statistics("cauchy", 4, 3, _generator(0), DEVICE)


@pytest.mark.parametrize("law", ["gaussian", "exponential", "uniform"])
@pytest.mark.parametrize("include_self", [True, False])
def test_first_order_control_has_mean_zero(law, include_self):
    """The control variate's conditional moments are anchored by simulation: E[C_i] = 0.

    Same seed with and without the control gives the same draws, so the difference of the
    two batch means is the batch mean of C_i; its average must vanish within five standard
    errors (off the optimum, where l' != 0 and the control is not trivially zero).
    """
    n = 20_000
    runs = []
    for control in (False, True):
        gen = torch.Generator().manual_seed(7)
        runs.append(loss_gap(law, 16, n, gen, "cpu", activation="softplus", gamma=1.5, beta=0.3, gamma_star=1.0,
                             beta_star=-0.2, include_self=include_self, control_variate=control))
    control_means = (runs[0] - runs[1]).flatten()
    assert control_means.abs().max() > 0  # the control is active
    se = control_means.std() / n**0.5
    assert abs(control_means.mean()) <= 5 * se
