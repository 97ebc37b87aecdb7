"""Figures of Luo et al. (ICLR 2019): theory curves beside simulated points.

``fig1`` is the paper's Fig. 1 redrawn: the generalization error eps_gen against alpha = P/N
for the pseudo-inverse (plain SGD to convergence), ridge regression at the optimal decay
lambda = sigma^2 and at lambda = 1/(2M) (the paper's reading of BN, M = 32), and points of a
linear neuron with a real BN layer trained by mini-batch SGD (M = 32, N = 64). Curves are the
closed forms of ``derivations/luo2019/generalization.py`` through lambdify; points are means
over random problems solved by batched linear algebra (``checks/luo2019/generalization.py``),
with error bars of two standard errors. Draw it with ``bnsym figure luo2019.fig1 -o fig1.png``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import sympy as sp
import torch

from bnsym.figures import Figure, FigureOptions
from bnsym.mc.engine import seed_for
from derivations.luo2019 import generalization as G

from .generalization import simulate_regression

SIGMA = 0.5
M_BN = 32
ALPHAS = (0.25, 0.5, 0.75, 1.5, 2.0, 3.0, 4.0)
BN_ALPHAS = (1.5, 2.0, 3.0, 4.0)  # P > M batches per epoch and P > N (below, the weight outside the data never moves)


def _curve(expr: sp.Expr, alpha_symbol: sp.Symbol, **values: float) -> Any:
    subs = {s: values[s.name] for s in expr.free_symbols if s.name in values}
    return sp.lambdify(alpha_symbol, expr.subs(subs), modules="numpy")


def _simulated(alpha: float, decay: float | None, n: int, N: int, options: FigureOptions) -> tuple[float, float]:
    point: dict[str, Any] = {"alpha": alpha, "sigma": SIGMA, "N": N}
    if decay is not None:
        point["lambda"] = decay
    gen = torch.Generator(device=options.device)
    gen.manual_seed(seed_for(options.seed, "luo2019.fig1", repr(sorted(point.items()))))
    errors = simulate_regression([point], n, gen, options.device)[0, :, 0].double()
    return float(errors.mean()), float(errors.std() / math.sqrt(n))


def _bn_trained(alpha: float, n: int, N: int, epochs: int, options: FigureOptions) -> tuple[float, float]:
    """Mean eps_gen of a linear neuron with a real BN layer trained by mini-batch SGD (``bnsym.sim.regression``)."""
    from bnsym.sim.regression import sample_problems, train

    gen = torch.Generator(device=options.device)
    gen.manual_seed(seed_for(options.seed, "luo2019.fig1 BN", repr((alpha, n, N, epochs))))
    problems = sample_problems(n, N, alpha, SIGMA, gen, options.device)
    eps = train(problems, M_BN, epochs, 0.1 * N, gen, options.device, normalization="batch",
                eta_affine=0.1)["eps_gen"].double()
    return float(eps.mean()), float(eps.std() / math.sqrt(n))


def draw_fig1(fig: Any, options: FigureOptions) -> dict[str, Any]:
    n, N = (40, 64) if options.quick else (400, 128)
    ax = fig.add_subplot(1, 1, 1)
    grid_lo, grid_hi = np.linspace(0.02, 0.97, 200), np.linspace(1.03, 4.2, 200)
    full = np.linspace(0.02, 4.2, 400)
    pinv_lo = _curve(G.pinv_below.rhs, G.alpha_lt1.symbol, sigma=SIGMA)
    pinv_hi = _curve(G.pinv_above.rhs, G.alpha_gt1.symbol, sigma=SIGMA)
    decays = {"pseudo-inverse (lambda -> 0)": None, f"ridge, lambda = sigma^2 = {SIGMA**2:g}": SIGMA**2,
              f"ridge, lambda = 1/(2M), M = {M_BN}": 1 / (2 * M_BN)}
    colors = dict(zip(decays, ("tab:red", "tab:green", "tab:blue")))
    pinv = "pseudo-inverse (lambda -> 0)"
    ax.plot(grid_lo, pinv_lo(grid_lo), color=colors[pinv], label=pinv)
    ax.plot(grid_hi, pinv_hi(grid_hi), color=colors[pinv])
    for name, decay in decays.items():
        if decay is not None:
            ax.plot(full, _curve(G.eps_ridge, G.alpha.symbol, sigma=SIGMA, **{"lambda": decay})(full),
                    color=colors[name], label=name)
    lines, points = [], []
    for name, decay in decays.items():
        for a in ALPHAS:
            if options.progress:
                options.progress(f"luo2019.fig1: {name} at alpha = {a:g} ({n} problems, N = {N})")
            mean, se = _simulated(a, decay, n, N, options)
            points.append({"curve": name, "alpha": a, "mean": mean, "stderr": se, "problems": n, "N": N})
            ax.errorbar([a], [mean], yerr=[2 * se], fmt="o", ms=4, color=colors[name], capsize=2)
        lines.append(f"{name}: simulated at alpha = {', '.join(f'{a:g}' for a in ALPHAS)} ({n} problems each,"
                     f" N = {N})")
    bn_alphas = (2.0, 4.0) if options.quick else BN_ALPHAS
    bn_n, bn_N, bn_epochs = (8, 32, 100) if options.quick else (64, 64, 800)
    for a in bn_alphas:
        if options.progress:
            options.progress(f"luo2019.fig1: BN training at alpha = {a:g} ({bn_n} problems, N = {bn_N}, M = {M_BN})")
        mean, se = _bn_trained(a, bn_n, bn_N, bn_epochs, options)
        points.append({"curve": "BN (trained)", "alpha": a, "mean": mean, "stderr": se, "problems": bn_n, "N": bn_N,
                       "M": M_BN, "epochs": bn_epochs})
        ax.errorbar([a], [mean], yerr=[2 * se], fmt="s", ms=5, mfc="none", color="black", capsize=2,
                    label="BN trained by mini-batch SGD" if a == bn_alphas[0] else None)
    lines.append(f"BN (real batch statistics, M = {M_BN}, mini-batch SGD, {bn_epochs} epochs): alpha ="
                 f" {', '.join(f'{a:g}' for a in bn_alphas)} ({bn_n} problems each, N = {bn_N})")
    ax.axvline(1.0, color="0.8", lw=0.8)
    ax.set_ylim(0, 2.0)
    ax.set_xlabel("alpha = P/N")
    ax.set_ylabel("generalization error ||w - w*||^2 / N")
    ax.set_title(f"Luo et al. Fig. 1: linear teacher, sigma = {SIGMA:g} (curves: N -> oo; points: N = {N},"
                 f" BN: N = {bn_N})", fontsize=10)
    ax.legend(loc="upper right", fontsize=8)
    return {"lines": lines, "points": points, "sigma": SIGMA, "N": N, "problems": n}


fig1 = Figure(title="Luo et al. Fig. 1: generalization error vs alpha (pseudo-inverse, ridge), theory and simulation",
              draw=draw_fig1)
