"""Monte Carlo checks of K3 on least squares: the GDNP envelope, its per-step form, GD against GDNP.

A unit is a group of G = 16 random population least-squares problems (``bnsym.sim.quadratic``:
Haar eigenbasis, spectrum geometric from 1 to kappa, a teacher of unit norm), each run by GDNP
from its own w_0 ~ N(0, I) (``bnsym.sim.gdnp.least_squares``). Per problem the gap
rho(w_t) - rho* is read at every step; the observation is the maximum over the group and over the
steps 1 <= t <= T whose gap is above 1e-9 |rho*| (below that the iterate's own round-off,
~1e-16/sqrt(gap), would enter the ratios) of

* log(gap_t/gap_0) - log envelope_t (the printed bound; column 0), and
* log(gap_t/gap_(t-1)) - (log envelope_t - log envelope_(t-1)) (its per-step form; column 1).

The envelope reaches this module only as the lambdified logarithm of the derivation's SymPy
expression (``derivations/kohler2019/processes.py``); ``simulator(envelope)`` builds the same check
for another expression, which is how the tests show that a wrong rate is refuted. A diverged or
nan run propagates nan (the step mask is written so that nan is kept), and the verdict is then
UNDECIDED, never CONSISTENT.

The bound is a statement about every problem: the claims are ``every=True``, so one problem above
the envelope at one step refutes them (a unit is a group of 16 problems only to keep the tensors
large; its observation is the group's maximum). The allowance for round-off is derived, not
chosen: a gap read at relative size r >= FLOOR comes from an iterate whose angle to the minimum
direction is ~sqrt(r), and a float64 rounding of that iterate (relative 2^-52) moves the gap by a
relative 2 * 2^-52/sqrt(r); a statistic is a difference of two such logarithms, so ROUNDOFF =
4 * 2^-52/sqrt(FLOOR) (about 2.8e-11) bounds its error. The per-step contraction is nearly
attained for d >= 5, so a claimed rate a tenth too fast (mu/Lmax -> 1.1 mu/Lmax) is refuted.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np
import sympy as sp
import torch

from bnsym.mc.engine import MonteCarloCheck
from bnsym.sim.gdnp import least_squares
from bnsym.sim.quadratic import random_problems
from derivations.kohler2019 import processes as P

GROUP = 16
FLOOR = 1e-9  # relative gap below which a step is not read (round-off of the iterate)
ROUNDOFF = 4 * 2.0**-52 / math.sqrt(FLOOR)  # the derived round-off allowance of one statistic (module docstring)
UNITS = 48  # groups per point: 768 problems
ENVELOPE_POINTS = [{"d": 2, "kappa": 10.0, "T": 200}, {"d": 5, "kappa": 10.0, "T": 300},
                   {"d": 10, "kappa": 100.0, "T": 1500}, {"d": 30, "kappa": 1000.0, "T": 3000}]


def log_envelope_fn(expr: sp.Expr) -> Callable[..., Any]:
    """The logarithm of an envelope expression in (t, mu, Lmax), lambdified for numpy arrays."""
    log_expr = sp.expand_log(sp.log(expr), force=True)
    return sp.lambdify((P.steps.symbol, P.mu.symbol, P.lmax.symbol), log_expr, modules="numpy")


def envelope_statistics(gap: torch.Tensor, log_env: torch.Tensor, floor: torch.Tensor, group: int) -> torch.Tensor:
    """Per group: [max_t log(gap_t/gap_0) - log_env_t, max_t log(gap_t/gap_{t-1}) - (log_env_t - log_env_{t-1})].

    ``gap`` and ``log_env`` are [B, T + 1], ``floor`` [B]; B = units * group. A step is read when its gap
    (and for the ratio the previous one) is not below the floor; ``~(gap <= floor)`` keeps nan steps.
    """
    read = ~(gap <= floor.unsqueeze(-1))
    seq = torch.log(gap[:, 1:] / gap[:, :1]) - (log_env[:, 1:] - log_env[:, :1])
    step = torch.log(gap[:, 1:] / gap[:, :-1]) - (log_env[:, 1:] - log_env[:, :-1])
    none = torch.tensor(-math.inf, dtype=gap.dtype, device=gap.device)
    seq = torch.where(read[:, 1:], seq, none)
    step = torch.where(read[:, 1:] & read[:, :-1], step, none)
    B = gap.shape[0]
    return torch.stack([seq.reshape(B // group, -1).amax(-1), step.reshape(B // group, -1).amax(-1)], dim=-1)


def simulator(envelope: sp.Expr) -> Callable[[list[dict[str, Any]], int, torch.Generator, torch.device],
                                             torch.Tensor]:
    """The check's simulator with the envelope ``envelope`` (a SymPy expression in t, mu, Lmax)."""
    log_env_fn = log_envelope_fn(envelope)

    def simulate(points: list[dict[str, Any]], n: int, gen: torch.Generator, device: torch.device) -> torch.Tensor:
        out = []
        for p in points:
            problems = random_problems(n * GROUP, int(p["d"]), 1.0, float(p["kappa"]), gen, device)
            runs = least_squares(problems, int(p["T"]), gen)
            t = np.arange(int(p["T"]) + 1, dtype=float)
            mu = runs.mu.cpu().numpy()[:, None]
            L = runs.L.cpu().numpy()[:, None]
            log_env = torch.as_tensor(np.broadcast_to(log_env_fn(t[None, :], mu, L), (len(mu), len(t))).copy(),
                                      device=device)
            out.append(envelope_statistics(runs.gdnp[0], log_env, FLOOR * runs.rho_star.abs(), GROUP))
        return torch.stack(out)

    return simulate


