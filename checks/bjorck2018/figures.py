"""Figures of Bjorck et al. (NeurIPS 2018): divergence at large learning rates, activation growth with depth.

``fig_divergence``: (a) the relative loss L(theta - alpha grad L)/L(theta) of one full-batch gradient step
against the learning rate alpha (log-log), with and without BN, from the same initializations on the
synthetic problems of ``checks/bjorck2018/divergence.py`` (the setting ``DIVERGENCE`` of
``derivations/bjorck2018/depth.py``): the mean over instances of log10 of the relative loss with a band
of two standard errors, beside the paper's criterion 10^3; a rate where some instance overflowed is
left out of the mean and marked on the criterion line. Dashed (full run only): the full-data loss after
five SGD updates (mini-batches of 16, the same for every alpha) over the initial loss. (b) log10 alpha*
against depth, means with two standard errors, on the same instances at every depth (a deeper network
extends a shallower one); the findings count the readings censored at either end of the grid.

``fig_activations``: (a) log RMS_l = log sqrt(E[ms_l]) against depth, with and without BN, from the mean
of ms_l over random instances (error bars: two standard errors, by the delta method), beside the
closed forms lambdified from ``derivations/bjorck2018/depth.py`` at the figure's sigma_w^2, ms0 and batch
size (their legend labels are typeset from the same expressions): the infinite-width value without BN,
the bound with BN and BN's infinite-width value; (b) the finite-width remainder without BN,
n (E[ms_l]/((1 + sigma_w^2/2)^l ms0) - 1), against depth for several widths, with two standard errors.
If the remainder is c_l/n + O(1/n^2) the curves of the widths coincide up to O(1/n); the ``--quick``
run has too few instances to show that and says so in the panel's title.

Draw them with ``bnsym figure bjorck2018.fig_divergence -o div.png`` (``--quick``: fewer instances, no SGD
curves and fewer depths).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import sympy as sp
import torch

from bnsym.figures import Figure, FigureOptions
from bnsym.mc.engine import seed_for
from bnsym.sim.resnet import activations, censoring, divergence_threshold, init_network, relative_loss, synthetic_data
from derivations.bjorck2018 import depth as B

from .activations import BASE, one_thread
from .divergence import CRITERION, learning_rates

SGD_STEPS, SGD_BATCH = 5, 16
Y_TOP = 12.0  # panel (a) shows relative losses up to 10^12


def _generator(options: FigureOptions, figure: str, what: str) -> torch.Generator:
    gen = torch.Generator(device=options.device)
    gen.manual_seed(seed_for(options.seed, f"bjorck2018.{figure}", what))
    return gen


def _mean_band(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean over axis 0 and two standard errors; nan where a column has a non-finite entry (an overflowed run)."""
    finite = np.isfinite(x).all(0)
    mean = np.full(x.shape[1:], np.nan)
    err = np.full(x.shape[1:], np.nan)
    if finite.any():
        mean[finite] = x[:, finite].mean(0)
        err[finite] = 2 * x[:, finite].std(0, ddof=1) / math.sqrt(x.shape[0])
    return mean, err


def draw_fig_divergence(fig: Any, options: FigureOptions) -> dict[str, Any]:
    with one_thread():
        return _draw_divergence(fig, options)


