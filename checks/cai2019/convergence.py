"""Monte Carlo checks of C5: BNGD and GD on random ill-conditioned least-squares problems.

Units are random problems (``bnsym.sim.quadratic.random_problems``): d = 10, H's spectrum geometric
on [0.01, 1] (kappa = 100, lambda_max = 1 for every problem, so eps lambda_max is the grid's value),
a teacher of uniform direction and no noise; BNGD starts at ||w_0|| = 1, a_0 ~ N(0, 1), GD at the same
w_0. Every learning rate of a check runs in one [L, B, d] tensor on the same problems and starts.

* ``bngd_converges``: eps lambda_max = 0.01 ... 1000 with eps_a = 1 and 0.5, tol = 1e-4, T = 20000, on
  every problem. At the low end the slowest mode contracts by about eps mu_min ~ 1e-4 per step, and at the
  high end the first steps inflate ||w|| to about eps ||grad_w J(w_0)|| (norm growth, C2), so the
  effective rate eps/||w||^2 falls like 1/eps: many runs do not reach tol within T there (measured), but
  every run must have made progress.
* ``gd_threshold``: eps = f 2/lambda_max, f = 0.5 ... 2, on problems with lambda_max = 1/4, 1, 4 (spectrum
  on [lambda_max/100, lambda_max]), T = 200 iterations (enough for the top mode's
  factor |1 - 2f| to dominate the gap's change at f = 1.05, and short enough that a converging run stays
  far above float64's resolution of the gap). 2/lambda_max is lambdified from ``C1``'s EPS_MAX_GD and
  enters only as the grid's centre; the digest reports the bracket where the measured sign changes.
* Measurements: iterations to tol (capped at T) and the fraction of problems reaching it, for both
  methods over eps lambda_max = 1e-2 ... 1e3, and against the dimension d = 10, 30, 100 (BNGD at eps = 1, 10
  and GD at eps = 1, T = 10000).
"""

from __future__ import annotations

import math
from typing import Any

import sympy as sp
import torch

from bnsym.mc.engine import MonteCarloCheck
from bnsym.mc.threads import one_thread
from bnsym.sim import bngd as S
from bnsym.sim.quadratic import random_problems
from derivations.cai2019 import convergence as C
from derivations.cai2019 import model as M

D = 10
LAMBDA_MIN, LAMBDA_MAX = 0.01, 1.0
TOL = 1e-4
T_CONVERGE = 20000
T_GD = 200
BNGD_GRID = (0.01, 0.1, 1.0, 10.0, 100.0, 1000.0)
EPS_A_GRID = (1.0, 0.5)
F_GRID = (0.5, 0.8, 0.95, 1.05, 1.25, 2.0)
GD_LAMBDA_MAX = (0.25, 1.0, 4.0)
MEASURE_BNGD = (0.01, 0.1, 1.0, 10.0, 100.0, 1000.0)
MEASURE_GD = (0.01, 0.1, 0.5, 1.0, 1.5, 1.9, 2.1)
DIMENSIONS = (10, 30, 100)
DIMENSION_BNGD = (1.0, 10.0)
T_DIMENSION = 10000
UNITS = 64
RUNS_PER_CALL = 1 << 14  # (rate, problem) runs per simulator call in long runs: about 80 MB at d = 10
CAPPED, REACHED, PROGRESS = 0, 1, 2


def eps_max_gd(lambda_max: float) -> float:
    """2/lambda_max, from the derivation's closed form."""
    return float(sp.lambdify(M.lam_max.symbol, M.EPS_MAX_GD)(lambda_max))


def _problems(n: int, d: int, gen: torch.Generator, device: torch.device, lambda_max: float = LAMBDA_MAX) -> Any:
    problems = random_problems(n, d, LAMBDA_MIN * lambda_max / LAMBDA_MAX, lambda_max, gen, device)
    a0, w0 = S.random_start(problems, gen)
    return problems, a0, w0


def statistics(run: S.Run, T: int) -> torch.Tensor:
    """Per (rate, problem): [min(N, T), 1{N <= T}, z], N the first iteration with gap_N <= tol gap_0, and
    z = log10(gap_N/gap_0) with N = T when tol was not reached (+inf if the gap overflowed before T)."""
    reached = torch.isfinite(run.hit)
    capped = torch.where(reached, run.hit, torch.full_like(run.hit, float(T)))
    tiny = torch.finfo(torch.float64).tiny  # a gap rounded to <= 0 at the hit is below tol all the same
    z = torch.where(reached, torch.log10(run.gap_at_hit.clamp(min=tiny)) - torch.log10(run.gap0),
                    torch.log10(run.last_gap) - torch.log10(run.gap0))  # a difference of logs: no overflow
    ended = run.last_k == T  # the gap stayed finite to the last iteration
    z = torch.where(reached | ended, z, torch.full_like(z, math.inf))
    return torch.stack([capped, reached.to(torch.float64), z], dim=-1)


