"""Monte Carlo checks of S3's scale invariance on torch networks: L(s W), w.grad, grad L(s W), H(s W) v.

A unit is one network instance (``nets.MLP`` or ``nets.CONV``, BN eps = 0) with its own random weights
and batch (16 inputs for the MLP, 8 images for the conv net); the instances of a call are one batched
tensor (``bnsym.sim.bnnet``). Per point (a network and a BN layer l) each instance draws a scale s_u per
row u of W_l (S = diag(s_u)), one scale s for the whole layer, all log-uniform on [0.1, 10], and a direction
v ~ N(0, I) shaped like W_l; ``bnsym.sim.bnnet.derivatives`` computes the loss, the gradient in W_l and the
Hessian-vector product H v (double backward) at W_l, at S W_l and at s W_l, every other parameter fixed.
The observations per instance are

0. |L(S W_l) - c_L L(W_l)|/|c_L L(W_l)|, c_L = prod_u loss_factor(s_u) (1), ``loss_factor`` lambdified;
1. max over the rows w of W_l of |w.g_w|/(||w|| ||g_w||);
2. ||grad L(S W_l) - C_g grad L(W_l)||/||C_g grad L(W_l)||, C_g = diag(grad_factor(s_u)) on the rows (1/s_u),
   ``grad_factor`` lambdified;
3. ||H(s W_l) v - c_h(s) H(W_l) v||/||c_h(s) H(W_l) v||, c_h the lambdified ``hess_factor`` (1/s^2);
4. the mean over the rows of column 1's ratio (the measurement at eps = 1e-5).

Columns 0 and 2 test the per-unit invariance of S1 (each row with its own scale). Column 3 keeps one scale
per layer: ``hess_factor`` is the uniform law S1 proves; under per-row scales the Hessian's blocks scale as
1/(s_u s_u'), a different law, which S1 does not state.

Each claim is a bound on every instance, refuted by one instance above its round-off allowance
(``roundoff.py``: 2 gamma_(p K_pass + 1) for the scaled pairs, gamma_(K_pass + d) for w.grad, the largest
over the two networks). ``simulator(loss_factor, grad_factor, hess_factor)`` builds the same simulation for
another scaling law, which is how the tests show a wrong one (L(s W) = 1.1 L(W), s^2 grad L(s W) = grad L(W),
H scaling as 1/s) refuted; ``simulator(eps=1e-5)`` runs networks with torch's default eps, where no identity
holds exactly: the measurements ``*_default_eps`` report columns 0 to 4 there, on both networks, from one
shared simulation (and the tests use it as a mutant, refuted).
"""

from __future__ import annotations

from typing import Any, Callable

import sympy as sp
import torch

from bnsym.mc.engine import MonteCarloCheck
from bnsym.sim import bnnet as B
from derivations.liu2021 import processes as P

from . import nets as N
from . import roundoff as R

UNITS = 256
POINTS = [{"net": "mlp", "layer": layer} for layer in (1, 2, 3)] + [{"net": "conv", "layer": layer} for layer in (1, 2)]
LOSS, COS, GRAD, HVP, COS_MEAN = range(5)


