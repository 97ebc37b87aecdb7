"""The batch-statistics family: the expected loss gap of real BN (Theorem 1 of Luo et al. 2019).

One unit is one batch. Its process, as the check ``checks/luo2019/theorem1.py`` runs it:

1. draw M i.i.d. standardized values z_1..z_M of the point's law;
2. normalise the batch by its own statistics, mu = mean z, sigma^2 = (1/M) sum (z_i - mu)^2,
   giving h_hat_i = gamma (z_i - mu) / sigma + beta next to the population-normalised
   h_bar_i = gamma z_i + beta;
3. label each sample by the teacher's conditional mean y_i = g(gamma* z_i + beta*)
   + c (z_i^3 - 3 z_i), g = softplus, c = ``teacher_cubic``;
4. the unit's value is the batch mean of D_i = [A(h_hat_i) - A(h_bar_i)] - y_i (h_hat_i - h_bar_i),
   A' = g, with A(h_hat) - A(h_bar) the integral of softplus from h_bar to h_hat by the
   12-node Gauss-Legendre rule of ``np.polynomial.legendre.leggauss``: h sum_k w_k g(m + x_k h)
   with midpoint m and half-length h, the nodes as a trailing axis of length 12.

Both baselines are plain Monte Carlo of this process with numpy's generator. The loop
draws the batches one after the other (z of batch 1, then of batch 2 ...); the vectorized
baseline draws all batches at once as a row-major [units, M] array (its largest
intermediate is [units, M, 12]), which is the same sequence of numbers, so the two give
identical units from one seed. Everything is float64. The observations are one column,
the unit's value, like the check's simulator.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .family import Family

QUADRATURE_NODES = 12
_NODES, _WEIGHTS = np.polynomial.legendre.leggauss(QUADRATURE_NODES)
_T7_DOF = 7


def _standardized(law: str, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    """Draws of ``law`` standardized to mean 0 and variance 1, by the transforms ``bnsym.sim.laws`` documents."""
    if law == "gaussian":
        return rng.standard_normal(shape)
    if law == "uniform":
        return math.sqrt(3.0) * (2.0 * rng.random(shape) - 1.0)
    if law == "laplace":
        centred = rng.random(shape) - 0.5
        return -np.sign(centred) * np.log(1.0 - 2.0 * np.abs(centred)) / math.sqrt(2.0)
    if law == "exponential":
        return -np.log(1.0 - rng.random(shape)) - 1.0
    if law == "student_t7":
        return rng.standard_t(_T7_DOF, shape) * math.sqrt((_T7_DOF - 2) / _T7_DOF)
    raise ValueError(f"no numpy sampler for law {law!r}")


def _softplus(h: np.ndarray) -> np.ndarray:
    return np.logaddexp(0.0, h)


def _batch_gap(z: np.ndarray, point: dict[str, Any]) -> np.ndarray:
    """The unit value (batch mean of D_i) of every batch in the last axis of ``z``."""
    gamma, beta = point["gamma"], point["beta"]
    mu = z.mean(axis=-1, keepdims=True)
    sigma = np.sqrt(((z - mu) ** 2).mean(axis=-1, keepdims=True))
    h_bar = gamma * z + beta
    h_hat = gamma * (z - mu) / sigma + beta
    y = _softplus(point["gamma_star"] * z + point["beta_star"])
    if point["teacher_cubic"]:
        y = y + point["teacher_cubic"] * (z**3 - 3 * z)
    mid, half = (h_hat + h_bar) / 2, (h_hat - h_bar) / 2
    integral = half * (_softplus(mid[..., None] + half[..., None] * _NODES) @ _WEIGHTS)
    return (integral - y * (h_hat - h_bar)).mean(axis=-1)


def loop(point: dict[str, Any], units: int, rng: np.random.Generator) -> np.ndarray:
    """One batch per iteration: draw M values, normalise by the batch's statistics, average D_i."""
    M = int(point["M"])
    out = np.empty((units, 1))
    for b in range(units):
        z = _standardized(point["law"], (M,), rng)
        out[b, 0] = _batch_gap(z, point)
    return out


def vectorized(point: dict[str, Any], units: int, rng: np.random.Generator) -> np.ndarray:
    """All batches at once: a [units, M] array of draws, statistics and quadrature along its rows."""
    M = int(point["M"])
    rows = max(1, VECTOR_BLOCK // M)  # [rows, M, 12] intermediates: memory stays bounded at any unit count
    z = _standardized(point["law"], (units, M), rng)
    return np.concatenate([_batch_gap(z[i:i + rows], point) for i in range(0, units, rows)])[:, None]


VECTOR_BLOCK = 1 << 20  # draws per block of the vectorized baseline (its largest array: 12 x 8 MiB)


FAMILY = Family(
    key="batch-statistics",
    title="Real BN loss gap (softplus GLM, Theorem 1 with the skewness term)",
    claim="luo2019.L2.theorem1_corrected",
    point={"law": "gaussian", "M": 32, "gamma": 1.5, "beta": 0.3, "gamma_star": 1.5, "beta_star": 0.3},
    unit="a batch of M = 32 Gaussian draws normalised by its own mean and std",
    loop=loop,
    vectorized=vectorized,
    draws_per_unit=lambda point: int(point["M"]),
    notes=("bnsym subtracts the zero-mean control variate of the first-order term, "
           "l'(h_bar_i) gamma [-z_i (u - E[u | z_i]) / 2 - (m - E[m | z_i])] with m = mu_B, u = sigma_B^2 - 1 "
           "(bnsym.sim.batchnorm.first_order_control); at this point the student is the teacher, so "
           "l'(h_bar_i) = 0 and the control is identically zero: both sides are plain Monte Carlo. "
           "bnsym evaluates the 12 quadrature nodes in float32 (everything else float64), a bias bounded "
           "by E[42 u |h| (1 + |m| + |h|)], u = 2^-24, far below the resolution at every point of the "
           "Theorem 1 checks (bnsym.sim.batchnorm.loss_gap; tests/test_bench_batch_statistics.py); and on a "
           "CPU, after drawing the whole chunk, it does the arithmetic in cache-sized blocks of batches, one "
           "block per core at a time (Python threads, one intra-op thread each)"),
    limits=True,
)
