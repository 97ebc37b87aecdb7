"""L1. Priors of the batch statistics (Luo et al. 2019, Sec. 2).

For i.i.d. pre-activations h with mean mu_P, variance sigma_P^2, skewness kappa and
excess kurtosis rho, a batch of M gives mu_B = mean(h) and sigma_B^2 = (1/M) sum (h - mu_B)^2.
The paper takes mu_B ~ N(mu_P, sigma_P^2/M) and sigma_B ~ N(sigma_P, (rho+2) sigma_P^2/(4M)).

Exact finite-M moments (classical results for the 1/M-normalised sample variance):

    E[sigma_B^2]   = (M-1)/M sigma_P^2
    Var(sigma_B^2) = (M-1)^2/M^3 sigma_P^4 (rho + 2 + 2/(M-1))
    Cov(mu_B, sigma_B^2) = (M-1)/M^2 kappa sigma_P^3

From them, by the delta method, M Var(sigma_B) -> (rho+2) sigma_P^2/4 with an O(1/M)
relative error. Two assumptions are silent in the paper: that E[sigma_B] = sigma_P and
that mu_B and sigma_B are independent. Neither holds exactly: E[sigma_B]/sigma_P =
1 - ((rho+2)/8 + 1/2)/M + O(1/M^2), and corr(mu_B, sigma_B) -> kappa/sqrt(rho+2),
which vanishes only for symmetric h.
"""

import sympy as sp

from bnsym import Asymptotic, Derivation, Erratum, Identity, ProcessClaim, Source, Theorem, by

from .symbols import M, kappa, mu_P, rho, sigma_P

_M, _rho, _kappa, _s = M.symbol, rho.symbol, kappa.symbol, sigma_P.symbol

mean_sigma_sq = (_M - 1) / _M * _s**2
var_sigma_sq = (_M - 1) ** 2 / _M**3 * _s**4 * (_rho + 2 + 2 / (_M - 1))
cov_mu_sigma_sq = (_M - 1) / _M**2 * _kappa * _s**3
var_mu = _s**2 / _M

_mu = mu_P.symbol
mean_var_derivation = Derivation(
    title="E[sigma_B^2] = (M-1)/M sigma_P^2: E[(1/M) sum h_i^2] - E[mu_B^2]",
    chain=[
        _M * (_s**2 + _mu**2) / _M - (var_mu + _mu**2),
        (_s**2 + _mu**2 - _s**2 / _M - _mu**2, by.because("E[h^2] = sigma_P^2 + mu_P^2, E[mu_B^2] = sigma_P^2/M"
                                                         " + mu_P^2")),
        (mean_sigma_sq, by.algebra),
    ],
)

prior_var_mu = ProcessClaim(
    title="M Var(mu_B) = sigma_P^2 for every M",
    quantity="M * Var(mu_B)", quantity_tex=r"M\,\mathrm{Var}(\mu_{\mathcal{B}})",
    value=_M * var_mu,
    assumptions=("h i.i.d. with finite variance",),
)

prior_mean_var = ProcessClaim(
    title="E[sigma_B^2] = (M-1)/M sigma_P^2 (the 1/M-normalised variance is biased)",
    quantity="E[sigma_B^2]", quantity_tex=r"\mathbb{E}[\sigma_{\mathcal{B}}^2]",
    value=mean_sigma_sq,
)

prior_var_var = ProcessClaim(
    title="Var(sigma_B^2) = (M-1)^2/M^3 sigma_P^4 (rho + 2 + 2/(M-1))",
    quantity="Var(sigma_B^2)", quantity_tex=r"\mathrm{Var}(\sigma_{\mathcal{B}}^2)",
    value=var_sigma_sq,
    assumptions=("h i.i.d. with finite fourth moment",),
)

var_var_limit = Asymptotic(
    title="M Var(sigma_B^2) = (rho + 2) sigma_P^4 + O(1/M)",
    lhs=_M * var_sigma_sq, rhs=(_rho + 2) * _s**4, var=M, order=1,
)

delta_method = Asymptotic(
    title="delta method: M Var(sigma_B^2)/(4 sigma_P^2) = (rho+2) sigma_P^2/4 + O(1/M)",
    lhs=_M * var_sigma_sq / (4 * _s**2), rhs=(_rho + 2) * _s**2 / 4, var=M, order=1,
)

prior_var_sigma = ProcessClaim(
    title="M Var(sigma_B) = (rho+2) sigma_P^2/4 + O(1/M)",
    quantity="M * Var(sigma_B)", quantity_tex=r"M\,\mathrm{Var}(\sigma_{\mathcal{B}})",
    value=(_rho + 2) * _s**2 / 4, var=M, order=1,
    assumptions=("h i.i.d. with finite eighth moment (the O(1/M) rate; the limit needs the fourth)",),
)