def _factor(fn: Callable[..., Any], s: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """A lambdified factor at s ([I] or [I, units]), broadcast against ``like`` [I, units, ...] (a constant
    factor too)."""
    value = torch.as_tensor(fn(s), dtype=torch.float64, device=s.device).expand(s.shape)
    return value.reshape(*s.shape, *([1] * (like.dim() - s.dim())))


def statistics(network: B.BNNet, params: B.Params, data: B.Data, layer: int, s_rows: torch.Tensor, s: torch.Tensor,
               v: torch.Tensor, loss_fn: Callable[..., Any], grad_fn: Callable[..., Any],
               hess_fn: Callable[..., Any]) -> torch.Tensor:
    """The five observations [I, 5] of one layer (module docstring): per-row scales ``s_rows`` [I, units] for
    the loss and the gradient, one scale ``s`` [I] for the Hessian-vector product along ``v``."""
    w = params[f"W{layer}"]
    at_w = B.derivatives(network, params, data.x, data.y, layer, v)
    at_rows = B.derivatives(network, params, data.x, data.y, layer, weight=w * _factor(lambda q: q, s_rows, w))
    at_sw = B.derivatives(network, params, data.x, data.y, layer, v, weight=w * _factor(lambda q: q, s, w))
    assert at_w.hvp is not None and at_sw.hvp is not None
    c_l = _factor(loss_fn, s_rows, s_rows).prod(-1)
    c_g, c_h = _factor(grad_fn, s_rows, w), _factor(hess_fn, s, w)
    rows, g = network.rows(w), network.rows(at_w.grad)
    cos = (rows * g).sum(-1).abs() / (torch.linalg.vector_norm(rows, dim=-1) * torch.linalg.vector_norm(g, dim=-1))
    return torch.stack([
        (at_rows.loss - c_l * at_w.loss).abs() / (c_l * at_w.loss).abs(),
        cos.amax(-1),
        N.norms(at_rows.grad - c_g * at_w.grad) / N.norms(c_g * at_w.grad),
        N.norms(at_sw.hvp - c_h * at_w.hvp) / N.norms(c_h * at_w.hvp),
        cos.mean(-1),
    ], dim=-1)


def simulator(loss_factor: sp.Expr = P.loss_factor, grad_factor: sp.Expr = P.grad_factor,
              hess_factor: sp.Expr = P.hess_factor, eps: float = 0.0
              ) -> Callable[[list[dict[str, Any]], int, torch.Generator, torch.device], torch.Tensor]:
    """The simulation with the scaling laws ``loss_factor``, ``grad_factor``, ``hess_factor`` (SymPy, in s) and BN
    eps ``eps``."""
    loss_fn = sp.lambdify(P.scale.symbol, loss_factor, modules="torch")
    grad_fn = sp.lambdify(P.scale.symbol, grad_factor, modules="torch")
    hess_fn = sp.lambdify(P.scale.symbol, hess_factor, modules="torch")

    def simulate(points: list[dict[str, Any]], n: int, gen: torch.Generator, device: torch.device) -> torch.Tensor:
        """Observations [P, n, 5]: draws in order: weights, data, then per point s_u [n, units], s [n] and v."""
        name = points[0]["net"]
        network = N.net(name, eps)
        with N.one_thread():
            params = network.init(n, gen, device)
            data = network.data(n, N.BATCH[name], gen, device)
            out = []
            for p in points:
                layer = int(p["layer"])
                w = params[f"W{layer}"]
                s_rows = N.log_uniform((n, w.shape[1]), gen, device)
                s = N.log_uniform((n,), gen, device)
                v = torch.randn(w.shape, generator=gen, device=device, dtype=torch.float64)
                out.append(statistics(network, params, data, layer, s_rows, s, v, loss_fn, grad_fn, hess_fn))
        return torch.stack(out)

    return simulate


simulate_scaling = simulator()
PROCESS = ("MLP 48-32-32-32-10 (batch 16) and conv net 4x6x6-8-8-10 (batch 8), BN eps = 0, random weights and"
           f" data, s_u per row and s per layer log-uniform on [0.1, 10]; {UNITS} instances per point")
EPS_UNITS = 64
EPS_PROCESS = (f"MLP 48-32-32-32-10 (batch 16) and conv net 4x6x6-8-8-10 (batch 8), BN eps = {N.DEFAULT_EPS:g},"
               f" random weights and data, s_u per row and s per layer log-uniform on [0.1, 10]; {EPS_UNITS}"
               " instances per point")


def _allowance(fn: Callable[[B.BNNet, int], float]) -> float:
    return max(fn(N.NETS[name], N.BATCH[name]) for name in N.NETS)


def _column(column: int) -> Callable[[torch.Tensor, dict[str, Any]], torch.Tensor]:
    return lambda mean, point: mean[column]


def check(claim: Any, column: int, roundoff: float = 0.0, simulate: Any = simulate_scaling, points: Any = None,
          units: int = UNITS, process: str = PROCESS) -> MonteCarloCheck:
    return MonteCarloCheck(claim=claim, simulate=simulate, points=points or POINTS, estimand=_column(column),
                           batch_keys=("net",), process=process, pilot_units=units, max_units=units, min_chunk=units,
                           roundoff=roundoff)


LOSS_ROUNDOFF = _allowance(lambda net, batch: R.scaling(net, batch, 1))
GRAD_ROUNDOFF = LOSS_ROUNDOFF
HVP_ROUNDOFF = _allowance(lambda net, batch: R.scaling(net, batch, 2))
COS_ROUNDOFF = _allowance(R.orthogonality)

loss_check = check(P.loss_invariance, LOSS, LOSS_ROUNDOFF)
orthogonal_check = check(P.grad_orthogonal, COS, COS_ROUNDOFF)
grad_check = check(P.grad_scaling, GRAD, GRAD_ROUNDOFF)
hvp_check = check(P.hvp_scaling, HVP, HVP_ROUNDOFF)
simulate_default_eps = simulator(eps=N.DEFAULT_EPS)  # one simulation for the four measurements below
default_eps_check = check(P.wgrad_default_eps, COS_MEAN, simulate=simulate_default_eps, units=EPS_UNITS,
                          process=EPS_PROCESS)
loss_eps_check = check(P.loss_default_eps, LOSS, simulate=simulate_default_eps, units=EPS_UNITS, process=EPS_PROCESS)
grad_eps_check = check(P.grad_default_eps, GRAD, simulate=simulate_default_eps, units=EPS_UNITS, process=EPS_PROCESS)
hvp_eps_check = check(P.hvp_default_eps, HVP, simulate=simulate_default_eps, units=EPS_UNITS, process=EPS_PROCESS)

CHECKS = [loss_check, orthogonal_check, grad_check, hvp_check, default_eps_check, loss_eps_check, grad_eps_check,
          hvp_eps_check]
