"""Monte Carlo checks of L1: real batches from laws of known skewness and kurtosis.

Each unit is one batch of M i.i.d. draws h = mu_P + sigma_P z (z standardized, from the
law named in the point); the simulator returns per-batch statistics, and each
estimand is a smooth function of their means (variances and correlations by the delta
method). The skewness and excess kurtosis at each point come from the law's SymPy
density (``bnsym.laws``), never typed in.

Laws: gaussian (rho 0), laplace (3), uniform (-6/5), exponential (rho 6, skew 2),
student_t7 (2). Estimands whose standard error needs the eighth moment of h leave out
student_t7, whose eighth moment is infinite; so does the O(1/M) rate of M Var(sigma_B),
whose remainder involves that moment (on student_t7, M times the remainder keeps growing
over M = 16 ... 256, from about -12 to -37 at sigma_P = 2: the rate is slower there).
"""

from __future__ import annotations

from typing import Any, Callable

import sympy as sp
import torch

from bnsym.laws import get_law
from bnsym.mc.engine import MonteCarloCheck
from bnsym.sim.batchnorm import batch_statistics
from derivations.luo2019 import priors as L

ALL_LAWS = ("gaussian", "laplace", "uniform", "exponential", "student_t7")
EIGHTH_MOMENT_LAWS = ("gaussian", "laplace", "uniform", "exponential")
EXACT_M = (4, 64)
LADDER = (16, 32, 64, 128, 256)
MU_P, SIGMA_P = 0.5, 2.0  # a non-standard location and scale, so the sigma_P factors are tested
PROCESS = "batches of M i.i.d. draws h = mu_P + sigma_P z; mu_B, sigma_B (1/M) computed from each batch"

# column order of the observations
MU, MU2, SD, SD2, SD4, MU_SD, MU_SD2 = range(7)


def _point(law: str, M: int) -> dict[str, Any]:
    d = get_law(law)
    return {"law": law, "M": M, "rho": float(d.excess_kurtosis), "kappa": float(d.skewness),
            "sigma_P": SIGMA_P, "mu_P": MU_P}


def _points(laws: tuple[str, ...], Ms: tuple[int, ...]) -> Callable[[], list[dict[str, Any]]]:
    return lambda: [_point(law, M) for law in laws for M in Ms]


def simulate_batch_statistics(points: list[dict[str, Any]], n: int, gen: torch.Generator,
                              device: torch.device) -> torch.Tensor:
    """Observations ``[P, n, 7]`` per batch, in the column order MU ... MU_SD2 above."""
    out = []
    for p in points:
        mu, sd = batch_statistics(p["law"], int(p["M"]), n, gen, device)
        mu = p["mu_P"] + p["sigma_P"] * mu
        sd = p["sigma_P"] * sd
        out.append(torch.stack([mu, mu * mu, sd, sd * sd, sd**4, mu * sd, mu * sd * sd], dim=-1))
    return torch.stack(out)


def _var(m: torch.Tensor, x: int, x2: int) -> torch.Tensor:
    return m[x2] - m[x] ** 2


def _corr(m: torch.Tensor, xy: int, y: int, y2: int) -> torch.Tensor:
    return (m[xy] - m[MU] * m[y]) / torch.sqrt(_var(m, MU, MU2) * _var(m, y, y2))


_mean_sigma_sq = sp.lambdify((L.M.symbol, L.sigma_P.symbol), L.mean_sigma_sq)


def mean_sigma_with_control(m: torch.Tensor, p: dict[str, Any]) -> torch.Tensor:
    """E[sigma_B] estimated as mean(sigma_B) - (mean(sigma_B^2) - E[sigma_B^2]) / (2 sigma_P).

    sigma_B^2 is a control variate with a known mean (the exact E[sigma_B^2] = (M-1)/M
    sigma_P^2 of ``prior_mean_var``, proven in ``mean_var_derivation``); the fixed
    coefficient 1/(2 sigma_P) keeps the estimator exactly unbiased and removes the
    first-order fluctuation of sigma_B = sqrt(sigma_B^2).
    """
    known = float(_mean_sigma_sq(p["M"], p["sigma_P"]))
    return m[SD] - (m[SD2] - known) / (2 * p["sigma_P"])


def _check(claim: Any, estimand: Callable[[torch.Tensor, dict[str, Any]], torch.Tensor],
           laws: tuple[str, ...], Ms: tuple[int, ...]) -> MonteCarloCheck:
    return MonteCarloCheck(claim=claim, simulate=simulate_batch_statistics, points=_points(laws, Ms),
                           estimand=estimand, process=PROCESS)


CHECKS = [
    _check(L.prior_var_mu, lambda m, p: p["M"] * _var(m, MU, MU2), ALL_LAWS, EXACT_M),
    _check(L.prior_mean_var, lambda m, p: m[SD2], ALL_LAWS, EXACT_M),
    _check(L.prior_var_var, lambda m, p: _var(m, SD2, SD4), EIGHTH_MOMENT_LAWS, EXACT_M),
    # the O(1/M) rate of M Var(sigma_B) needs a finite eighth moment: student_t7 (none) is left out
    _check(L.prior_var_sigma, lambda m, p: p["M"] * _var(m, SD, SD2), EIGHTH_MOMENT_LAWS, LADDER),
    _check(L.mean_sigma_printed, mean_sigma_with_control, ALL_LAWS, (16, 64)),
    _check(L.mean_sigma_corrected, mean_sigma_with_control, ALL_LAWS, LADDER[:-1]),
    _check(L.prior_corr_mean_var, lambda m, p: _corr(m, MU_SD2, SD2, SD4), ("exponential", "uniform"), EXACT_M),
    _check(L.independence_printed, lambda m, p: _corr(m, MU_SD, SD, SD2), ("gaussian", "exponential"), (64,)),
    _check(L.independence_corrected, lambda m, p: _corr(m, MU_SD, SD, SD2), ("exponential",), LADDER),
]
