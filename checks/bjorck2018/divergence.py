"""Monte Carlo checks of B3: divergence of one gradient step at large learning rates, with and without BN.

A unit is one instance: a synthetic classification problem (``bnsym.sim.resnet.synthetic_data``: N
inputs x ~ N(0, I_d), labels of a random linear teacher over C classes) and one He-style initialization
of the residual MLP (``init_network``) at the largest depth the call needs; a shallower network of the
same instance is its first blocks (``Network.truncated``: the same W_in, blocks and read-out), so depths
are compared on the same instances. From each initialization the network is run with and without BN;
for each, one full-batch gradient step is taken at every learning rate of the log grid 10^k (k from
GRID[0] to GRID[1], GRID[2] steps a decade; the grid is one batched tensor) and the relative loss
L(theta - alpha grad L)/L(theta) is read. Per variant the reading is log10 alpha*, alpha* the smallest
grid rate whose relative loss exceeds the paper's criterion 10^3 (a non-finite loss, an overflowed step,
counts as exceeding). The criterion, the grid and the setting come from ``derivations/bjorck2018/depth.py``.

Censoring, at both ends. When no rate exceeds the criterion the reading is the grid's top (alpha* is
larger: understated); when the smallest rate already exceeds it the reading is the grid's bottom (alpha*
is at most that: overstated). Both are flagged per instance and variant, and measured per depth (the
digest gives the count with its exact one-sided Clopper-Pearson 95% upper bound on the fraction). In the
gap log10 alpha*_BN - log10 alpha*_plain, a censoring that could overstate it (plain at the top, BN at the
bottom) counts at the smallest gap the grid can show, GRID[0] - GRID[1]; the two others only understate it
and count as read. ``gap_growth`` compares the gap at the main depth with the gap at the shallow depth,
taken at its largest possible value, GRID[1] - GRID[0], where a censoring could understate it there.

The columns of a unit at a point of depth L (and, for the two tests, the shallow depth L0) are

    [log10 alpha*_plain, log10 alpha*_BN, gap, bottom_plain, top_plain, bottom_BN, top_BN, gap(L) - gap(L0)].

Rounding and sample size. A reading rounds log10 alpha* up to the grid, by less than one step STEP =
1/GRID[2] decade (if the relative loss, once above the criterion, stays above it up to the next grid
point); a difference of two readings is off by less than one step either way, a difference of two gaps by
less than two. The tests put that into their thresholds (a decade plus one step; zero plus two steps). The
engine's relative resolution means nothing for readings near log10 alpha* = 0, so every check here runs a
fixed number of instances, derived from an absolute target: a standard error of at most STEP/4, a quarter of
the rounding, for a per-instance spread of up to 2 STEP (half a decade), needs (2 STEP/(STEP/4))^2 = 64
instances. The digests report, row by row, whether the standard error reached STEP/4.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from bnsym.mc.engine import MonteCarloCheck
from bnsym.mc.stats import clopper_pearson_upper
from bnsym.sim.resnet import censoring, divergence_threshold, init_network, relative_loss, synthetic_data
from derivations.bjorck2018 import depth as B

from .activations import one_thread

PLAIN, BN, GAP, BOTTOM_PLAIN, TOP_PLAIN, BOTTOM_BN, TOP_BN, GROWTH = range(8)
PIECE = 16  # instances per batched call (memory: one layer of [grid, PIECE, n, n] at a time)
STEP = float(B.STEP)
TARGET_STDERR = STEP / 4
PLANNED_SPREAD = 2 * STEP
UNITS = math.ceil((PLANNED_SPREAD / TARGET_STDERR) ** 2)
SETTING_KEYS = ("n", "N", "d", "C", "sigma_w2")
CONFIDENCE = 0.95


def learning_rates() -> list[float]:
    """The grid 10^k, k = GRID[0], GRID[0] + 1/GRID[2], ..., GRID[1]."""
    lo, hi, per = B.GRID
    return [10.0 ** (lo + i / per) for i in range(int(round((hi - lo) * per)) + 1)]


CRITERION = float(B.CRITERION)
RANGE = float(B.GRID[1] - B.GRID[0])  # the largest gap the grid can show, in decades


def readings(p: dict[str, Any], depths: tuple[int, ...], n: int, gen: torch.Generator,
             device: torch.device) -> dict[int, torch.Tensor]:
    """Per depth, [n, 8]: log10 alpha* without and with BN, the gap counted low (censorings that could overstate it
    at the smallest gap), the gap counted high (censorings that could understate it at the largest), and the four
    censoring flags (bottom/top, plain/BN)."""
    rates = learning_rates()
    out: dict[int, list[torch.Tensor]] = {L: [] for L in depths}
    for start in range(0, n, PIECE):
        b = min(PIECE, n - start)
        data = synthetic_data(b, int(p["N"]), int(p["d"]), int(p["C"]), gen, device)
        net = init_network(b, int(p["d"]), int(p["n"]), max(depths), int(p["C"]), float(p["sigma_w2"]), gen, device)
        for L in depths:
            cols = {}
            for bn in (False, True):
                runs = relative_loss(data, net.truncated(L), bn, rates)
                ratio = runs.ratio[..., 0]
                cols[bn] = (divergence_threshold(ratio, runs.learning_rates, CRITERION), *censoring(ratio, CRITERION))
            (plain, bottom_p, top_p), (bnr, bottom_b, top_b) = cols[False], cols[True]
            gap = bnr - plain
            low = torch.where((top_p > 0) | (bottom_b > 0), torch.full_like(gap, -RANGE), gap)
            high = torch.where((top_b > 0) | (bottom_p > 0), torch.full_like(gap, RANGE), gap)
            out[L].append(torch.stack([plain, bnr, low, high, bottom_p, top_p, bottom_b, top_b], dim=-1))
    return {L: torch.cat(parts) for L, parts in out.items()}


def simulate(points: list[dict[str, Any]], n: int, gen: torch.Generator, device: torch.device) -> torch.Tensor:
    """Observations [P, n, 8] at each point's depth ``L`` (and shallow depth ``L0``, when given); the points of a call
    share their setting and their instances."""
    depths = tuple(sorted({int(p["L"]) for p in points} | {int(p["L0"]) for p in points if "L0" in p}))
    with one_thread():
        by_depth = readings(points[0], depths, n, gen, device)
    out = []
    for p in points:
        r = by_depth[int(p["L"])]
        growth = r[:, 2] - by_depth[int(p["L0"])][:, 3] if "L0" in p else torch.zeros_like(r[:, 2])
        out.append(torch.cat([r[:, :3], r[:, 4:], growth.unsqueeze(-1)], dim=-1))
    return torch.stack(out)


def _depth(row: dict[str, Any]) -> str:
    return f"L={row['L']}" + (f" (vs L={row['L0']})" if "L0" in row else "")


def _precision(rows: list[dict[str, Any]]) -> dict[str, Any]:
    short = [_depth(r) for r in rows if not r["stderr"] <= TARGET_STDERR]
    return {"target_stderr": TARGET_STDERR, "grid_step": STEP,
            "target_reached": not short,
            "precision": (f"stderr <= {TARGET_STDERR:g} decade (a quarter of the grid step {STEP:g}) at every point" if
                          not short else f"stderr above {TARGET_STDERR:g} decade at {', '.join(short)}")}


def precision_digest(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Whether each row's standard error reached the absolute target, and the grid's rounding."""
    out = _precision(rows)
    out["rounding"] = f"a reading rounds log10 alpha* up by less than one grid step, {STEP:g} decade"
    if rows:
        out["summary"] = out["precision"]
    return out


