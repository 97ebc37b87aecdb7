"""Monte Carlo checks of L5: the Gaussian integrals and the ODE against real online SGD.

* I1, I2, I3: the means of delta s, delta^2, delta t over sampled pairs (s, t) at six
  (gamma, R) points per activation, against the closed forms (z-test per point).
* Eq. (6): the student is trained by online SGD at N = 250, 1000 and 4000 (a fresh Gaussian
  input per step), run as the exact reduced chain of ``bnsym.sim.teacher_student``'s
  ``online_sgd_reduced``: the state (w.u*, ||w - (w.u*) u*||, gamma) with two standard normals
  and one chi^2_{N-2} per step, whose law is that of the N-dimensional run by rotation
  invariance of the Gaussian input (not by any formula of the theory), and the mean
  order parameter at time t is compared with the numerical solution of the ODE by an
  order fit in N: the mean of an order parameter of an N-dimensional online SGD differs
  from its N -> oo limit by O(1/N) (the per-step increments are averages over N
  coordinates, whose fluctuations leave an O(1/sqrt(N)) noise and an O(1/N) bias),
  so the remainder must fit c1/N + c2/N^2 within its standard errors. The ladder spans
  a factor of 16 so that a constant offset (a wrong ODE) is not absorbed by the fit: the
  part of a constant that c1/N + c2/N^2 cannot fit is 39% of it (norm, equal weights) over
  N = 250, 1000, 4000, against 17% over N = 1000, 2000, 4000, which would need about five
  times the runs for the same resolution.
* Every draw and every step is in float64.
"""

from __future__ import annotations

import functools
from typing import Any, Callable

import torch

from bnsym.mc.engine import MonteCarloCheck
from bnsym.sim.teacher_student import Student, gaussian_pair_terms, online_sgd_reduced
from derivations.luo2019 import dynamics as D

PAIR_POINTS = [{"gamma": g, "R": r} for g in (0.5, 1.5) for r in (-0.5, 0.6, 0.9)]  # no I_k near 0
LADDER = (250, 1000, 4000)
PAIRS = "pairs (s, t) = (gamma z1, R z1 + sqrt(1 - R^2) z2) of standard normals z1, z2"
SGD = ("online SGD of an N-dimensional student, fresh x ~ N(0, I/N) per step, run as the exact reduced chain of "
       "(w.u*, ||w - (w.u*) u*||, gamma): 2 normals and 1 chi^2_{N-2} per step; mean over independent runs")


def _pairs(activation: str) -> Callable[..., torch.Tensor]:
    def simulate(points: list[dict[str, Any]], n: int, gen: torch.Generator, device: torch.device) -> torch.Tensor:
        return torch.stack([gaussian_pair_terms(activation, p["gamma"], p["R"], n, gen, device) for p in points])
    return simulate


SIMULATE_PAIRS = {a: _pairs(a) for a in ("relu", "erf")}

# observation columns of an SGD run at its final time
GAMMA, OVERLAP, LENGTH_SQ, LOG_GAP = range(4)
_TINY = 1e-300


@functools.lru_cache(maxsize=None)  # one simulator per setting, so checks of one process share its draws
def sgd_runs(method: str, activation: str, gamma_rate: str = "corrected",
             frozen_length: bool = False) -> Callable[..., torch.Tensor]:
    """A simulator: each point runs ``n`` independent students to ``point['time']`` (the exact reduced
    chain, ``online_sgd_reduced``); the points of one call that share (zeta, N, time, initial state)
    run as one tensor over their learning rates."""
    def simulate(points: list[dict[str, Any]], n: int, gen: torch.Generator, device: torch.device) -> torch.Tensor:
        p0 = points[0]
        student = Student(method=method, activation=activation, zeta=float(p0.get("zeta", 0.0)),
                          gamma_rate=gamma_rate, frozen_length=frozen_length)
        runs = online_sgd_reduced(student, N=int(p0["N"]), etas=[float(p["eta"]) for p in points], replicas=n,
                                  times=[float(p0["time"])], gamma0=float(p0.get("gamma_init", 1.0)),
                                  R0=float(p0["R_init"]), L0=None if method == "sgd" else float(p0.get("L_init", 1.0)),
                                  generator=gen, device=device)
        final = runs[:, :, -1, :].to(torch.float64)  # [E, n, 3]: gamma, R, L
        gap = torch.log(torch.clamp(1 - final[..., 1], min=_TINY) / (1 - float(p0["R_init"])))
        return torch.stack([final[..., 0], final[..., 1], final[..., 2] ** 2, gap], dim=-1)
    return simulate