# E[sigma_B] by a second-order expansion of sqrt(1 + u), u = sigma_B^2/sigma_P^2 - 1:
# E[sqrt(1+u)] = 1 + E[u]/2 - E[u^2]/8 + O(E|u|^3), with E|u|^3 = O(M^-3/2) and odd terms O(M^-2).
_Eu = mean_sigma_sq / _s**2 - 1
_Eu2 = var_sigma_sq / _s**4 + _Eu**2
mean_sigma_value = _s * (1 - ((_rho + 2) / 8 + sp.Rational(1, 2)) / _M)

mean_sigma_expansion = Asymptotic(
    title="sigma_P (1 + E[u]/2 - E[u^2]/8) = sigma_P (1 - ((rho+2)/8 + 1/2)/M) + O(1/M^2)",
    lhs=_s * (1 + _Eu / 2 - _Eu2 / 8), rhs=mean_sigma_value, var=M, order=2,
)

gaussian_mean_sigma = sp.sqrt(2 / _M) * sp.gamma(_M / 2) / sp.gamma((_M - 1) / 2) * _s

mean_sigma_gaussian = Asymptotic(
    title="Gaussian h (chi law): E[sigma_B] = sigma_P (1 - 3/(4M)) + O(1/M^2), the rho = 0 case",
    lhs=gaussian_mean_sigma, rhs=mean_sigma_value.subs(_rho, 0), var=M, order=2,
)

mean_sigma_printed = ProcessClaim(
    title="E[sigma_B] = sigma_P (silent assumption of the paper)",
    quantity="E[sigma_B]", quantity_tex=r"\mathbb{E}[\sigma_{\mathcal{B}}]",
    value=_s,
)

mean_sigma_corrected = ProcessClaim(
    title="E[sigma_B] = sigma_P (1 - ((rho+2)/8 + 1/2)/M) + O(1/M^2)",
    quantity="E[sigma_B]", quantity_tex=r"\mathbb{E}[\sigma_{\mathcal{B}}]",
    value=mean_sigma_value, var=M, order=2,
)

corr_mean_var_exact = Identity(
    title="corr(mu_B, sigma_B^2) = kappa / sqrt(rho + 2 + 2/(M-1)) exactly",
    lhs=cov_mu_sigma_sq / sp.sqrt(var_mu * var_sigma_sq),
    rhs=_kappa / sp.sqrt(_rho + 2 + 2 / (_M - 1)),
)

prior_corr_mean_var = ProcessClaim(
    title="corr(mu_B, sigma_B^2) = kappa / sqrt(rho + 2 + 2/(M-1))",
    quantity="corr(mu_B, sigma_B^2)", quantity_tex=r"\mathrm{corr}(\mu_{\mathcal{B}}, \sigma_{\mathcal{B}}^2)",
    value=_kappa / sp.sqrt(_rho + 2 + 2 / (_M - 1)),
    assumptions=("h i.i.d. with finite eighth moment (for the standard error)",),
)

independence_printed = ProcessClaim(
    title="mu_B independent of sigma_B (silent assumption): corr(mu_B, sigma_B) = 0",
    quantity="corr(mu_B, sigma_B)", quantity_tex=r"\mathrm{corr}(\mu_{\mathcal{B}}, \sigma_{\mathcal{B}})",
    value=sp.S.Zero,
)

independence_corrected = ProcessClaim(
    title="corr(mu_B, sigma_B) = kappa/sqrt(rho + 2) + O(1/M)",
    quantity="corr(mu_B, sigma_B)", quantity_tex=r"\mathrm{corr}(\mu_{\mathcal{B}}, \sigma_{\mathcal{B}})",
    value=_kappa / sp.sqrt(_rho + 2), var=M, order=1,
)

L1 = Theorem(
    title="Priors of the batch statistics",
    source=Source("Luo et al., ICLR 2019", "Sec. 2"),
    params=(M, rho, kappa, sigma_P, mu_P),
    claims=(
        mean_var_derivation, prior_var_mu, prior_mean_var, prior_var_var, var_var_limit, delta_method, prior_var_sigma,
        mean_sigma_expansion, mean_sigma_gaussian,
        Erratum(mean_sigma_printed, mean_sigma_corrected,
                "E[sigma_B] is below sigma_P by ((rho+2)/8 + 1/2)/M to first order"),
        corr_mean_var_exact, prior_corr_mean_var,
        Erratum(independence_printed, independence_corrected,
                "mu_B and sigma_B correlate as kappa/sqrt(rho+2): independent only for symmetric h"),
    ),
    summary="Batch mean and standard deviation: exact moments, large-M priors, and the two silent assumptions.",
)