def _draw_divergence(fig: Any, options: FigureOptions) -> dict[str, Any]:
    p = B.DIVERGENCE
    n = 6 if options.quick else 24
    device = torch.device(options.device)
    rates = learning_rates()
    gen = _generator(options, "fig_divergence", "one step")
    data = synthetic_data(n, p["N"], p["d"], p["C"], gen, device)
    net = init_network(n, p["d"], p["n"], p["L"], p["C"], p["sigma_w2"], gen, device)
    found: dict[str, Any] = {"instances": n, "setting": dict(p), "criterion": CRITERION}
    ax = fig.add_subplot(1, 2, 1)
    log_rates = np.log10(np.array(rates))
    lowest = 0.0
    for bn, color, name in ((False, "tab:red", "no BN"), (True, "tab:blue", "BN")):
        if options.progress:
            options.progress(f"bjorck2018.fig_divergence: one step at {len(rates)} rates, {name}, {n} instances")
        runs = relative_loss(data, net, bn, rates)
        ratio = runs.ratio[..., 0]
        curves = [("o-", 1.5, "one step", torch.log10(ratio).T.cpu().numpy())]
        star = divergence_threshold(ratio, runs.learning_rates, CRITERION)
        found[f"{name} log10 alpha*"] = (float(star.mean()), float(star.std() / math.sqrt(n)))
        if not options.quick:
            if options.progress:
                options.progress(f"  {SGD_STEPS} SGD updates, mini-batches of {SGD_BATCH}, {name}")
            sgd = relative_loss(data, net, bn, rates, steps=SGD_STEPS, batch=SGD_BATCH,
                                gen=_generator(options, "fig_divergence", "sgd"))
            last = torch.log10(sgd.ratio[..., -1]).T.cpu().numpy()
            curves.append(("--", 1.0, f"after {SGD_STEPS} SGD updates", last))
        for style, lw, what, logs in curves:
            mean, err = _mean_band(logs)
            ax.plot(log_rates, mean, style, ms=3, lw=lw, color=color, label=f"{name}, {what}")
            if style == "o-":
                ax.fill_between(log_rates, mean - err, mean + err, color=color, alpha=0.25, lw=0)
            overflow = ~np.isfinite(logs).all(0)
            if overflow.any():  # some instance's loss overflowed float64: drawn as crosses on the criterion line
                ax.plot(log_rates[overflow], np.full(int(overflow.sum()), math.log10(CRITERION)), "x", ms=4,
                        color=color, label=f"{name}, {what}: non-finite loss")
            lowest = min(lowest, float(np.nanmin(mean)) if np.isfinite(mean).any() else 0.0)
            found[f"{name}, {what}: mean log10 relative loss"] = {f"{a:g}": float(m) for a, m in zip(log_rates, mean)}
    ax.axhline(math.log10(CRITERION), color="k", lw=0.8, ls=":", label="criterion 10^3")
    ax.set_ylim(lowest - 0.5, Y_TOP)  # above it the runs without BN leave the panel (their value is in the findings)
    ax.set_xlabel("log10 learning rate alpha")
    ax.set_ylabel("log10 L(theta - alpha grad L) / L(theta)")
    ax.set_title(f"(a) L = {p['L']}, n = {p['n']}, {n} instances (band: 2 s.e.; clipped at 10^{Y_TOP:g})",
                 fontsize=9)
    ax.legend(fontsize=6, loc="upper left")

    ax = fig.add_subplot(1, 2, 2)
    depths = B.DEPTHS[:3] if options.quick else B.DEPTHS
    stars: dict[bool, list[tuple[float, float]]] = {False: [], True: []}
    gen = _generator(options, "fig_divergence", "depths")
    data = synthetic_data(n, p["N"], p["d"], p["C"], gen, device)
    deepest = init_network(n, p["d"], p["n"], max(depths), p["C"], p["sigma_w2"], gen, device)
    censored = {}
    for L in depths:
        for bn in (False, True):
            runs = relative_loss(data, deepest.truncated(L), bn, rates)
            star = divergence_threshold(runs.ratio[..., 0], runs.learning_rates, CRITERION)
            bottom, top = censoring(runs.ratio[..., 0], CRITERION)
            stars[bn].append((float(star.mean()), float(star.std() / math.sqrt(n))))
            censored[f"{'BN' if bn else 'no BN'} L={L}"] = {"bottom": int(bottom.sum()), "top": int(top.sum())}
    found["censored readings by depth (of each variant's instances)"] = censored
    for bn, color, name in ((False, "tab:red", "no BN"), (True, "tab:blue", "BN")):
        m = np.array([s[0] for s in stars[bn]])
        e = np.array([s[1] for s in stars[bn]])
        ax.errorbar(depths, m, yerr=2 * e, fmt="o-", capsize=2, color=color, label=name)
        found[f"{name} log10 alpha* by depth"] = {L: s for L, s in zip(depths, stars[bn])}
    ax.axhline(B.GRID[1], color="0.6", lw=0.8, ls=":", label="ends of the grid")
    ax.axhline(B.GRID[0], color="0.6", lw=0.8, ls=":")
    ax.set_xscale("log", base=2)
    ax.set_xticks(depths, [str(L) for L in depths])
    ax.set_xlabel("depth L (blocks)")
    ax.set_ylabel("log10 alpha* (relative loss > 10^3)")
    ax.set_title(f"(b) divergence threshold against depth, the same {n} instances at every depth", fontsize=9)
    ax.legend(fontsize=7)
    fig.set_size_inches(10.5, 4.2)
    fig.suptitle("Bjorck et al.: one gradient step of a residual MLP, with and without BN (synthetic data)",
                 fontsize=10)
    fig.tight_layout()
    return found


_NAMES = {p.symbol: p.latex for p in (B.sigma_w2, B.depth, B.ms0, B.batch, B.width)}


def _rms_curve(expr: sp.Expr, values: dict[sp.Symbol, float]) -> Any:
    """log sqrt of a closed form for E[ms_l], lambdified in depth at the figure's values."""
    return sp.lambdify(B.depth.symbol, B.log_rms(expr).subs(values), modules="numpy")


def _label(expr: sp.Expr) -> str:
    """The closed form's log RMS, typeset from its SymPy expression (matplotlib mathtext)."""
    return "$" + sp.latex(B.log_rms(expr), symbol_names=_NAMES) + "$"


