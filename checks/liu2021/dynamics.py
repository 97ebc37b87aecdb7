"""Monte Carlo checks of S3 along real optimizer runs: the SGD norm identity, the frozen orthogonal component
(SGD, heavy-ball momentum; Adam moves it), its decay under weight decay and its shrinking under rescaling.

A unit is one network instance trained by ``bnsym.sim.bnnet_train.train``: its own weights, a fixed data set of
16 inputs (``nets.DATA``), 40 steps on mini-batches of 8 drawn without replacement, every parameter trained by
``torch.optim.SGD`` (``lr`` = eta, ``momentum``, ``weight_decay`` = lambda) or ``torch.optim.Adam``, BN eps = 0
unless the point says ``eps`` (the frozen check's eps = 1e-5 point, the measurements at torch's default).
The points of one simulator call share one run, so they are grouped by every run setting (``RUN_KEYS``: the
net, eta, the optimizer, lambda, r and eps), and a call whose points disagree on one is refused.
The run records per BN row ||w_t||^2, ||g_t||^2 (the row's gradient of the step's batch loss) and the norm
right after each step, and for the first layer the component orthogonal to the span of the data set's inputs
(the complement basis Q from the complete QR decomposition of the 16 x 48 data matrix, or of the 64 patches
of 16 images for the conv net). Observations per instance (W* = the row's largest norm along the run):

* ``sgd_norm``, per layer: max over steps and rows of |  ||w_t+1||^2 - norm_next(||w_t||^2, eta, ||g_t||^2) |
  / ||w_t+1||^2, ``norm_next`` lambdified;
* ``frozen`` and ``adam_moves``: max over steps and rows of ||(w_t - w_0) Q||/W* (``frozen`` at BN eps = 0
  and, for plain SGD on the MLP, at 1e-5: the gradient lies in the inputs' span for every loss);
* ``wd_decay``: max over steps and rows of |log(||w_t Q||/||w_0 Q||) - log wd_factor(eta, lambda, t)|, read where
  ||w_t Q|| and ||w_0 Q|| are >= FLOOR W* (FLOOR = 0.1; ``nan`` kept, so a diverged run is UNDECIDED);
* ``wrs_shrink``: the same with sum_s<t log wrs_step_factor(eta, ||g_s||^2, r) (every BN row rescaled to r after
  each step, ||w_0|| = r); both add a second column, the fraction of entries read (1 at the default points:
  the tests check it, so the floor hides nothing there);
* ``norm_default_eps`` (a measurement, eps = 1e-5): per layer, sum over steps and rows of the identity's error
  over the sum of the growth eta^2 ||g_t||^2; ``wrs_default_eps`` (a measurement): the statistic of
  ``wrs_shrink`` at eps = 1e-5.

The allowances are those of ``roundoff.py``, from the operation counts of the run (the largest over a check's
points); ``adam_moves`` claims Adam's statistic above gamma_K, K the count of the SGD allowance at the same
settings. The closed forms enter only through lambdify; ``norm_simulator``, ``decay_simulator`` and
``rescaling_simulator`` build the same simulations for other expressions (the tests' mutants).
"""

from __future__ import annotations

from typing import Any, Callable

import sympy as sp
import torch

from bnsym.mc.engine import MonteCarloCheck
from bnsym.sim import bnnet_train as T
from derivations.liu2021 import processes as P
from derivations.liu2021 import symbols as S

from . import nets as N
from . import roundoff as R

UNITS = 128
SGD_LR, MOMENTUM, MOMENTUM_LR, ADAM_LR = 0.1, 0.9, 0.02, 0.01
OPTIMIZERS = {"sgd": {"optimizer": "sgd"}, "momentum": {"optimizer": "sgd", "momentum": MOMENTUM},
              "adam": {"optimizer": "adam"}}
Simulator = Callable[[list[dict[str, Any]], int, torch.Generator, torch.device], torch.Tensor]
RUN_KEYS = ("net", "eta", "optimizer", "lambda", "r", "eps")
"""Every point key ``run`` reads: points equal on them share one training run."""


def scalar(value: Any, device: torch.device) -> torch.Tensor:
    """A setting as a float64 tensor (the lambdified expressions take tensors: torch's pow wants one)."""
    return torch.as_tensor(float(value), dtype=torch.float64, device=device)


