"""Monte Carlo check of L4 (Luo et al., ICLR 2019, Eq. 4): the population variance of h = w.x.

The process: a weight w in dimension N is drawn once (w_i ~ N(0, 1), from a seeded generator of
its own) together with an input mean m (m_i ~ N(0, 1)); then inputs x = m + xi / sqrt(N),
xi ~ N(0, I), are sampled and h = w.x is observed. One unit is one input; its observation
vector is (h, h^2), and the estimand is the variance mean[1] - mean[0]^2 (delta-method standard
error). The mean w.m is far from zero, so a simulator or estimand that forgot to centre would
fail. Each point records ||w||^2 of its weight, so the claimed Var(w.x) = ||w||^2/N depends on
the point: a wrong power of N or of ||w|| would be caught.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from bnsym.mc.engine import MonteCarloCheck
from derivations.luo2019 import pn_wn as L4

DIMENSIONS = (16, 256)
WEIGHT_SEEDS = (1, 2)


def _weight_and_mean(N: int, seed: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """The fixed weight w and input mean m of a point, drawn on the CPU so every device sees the same."""
    gen = torch.Generator(device="cpu").manual_seed(seed)
    w = torch.randn(N, generator=gen, dtype=torch.float64)
    m = torch.randn(N, generator=gen, dtype=torch.float64)
    return w.to(device), m.to(device)


def _points() -> list[dict[str, Any]]:
    out = []
    for N in DIMENSIONS:
        for seed in WEIGHT_SEEDS:
            w, _ = _weight_and_mean(N, seed, torch.device("cpu"))
            out.append({"N": N, "w_seed": seed, "w_norm_sq": float(w @ w)})
    return out


def simulate_projection(points: list[dict[str, Any]], n: int, generator: torch.Generator,
                        device: torch.device) -> torch.Tensor:
    """Observations (h, h^2) of h = w.x for n inputs x ~ N(m, I/N) per point, shape [P, n, 2]."""
    out = []
    for p in points:
        N = int(p["N"])
        w, m = _weight_and_mean(N, int(p["w_seed"]), device)
        xi = torch.randn(n, N, generator=generator, device=device, dtype=torch.float64)
        h = (m + xi / math.sqrt(N)) @ w
        out.append(torch.stack([h, h * h], dim=-1))
    return torch.stack(out)


def variance(mean: torch.Tensor, point: dict[str, Any]) -> torch.Tensor:
    """Var(h) = E[h^2] - E[h]^2 from the mean observation vector (h, h^2); the same at every point."""
    return mean[1] - mean[0] ** 2


population_variance_check = MonteCarloCheck(
    claim=L4.population_variance_process, simulate=simulate_projection, points=_points, estimand=variance,
    process="h = w.x for x ~ N(m, I/N) in dimension N, w and m fixed per point (seeded N(0, 1) draws);"
            " unit = one input, observations (h, h^2); estimand mean[1] - mean[0]^2",
)