def column(k: int, minus: str | None = None, squared: bool = False) -> Callable[[torch.Tensor, dict[str, Any]], Any]:
    """The mean of column ``k``, less the point's initial value ``minus`` (squared for L^2)."""
    def estimand(mean: torch.Tensor, p: dict[str, Any]) -> torch.Tensor:
        base = float(p[minus]) ** (2 if squared else 1) if minus else 0.0
        return mean[k] - base
    return estimand


def _ladder(**start: float) -> list[dict[str, Any]]:
    return [{**start, "N": n} for n in LADDER]


# at least this many runs per point: the standard errors are estimated from the runs, and with fewer the
# tail of the statistic (a t law) is heavier than the normal tail the Bonferroni threshold assumes
PILOT_RUNS = 96


def _flow_check(claim: Any, simulate: Callable[..., torch.Tensor], estimand: Any, points: list[dict[str, Any]],
                process: str, max_units: int = 768) -> MonteCarloCheck:
    return MonteCarloCheck(claim=claim, simulate=simulate, points=points, estimand=estimand, process=process,
                           unit_size="N", min_chunk=8, pilot_units=PILOT_RUNS, max_units=max_units)


BN_START = dict(gamma_init=1.0, R_init=0.2, L_init=1.0, eta=1.5, zeta=0.25, time=1.0)
GAMMA_START = dict(gamma_init=1.0, R_init=0.5, L_init=1.0, eta=0.5, zeta=0.5, time=0.5)
WN_START = dict(R_init=0.2, L_init=1.0, eta=1.5, time=1.0)
SGD_START = dict(gamma_init=0.5, R_init=0.2, eta=1.0, time=1.0)
ERF_START = dict(gamma_init=1.0, R_init=0.2, L_init=1.0, eta=2.0, zeta=0.25, time=1.0)

CHECKS = [
    *(MonteCarloCheck(claim=c, simulate=SIMULATE_PAIRS[a], points=PAIR_POINTS, estimand=column(k),
                      process=f"{a}: {PAIRS}", pilot_units=20_000, max_units=4_000_000)
      for a, claims in (("relu", (D.I1_relu_sampled, D.I2_relu_sampled, D.I3_relu_sampled)),
                        ("erf", (D.I1_erf_sampled, D.I2_erf_sampled, D.I3_erf_sampled)))
      for k, c in enumerate(claims)),
    _flow_check(D.gamma_rate_printed, sgd_runs("bn", "relu", gamma_rate="printed"), column(GAMMA, "gamma_init"),
                _ladder(**GAMMA_START), f"BN student, gamma step at rate eta (printed), ReLU; {SGD}",
                max_units=PILOT_RUNS),
    _flow_check(D.gamma_rate_corrected, sgd_runs("bn", "relu"), column(GAMMA, "gamma_init"),
                _ladder(**GAMMA_START), f"BN student, gamma step at rate eta/N, ReLU; {SGD}"),
    _flow_check(D.bn_overlap, sgd_runs("bn", "relu"), column(OVERLAP, "R_init"), _ladder(**BN_START),
                f"BN student, ReLU; {SGD}"),
    _flow_check(D.bn_length, sgd_runs("bn", "relu"), column(LENGTH_SQ, "L_init", squared=True),
                _ladder(**BN_START), f"BN student, ReLU; {SGD}"),
    _flow_check(D.wn_overlap, sgd_runs("wn", "relu"), column(OVERLAP, "R_init"), _ladder(**WN_START),
                f"WN student, ReLU; {SGD}"),
    _flow_check(D.sgd_overlap, sgd_runs("sgd", "relu"), column(OVERLAP, "R_init"), _ladder(**SGD_START),
                f"plain student, ReLU; {SGD}"),
    _flow_check(D.bn_overlap_erf, sgd_runs("bn", "erf"), column(OVERLAP, "R_init"), _ladder(**ERF_START),
                f"BN student, erf; {SGD}"),
]