def run(point: dict[str, Any], n: int, gen: torch.Generator, device: torch.device) -> T.Run:
    """The point's training run of n instances, BN eps the point's ``eps`` (default 0); draws: weights, data,
    then the batches of every step."""
    network = N.net(point["net"], float(point.get("eps", 0.0)))
    radius = float(point["r"]) if "r" in point else None
    settings = dict(OPTIMIZERS[point.get("optimizer", "sgd")])
    if "lambda" in point:
        settings["weight_decay"] = float(point["lambda"])
    with N.one_thread():
        params = network.init(n, gen, device, radius=radius)
        data = network.data(n, N.DATA, gen, device)
        q = T.data_complement(network, data)
        return T.train(network, params, data, N.STEPS, N.MINIBATCH, float(point["eta"]), gen, radius=radius,
                       complement=q, **settings)


def largest_norm(run: T.Run, layer: int = 1) -> torch.Tensor:
    """W* [I, units]: the row's largest norm along the run, right after the steps included."""
    return torch.maximum(run.norm_sq[layer - 1].amax(0), run.stepped_sq[layer - 1].amax(0)).sqrt()


def norm_deviation(run: T.Run, layer: int, eta: torch.Tensor, norm_fn: Callable[..., Any]) -> torch.Tensor:
    """[I]: max over steps and rows of | ||w_t+1||^2 - norm_fn(||w_t||^2, eta, ||g_t||^2) |/||w_t+1||^2."""
    before, grad, after = run.norm_sq[layer - 1][:-1], run.grad_sq[layer - 1], run.stepped_sq[layer - 1]
    return ((after - norm_fn(before, eta, grad)).abs() / after).amax((0, 2))


def missed_growth(run: T.Run, layer: int, eta: torch.Tensor, norm_fn: Callable[..., Any]) -> torch.Tensor:
    """[I]: sum over steps and rows of | ||w_t+1||^2 - norm_fn(...) | over the sum of norm_fn(...) - ||w_t||^2."""
    before, grad, after = run.norm_sq[layer - 1][:-1], run.grad_sq[layer - 1], run.stepped_sq[layer - 1]
    predicted = norm_fn(before, eta, grad)
    return (after - predicted).abs().sum((0, 2)) / (predicted - before).sum((0, 2))


def orthogonal_change(run: T.Run) -> torch.Tensor:
    """[I]: max over steps and rows of ||(w_t - w_0) Q||/W* (first layer)."""
    assert run.perp_change is not None
    return (run.perp_change / largest_norm(run)).amax((0, 2))


def log_ratio_deviation(run: T.Run, log_factor: torch.Tensor) -> torch.Tensor:
    """[I]: max over steps and rows of |log(||w_t Q||/||w_0 Q||) - log_factor|, read where ||w_t Q|| and ||w_0 Q||
    are both >= FLOOR W* (the condition of the allowance).

    ``log_factor`` broadcasts against [T + 1, I, units]. An unread entry is -inf; a nan stays nan."""
    assert run.perp_norm is not None
    perp = run.perp_norm
    deviation = (torch.log(perp / perp[:1]) - log_factor).abs()
    floor = R.FLOOR * largest_norm(run)
    unread = (perp < floor) | (perp[:1] < floor)
    return torch.where(unread, torch.full_like(deviation, -torch.inf), deviation).amax((0, 2))


def read_fraction(run: T.Run) -> torch.Tensor:
    """[I]: the fraction of (step, row) entries the log-ratio statistics read."""
    assert run.perp_norm is not None
    floor = R.FLOOR * largest_norm(run)
    read = (run.perp_norm >= floor) & (run.perp_norm[:1] >= floor)
    return read.to(torch.float64).mean((0, 2))


def shared_run(points: list[dict[str, Any]]) -> dict[str, Any]:
    """The run settings the points share (one run serves them all); points that differ on one are refused."""
    settings = {k: points[0].get(k) for k in RUN_KEYS}
    for p in points[1:]:
        differ = [k for k in RUN_KEYS if p.get(k) != settings[k]]
        if differ:
            raise ValueError(f"points {points[0]} and {p} differ on {', '.join(differ)}: they need two runs (give"
                             f" the check batch_keys={RUN_KEYS})")
    return {k: v for k, v in settings.items() if v is not None}


