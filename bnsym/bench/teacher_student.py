"""The teacher-student family: online SGD of a BN student (Eq. (6) of Luo et al. 2019).

One unit is one SGD run (a replica). Its process (method ``bn``, ReLU, gamma step at rate eta / N):

1. the teacher: g ~ N(0, I_N), w* = sqrt(N) g / ||g||, u* = w* / ||w*||;
2. the initial student: v ~ N(0, I_N), made orthogonal to u* (Gram-Schmidt, twice) and
   normalised, w = L0 sqrt(N) (R0 u* + sqrt(1 - R0^2) v), gamma = gamma0;
3. round(t N) steps, each with a fresh input x = z / sqrt(N), z ~ N(0, I_N): with
   s = gamma sqrt(N) w.x / ||w||, delta = g'(s) (g(w*.x) - g(s)) and g = ReLU,
   w <- w + eta delta (gamma sqrt(N) / ||w|| x - s / ||w||^2 w) and
   gamma <- gamma + (eta / N) (delta sqrt(N) w.x / ||w|| - zeta gamma), both from the state
   before the step;
4. the unit's observations, like the check's simulator: (gamma, R, L^2, log((1 - R) / (1 - R0)))
   at the end, R = w.w* / (||w|| ||w*||), L = ||w|| / sqrt(N).

The check ``checks/luo2019/dynamics.py`` runs this process as the exact reduced chain
``bnsym.sim.teacher_student.online_sgd_reduced``: by rotation invariance of the Gaussian input,
the state (w.u*, ||w - (w.u*) u*||, gamma) is a Markov chain with the law of the N-dimensional
run, stepped with two standard normals and one chi^2_{N-2} draw per run and step.

Both baselines are plain Monte Carlo of the N-dimensional process in float64 with numpy's
generator, as a user would write it (vectors of length N, N fresh normals per step). The loop
runs one replica per Python iteration (its teacher, its student, then its inputs one step at a
time, vectors of length N); the vectorized baseline runs all replicas at once as [units, N]
arrays (all teachers, all students, then per step the inputs of every replica), the Python loop
being over steps only. The two draw the same kinds of numbers in a different order, so they
agree in law, not unit by unit.
"""

from __future__ import annotations

import math
import time
from typing import Any, Callable

import numpy as np
import torch

from ..sim.teacher_student import Student, online_sgd_reduced
from .family import Extra, ExtraRow, Family

CLAIM = "luo2019.L5.bn_overlap"
_TINY = 1e-300  # the floor of 1 - R in the log gap, as in the check
RATES = 64  # learning rates of the extra comparison
RATE_SPREAD = (0.5, 1.5)  # ... spread over these multiples of the check's rate


def _relu_step(w: np.ndarray, gamma: np.ndarray | float, x: np.ndarray, label: np.ndarray | float,
               eta: float, zeta: float) -> tuple[np.ndarray, np.ndarray | float]:
    """One SGD step of the BN student from (w, gamma) on the input x with teacher label g(w*.x): (new w, new gamma).

    Works on one run (w of shape [N], scalars) and on many (w of shape [units, N], [units] arrays)."""
    N = w.shape[-1]
    wx = (w * x).sum(axis=-1)
    norm = np.sqrt((w * w).sum(axis=-1))
    field = math.sqrt(N) * wx / norm
    s = gamma * field
    delta = (s > 0) * (label - np.maximum(s, 0.0))
    along_x = eta * delta * gamma * math.sqrt(N) / norm
    keep_w = 1.0 - eta * delta * s / norm**2
    new_w = np.expand_dims(keep_w, -1) * w + np.expand_dims(along_x, -1) * x
    return new_w, gamma + eta / N * (delta * field - zeta * gamma)


def _start(g: np.ndarray, v: np.ndarray, R0: float, L0: float) -> tuple[np.ndarray, np.ndarray]:
    """(w*, w) from the teacher draws g and the student draws v (rows or one vector)."""
    N = g.shape[-1]
    u_star = g / np.linalg.norm(g, axis=-1, keepdims=True)
    for _ in range(2):
        v = v - (v * u_star).sum(axis=-1, keepdims=True) * u_star
    v = v / np.linalg.norm(v, axis=-1, keepdims=True)
    return math.sqrt(N) * u_star, L0 * math.sqrt(N) * (R0 * u_star + math.sqrt(1.0 - R0 * R0) * v)


