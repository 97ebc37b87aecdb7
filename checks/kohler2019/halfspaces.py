"""Monte Carlo checks of K3 on Gaussian halfspaces: GDNP with bisection, and Stein's lemma by sampling.

**GDNP with bisection.** A unit is a group of 8 random empirical risks: covariance C from
``bnsym.sim.quadratic`` (spectrum on [1, kappa]), a mean u of norm 1, n samples z ~ N(u, C), the loss
phi(t) = t Phi(t) + pdf(t). Each is run by ``bnsym.sim.gdnp.halfspace_gdnp`` (length by 40 bisection
steps on [-100, 100], direction step s_t = w'Sw/(Lmax c2 g^2) with the sample's own moments); the
optimum f_n* comes from Newton's method on the convex f_n(w~), independent of GDNP. The observation
is the group maximum over steps 1 <= t <= T with gap_t > 1e-10 |f*| of log(gap_t/gap_0) - log
envelope_t, the envelope (1 - mu/Lmax)^(2t) lambdified from the derivation with mu, Lmax of the
sample second moment.

**Stein's lemma.** At fixed (u, C, w~, v) in d = 4 (drawn once from fixed seeds on the CPU) a unit is
one z ~ N(u, C) and the observation Phi(z.w~) z.v; the claimed value is K2's closed form at the
point's m = u.w~, q_x = w~'Cw~, b = u.v, k_xy = w~'Cv (inner products of the point's vectors).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from bnsym.mc.engine import MonteCarloCheck
from bnsym.sim.gdnp import halfspace_gdnp, halfspace_minimum, halfspace_problems, phi1
from bnsym.sim.quadratic import random_problems
from derivations.kohler2019 import processes as P

from .least_squares import log_envelope_fn

GROUP = 8
FLOOR = 1e-10
UNITS = 12  # groups per point: 96 problems
HS_POINTS = [{"d": 4, "kappa": 10.0, "n_train": 1000, "mean_norm": 1.0, "T": 60},
             {"d": 8, "kappa": 100.0, "n_train": 1000, "mean_norm": 1.0, "T": 60}]
_log_env = log_envelope_fn(P.envelope)


def simulate_halfspaces(points: list[dict[str, Any]], n: int, gen: torch.Generator,
                        device: torch.device) -> torch.Tensor:
    """Observations [P, n, 1]: the group maximum of log(gap_t/gap_0) - log envelope_t."""
    out = []
    for p in points:
        base = random_problems(n * GROUP, int(p["d"]), 1.0, float(p["kappa"]), gen, device)
        hp = halfspace_problems(base, int(p["n_train"]), float(p["mean_norm"]), gen)
        f_star = halfspace_minimum(hp)
        f = halfspace_gdnp(hp, int(p["T"]), gen)[0]
        gap = f - f_star.unsqueeze(-1)
        t = np.arange(int(p["T"]) + 1, dtype=float)
        log_env = torch.as_tensor(_log_env(t[None, :], hp.mu.cpu().numpy()[:, None], hp.L.cpu().numpy()[:, None]),
                                  device=device)
        read = ~(gap[:, 1:] <= FLOOR * f_star.abs().unsqueeze(-1))  # nan steps are kept, so nan propagates
        stat = torch.log(gap[:, 1:] / gap[:, :1]) - (log_env[:, 1:] - log_env[:, :1])
        stat = torch.where(read, stat, torch.tensor(-math.inf, dtype=stat.dtype, device=device))
        out.append(stat.reshape(n, -1).amax(-1, keepdim=True))
    return torch.stack(out)


halfspace_check = MonteCarloCheck(
    claim=P.hs_envelope, simulate=simulate_halfspaces, points=HS_POINTS, process=(
        f"GDNP with 40 bisection steps for the length on random empirical halfspace risks, groups of {GROUP},"
        f" {UNITS} groups per point"), unit_size="d", pilot_units=UNITS, max_units=UNITS, min_chunk=4)

# -- Stein's lemma by sampling -----------------------------------------------------------------------------------
STEIN_D = 4
STEIN_SEEDS = (11, 12, 13)


def _stein_vectors(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The point's (u, C, w~, v), drawn on the CPU from ``seed`` so every device sees the same."""
    gen = torch.Generator(device="cpu").manual_seed(seed)
    draw = lambda *shape: torch.randn(*shape, generator=gen, dtype=torch.float64).numpy()  # noqa: E731
    u = 0.7 * draw(STEIN_D)
    A = draw(STEIN_D, STEIN_D)
    C = A @ A.T / STEIN_D + 0.2 * np.eye(STEIN_D)
    return u, C, draw(STEIN_D), draw(STEIN_D)


def stein_points() -> list[dict[str, Any]]:
    out = []
    for seed in STEIN_SEEDS:
        u, C, w, v = _stein_vectors(seed)
        out.append({"seed": seed, "m": float(u @ w), "q_x": float(w @ C @ w), "b": float(u @ v),
                    "k_xy": float(w @ C @ v)})
    return out


def simulate_stein(points: list[dict[str, Any]], n: int, gen: torch.Generator, device: torch.device) -> torch.Tensor:
    """Observations [P, n, 1]: Phi(z.w~) z.v for n draws z ~ N(u, C)."""
    out = []
    for p in points:
        u, C, w, v = (torch.as_tensor(x, device=device) for x in _stein_vectors(int(p["seed"])))
        z = u + torch.randn(n, STEIN_D, generator=gen, device=device, dtype=torch.float64) @ \
            torch.linalg.cholesky(C).T
        out.append((phi1(z @ w) * (z @ v)).unsqueeze(-1))
    return torch.stack(out)


stein_check = MonteCarloCheck(claim=P.stein_sampled, simulate=simulate_stein, points=stein_points,
                              process=f"z ~ N(u, C) in d = {STEIN_D}, observation Phi(z.w~) z.v", unit_size="d",
                              pilot_units=20_000, max_units=2_000_000)

CHECKS = [halfspace_check, stein_check]
