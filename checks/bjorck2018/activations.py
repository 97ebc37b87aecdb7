"""Monte Carlo checks of B3 at initialization: activation mean squares against depth, with and without BN.

A unit is one random instance of the residual MLP of ``bnsym.sim.resnet`` (fresh W_in, W_0..W_{L-1})
run on its own batch of M inputs x ~ N(0, I_d); its observations at the point's depth l are
ms_l = ||h_l||^2/(M n) and log sqrt(ms_l). Points that differ only in depth (and in BN or not) share
one simulation call: the network runs to the largest depth asked for, and the plain and BN variants use
the same inputs and weights. The closed forms reach this module only through the derivation's SymPy
expressions (``derivations/bjorck2018/depth.py``), lambdified by the engine. sigma_w^2 = 2 (He's value:
without BN the mean square doubles per block), ms0 = 1, d = 8 throughout.

* ``plain_first_block``, ``bn_first_block``: E[ms_1] exactly, at widths down to n = 4 and (BN) batches of
  2 and 32.
* ``plain_growth`` (no BN): E[ms_l] = (1 + sigma_w^2/2)^l ms0 + O(1/n), fitted over the widths
  n = 16, 32, 64, 128 at depths 4 and 8 (M = 32). The widest rung costs most (its weights are 8 x 128^2
  normal draws a unit), so the units are capped at 2000 and the verdict states the resolution reached.
* ``bn_bound``: E[ms_l] < ms0 + sigma_w^2 l, one-sided, at n = 64, batch sizes 4 and 32, depths 4 and 16.
* ``bn_wide``: E[ms_l] = ms0 + sigma_w^2 l/2 + O(1/n) at M = 32, depths 8 and 16, the same widths.
* Measurements: E[log sqrt(ms_l)] at the depths of ``MEASURE_DEPTHS`` with and without BN (``MEASURE``).

Nothing here needs a round-off allowance: every claim is about a mean, tested against its standard
error (ms_l is a sum of squares computed in float64, its relative rounding ~ L 2^-52, far below it).
"""

from __future__ import annotations

import contextlib
from typing import Any, Iterator

import torch

from bnsym.mc.engine import MonteCarloCheck
from bnsym.sim.resnet import activations
from derivations.bjorck2018 import depth as B

BASE = {k: B.MEASURE[k] for k in ("d", "ms0", "sigma_w2")}
WIDTHS = (16, 32, 64, 128)
PLAIN_DEPTHS = (4, 8)
BN_WIDE_DEPTHS = (8, 16)
BN_BOUND_POINTS = [{"n": 64, "M": M, "l": k} for M in (4, 32) for k in (4, 16)]
FIRST_BLOCK_PLAIN = [{"n": n, "M": 32} for n in (4, 16, 64)]
FIRST_BLOCK_BN = [{"n": n, "M": M} for n in (4, 64) for M in (2, 32)]
WEIGHTS_PER_PIECE = 1 << 21  # entries of one layer's weights [units, n, n] simulated at once (16 MB)
MS, LOG_RMS = 0, 1
KEYS = ("n", "M", "d", "ms0", "sigma_w2")


@contextlib.contextmanager
def one_thread() -> Iterator[None]:
    """One intra-op thread while a simulation runs: its tensors are small, and a second spinning worker only adds
    synchronization on a small shared machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def simulate(points: list[dict[str, Any]], n: int, gen: torch.Generator, device: torch.device) -> torch.Tensor:
    """Observations [P, n, 2] = (ms_l, log sqrt(ms_l)) at each point's depth and variant (points share KEYS)."""
    p0 = points[0]
    width, depth = int(p0["n"]), max(int(p["l"]) for p in points)
    variants = tuple(sorted({bool(p["bn"]) for p in points}))
    piece = max(1, WEIGHTS_PER_PIECE // (width * width))
    parts = []
    with one_thread():
        for start in range(0, n, piece):
            parts.append(activations(min(piece, n - start), int(p0["M"]), int(p0["d"]), width, depth,
                                     float(p0["sigma_w2"]), gen, device, input_variance=float(p0["ms0"]),
                                     variants=variants))
    ms = torch.cat(parts, dim=1)  # [V, n, depth + 1]
    cols = torch.stack([ms[variants.index(bool(p["bn"])), :, int(p["l"])] for p in points])
    return torch.stack([cols, 0.5 * torch.log(cols)], dim=-1)


def _points(bn: int, depths: tuple[int, ...], M: int = 32) -> list[dict[str, Any]]:
    return [{"bn": bn, "n": w, "M": M, "l": k, **BASE} for w in WIDTHS for k in depths]


PROCESS = ("residual MLP at initialization, W_l ~ N(0, sigma_w^2/n), W_in ~ N(0, ms0/d), batches of M inputs"
           " x ~ N(0, I_d); BN = torch.nn.functional.batch_norm in training mode, eps = 1e-12")


def _check(claim: Any, points: Any, column: int = MS, units: int = 256, cap: int = 20_000) -> MonteCarloCheck:
    return MonteCarloCheck(claim=claim, simulate=simulate, points=points, estimand=lambda m, p: m[column],
                           batch_keys=KEYS, process=PROCESS, unit_size="n", pilot_units=units, max_units=cap,
                           min_chunk=64)


def _first(bn: int, points: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"bn": bn, "l": 1, **p, **BASE} for p in points]


plain_first_block_check = _check(B.plain_first_block, _first(0, FIRST_BLOCK_PLAIN), units=2000)
plain_growth_check = _check(B.plain_growth, _points(0, PLAIN_DEPTHS), units=500, cap=2000)
bn_first_block_check = _check(B.bn_first_block, _first(1, FIRST_BLOCK_BN), units=2000)
bn_bound_check = _check(B.bn_bound, [{"bn": 1, **p, **BASE} for p in BN_BOUND_POINTS])
bn_wide_check = _check(B.bn_wide, _points(1, BN_WIDE_DEPTHS))
_measure = [{"bn": bn, "l": k, **B.MEASURE} for bn in (0, 1) for k in B.MEASURE_DEPTHS]
log_rms_plain_check = _check(B.log_rms_plain, [p for p in _measure if not p["bn"]], LOG_RMS, units=512, cap=512)
log_rms_bn_check = _check(B.log_rms_bn, [p for p in _measure if p["bn"]], LOG_RMS, units=512, cap=512)

CHECKS = [plain_first_block_check, plain_growth_check, bn_first_block_check, bn_bound_check, bn_wide_check,
          log_rms_plain_check, log_rms_bn_check]
