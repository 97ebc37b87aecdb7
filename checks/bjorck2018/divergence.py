"""Monte Carlo checks of B3: divergence of one gradient step at large learning rates, with and without BN.

A unit is one instance: a synthetic classification problem (``bnsym.sim.resnet.synthetic_data``: N
inputs x ~ N(0, I_d), labels of a random linear teacher over C classes) and one He-style initialization
of the residual MLP (``init_network``). From that same initialization the network is run with and
without BN; for each, one full-batch gradient step is taken at every learning rate of the log grid
10^k (k from GRID[0] to GRID[1], GRID[2] steps a decade; the grid is one batched tensor) and the relative
loss L(theta - alpha grad L)/L(theta) is read. Per variant the observation is log10 alpha*, alpha* the
smallest grid rate whose relative loss exceeds the paper's criterion 10^3 (a non-finite loss, an
overflowed step, counts as exceeding; when no rate exceeds it, alpha* is censored at the grid's top).
The columns of a unit are

    [log10 alpha*_plain, log10 alpha*_BN, log10 alpha*_BN - log10 alpha*_plain, censored_plain, censored_BN].

The criterion, the grid and the setting come from ``derivations/bjorck2018/depth.py``. The claims on
the main setting (alpha* without and with BN, measured; the decade gap, one-sided) share one simulation.
Censoring at the top understates alpha*_BN and so the gap; a censored plain instance would overstate
it, and the digest reports how many instances were censored in each variant. ``alpha_star_depth``
measures alpha* at the depths of ``DEPTHS``, one simulation per depth.
"""

from __future__ import annotations

from typing import Any

import torch

from bnsym.mc.engine import MonteCarloCheck
from bnsym.sim.resnet import censored, divergence_threshold, init_network, relative_loss, synthetic_data
from derivations.bjorck2018 import depth as B

from .activations import one_thread

PLAIN, BN, GAP, CENSORED_PLAIN, CENSORED_BN = range(5)
PIECE = 16  # instances per batched call (memory: one layer of [grid, PIECE, n, n] at a time)


def learning_rates() -> list[float]:
    """The grid 10^k, k = GRID[0], GRID[0] + 1/GRID[2], ..., GRID[1]."""
    lo, hi, per = B.GRID
    return [10.0 ** (lo + i / per) for i in range(int(round((hi - lo) * per)) + 1)]


CRITERION = float(B.CRITERION)


def thresholds(p: dict[str, Any], n: int, gen: torch.Generator, device: torch.device) -> torch.Tensor:
    """[n, 5] per instance: log10 alpha* without and with BN, their difference, and the two censoring flags."""
    rates = learning_rates()
    out = []
    for start in range(0, n, PIECE):
        b = min(PIECE, n - start)
        data = synthetic_data(b, int(p["N"]), int(p["d"]), int(p["C"]), gen, device)
        net = init_network(b, int(p["d"]), int(p["n"]), int(p["L"]), int(p["C"]), float(p["sigma_w2"]), gen, device)
        cols = []
        flags = []
        for bn in (False, True):
            runs = relative_loss(data, net, bn, rates)
            ratio = runs.ratio[..., 0]
            cols.append(divergence_threshold(ratio, runs.learning_rates, CRITERION))
            flags.append(censored(ratio, CRITERION))
        out.append(torch.stack([cols[0], cols[1], cols[1] - cols[0], flags[0], flags[1]], dim=-1))
    return torch.cat(out)


def simulate(points: list[dict[str, Any]], n: int, gen: torch.Generator, device: torch.device) -> torch.Tensor:
    """Observations [P, n, 5]; the points of a call share their setting (one simulation)."""
    with one_thread():
        obs = thresholds(points[0], n, gen, device)
    return obs.unsqueeze(0).expand(len(points), -1, -1)


def simulate_depths(points: list[dict[str, Any]], n: int, gen: torch.Generator, device: torch.device) -> torch.Tensor:
    """Observations [P, n, 1]: log10 alpha* of each point's variant (``bn``) at the call's depth."""
    with one_thread():
        obs = thresholds(points[0], n, gen, device)
    return torch.stack([obs[:, BN if p["bn"] else PLAIN] for p in points]).unsqueeze(-1)


def gap_digest(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The gap in decades, with the grid it was read on."""
    lo, hi, per = B.GRID
    out: dict[str, Any] = {"grid": f"10^{lo} .. 10^{hi}, {per} points a decade", "criterion": CRITERION}
    if rows:
        out["summary"] = (f"alpha*_BN/alpha*_plain = 10^{rows[0]['estimate']:.2f} (+- {rows[0]['stderr']:.2f} in the"
                          f" exponent) on the grid 10^{lo} .. 10^{hi}")
    return out


MAIN = [dict(B.DIVERGENCE)]
PROCESS = ("one full-batch gradient step of a residual MLP with and without BN from the same He-style"
           " initialization, cross-entropy on synthetic data, the learning-rate grid as one tensor")


def _check(claim: Any, column: int, units: int = 24, cap: int = 48, digest: Any = None) -> MonteCarloCheck:
    return MonteCarloCheck(claim=claim, simulate=simulate, points=MAIN, estimand=lambda m, p: m[column],
                           process=PROCESS, unit_size="N", pilot_units=units, max_units=cap, min_chunk=PIECE,
                           digest=digest)


alpha_star_plain_check = _check(B.alpha_star_plain, PLAIN)
alpha_star_bn_check = _check(B.alpha_star_bn, BN)
censored_plain_check = _check(B.censored_plain, CENSORED_PLAIN)
censored_bn_check = _check(B.censored_bn, CENSORED_BN)
divergence_gap_check = _check(B.divergence_gap, GAP, digest=gap_digest)
depth_check = MonteCarloCheck(
    claim=B.alpha_star_depth, simulate=simulate_depths,
    points=[{**B.DIVERGENCE, "L": L, "bn": bn} for L in B.DEPTHS for bn in (0, 1)],
    batch_keys=("L",), process=PROCESS, unit_size="N", pilot_units=16, max_units=16, min_chunk=PIECE)

CHECKS = [alpha_star_plain_check, alpha_star_bn_check, censored_plain_check, censored_bn_check, divergence_gap_check,
          depth_check]
