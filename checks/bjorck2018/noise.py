"""Monte Carlo checks of B1: the SGD step error on per-example gradients of a real network.

Each point fixes a data set: N examples for a logistic tanh network with 5 inputs and 8 hidden units
(P = 57 parameters), drawn by ``bnsym.sim.minibatch.synthetic_mlp`` from a CPU generator seeded by the
point's ``data`` (so every device sees the same data set), at a random parameter point. Its per-example
gradients come from ``torch.func`` (vmap of grad), and C = (1/N) sum_i ||g_i - gbar||^2 is computed
from them when the points are built; it enters the claimed value as a measured number of the point.

A unit is one mini-batch of |B| examples, drawn with the engine's generator on its device, with
replacement (|B| i.i.d. uniform indices) or without (a uniformly random |B|-subset); the observation
is ||alpha gbar - alpha g_B||^2. The exact values alpha^2 C/|B| and alpha^2 C/|B| (N-|B|)/(N-1) are
z-tested. The printed bound alpha^2 C/|B| gets no test of its own: with replacement it is the first value
(the same simulation would be tested twice), and without replacement it follows from the second and the
proven bound. The closed forms reach this module only through the claims' SymPy values.
"""

from __future__ import annotations

from typing import Any

import torch

from bnsym.mc.engine import MonteCarloCheck
from bnsym.mc.threads import one_thread
from bnsym.sim.minibatch import MLPProblem, per_example_gradients, spread, step_errors, synthetic_mlp
from derivations.bjorck2018 import noise as B

INPUTS, HIDDEN = 5, 8
SETTINGS = ((16, 1, 1.0), (16, 4, 0.1), (16, 12, 1.0), (64, 8, 0.5), (64, 48, 0.1), (256, 32, 1.0))
"""(N, |B|, alpha) of the points: |B| = 1 (both ways alike), small and large fractions N - |B| of the data."""
MODES = {"with": True, "without": False}
PROCESS = (f"mini-batches of the per-example gradients of a logistic tanh MLP ({INPUTS}-{HIDDEN}-1) on a fixed"
           " synthetic data set of N examples")


def problem(N: int, data: int) -> MLPProblem:
    """The point's data set and parameter point, drawn on the CPU from the seed ``data``."""
    return synthetic_mlp(N, INPUTS, HIDDEN, torch.Generator().manual_seed(data))


def _point(mode: str, N: int, size: int, alpha: float) -> dict[str, Any]:
    data = 1000 + N
    return {"replacement": mode, "N": N, "B": size, "alpha": alpha, "data": data,
            "C": float(spread(per_example_gradients(problem(N, data))))}


def points(modes: tuple[str, ...] = ("with", "without"), settings: tuple = SETTINGS) -> list[dict[str, Any]]:
    return [_point(m, *s) for m in modes for s in settings]


def simulate_noise(pts: list[dict[str, Any]], n: int, gen: torch.Generator, device: torch.device) -> torch.Tensor:
    """Observations [P, n, 1]: ||alpha gbar - alpha g_B||^2 for n mini-batches of the point's data set."""
    out = []
    with one_thread():
        for p in pts:
            g = per_example_gradients(problem(int(p["N"]), int(p["data"])).to(device))
            out.append(step_errors(g, int(p["B"]), n, gen, MODES[p["replacement"]], float(p["alpha"])))
    return torch.stack(out).unsqueeze(-1)


def _check(claim: Any, modes: tuple[str, ...]) -> MonteCarloCheck:
    return MonteCarloCheck(claim=claim, simulate=simulate_noise, points=lambda: points(modes), process=PROCESS,
                           unit_size="B", pilot_units=2_000, max_units=400_000)


with_check = _check(B.sgd_noise_with, ("with",))
without_check = _check(B.sgd_noise_without, ("without",))

CHECKS = [with_check, without_check]
