"""Monte Carlo checks of L7: maximum learning rates in real online SGD.

Each student is started near its fixed point, at R(0) = 1 - EPSILON, and trained by online
SGD for time T at learning rates f * eta_max over a grid of factors f, all learning rates
and runs in one tensor. The statistic is s log((1 - R(T))/(1 - R(0))), with s = -1 below
eta_max (f < 1) and s = +1 above: the claim "1 - R shrinks below eta_max and grows above"
says it is positive at every f, and a one-sided test refutes it where it is significantly
negative. eta_max enters only as the place the grid is centred on; it is computed from the
derivation's closed form (never typed here).

WN and BN run with the length of w held fixed (``frozen_length``): the loss does not depend
on it, so every step's change of direction is unchanged, and eta_eff = eta gamma_0/L^2 stays
at its set value (with a free length the eta^2 growth of ||w|| lowers eta_eff until any
run converges, which hides the threshold). Plain SGD has no such freedom.

The digest reports the measured crossing: the learning rate where the mean of
log((1 - R(T))/(1 - R(0))) changes sign, by linear interpolation between the two grid
points around the change, with a delta-method standard error (statistical only, and
treating the two points as independent although they share random numbers), beside the
crossing of the same statistic on the ODE at the same points.

At T = 4 and R(0) = 0.98 the nonlinear terms of the dynamics move the sign change of the
statistic above eta_max: on the ODE it lies at f = 1.02 to 1.05 (ReLU and erf, WN and SGD),
inside the gap to the grid point f = 1.05 or at its edge (erf SGD, where the ODE value at
f = 1.05 is +0.02). The one-sided test is not put at risk by that (it refutes only a
significantly wrong sign), and the digest shows the ODE's own crossing beside the measured
one, so the two are compared like for like.
"""

from __future__ import annotations

import math
from typing import Any

import sympy as sp

from bnsym.mc.engine import MonteCarloCheck
from derivations.luo2019 import fixed_points as F
from derivations.luo2019 import learning_rates as LR

from .dynamics import LOG_GAP, PILOT_RUNS, sgd_runs

F_GRID = (0.5, 0.7, 0.85, 0.95, 1.05, 1.15, 1.4, 2.0)
EPSILON = 0.02
T = 4.0
N_THRESHOLD = 1000
BN_ZETAS = (0.25, 0.5)
BN_FLOW_ZETAS = BN_ZETAS
BN_LADDER = (250, 500, 2000)  # a factor 8: 41% of a constant offset survives the order fit
BN_FLOW_F = (0.7, 1.4)


def signed_gap(mean: Any, p: dict[str, Any]) -> Any:
    return (1.0 if p["f"] > 1 else -1.0) * mean[LOG_GAP]


def _crossing(xs: list[float], ys: list[float]) -> int | None:
    """The index i with ys[i] < 0 <= ys[i+1] (the first sign change upward), or None."""
    return next((i for i in range(len(ys) - 1) if ys[i] < 0 <= ys[i + 1]), None)


def _interpolate(xa: float, xb: float, ya: float, yb: float) -> float:
    return xa + (-ya / (yb - ya)) * (xb - xa)


def _ode_statistic(row: dict[str, Any]) -> float | None:
    """log((1 - R(T))/(1 - R(0))) on the ODE of the row's student, at the row's point (None if it cannot)."""
    from bnsym.errors import BnsymError
    from bnsym.flow import value_on_flow
    from derivations.luo2019 import dynamics as D

    try:
        flow = D.flow(row["method"], row["activation"], frozen_length=row["method"] != "sgd")
        value, _ = value_on_flow(sp.log((1 - D.R.symbol) / (1 - D.R_init.symbol)), flow, row)
        return value
    except (BnsymError, KeyError, ValueError, ZeroDivisionError):
        return None