def simulate_runs(points: list[dict[str, Any]], n: int, gen: torch.Generator, device: torch.device) -> torch.Tensor:
    """Observations [P, n, 3] for points of one method and one dimension (``batch_keys``), all rates in one tensor.

    Each run stops once it has reached tol (``stop_at_hit``): the statistics read nothing of a run after its
    hit, and a run that does not reach tol steps to T as before."""
    method, d, T = points[0]["method"], int(points[0]["d"]), int(points[0]["T"])
    problems, a0, w0 = _problems(n, d, gen, device)
    eps = [float(p["epsilon"]) for p in points]
    with one_thread():
        if method == "gd":
            run = S.gd(problems, eps, w0, T, tol=float(points[0]["tol"]), stop_at_hit=True)
        else:
            run = S.bngd(problems, eps, [float(p["epsilon_a"]) for p in points], a0, w0, T,
                         tol=float(points[0]["tol"]), stop_at_hit=True)
    return statistics(run, T)


def simulate_growth(points: list[dict[str, Any]], n: int, gen: torch.Generator, device: torch.device) -> torch.Tensor:
    """Observations [P, n, 1]: GD's log10(gap_T/gap_0)/T (the last finite gap if it overflowed)."""
    problems, _, w0 = _problems(n, D, gen, device, float(points[0]["lambda_max"]))
    with one_thread():
        run = S.gd(problems, [float(p["epsilon"]) for p in points], w0, T_GD)
    return ((torch.log10(run.last_gap) - torch.log10(run.gap0)) / run.last_k.clamp(min=1.0)).unsqueeze(-1)


def signed_growth(mean: Any, p: dict[str, Any]) -> Any:
    return (1.0 if p["f"] > 1 else -1.0) * mean[0]


