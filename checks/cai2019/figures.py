"""Figures of Cai, Li, Shen (ICML 2019): GD against BNGD on random ill-conditioned least squares.

``fig_bngd`` has two panels, on the problems of ``checks/cai2019/convergence.py`` (d = 10, kappa = 100,
lambda_max = 1, no noise; BNGD with eps_a = 1):

(a) the relative suboptimality gap_k/gap_0 (log scale) against the iteration k, for GD and BNGD at a
    few learning rates: the mean of log10(gap_k/gap_0) over the problems, with a band of two standard
    errors; a gap below float64's resolution (machine epsilon times c) is drawn at it; GD above
    2/lambda_max leaves the panel upwards;
(b) the iterations to reach tol gap_0 against eps (log axis), mean over the problems with error bars of
    two standard errors, capped at T (a run that does not reach tol counts as T; points where no run
    reached it are drawn hollow at T). GD's threshold 2/lambda_max is drawn from ``C1``'s closed form
    (lambdify of EPS_MAX_GD).

Draw it with ``bnsym figure cai2019.fig_bngd -o fig.png`` (``--quick``: 8 problems, shorter runs).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from bnsym.figures import Figure, FigureOptions
from bnsym.mc.engine import seed_for
from bnsym.sim import bngd as S

from .convergence import CAPPED, LAMBDA_MAX, REACHED, TOL, D, _problems, eps_max_gd, one_thread, statistics

TRAJECTORY_GD = (0.5, 1.9, 2.1)
TRAJECTORY_BNGD = (1.0, 10.0, 100.0, 1000.0)
SWEEP_GD = (0.01, 0.03, 0.1, 0.3, 1.0, 1.5, 1.9, 2.1, 3.0)
SWEEP_BNGD = (0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0, 300.0, 1000.0)


def _generator(options: FigureOptions, what: str) -> torch.Generator:
    gen = torch.Generator(device=options.device)
    gen.manual_seed(seed_for(options.seed, "cai2019.fig_bngd", what))
    return gen


def _mean_band(x: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Mean over the last axis and two standard errors, ignoring non-finite entries (diverged runs)."""
    arr = x.detach().cpu().numpy()
    out_mean, out_err = [], []
    for row in arr.reshape(-1, arr.shape[-1]):
        ok = row[np.isfinite(row)]
        out_mean.append(ok.mean() if ok.size else np.nan)
        out_err.append(2 * ok.std(ddof=1) / math.sqrt(ok.size) if ok.size > 1 else np.nan)
    shape = arr.shape[:-1]
    return np.array(out_mean).reshape(shape), np.array(out_err).reshape(shape)


def draw_fig_bngd(fig: Any, options: FigureOptions) -> dict[str, Any]:
    with one_thread():
        return _draw(fig, options)


def _draw(fig: Any, options: FigureOptions) -> dict[str, Any]:
    n, T_traj, T_sweep = (8, 3000, 5000) if options.quick else (64, 5000, 20000)
    found: dict[str, Any] = {"problems": n, "d": D, "tol": TOL, "T": T_sweep}
    device = torch.device(options.device)
    top = eps_max_gd(LAMBDA_MAX)
    found["eps_max_gd"] = top

    # (a) trajectories, every method on the same problems and starts
    problems, a0, w0 = _problems(n, D, _generator(options, "trajectories"), device)
    every = 10
    gd_run = S.gd(problems, [e / LAMBDA_MAX for e in TRAJECTORY_GD], w0, T_traj, record_every=every)
    bn_run = S.bngd(problems, [e / LAMBDA_MAX for e in TRAJECTORY_BNGD], 1.0, a0, w0, T_traj, record_every=every)
    ax = fig.add_subplot(1, 2, 1)
    for run, rates, style, name in ((gd_run, TRAJECTORY_GD, "--", "GD"), (bn_run, TRAJECTORY_BNGD, "-", "BNGD")):
        assert run.gap is not None and run.steps is not None
        # J - J* is resolved to float64's epsilon times c at best: below that it is drawn at that floor
        floor = torch.finfo(torch.float64).eps * problems.c
        rel = torch.log10(torch.maximum(run.gap, floor)) - torch.log10(run.gap0.unsqueeze(0))
        mean, err = _mean_band(rel.permute(1, 0, 2))  # [L, S]
        steps = run.steps.cpu().numpy()
        for i, e in enumerate(rates):
            line, = ax.plot(steps, mean[i], style, label=f"{name}, eps = {e:g}")
            ax.fill_between(steps, mean[i] - err[i], mean[i] + err[i], color=line.get_color(), alpha=0.2)
            found[f"{name} eps={e:g} final log10 gap/gap0"] = float(mean[i][-1])
    ax.set_ylim(-17, 3)
    ax.set_xlabel("iteration k")
    ax.set_ylabel("log10 (J - J*)_k / (J - J*)_0")
    ax.set_title(f"(a) d = {D}, kappa = 100, mean over {n} problems", fontsize=9)
    ax.legend(fontsize=6)

    # (b) iterations to tol against eps
    problems, a0, w0 = _problems(n, D, _generator(options, "sweep"), device)
    ax = fig.add_subplot(1, 2, 2)
    for rates, style, name in ((SWEEP_GD, "s--", "GD"), (SWEEP_BNGD, "o-", "BNGD")):
        eps = [e / LAMBDA_MAX for e in rates]
        if options.progress:
            options.progress(f"  cai2019.fig_bngd: {name} over {len(eps)} learning rates, {n} problems")
        if name == "GD":
            run = S.gd(problems, eps, w0, T_sweep, tol=TOL)
        else:
            run = S.bngd(problems, eps, 1.0, a0, w0, T_sweep, tol=TOL)
        stats = statistics(run, T_sweep)
        mean, err = _mean_band(stats[..., CAPPED])
        reached = stats[..., REACHED].mean(-1).cpu().numpy()
        x = np.array(eps)
        none = reached == 0
        shown = np.where(none, np.nan, mean)
        bar = ax.errorbar(x, shown, yerr=np.where(none, np.nan, err), fmt=style, capsize=2, label=name)
        ax.plot(x[none], mean[none], style[0], mfc="white", color=bar.lines[0].get_color())
        found[f"{name} iterations"] = {f"{e:g}": float(m) for e, m in zip(rates, mean)}
        found[f"{name} fraction reaching tol"] = {f"{e:g}": float(r) for e, r in zip(rates, reached)}
    ax.axvline(top, color="gray", lw=0.8, ls=":", label=f"2/lambda_max = {top:g}")
    ax.axhline(T_sweep, color="gray", lw=0.5)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("learning rate eps (lambda_max = 1)")
    ax.set_ylabel(f"iterations to tol = {TOL:g} (capped at T = {T_sweep})")
    ax.set_title("(b) hollow: no run reached tol", fontsize=9)
    ax.legend(fontsize=7)
    fig.set_size_inches(10.0, 4.2)
    fig.tight_layout()
    return found


fig_bngd = Figure(title="GD vs BNGD on ill-conditioned least squares: loss against iterations, iterations against eps",
                  draw=draw_fig_bngd,
                  summary="(a) suboptimality against iterations; (b) iterations to tolerance against eps")