def norm_simulator(norm_next: sp.Expr = P.norm_next, eps: float = 0.0, missed: bool = False) -> Simulator:
    """The norm-identity simulation for the expression ``norm_next`` in (N, eta, G), BN eps ``eps`` (or the points'
    own ``eps``); with ``missed`` the measurement's statistic."""
    norm_fn = sp.lambdify((P.norm_sq.symbol, S.eta.symbol, S.grad_sq.symbol), norm_next, modules="torch")
    statistic = missed_growth if missed else norm_deviation

    def simulate(points: list[dict[str, Any]], n: int, gen: torch.Generator, device: torch.device) -> torch.Tensor:
        """Observations [P, n, 1]: one run for the group (``shared_run``), each point a layer."""
        setting = {"eps": eps, **shared_run(points)}  # a point's own eps wins
        r = run(setting, n, gen, device)
        eta = scalar(setting["eta"], device)
        return torch.stack([statistic(r, int(p["layer"]), eta, norm_fn) for p in points]).unsqueeze(-1)

    return simulate


def simulate_frozen(points: list[dict[str, Any]], n: int, gen: torch.Generator, device: torch.device) -> torch.Tensor:
    """Observations [P, n, 1]: the orthogonal change of each point's run (one point per call)."""
    return torch.stack([orthogonal_change(run(p, n, gen, device)) for p in points]).unsqueeze(-1)


def decay_simulator(wd_factor: sp.Expr = S.wd_factor) -> Simulator:
    """The weight-decay simulation for the expression ``wd_factor`` in (eta, lambda, t)."""
    fn = sp.lambdify((S.eta.symbol, S.lam.symbol, S.steps.symbol), wd_factor, modules="torch")

    def simulate(points: list[dict[str, Any]], n: int, gen: torch.Generator, device: torch.device) -> torch.Tensor:
        out = []
        for p in points:
            r = run(p, n, gen, device)
            t = torch.arange(N.STEPS + 1, dtype=torch.float64, device=device)
            factor = torch.as_tensor(fn(scalar(p["eta"], device), scalar(p["lambda"], device), t),
                                     dtype=torch.float64, device=device)
            out.append(torch.stack([log_ratio_deviation(r, torch.log(factor.expand(t.shape)).reshape(-1, 1, 1)),
                                    read_fraction(r)], dim=-1))
        return torch.stack(out)

    return simulate


def rescaling_simulator(step_factor: sp.Expr = S.wrs_step_factor) -> Simulator:
    """The weight-rescaling simulation for the expression ``step_factor`` in (eta, G, r), each point's run at its
    BN ``eps`` (default 0)."""
    fn = sp.lambdify((S.eta.symbol, S.grad_sq.symbol, S.radius.symbol), step_factor, modules="torch")

    def simulate(points: list[dict[str, Any]], n: int, gen: torch.Generator, device: torch.device) -> torch.Tensor:
        out = []
        for p in points:
            r = run(p, n, gen, device)
            grad = r.grad_sq[0]  # [T, I, units]
            factor = torch.as_tensor(fn(scalar(p["eta"], device), grad, scalar(p["r"], device)),
                                     dtype=torch.float64, device=device)
            steps = torch.log(factor.expand(grad.shape))
            log_factor = torch.cat([torch.zeros_like(steps[:1]), torch.cumsum(steps, 0)])
            out.append(torch.stack([log_ratio_deviation(r, log_factor), read_fraction(r)], dim=-1))
        return torch.stack(out)

    return simulate


# -- points and allowances ---------------------------------------------------------------------------------------
NORM_POINTS = ([{"net": "mlp", "layer": layer, "eta": SGD_LR} for layer in (1, 2, 3)]
               + [{"net": "conv", "layer": layer, "eta": SGD_LR} for layer in (1, 2)])
FROZEN_POINTS = [{"net": "mlp", "optimizer": "sgd", "eta": SGD_LR},
                 {"net": "mlp", "optimizer": "momentum", "eta": MOMENTUM_LR},
                 {"net": "conv", "optimizer": "sgd", "eta": SGD_LR},
                 {"net": "mlp", "optimizer": "sgd", "eta": SGD_LR, "eps": N.DEFAULT_EPS}]
