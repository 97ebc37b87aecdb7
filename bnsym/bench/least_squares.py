"""The least-squares family: ridge regression on random linear-teacher problems (Luo et al. 2019, L9).

Claim ``luo2019.L9.ridge_process``: the mean generalization error ||w - w*||^2/N of the ridge
solution w = (X'X + lambda I)^-1 X'y on a random problem tends to eps(alpha, lambda) as
N -> oo. The benched point is alpha = 2, lambda = sigma^2 = 0.25 (the optimal decay), N = 64 of
its ladder. A unit is one random problem, drawn in this order: the teacher w* = sqrt(N) g/||g||
from g ~ N(0, I_N), the design X with P = round(alpha N) rows x ~ N(0, I/N), the label noise
xi ~ N(0, I_P); y = X w* + sigma xi. The observation (one column) is ||w - w*||^2/N.

bnsym's estimator is the check's simulator: it draws only X and observes the exact mean of that
error over the teacher and the noise given X, from the eigenvalues of the Gram matrix
(``checks/luo2019/generalization.py``); its mean is the same quantity. Both baselines are plain
Monte Carlo of the whole process and fit each problem the way a user would: the ridge solution
by ``np.linalg.solve`` of the normal equations, the minimum-norm least-squares fit (no
``lambda`` in the point) by ``np.linalg.lstsq`` in the loop and by the normal equations of the
full-rank side (X'X when P >= N, X X' when P < N) in the vectorized version, scaled by
1/(1 + c) when the point gives a shrinkage c. They accept every point of the L9 regression
checks. For one unit and one seed the two baselines draw the same numbers.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .family import Family

BLOCK_ELEMENTS = 1 << 21  # entries of X per vectorized block (16 MB), the bound the check's simulator uses


def _setting(point: dict[str, Any]) -> tuple[int, int, float, float, float]:
    """(N, P, sigma, lambda, c) of a point; lambda = 0 means minimum-norm least squares."""
    N = int(point["N"])
    return (N, max(1, round(float(point["alpha"]) * N)), float(point["sigma"]), float(point.get("lambda", 0.0)),
            float(point.get("c", 0.0)))


def loop(point: dict[str, Any], units: int, rng: np.random.Generator) -> np.ndarray:
    """``[units, 1]``: ||w - w*||^2/N of ``units`` random problems, one problem per iteration."""
    N, P, sigma, lam, shrink = _setting(point)
    out = np.empty((units, 1))
    for i in range(units):
        g = rng.standard_normal(N)
        w_star = math.sqrt(N) * g / np.linalg.norm(g)
        X = rng.standard_normal((P, N)) / math.sqrt(N)
        y = X @ w_star + sigma * rng.standard_normal(P)
        if lam > 0:
            w = np.linalg.solve(X.T @ X + lam * np.eye(N), X.T @ y)
        else:
            w = np.linalg.lstsq(X, y, rcond=None)[0]
        w = w / (1 + shrink)
        out[i, 0] = np.sum((w - w_star) ** 2) / N
    return out


def vectorized(point: dict[str, Any], units: int, rng: np.random.Generator) -> np.ndarray:
    """``[units, 1]``: the same problems as stacked arrays, solved by one batched ``np.linalg.solve`` per block.

    Blocks of problems keep X under ``BLOCK_ELEMENTS`` entries; each block draws its teachers,
    then its designs, then its noise."""
    N, P, sigma, lam, shrink = _setting(point)
    block = max(1, BLOCK_ELEMENTS // (P * N))
    out = []
    for start in range(0, units, block):
        B = min(block, units - start)
        g = rng.standard_normal((B, N))
        w_star = math.sqrt(N) * g / np.linalg.norm(g, axis=1, keepdims=True)
        X = rng.standard_normal((B, P, N)) / math.sqrt(N)
        y = np.einsum("bpn,bn->bp", X, w_star) + sigma * rng.standard_normal((B, P))
        Xt = X.transpose(0, 2, 1)
        if lam > 0 or P >= N:
            w = np.linalg.solve(Xt @ X + lam * np.eye(N), (Xt @ y[..., None]))[..., 0]
        else:
            w = (Xt @ np.linalg.solve(X @ Xt, y[..., None]))[..., 0]
        w = w / (1 + shrink)
        out.append(np.sum((w - w_star) ** 2, axis=1) / N)
    return np.concatenate(out)[:, None]


def draws_per_unit(point: dict[str, Any]) -> int:
    """Gaussian draws of one problem: the teacher (N), the design (P N) and the noise (P)."""
    N, P, *_ = _setting(point)
    return N + P * N + P


POINT = {"alpha": 2.0, "lambda": 0.25, "sigma": 0.5, "N": 64}
_N, _P, *_ = _setting(POINT)

FAMILY = Family(
    key="least-squares",
    title="ridge regression on random linear-teacher problems",
    claim="luo2019.L9.ridge_process",
    point=POINT,
    unit=f"one random problem: a teacher, P = {_P} inputs of dimension N = {_N}, noisy labels, its ridge fit",
    loop=loop,
    vectorized=vectorized,
    draws_per_unit=draws_per_unit,
    notes="bnsym draws only the design X of each problem and observes the exact conditional mean of"
          " ||w - w*||^2/N over the teacher and the label noise, from the eigenvalues of the Gram matrix"
          " (the baselines sample the teacher and the noise and fit each problem)",
)