def _observations(w: np.ndarray, gamma: np.ndarray | float, w_star: np.ndarray, R0: float) -> np.ndarray:
    """(gamma, R, L^2, log gap) of the final state, nan where the run diverged."""
    N = w.shape[-1]
    norm = np.linalg.norm(w, axis=-1)
    R = (w * w_star).sum(axis=-1) / (norm * np.linalg.norm(w_star, axis=-1))
    gap = np.log(np.maximum(1.0 - R, _TINY) / (1.0 - R0))
    out = np.stack(np.broadcast_arrays(gamma, R, norm**2 / N, gap), axis=-1).astype(np.float64)
    out[~np.isfinite(out).all(axis=-1)] = np.nan
    return out


def _settings(point: dict[str, Any]) -> tuple[int, int, float, float, float, float, float]:
    N = int(point["N"])
    return (N, round(float(point["time"]) * N), float(point["eta"]), float(point.get("zeta", 0.0)),
            float(point.get("gamma_init", 1.0)), float(point["R_init"]), float(point.get("L_init", 1.0)))


def loop(point: dict[str, Any], units: int, rng: np.random.Generator) -> np.ndarray:
    """One SGD run per iteration: teacher, student, then one input per step, vectors of length N."""
    N, steps, eta, zeta, gamma0, R0, L0 = _settings(point)
    out = np.empty((units, 4))
    for r in range(units):
        w_star, w = _start(rng.standard_normal(N), rng.standard_normal(N), R0, L0)
        gamma: np.ndarray | float = gamma0
        for _ in range(steps):
            x = rng.standard_normal(N) / math.sqrt(N)
            w, gamma = _relu_step(w, gamma, x, max(float(w_star @ x), 0.0), eta, zeta)
        out[r] = _observations(w, gamma, w_star, R0)
    return out


def vectorized(point: dict[str, Any], units: int, rng: np.random.Generator) -> np.ndarray:
    """All runs at once: [units, N] teachers and students, then per step one [units, N] block of inputs."""
    N, steps, eta, zeta, gamma0, R0, L0 = _settings(point)
    w_star, w = _start(rng.standard_normal((units, N)), rng.standard_normal((units, N)), R0, L0)
    gamma: np.ndarray | float = np.full(units, gamma0)
    for _ in range(steps):
        x = rng.standard_normal((units, N)) / math.sqrt(N)
        w, gamma = _relu_step(w, gamma, x, np.maximum((w_star * x).sum(axis=-1), 0.0), eta, zeta)
    return _observations(w, gamma, w_star, R0)


def draws_per_unit(point: dict[str, Any]) -> int:
    """Gaussian draws of one run: the teacher and student vectors (N each), then N per step."""
    N, steps = _settings(point)[:2]
    return N * (2 + steps)


# --- 64 learning rates in one call ------------------------------------------------------------------------------


def rates(point: dict[str, Any]) -> list[float]:
    """The learning rates of the extra comparison: RATES values evenly spread over RATE_SPREAD times the point's."""
    return [float(e) for e in np.linspace(*RATE_SPREAD, RATES) * float(point["eta"])]


def _sgd(point: dict[str, Any], etas: list[float], replicas: int, steps: int, seed: int,
         device: torch.device) -> torch.Tensor:
    """The check's simulator of the student at ``etas`` (one tensor), ``steps`` steps, drawn as the check draws."""
    N = int(point["N"])
    student = Student("bn", "relu", zeta=float(point.get("zeta", 0.0)))
    return online_sgd_reduced(student, N=N, etas=etas, replicas=replicas, times=[steps / N],
                              gamma0=float(point.get("gamma_init", 1.0)), R0=float(point["R_init"]),
                              L0=float(point.get("L_init", 1.0)),
                              generator=torch.Generator(device=device).manual_seed(seed), device=device)


def _seconds(run: Callable[[], object], device: torch.device) -> float:
    began = time.perf_counter()
    run()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter() - began


PROBE_STEPS = 8  # steps of the runs that size the comparison
EXTRA_REPLICAS = 8  # runs per learning rate in the comparison
ONE_CALL_SHARE = 0.5  # the one call is repeated until its repeats have taken this share of the faster loop


