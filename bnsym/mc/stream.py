"""Streamed moments in float64: means and covariances of observation vectors.

Observations arrive in chunks of shape ``[P, n, k]`` (P parameter points, n units,
k observed quantities per unit). The accumulator keeps, per point, the count, the mean
vector and the co-moment matrix, merged chunk by chunk with Chan's parallel update,
so memory stays flat however many samples are drawn.

An estimand is a smooth function ``f`` of the mean vector; its standard error comes
from the delta method, ``Var f(mean) ~ grad f' (S / n) grad f`` with ``S`` the sample
covariance of one unit's observations.
"""

from __future__ import annotations

from typing import Callable

import torch

Estimand = Callable[[torch.Tensor], torch.Tensor]


class MomentAccumulator:
    """Running mean and co-moment of ``[P, n, k]`` chunks, in float64."""

    def __init__(self) -> None:
        self.count = 0
        self.mean: torch.Tensor | None = None
        self.comoment: torch.Tensor | None = None

    def add(self, chunk: torch.Tensor) -> None:
        x = chunk.to(torch.float64)
        if x.dim() == 2:
            x = x.unsqueeze(-1)
        n = x.shape[1]
        if n == 0:
            return
        m = x.mean(dim=1)
        d = x - m.unsqueeze(1)
        c = torch.einsum("pni,pnj->pij", d, d)
        if self.mean is None:
            self.count, self.mean, self.comoment = n, m, c
            return
        assert self.comoment is not None
        total = self.count + n
        delta = m - self.mean
        self.comoment = self.comoment + c + torch.einsum("pi,pj->pij", delta, delta) * (self.count * n / total)
        self.mean = self.mean + delta * (n / total)
        self.count = total

    def covariance(self) -> torch.Tensor:
        """Sample covariance of one unit's observations, ``[P, k, k]``."""
        assert self.comoment is not None and self.count > 1
        return self.comoment / (self.count - 1)

    def estimate(self, fs: list[Estimand]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(value, stderr, unit_sd)`` of ``fs[p](mean[p])`` for each point p, by the delta method.

        ``unit_sd`` is the standard deviation of one unit's contribution, so that the
        standard error with ``n`` units is ``unit_sd / sqrt(n)``.
        """
        assert self.mean is not None
        values, sds = [], []
        cov = self.covariance()
        for p in range(self.mean.shape[0]):
            mu = self.mean[p].detach().clone().requires_grad_(True)
            v = fs[p](mu)
            (g,) = torch.autograd.grad(v, mu)
            used = g != 0  # a column the estimand ignores (perhaps non-finite) must not reach its variance
            var_unit = torch.clamp(g[used] @ cov[p][used][:, used] @ g[used], min=0.0)
            values.append(v.detach())
            sds.append(torch.sqrt(var_unit))
        value, sd = torch.stack(values), torch.stack(sds)
        return value, sd / self.count ** 0.5, sd


def first(mean: torch.Tensor, point: dict | None = None) -> torch.Tensor:
    """The estimand 'mean of the first observed quantity'."""
    return mean[0]