simulate_envelope = simulator(P.envelope)
PROCESS = (f"GDNP on random population least-squares problems (spectrum geometric on [1, kappa], Haar basis),"
           f" groups of {GROUP}, {UNITS} groups per point")


def _envelope_check(claim: Any, column: int, simulate: Any = simulate_envelope, points: Any = None,
                    units: int = UNITS) -> MonteCarloCheck:
    return MonteCarloCheck(claim=claim, simulate=simulate, points=points or ENVELOPE_POINTS,
                           estimand=lambda m, p: m[column], process=PROCESS, unit_size="d", pilot_units=units,
                           max_units=units, min_chunk=8, roundoff=ROUNDOFF)


envelope_check = _envelope_check(P.ls_envelope, 0)
one_step_check = _envelope_check(P.ls_one_step, 1)

# -- GD against GDNP: iterations to tolerance over a grid of step scales -------------------------------------------
SCALES = (0.1, 0.3, 0.6, 1.0, 1.5, 1.9, 2.5, 3.0)
TOLERANCE = 1e-8
COMPARE = {"d": 10, "kappa": 100.0, "T": 3000}


def iterations_to_tolerance(gap: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """First t with gap_t <= TOLERANCE * scale, or T (the last index) when never reached; gap [..., B, T + 1]."""
    hit = gap <= TOLERANCE * scale.unsqueeze(-1)
    T = gap.shape[-1] - 1
    first = torch.argmax(hit.to(torch.int8), dim=-1)
    return torch.where(hit.any(-1), first, torch.full_like(first, T)).to(torch.float64)


def simulate_comparison(points: list[dict[str, Any]], n: int, gen: torch.Generator,
                        device: torch.device) -> torch.Tensor:
    """Observations [P, n, 1]: iterations to tolerance of the point's method and scale, on common problems."""
    p0 = points[0]
    problems = random_problems(n, int(p0["d"]), 1.0, float(p0["kappa"]), gen, device)
    runs = least_squares(problems, int(p0["T"]), gen, scales=SCALES, learning_rates=SCALES)
    scale = runs.rho_star.abs()
    its = {"gdnp": iterations_to_tolerance(runs.gdnp, scale), "gd": iterations_to_tolerance(runs.gd, scale)}
    return torch.stack([its[p["method"]][SCALES.index(p["c"])] for p in points]).unsqueeze(-1)


def comparison_digest(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The best step scale of each method and its mean iterations."""
    out: dict[str, Any] = {}
    texts = []
    for method in ("gd", "gdnp"):
        rs = [r for r in rows if r.get("method") == method]
        if not rs:
            continue
        best = min(rs, key=lambda r: r["estimate"])
        out[method] = {"best_c": best["c"], "iterations": best["estimate"], "stderr": best["stderr"]}
        texts.append(f"{method}: fewest iterations {best['estimate']:.0f} +- {best['stderr']:.0f} at c = {best['c']:g}")
    out["summary"] = "; ".join(texts)
    return out


comparison_check = MonteCarloCheck(
    claim=P.gd_vs_gdnp, simulate=simulate_comparison,
    points=[{"method": m, "c": c, **COMPARE} for m in ("gd", "gdnp") for c in SCALES],
    batch_keys=("d", "kappa", "T"), process=f"GD and GDNP on random least-squares problems, d = {COMPARE['d']},"
    f" kappa = {COMPARE['kappa']:g}, T = {COMPARE['T']}", unit_size="d", pilot_units=64, max_units=64, min_chunk=8,
    digest=comparison_digest)

CHECKS = [envelope_check, one_step_check, comparison_check]