def threshold_bracket(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Per lambda_max: where the mean growth changes sign on the grid, beside the claimed 2/lambda_max."""
    groups: dict[float, list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault(float(r["lambda_max"]), []).append(r)
    found = {f"lambda_max={lam:g}": _bracket(rs) for lam, rs in sorted(groups.items())}
    return {**found, "summary": "; ".join(f"{k}: {v['summary']}" for k, v in found.items())}


def _bracket(rows: list[dict[str, Any]]) -> dict[str, Any]:
    rs = sorted(rows, key=lambda r: r["f"])
    growth = [(1.0 if r["f"] > 1 else -1.0) * r["estimate"] for r in rs]
    claimed = rs[0]["epsilon"] / rs[0]["f"]
    below = [r["epsilon"] for r, g in zip(rs, growth) if g < 0]
    above = [r["epsilon"] for r, g in zip(rs, growth) if g > 0]
    lo, hi = (max(below) if below else None), (min(above) if above else None)
    ordered = lo is not None and hi is not None and lo < hi
    text = (f"measured sign change between eps = {lo:.4g} and {hi:.4g} (claimed 2/lambda_max = {claimed:.4g})"
            if ordered else f"no single sign change on the grid (claimed 2/lambda_max = {claimed:.4g})")
    return {"claimed": claimed, "converging_up_to": lo, "diverging_from": hi,
            "growth": dict(zip([r["f"] for r in rs], growth)), "summary": text}


def iteration_table(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Iterations to tol per method and eps; the ranges of eps (on the grid) within 2x and 10x of each method's best."""
    out: dict[str, Any] = {}
    texts = []
    for method in ("gd", "bngd"):
        rs = sorted((r for r in rows if r["method"] == method), key=lambda r: r["epsilon"])
        if not rs:
            continue
        best = min(r["estimate"] for r in rs)
        ranges = []
        for factor in (2, 10):
            near = [r["epsilon"] for r in rs if r["estimate"] <= factor * best]
            out[f"{method}_within_{factor}x_of_best"] = (min(near), max(near))
            ranges.append(f"within {factor}x for eps in [{min(near):g}, {max(near):g}]"
                          f" ({math.log10(max(near) / min(near)):.2g} decades)")
        out[method] = {f"{r['epsilon']:g}": (r["estimate"], r["stderr"]) for r in rs}
        texts.append(f"{method}: best {best:.4g} iterations, " + ", ".join(ranges))
    out["summary"] = "; ".join(texts)
    return out


def _bngd_points() -> list[dict[str, Any]]:
    return [{"method": "bngd", "d": D, "epsilon": e / LAMBDA_MAX, "epsilon_a": ea, "tol": TOL, "T": T_CONVERGE}
            for ea in EPS_A_GRID for e in BNGD_GRID]


def _gd_points() -> list[dict[str, Any]]:
    return [{"method": "gd", "lambda_max": lam, "f": f, "epsilon": f * eps_max_gd(lam), "d": D}
            for lam in GD_LAMBDA_MAX for f in F_GRID]


def _measure_points() -> list[dict[str, Any]]:
    base = {"d": D, "tol": TOL, "T": T_CONVERGE}
    return ([{"method": "bngd", "epsilon": e / LAMBDA_MAX, "epsilon_a": 1.0, **base} for e in MEASURE_BNGD]
            + [{"method": "gd", "epsilon": e / LAMBDA_MAX, **base} for e in MEASURE_GD])


def _dimension_points() -> list[dict[str, Any]]:
    base = {"tol": TOL, "T": T_DIMENSION}
    return [pt for d in DIMENSIONS for pt in
            [{"method": "bngd", "d": d, "epsilon": e, "epsilon_a": 1.0, **base} for e in DIMENSION_BNGD]
            + [{"method": "gd", "d": d, "epsilon": 1.0, **base}]]


def dimension_table(rows: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for r in rows:
        out.setdefault(f"{r['method']} eps={r['epsilon']:g}", {})[r["d"]] = (r["estimate"], r["stderr"])
    texts = [f"{k}: " + ", ".join(f"d={d}: {v[0]:.4g} +- {v[1]:.2g}" for d, v in sorted(vals.items()))
             for k, vals in out.items()]
    return {"table": out, "summary": "; ".join(texts)}


PROCESS = (f"random least-squares problems, d = {{d}}, spectrum geometric on [{LAMBDA_MIN:g}, {LAMBDA_MAX:g}],"
           " no noise; ||w_0|| = 1, a_0 ~ N(0, 1); {what}")

CHECKS = [
    MonteCarloCheck(
        claim=C.bngd_converges, simulate=simulate_runs, points=_bngd_points, estimand=lambda m, p: m[PROGRESS],
        batch_keys=("method", "d"), pilot_units=UNITS, max_units=UNITS, chunk_elements=RUNS_PER_CALL,
        process=PROCESS.format(d=D, what=f"simultaneous BNGD, tol = {TOL:g}, T = {T_CONVERGE}")),
    MonteCarloCheck(
        claim=C.gd_threshold, simulate=simulate_growth, points=_gd_points, estimand=signed_growth,
        batch_keys=("method", "lambda_max"), pilot_units=UNITS, max_units=UNITS, digest=threshold_bracket,
        process=PROCESS.format(d=D, what=f"GD at eps = f 2/lambda_max, T = {T_GD}")),
    MonteCarloCheck(
        claim=C.iterations_vs_eps, simulate=simulate_runs, points=_measure_points, estimand=lambda m, p: m[CAPPED],
        batch_keys=("method", "d"), pilot_units=UNITS, max_units=UNITS, chunk_elements=RUNS_PER_CALL,
        digest=iteration_table,
        process=PROCESS.format(d=D, what=f"GD and BNGD over eps, tol = {TOL:g}, T = {T_CONVERGE}")),
    MonteCarloCheck(
        claim=C.converged_fraction, simulate=simulate_runs, points=_measure_points, estimand=lambda m, p: m[REACHED],
        batch_keys=("method", "d"), pilot_units=UNITS, max_units=UNITS, chunk_elements=RUNS_PER_CALL,
        process=PROCESS.format(d=D, what=f"GD and BNGD over eps, tol = {TOL:g}, T = {T_CONVERGE}")),
    MonteCarloCheck(
        claim=C.dimension_effect, simulate=simulate_runs, points=_dimension_points, estimand=lambda m, p: m[CAPPED],
        batch_keys=("method", "d"), pilot_units=UNITS // 2, max_units=UNITS // 2, digest=dimension_table,
        process=PROCESS.format(d="10, 30, 100", what=f"GD and BNGD against d, tol = {TOL:g}, T = {T_DIMENSION}")),
]