def measured_threshold(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The learning rate where the mean of log((1 - R(T))/(1 - R(0))) changes sign, per setting.

    Beside it, the same statistic computed on the ODE of the student (the N -> oo limit) at the
    same grid points and interpolated the same way: the ODE crossing differs from the linear
    threshold eta_max because R(0) = 1 - epsilon and T are finite (nonlinear terms) and because
    of the linear interpolation, so the measured crossing is to be compared with it; the
    remaining difference is the finite-N effect.
    """
    out: dict[str, Any] = {"thresholds": []}
    settings: dict[tuple, list[dict[str, Any]]] = {}
    for r in rows:
        settings.setdefault((r.get("method"), r.get("activation"), r.get("zeta")), []).append(r)
    texts = []
    for (method, act, zeta), rs in settings.items():
        rs = sorted(rs, key=lambda r: r["f"])
        eta_max = rs[0]["eta_eff"] / rs[0]["f"]
        xs = [r["eta_eff"] for r in rs]
        ys = [(1.0 if r["f"] > 1 else -1.0) * r["estimate"] for r in rs]
        name = f"{method}/{act}{'' if zeta is None else f' zeta={zeta:g}'}"
        entry: dict[str, Any] = {"method": method, "activation": act, "zeta": zeta, "claimed": eta_max}
        ode = [_ode_statistic(r) for r in rs]
        ode_text = ""
        if all(v is not None for v in ode):
            ode_values = [float(v) for v in ode if v is not None]
            k = _crossing(xs, ode_values)
            entry["ode_statistic"] = ode_values
            entry["ode_crossing"] = None if k is None else _interpolate(xs[k], xs[k + 1], ode_values[k],
                                                                      ode_values[k + 1])
            ode_text = ("; ODE: no sign change" if k is None else f"; ODE crossing {entry['ode_crossing']:.3g}")
        cross = _crossing(xs, ys)
        if cross is None:
            where = ("above it" if all(y < 0 for y in ys) else "below it" if all(y >= 0 for y in ys)
                     else "nowhere on it (not monotone)")
            entry["measured"] = None
            entry["note"] = f"no sign change on the grid: a threshold, if any, lies {where}"
            texts.append(f"{name}: no sign change over eta_eff in [{xs[0]:.3g}, {xs[-1]:.3g}] (claimed"
                         f" {eta_max:.4g}{ode_text})")
        else:
            a, b = rs[cross], rs[cross + 1]
            ya, yb = ys[cross], ys[cross + 1]
            x = _interpolate(xs[cross], xs[cross + 1], ya, yb)
            # delta method, treating the two grid points as independent; they share their random numbers
            # (common random numbers across learning rates), and as both partial derivatives have the
            # same sign a positive correlation makes the true error somewhat larger than this
            span = xs[cross + 1] - xs[cross]
            dxa = -span * yb / (yb - ya) ** 2
            dxb = span * ya / (yb - ya) ** 2
            se = math.hypot(dxa * a["stderr"], dxb * b["stderr"])
            entry.update(measured=x, stderr=se)
            texts.append(f"{name}: measured crossing {x:.3g} +- {se:.2g} (statistical; claimed eta_max"
                         f" {eta_max:.4g}{ode_text})")
        out["thresholds"].append(entry)
    out["summary"] = "; ".join(texts)
    return out


def _eta_max_wn(activation: str) -> float:
    return float(sp.N(LR.ETA_MAX_WN[activation], 30))


def _grid(method: str, activation: str, eta_max: float, **extra: float) -> list[dict[str, Any]]:
    """Points f * eta_max; ``eta`` is the learning rate of the run, ``eta_eff`` the effective one."""
    scale = extra.pop("eta_scale", 1.0)  # eta = eta_eff * scale (BN: L^2/gamma_0)
    return [{"method": method, "activation": activation, "f": f, "eta_eff": f * eta_max, "eta": f * eta_max * scale,
             "N": N_THRESHOLD, "time": T, "R_init": 1 - EPSILON, "L_init": 1.0, "L": 1.0, "gamma_init": 1.0,
             **extra}
            for f in F_GRID]


def _gamma0(zeta: float) -> float:
    return float(F.gamma0_relu.subs(F.zeta.symbol, zeta))


def _bn_eta_max_printed(zeta: float) -> float:
    return float(LR.eta_max_bn_relu.rhs.subs(LR.zeta.symbol, zeta))


def _bn_points() -> list[dict[str, Any]]:
    out = []
    for z in BN_ZETAS:
        g0 = _gamma0(z)
        out += _grid("bn", "relu", _bn_eta_max_printed(z), zeta=z, gamma_init=g0, eta_scale=1.0 / g0)
    return out


def _bn_flow_points() -> list[dict[str, Any]]:
    out = []
    for z in BN_FLOW_ZETAS:
        g0 = _gamma0(z)
        eta_max = _bn_eta_max_printed(z)
        for f in BN_FLOW_F:
            for n in BN_LADDER:
                out.append({"f": f, "eta_eff": f * eta_max, "eta": f * eta_max / g0, "zeta": z, "N": n, "time": T,
                            "R_init": 1 - EPSILON, "gamma_init": g0, "L_init": 1.0, "L": 1.0})
    return out


def _threshold_check(claim: Any, method: str, activation: str, points: Any, frozen: bool) -> MonteCarloCheck:
    return MonteCarloCheck(
        claim=claim, simulate=sgd_runs(method, activation, frozen_length=frozen), points=points,
        estimand=signed_gap, batch_keys=("method", "activation", "zeta"), unit_size="N", min_chunk=8,
        pilot_units=PILOT_RUNS, max_units=PILOT_RUNS, digest=measured_threshold,
        process=f"{method} student{' with ||w|| held fixed' if frozen else ''}, {activation}; online SGD over a grid"
                f" of learning rates, N = {N_THRESHOLD}, T = {T:g}, R(0) = {1 - EPSILON:g}")


CHECKS = [
    _threshold_check(LR.threshold_sgd_relu, "sgd", "relu", lambda: _grid("sgd", "relu", _eta_max_wn("relu")), False),
    _threshold_check(LR.threshold_sgd_erf, "sgd", "erf", lambda: _grid("sgd", "erf", _eta_max_wn("erf")), False),
    _threshold_check(LR.threshold_wn_relu, "wn", "relu", lambda: _grid("wn", "relu", _eta_max_wn("relu")), True),
    _threshold_check(LR.threshold_wn_erf, "wn", "erf", lambda: _grid("wn", "erf", _eta_max_wn("erf")), True),
    _threshold_check(LR.threshold_bn_printed, "bn", "relu", _bn_points, True),
    MonteCarloCheck(
        claim=LR.threshold_bn_corrected, simulate=sgd_runs("bn", "relu", frozen_length=True), points=_bn_flow_points,
        estimand=lambda m, p: m[LOG_GAP], batch_keys=("zeta", "N"), unit_size="N", min_chunk=8,
        pilot_units=PILOT_RUNS, max_units=4 * PILOT_RUNS,
        process="bn student with ||w|| held fixed, ReLU; online SGD at N = 500, 1000, 2000, T = 4, R(0) = 0.98"),
]