def learning_rate_sweep(point: dict[str, Any], device: torch.device, min_seconds: float) -> Extra:
    """The RATES rates run three ways, on the same replicas and steps: bnsym's one call over all rates,
    bnsym's loop of one call per rate, numpy's vectorized baseline looped over the rates.

    The steps are sized so that the slower loop takes about ``min_seconds``: one probe run of each
    loop's single call at PROBE_STEPS steps gives its seconds per step, and the steps (at most the
    check's) are min_seconds over RATES times the larger of the two."""
    N, full_steps = _settings(point)[:2]
    etas, replicas = rates(point), EXTRA_REPLICAS
    probe = min(PROBE_STEPS, full_steps)
    _sgd(point, etas[:1], replicas, probe, 0, device)  # warm-up: first calls allocate and load kernels
    per_step = max(_seconds(lambda: _sgd(point, etas[:1], replicas, probe, 0, device), device),
                   _seconds(lambda: vectorized({**point, "time": probe / N}, replicas, np.random.default_rng(0)),
                            device)) / probe
    steps = max(1, min(full_steps, int(min_seconds / (len(etas) * per_step))))
    at = {**point, "time": steps / N}
    per_rate = _seconds(lambda: [_sgd(point, [eta], replicas, steps, 2 + i, device) for i, eta in enumerate(etas)],
                        device)
    rng = np.random.default_rng(3)
    numpy_loop = _seconds(lambda: [vectorized({**at, "eta": eta}, replicas, rng) for eta in etas], device)
    calls, total = 0, 0.0  # the one call is short: its mean over repeats of the same work, for a steadier time
    while calls == 0 or total < ONE_CALL_SHARE * min(per_rate, numpy_loop):
        total += _seconds(lambda: _sgd(point, etas, replicas, steps, 1, device), device)
        calls += 1
    one_call = total / calls
    units = len(etas) * replicas
    return Extra(
        title=(f"{len(etas)} learning rates {etas[0]:.3g} to {etas[-1]:.3g} (around eta = {float(point['eta']):.3g}),"
               f" {replicas} runs of {steps} steps each at N = {N}"),
        rows=[ExtraRow(f"bnsym, {len(etas)} rates in one call", one_call, units,
                       f"one [{len(etas)}, runs] reduced state, the runs of a replica sharing their draws across"
                       f" rates; mean of {calls} calls"),
              ExtraRow(f"bnsym, loop over the {len(etas)} rates", per_rate, units,
                       "one call of online_sgd_reduced per rate"),
              ExtraRow(f"numpy vectorized, loop over the {len(etas)} rates", numpy_loop, units,
                       "the vectorized baseline once per rate")],
        baseline=f"bnsym, loop over the {len(etas)} rates",
        target=20.0,
    )


# every key of the benched point of the check, so that the extra comparison runs at the check's own point
POINT = {"N": 250, "eta": 1.5, "zeta": 0.25, "gamma_init": 1.0, "R_init": 0.2, "L_init": 1.0, "time": 1.0}


def extras(device: Any, min_seconds: float) -> list[Extra]:
    """The family's own comparison: :func:`learning_rate_sweep` at the benched point."""
    return [learning_rate_sweep(POINT, torch.device(device), min_seconds)]


FAMILY = Family(
    key="teacher-student",
    title="Online SGD of a BN student on a ReLU teacher (Eq. (6) of Luo et al.: R(t) - R(0))",
    claim=CLAIM,
    point=POINT,
    unit=(f"one online-SGD run of the BN student: N = {POINT['N']}, round(t N) = {_settings(POINT)[1]} steps,"
          f" a fresh input per step"),
    loop=loop,
    vectorized=vectorized,
    draws_per_unit=draws_per_unit,
    notes=("all three run plain Monte Carlo of the same process, every draw and step in float64; the baselines "
           "simulate the N-dimensional weight vector (N normals per step), bnsym the exact reduced chain of "
           "(w.u*, ||w - (w.u*) u*||, gamma), the same law by rotation invariance of the Gaussian input, with 2 "
           "normals and 1 chi-square per step, all replicas as one tensor, the next block of draws drawn in a "
           "background thread on a CPU"),
    extras=extras,
)
