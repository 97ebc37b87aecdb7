"""The BNGD family: iterations of batch-normalized gradient descent to reach tol on random least squares.

The benched claim is ``cai2019.C5.iterations_vs_eps`` at its BNGD point eps lambda_max = 1, eps_a = 1
(d = 10, tol = 1e-4, T = 20000), the best rate of the check's sweep. A unit is one BNGD run:

1. a problem: Q Haar-random (QR of a d x d standard Gaussian matrix, columns' signs set by R's
   diagonal), H = Q diag(lambda) Q' with lambda geometric on [0.01, 1], a teacher w* of uniform
   direction on the unit sphere (a standard Gaussian d-vector, normalised), g = H w*, c = w*.g
   (no noise), and the minimum J* = (c - g.w*)/2;
2. a start: w_0 of uniform direction with ||w_0|| = 1 (a normalised Gaussian d-vector), a_0 ~ N(0, 1);
3. simultaneous BNGD on J(a, w) = 1/2 (c - 2 a w.g/||w||_H + a^2) for up to T iterations,

       a+ = a + eps_a (w.g/||w||_H - a),   w+ = w + eps a/||w||_H (g - (w.g/||w||_H^2) H w),

   watching the gap J - J* for the first iteration N with gap_N <= tol gap_0.

Draws of one unit, in order: the d x d matrix behind Q, the teacher's d-vector, w_0's d-vector, a_0.
Both baselines return the check's three columns: min(N, T), 1{N <= T} and z = log10(gap_N/gap_0)
(N = T when tol was not reached; +inf when the gap overflowed first). The check's estimand is the
mean of the first column.

The loop stops a run at its hit, as one writes it by hand (or once its state holds an inf or nan,
which no later step undoes); the vectorized version steps every run together and stops when all
have hit (or at T). Both compute H w, ||w||_H^2 and w.g once per iteration, in the problem's own
coordinates, and use them for the gap and for the step.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .family import Family

LAMBDA_MIN, LAMBDA_MAX = 0.01, 1.0  # the check's spectrum: geometric on [0.01, 1] (kappa = 100)
TINY = np.finfo(np.float64).tiny  # a gap rounded to <= 0 at the hit is below tol all the same


def _settings(point: dict[str, Any]) -> tuple[int, int, float, float, float]:
    return int(point["d"]), int(point["T"]), float(point["tol"]), float(point["epsilon"]), float(point["epsilon_a"])


def _spectrum(d: int) -> np.ndarray:
    return LAMBDA_MIN * (LAMBDA_MAX / LAMBDA_MIN) ** (np.arange(d) / (d - 1)) if d > 1 else np.array([LAMBDA_MIN])


def loop(point: dict[str, Any], units: int, rng: np.random.Generator) -> np.ndarray:
    """One BNGD run per Python iteration, stepped one iteration at a time on numpy d-vectors."""
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # a diverging run overflows, as it should
        return _loop(point, units, rng)


def _loop(point: dict[str, Any], units: int, rng: np.random.Generator) -> np.ndarray:
    d, T, tol, eps, eps_a = _settings(point)
    lam = _spectrum(d)
    out = np.empty((units, 3))
    for u in range(units):
        q, r = np.linalg.qr(rng.standard_normal((d, d)))
        q = q * np.sign(np.diag(r))
        H = (q * lam) @ q.T
        H = (H + H.T) / 2
        w_star = rng.standard_normal(d)
        w_star /= np.linalg.norm(w_star)
        g = H @ w_star
        c = w_star @ g
        j_star = (c - g @ w_star) / 2
        w = rng.standard_normal(d)
        w /= np.linalg.norm(w)
        a = rng.standard_normal()
        gap0 = hit_gap = last_gap = math.nan
        hit = last_k = 0
        for k in range(T + 1):
            Hw = H @ w
            sq = w @ Hw  # ||w||_H^2
            n = np.sqrt(sq)
            wg = w @ g
            gap = (c - 2 * a * wg / n + a * a) / 2 - j_star
            if math.isfinite(gap):
                last_k, last_gap = k, gap
                if k == 0:
                    gap0 = gap
                elif gap <= tol * gap0:
                    hit, hit_gap = k, gap
                    break
            elif not (math.isfinite(a) and np.isfinite(w).all()):
                break  # a state with an inf or nan stays so: no finite gap follows
            a, w = a + eps_a * (wg / n - a), w + (eps * a / n) * (g - (wg / sq) * Hw)
        if hit:
            z = math.log10(max(hit_gap, TINY)) - math.log10(gap0)
        else:
            z = math.log10(last_gap) - math.log10(gap0) if last_k == T else math.inf
        out[u] = (hit if hit else T), float(hit > 0), z
    return out


def vectorized(point: dict[str, Any], units: int, rng: np.random.Generator) -> np.ndarray:
    """All runs at once: problems [B, d, d], states [B] and [B, d], one numpy step per iteration."""
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # a diverging run overflows, as it should
        return _vectorized(point, units, rng)


def _vectorized(point: dict[str, Any], units: int, rng: np.random.Generator) -> np.ndarray:
    d, T, tol, eps, eps_a = _settings(point)
    z = rng.standard_normal((units, d, d))
    w_star = rng.standard_normal((units, d))
    w = rng.standard_normal((units, d))
    a = rng.standard_normal(units)
    q, r = np.linalg.qr(z)
    q = q * np.sign(np.diagonal(r, axis1=-2, axis2=-1))[:, None, :]
    H = (q * _spectrum(d)) @ q.transpose(0, 2, 1)
    H = (H + H.transpose(0, 2, 1)) / 2
    w_star /= np.linalg.norm(w_star, axis=1, keepdims=True)
    g = np.einsum("bij,bj->bi", H, w_star)
    c = np.einsum("bi,bi->b", w_star, g)
    j_star = (c - np.einsum("bi,bi->b", g, w_star)) / 2
    w /= np.linalg.norm(w, axis=1, keepdims=True)
    hit = np.zeros(units)  # 0 until the run reaches tol
    hit_gap = np.full(units, np.nan)
    last_k = np.zeros(units)
    gap0 = last_gap = np.full(units, np.nan)  # both set at k = 0
    for k in range(T + 1):
        Hw = np.einsum("bij,bj->bi", H, w)
        sq = np.einsum("bi,bi->b", w, Hw)
        n = np.sqrt(sq)
        wg = np.einsum("bi,bi->b", w, g)
        gap = (c - 2 * a * wg / n + a * a) / 2 - j_star
        finite = np.isfinite(gap)
        last_k = np.where(finite, k, last_k)
        last_gap = np.where(finite, gap, last_gap)
        if k == 0:
            gap0 = gap
        else:
            new = (hit == 0) & finite & (gap <= tol * gap0)
            hit = np.where(new, k, hit)
            hit_gap = np.where(new, gap, hit_gap)
            if (hit > 0).all():
                break
        a, w = a + eps_a * (wg / n - a), w + (eps * a / n)[:, None] * (g - (wg / sq)[:, None] * Hw)
    reached = hit > 0
    z_hit = np.log10(np.maximum(hit_gap, TINY)) - np.log10(gap0)
    z_end = np.where(last_k == T, np.log10(last_gap) - np.log10(gap0), np.inf)
    return np.stack([np.where(reached, hit, T), reached.astype(np.float64), np.where(reached, z_hit, z_end)], axis=1)


def draws_per_unit(point: dict[str, Any]) -> int:
    """Q's Gaussian matrix (d^2), the teacher (d), w_0 (d) and a_0 (1)."""
    d = int(point["d"])
    return d * d + 2 * d + 1


FAMILY = Family(
    key="bngd",
    title="BNGD on random least squares (Cai et al. 2019): iterations to tol",
    claim="cai2019.C5.iterations_vs_eps",
    point={"method": "bngd", "epsilon": 1.0, "epsilon_a": 1.0},
    unit="one BNGD run on a random problem (d = 10, kappa = 100) from a random start, to tol = 1e-4 or T = 20000",
    loop=loop,
    vectorized=vectorized,
    draws_per_unit=draws_per_unit,
    notes="bnsym iterates in H's eigenbasis (O(d) per step, the baselines' H w is O(d^2)) and drops runs that"
          " reached tol from its tensors in batches; the loop stops each run at its hit, the vectorized baseline"
          " when every run has hit. No variance reduction: the three share the unit sd. The vectorized baseline's"
          " time follows the slowest of its runs, which grows with their number: projected from its timing run"
          " to the units of a 1% resolution it is understated, and so is bnsym's speed-up over it.",
)
