"""Monte Carlo check of C5.local_rate: the measured contraction near a minimum against rho of C4.

Each unit is one problem with a fixed spectrum and teacher in H's eigenbasis, in a Haar-random basis
(``bnsym.sim.bngd.rotated_problems``): H = Q diag(l1, l1 + b, l1 + b + c) Q', u = w* = Q u_e. BNGD
starts at the minimum (||u||_H, t u) of C3 plus a perturbation of relative size DELTA: a random
multiple of ||u||_H on a, and a random direction orthogonal to u on w (so that t, hence eps_hat, moves
only at second order). The observation is (1/K) log(||x_(K+1) - x_K||/||x_1 - x_0||), x = (a, w): the
steps of a linear map contract like its error, and a step has no component along the neutral ray of
minima, so neither the minimum's location nor a projection enters the measurement.

The claim's value log(rho) is lambdified by the engine from ``C4.RATE`` (SymPy: the roots of the
quadratic Q of the interlacing derivation and eps_hat = eps/t^2). The observation is
log rho + (log|c_1| - log||step_0||)/K + O((rho_2/rho)^K/K) + O(DELTA), c_1 the start's weight on the
slowest mode: a ladder K = 10, 20, 40, 80 is order-fitted with c1/K + c2/K^2. The points keep the
second-slowest factor below 0.7 rho so the exponential terms stay below the noise, and rho^80 DELTA
above 1e-14 so rounding does not enter. They cover a slow w-mode below 1 (eps_hat mu_- < 1), the
a-mode dominating (eps_a = 0.2), and an overshooting w-mode (eps_hat mu_+ between 1 and 2).
"""

from __future__ import annotations

from typing import Any

import torch

from bnsym.mc.engine import MonteCarloCheck
from bnsym.sim import bngd as S
from derivations.cai2019 import convergence as C

from .convergence import one_thread

DELTA = 1e-3
LADDER = (10, 20, 40, 80)
UNITS = 512
# (l1, b, c, u_e, t, eps, eps_a) and the factors rho (second-slowest): a slow w-mode 0.875 (0.50 from a... none,
# the other w-mode 0.27); the a-mode 0.88 (w-modes 0.38); an overshooting w-mode |1 - 1.84| = 0.84 (0.17);
# a slow w-mode 0.85 on a second spectrum (a-mode 0.5)
SETTINGS = (
    (1.0, 4.0, 15.0, (1.0, 1.0, 1.0), 1.5, 0.2, 1.0),
    (1.0, 1.0, 2.0, (1.0, 1.0, 1.0), 2.0, 2.0, 0.12),
    (1.0, 1.0, 2.0, (1.0, 1.0, 1.0), 1.5, 1.5, 1.0),
    (0.5, 2.0, 10.0, (1.0, -0.7, 0.5), 2.0, 0.62, 0.5),
)


def _points() -> list[dict[str, Any]]:
    out = []
    for k, (l1, b, c, u, t, e, ea) in enumerate(SETTINGS):
        for K in LADDER:
            out.append({"setting": f"s{k + 1}", "l_1": l1, "b": b, "c_gap": c, "ue_1": u[0], "ue_2": u[1],
                        "ue_3": u[2], "t": t, "epsilon": e, "epsilon_a": ea, "K": K})
    return out


def _step(run: S.Run, k: int) -> torch.Tensor:
    """||x_(k+1) - x_k|| per problem, x = (a, w), from the run's snapshots (one learning rate)."""
    (a1, w1), (a2, w2) = run.snapshots[k], run.snapshots[k + 1]
    assert a1 is not None and a2 is not None
    return torch.sqrt((a2 - a1) ** 2 + ((w2 - w1) ** 2).sum(-1))[0]


def simulate_rate(points: list[dict[str, Any]], n: int, gen: torch.Generator, device: torch.device) -> torch.Tensor:
    """Observations [P, n, 1] (one point per call: ``batch_keys`` separate every K)."""
    out = []
    for p in points:
        lam = (p["l_1"], p["l_1"] + p["b"], p["l_1"] + p["b"] + p["c_gap"])
        problems = S.rotated_problems(n, lam, (p["ue_1"], p["ue_2"], p["ue_3"]), gen, device)
        u = problems.w_star
        u_h = torch.sqrt(torch.einsum("bi,bij,bj->b", u, problems.H, u))  # the minimum's a (C3)
        xi = torch.randn(n, problems.d, generator=gen, device=device, dtype=torch.float64)
        xi = xi - (xi * u).sum(-1, keepdim=True) / (u * u).sum(-1, keepdim=True) * u  # orthogonal to u
        xi = xi / torch.linalg.vector_norm(xi, dim=-1, keepdim=True)
        t = float(p["t"])
        w0 = t * u + DELTA * abs(t) * torch.linalg.vector_norm(u, dim=-1, keepdim=True) * xi
        a0 = u_h * (1 + DELTA * torch.randn(n, generator=gen, device=device, dtype=torch.float64))
        K = int(p["K"])
        with one_thread():
            run = S.bngd(problems, [float(p["epsilon"])], float(p["epsilon_a"]), a0, w0, K + 1,
                         snapshots=(0, 1, K, K + 1))

        out.append((torch.log(_step(run, K) / _step(run, 0)) / K).unsqueeze(-1))
    return torch.stack(out)


CHECK = MonteCarloCheck(
    claim=C.local_rate, simulate=simulate_rate, points=_points,
    batch_keys=("setting", "K"), pilot_units=UNITS, max_units=UNITS,
    process=f"BNGD from a minimum plus a perturbation of relative size {DELTA:g}, d = 3 in a random basis;"
            f" K = {', '.join(map(str, LADDER))}")