def draw_fig_activations(fig: Any, options: FigureOptions) -> dict[str, Any]:
    with one_thread():
        return _draw_activations(fig, options)


def _draw_activations(fig: Any, options: FigureOptions) -> dict[str, Any]:
    L, M = 16, 32
    units = 128 if options.quick else 1024
    device = torch.device(options.device)
    gen = _generator(options, "fig_activations", "depth")
    width = 64
    values = {B.sigma_w2.symbol: BASE["sigma_w2"], B.ms0.symbol: BASE["ms0"], B.batch.symbol: M}
    ms = activations(units, M, BASE["d"], width, L, BASE["sigma_w2"], gen, device, input_variance=BASE["ms0"])
    ms_np = ms.cpu().numpy()  # [2, units, L + 1]
    depths = np.arange(L + 1)
    found: dict[str, Any] = {"instances": units, "width": width, "batch": M, **BASE}
    ax = fig.add_subplot(1, 2, 1)
    fine = np.linspace(0, L, 200)
    for i, (color, name) in enumerate((("tab:red", "no BN"), ("tab:blue", "BN"))):
        mean = ms_np[i].mean(0)
        se = ms_np[i].std(0, ddof=1) / math.sqrt(units)
        y = 0.5 * np.log(mean)
        ax.errorbar(depths, y, yerr=2 * 0.5 * se / mean, fmt="o", ms=3, capsize=2, color=color,
                    label=f"{name}: simulated log sqrt(mean ms_l), n = {width}")
        found[f"{name} log RMS at depth {L}"] = (float(y[-1]), float(0.5 * se[-1] / mean[-1]))
    for expr, color, style, what in ((B.PLAIN_MS, "tab:red", "-", "no BN, infinite width"),
                                     (B.BN_BOUND, "tab:blue", "--", f"BN bound, M = {M}"),
                                     (B.BN_WIDE, "tab:blue", "-", "BN, infinite width")):
        ax.plot(fine, _rms_curve(expr, values)(fine), color=color, lw=1, ls=style, label=f"{what}: {_label(expr)}")
    ax.set_xlabel("depth l (blocks)")
    ax.set_ylabel("log RMS activation = log sqrt(E[ms_l])")
    ax.set_title(f"(a) sigma_w^2 = {BASE['sigma_w2']:g}, ms0 = {BASE['ms0']:g}, batches of {M}, {units} instances",
                 fontsize=9)
    ax.legend(fontsize=6.5, loc="upper left")

    ax = fig.add_subplot(1, 2, 2)
    widths = (16, 32, 64)
    units_w = 256 if options.quick else 4096  # n x remainder has a standard error growing like sqrt(n)
    closed = sp.lambdify(B.depth.symbol, B.PLAIN_MS.subs(values), modules="numpy")(depths)
    L2 = 8
    for w in widths:
        gen_w = _generator(options, "fig_activations", f"width {w}")
        ms_w = activations(units_w, M, BASE["d"], w, L2, BASE["sigma_w2"], gen_w, device,
                           input_variance=BASE["ms0"], variants=(False,))[0].cpu().numpy()
        mean = ms_w.mean(0)
        se = ms_w.std(0, ddof=1) / math.sqrt(units_w)
        ax.errorbar(depths[:L2 + 1], w * (mean / closed[:L2 + 1] - 1), yerr=2 * w * se / closed[:L2 + 1], fmt="o-",
                    ms=3, capsize=2, label=f"n = {w}")
        found[f"n x relative remainder at depth {L2}, n = {w}"] = (float(w * (mean[-1] / closed[L2] - 1)),
                                                                    float(w * se[-1] / closed[L2]))
    ax.axhline(0, color="0.6", lw=0.8)
    ax.set_xlabel("depth l (blocks), no BN")
    ax.set_ylabel("n (E[ms_l] / ((1 + sigma_w^2/2)^l ms0) - 1)")
    what = (f"quick run, {units_w} instances per width: too few to resolve the remainder" if options.quick else
            f"{units_w} instances per width; bars: 2 s.e.")
    ax.set_title(f"(b) n x relative finite-width remainder, no BN, M = {M}\n({what})", fontsize=9)
    ax.legend(fontsize=7)
    fig.set_size_inches(11.5, 4.6)
    fig.suptitle("Bjorck et al.: activations at initialization of a residual MLP, with and without BN", fontsize=10)
    fig.tight_layout()
    return found


fig_divergence = Figure(title="Bjorck et al.: relative loss of one gradient step against the learning rate, with and"
                              " without BN; the divergence threshold against depth", draw=draw_fig_divergence)
fig_activations = Figure(title="Bjorck et al.: log RMS activation against depth, with and without BN, beside the closed"
                               " forms; the finite-width remainder", draw=draw_fig_activations)