def censoring_digest(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Per depth: how many instances were censored, with the exact one-sided 95% upper bound on the fraction."""
    counts = {}
    for r in rows:
        k = int(round(r["estimate"] * r["samples"]))
        counts[_depth(r)] = {"censored": k, "instances": r["samples"],
                             "upper_95": clopper_pearson_upper(k, r["samples"], CONFIDENCE)}
    out: dict[str, Any] = {"counts": counts, "confidence": CONFIDENCE}
    if rows:
        out["summary"] = "censored " + "; ".join(f"{d}: {c['censored']}/{c['instances']} (fraction <="
                                                 f" {c['upper_95']:.3f} at 95%)" for d, c in counts.items())
    return out


def gap_digest(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The gap in decades, with the grid it was read on and the precision reached."""
    lo, hi, per = B.GRID
    out: dict[str, Any] = {"grid": f"10^{lo} .. 10^{hi}, {per} points a decade", "criterion": CRITERION,
                           **_precision(rows)}
    if rows:
        r = rows[0]
        out["summary"] = (f"{r['estimate']:.2f} +- {r['stderr']:.2f} decades against the threshold {r['claimed']:g}"
                          f" (grid 10^{lo} .. 10^{hi}, step {STEP:g}); {out['precision']}")
    return out


DEPTH_POINTS = [{**B.DIVERGENCE, "L": L} for L in B.DEPTHS]
MAIN_POINTS = [{**B.DIVERGENCE, "L0": B.SHALLOW}]
PROCESS = ("one full-batch gradient step of a residual MLP with and without BN from the same He-style"
           " initialization, cross-entropy on synthetic data, the learning-rate grid as one tensor, the depths on the"
           " same instances")


def _check(claim: Any, points: list[dict[str, Any]], column: int, digest: Any) -> MonteCarloCheck:
    return MonteCarloCheck(claim=claim, simulate=simulate, points=points, estimand=lambda m, p: m[column],
                           batch_keys=SETTING_KEYS, process=PROCESS, unit_size="N", pilot_units=UNITS,
                           max_units=UNITS, min_chunk=PIECE, digest=digest)


alpha_star_plain_check = _check(B.alpha_star_plain, DEPTH_POINTS, PLAIN, precision_digest)
alpha_star_bn_check = _check(B.alpha_star_bn, DEPTH_POINTS, BN, precision_digest)
gap_by_depth_check = _check(B.gap_by_depth, DEPTH_POINTS, GAP, precision_digest)
censored_plain_bottom_check = _check(B.censored_plain_bottom, DEPTH_POINTS, BOTTOM_PLAIN, censoring_digest)
censored_plain_top_check = _check(B.censored_plain_top, DEPTH_POINTS, TOP_PLAIN, censoring_digest)
censored_bn_bottom_check = _check(B.censored_bn_bottom, DEPTH_POINTS, BOTTOM_BN, censoring_digest)
censored_bn_top_check = _check(B.censored_bn_top, DEPTH_POINTS, TOP_BN, censoring_digest)
divergence_gap_check = _check(B.divergence_gap, MAIN_POINTS, GAP, gap_digest)
gap_growth_check = _check(B.gap_growth, MAIN_POINTS, GROWTH, gap_digest)

CHECKS = [alpha_star_plain_check, alpha_star_bn_check, gap_by_depth_check, censored_plain_bottom_check,
          censored_plain_top_check, censored_bn_bottom_check, censored_bn_top_check, divergence_gap_check,
          gap_growth_check]
