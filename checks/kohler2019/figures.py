"""Figures of Kohler et al. (AISTATS 2019): GDNP and GD on least squares, with the closed-form envelope.

``fig_gdnp``: (a) the relative suboptimality gap_t/gap_0 (log scale) of GD (learning rate 1/(2 Lmax))
and GDNP (the paper's eta_t) against the iteration, mean of log10 over random problems with two
standard errors, beside the envelope (1 - mu/Lmax)^(2t) lambdified from
``derivations/kohler2019/processes.py``; (b) iterations to a relative suboptimality of 1e-8 against
the step scale c (GD: learning rate c/(2 Lmax); GDNP: step c eta_t), means with two standard errors,
capped at T. Problems: ``bnsym.sim.quadratic`` with d = 10, spectrum geometric on [1, 100]; every
method starts from the same w_0 with its optimal length. Draw it with
``bnsym figure kohler2019.fig_gdnp -o gdnp.png`` (``--quick``: fewer problems and steps).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from bnsym.figures import Figure, FigureOptions
from bnsym.mc.engine import seed_for
from bnsym.sim.gdnp import least_squares
from bnsym.sim.quadratic import random_problems
from derivations.kohler2019 import processes as P

from .least_squares import SCALES, iterations_to_tolerance, log_envelope_fn

D, KAPPA = 10, 100.0


def _mean_se(x: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard error over the problems (dimension 0)."""
    n = x.shape[0]
    return x.mean(0).cpu().numpy(), (x.std(0) / math.sqrt(n)).cpu().numpy()


def draw_fig_gdnp(fig: Any, options: FigureOptions) -> dict[str, Any]:
    n, T = (16, 600) if options.quick else (256, 2000)
    gen = torch.Generator(device=options.device)
    gen.manual_seed(seed_for(options.seed, "kohler2019.fig_gdnp", repr((n, T))))
    problems = random_problems(n, D, 1.0, KAPPA, gen, options.device)
    if options.progress:
        options.progress(f"kohler2019.fig_gdnp: GD and GDNP on {n} problems, {T} steps, {len(SCALES)} step scales")
    runs = least_squares(problems, T, gen, scales=SCALES, learning_rates=SCALES)
    one = SCALES.index(1.0)
    ax1, ax2 = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    t = np.arange(T + 1)
    found: dict[str, Any] = {"problems": n, "steps": T, "d": D, "kappa": KAPPA}
    for name, gap, color in (("GD, lr 1/(2 Lmax)", runs.gd[one], "tab:blue"), ("GDNP, eta_t", runs.gdnp[one],
                                                                               "tab:red")):
        rel = torch.log10(gap / gap[:, :1]).clamp(min=-16)  # below 1e-16 the gap is round-off
        mean, se = _mean_se(rel)
        ax1.plot(t, mean, color=color, label=name)
        ax1.fill_between(t, mean - 2 * se, mean + 2 * se, color=color, alpha=0.25, lw=0)
        found[name] = {"log10_gap_at_T": float(mean[-1]), "stderr": float(se[-1])}
    log_env = log_envelope_fn(P.envelope)(t, 1.0, KAPPA) / math.log(10)
    ax1.plot(t, log_env, "k--", label="envelope (1 - mu/Lmax)^(2t)")
    ax1.set_ylim(-16.5, 0.5)
    ax1.set_xlabel("iteration t")
    ax1.set_ylabel("log10 (f_t - f*)/(f_0 - f*)")
    ax1.set_title(f"(a) least squares, d = {D}, kappa = {KAPPA:g}", fontsize=9)
    ax1.legend(fontsize=7, loc="lower left")
    scale = runs.rho_star.abs()
    cs = np.array(SCALES)
    for name, gaps, color in (("GD, lr c/(2 Lmax)", runs.gd, "tab:blue"), ("GDNP, step c eta_t", runs.gdnp, "tab:red")):
        its = iterations_to_tolerance(gaps, scale)  # [C, B]
        mean, se = _mean_se(its.T)
        ax2.errorbar(cs, mean, yerr=2 * se, fmt="o-", ms=4, capsize=2, color=color, label=name)
        found[name + " iterations"] = {f"{c:g}": (float(m), float(s)) for c, m, s in zip(cs, mean, se)}
    ax2.axhline(T, color="0.7", lw=0.8, ls=":")
    ax2.set_xscale("log")
    ax2.set_xlabel("step scale c")
    ax2.set_ylabel(f"iterations to 1e-8 (capped at T = {T})")
    ax2.set_title("(b) iterations to tolerance", fontsize=9)
    ax2.legend(fontsize=7)
    fig.set_size_inches(10, 4.2)
    fig.suptitle("Kohler et al.: GDNP vs GD on least squares (bands and bars: 2 standard errors over problems)",
                 fontsize=10)
    found["lines"] = [f"{n} random problems, d = {D}, kappa = {KAPPA:g}, {T} steps"]
    return found


fig_gdnp = Figure(title="Kohler et al.: GDNP and GD on least squares, the (1 - mu/Lmax)^(2t) envelope, iterations vs"
                        " step scale", draw=draw_fig_gdnp)