DECAY_POINTS = [{"net": "mlp", "eta": 0.1, "lambda": 0.05}, {"net": "mlp", "eta": 0.2, "lambda": 0.01}]
RESCALING_POINTS = [{"net": "mlp", "eta": 0.025, "r": 0.5}, {"net": "mlp", "eta": 0.1, "r": 1.0},
                    {"net": "mlp", "eta": 0.4, "r": 2.0}]
RESCALING_EPS_POINTS = [{**RESCALING_POINTS[1], "eps": N.DEFAULT_EPS}]


def frozen_count(point: dict[str, Any]) -> int:
    """K of the frozen statistic's allowance at the point's settings (``roundoff.frozen_count``; BN's eps does
    not enter: the statistic's operations are the same)."""
    momentum = OPTIMIZERS[point.get("optimizer", "sgd")].get("momentum", 0.0)
    return R.frozen_count(N.NETS[point["net"]].fan_in(1), N.data_patches(point["net"]), N.MINIBATCH, N.STEPS,
                          float(momentum))


def adam_points() -> list[dict[str, Any]]:
    """Adam on each network, with K the frozen statistic's count along plain SGD on the same net."""
    return [{"net": name, "optimizer": "adam", "eta": ADAM_LR, "K": frozen_count({"net": name})}
            for name in ("mlp", "conv")]


NORM_ROUNDOFF = max(R.norm_identity(N.NETS[name], N.MINIBATCH) for name in N.NETS)
FROZEN_ROUNDOFF = max(R.gamma(frozen_count(p)) for p in FROZEN_POINTS)
DECAY_ROUNDOFF = R.decay(N.MLP.fan_in(1), N.DATA, N.MINIBATCH, N.STEPS)
RESCALING_ROUNDOFF = R.rescaling(N.MLP, N.DATA, N.MINIBATCH, N.STEPS)
_RUNS = f"{N.STEPS} steps, batches of {N.MINIBATCH} from {N.DATA} inputs per instance"


def check(claim: Any, simulate: Simulator, points: Any, roundoff: float = 0.0, batch_keys: Any = None,
          units: int = UNITS, process: str = "") -> MonteCarloCheck:
    """A check with ``units`` instances per point; ``batch_keys`` None runs each point on its own."""
    return MonteCarloCheck(claim=claim, simulate=simulate, points=points, batch_keys=batch_keys,
                           process=process or f"{_RUNS}; {units} instances per point", pilot_units=units,
                           max_units=units, min_chunk=units, roundoff=roundoff)


norm_check = check(P.sgd_norm, norm_simulator(), NORM_POINTS, NORM_ROUNDOFF, batch_keys=RUN_KEYS,
                   process=f"plain SGD (lr {SGD_LR}), {_RUNS}")
frozen_check = check(P.frozen, simulate_frozen, FROZEN_POINTS, FROZEN_ROUNDOFF,
                     process=f"SGD (lr {SGD_LR}) and heavy-ball momentum ({MOMENTUM}, lr {MOMENTUM_LR}), {_RUNS};"
                     f" BN eps = 0, and {N.DEFAULT_EPS:g} at the point that says so")
adam_check = check(P.adam_moves, simulate_frozen, adam_points, process=f"Adam (lr {ADAM_LR}), {_RUNS}")
decay_check = check(P.wd_decay, decay_simulator(), DECAY_POINTS, DECAY_ROUNDOFF,
                    process=f"SGD with weight decay, {_RUNS}")
rescaling_check = check(P.wrs_shrink, rescaling_simulator(), RESCALING_POINTS, RESCALING_ROUNDOFF,
                        process=f"SGD with weight rescaling to r after every step, {_RUNS}")
default_eps_check = check(P.norm_default_eps, norm_simulator(eps=N.DEFAULT_EPS, missed=True),
                          [p for p in NORM_POINTS if p["net"] == "mlp"], batch_keys=RUN_KEYS, units=64,
                          process=f"plain SGD (lr {SGD_LR}) with BN eps = {N.DEFAULT_EPS:g}, {_RUNS}")
rescaling_eps_check = check(P.wrs_default_eps, rescaling_simulator(), RESCALING_EPS_POINTS, units=64,
                            process=f"SGD with weight rescaling, BN eps = {N.DEFAULT_EPS:g}, {_RUNS}")

CHECKS = [norm_check, frozen_check, adam_check, decay_check, rescaling_check, default_eps_check, rescaling_eps_check]
