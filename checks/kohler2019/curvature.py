"""Measurement of K3: cross-layer curvature ||d^2 f/dW4 dWi||_F with and without BN (exploratory).

The paper reports, for a deep network trained on images, that the Frobenius norm of the mixed second
derivative of the loss between the fourth layer's weights and an earlier layer's is smaller with BN.
Here, on a small synthetic problem: inputs x ~ N(0, I) in dimension 10, labels from a random teacher
(a tanh network of the same shape, no BN), a student with hidden layers W1..W4 of width 12 and a
linear read-out, tanh activations, and, in the BN variant, ``torch.nn.functional.batch_norm`` with
batch statistics (training mode, no affine) after every hidden linear map; the loss is the mean
squared error over a batch of 128. One unit is one draw of (data, teacher, initial weights), used by
both variants; the observations per layer i = 1, 2, 3 are, BN minus no BN, log ||H_4i||_F and the log of
the coupling ||H_4i||_F/sqrt(||H_44||_F ||H_ii||_F), H_ij = d^2 f/dWi dWj, at initialization. The blocks
are computed by autograd: the gradient in Wi with its graph kept, then a batched backward pass of
each of its entries into Wj.

Measurements: reported with their setting, never passed or failed. The two networks differ in scale
as well as in normalization (BN restores unit-variance pre-activations that shrink without it), which
moves the raw norm; the coupling divides the scale out.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from bnsym.mc.engine import MonteCarloCheck
from derivations.kohler2019 import processes as P

D_IN, WIDTH, BATCH = 10, 12, 128
LAYERS = (1, 2, 3)


def _forward(x: torch.Tensor, weights: list[torch.Tensor], bn: bool) -> torch.Tensor:
    h = x
    for W in weights[:-1]:
        h = h @ W.T
        if bn:
            h = F.batch_norm(h, None, None, training=True)
        h = torch.tanh(h)
    return (h @ weights[-1].T).squeeze(-1)


def _init(gen: torch.Generator, device: torch.device) -> list[torch.Tensor]:
    shapes = [(WIDTH, D_IN)] + [(WIDTH, WIDTH)] * 3 + [(1, WIDTH)]
    return [torch.randn(*s, generator=gen, device=device, dtype=torch.float64) / s[1] ** 0.5 for s in shapes]


def _block_norm(loss: torch.Tensor, ws: list[torch.Tensor], i: int, j: int) -> torch.Tensor:
    """||d^2 f/dWi dWj||_F (1-based layer indices): the gradient in Wi with its graph, then a batched
    backward pass of each of its entries into Wj."""
    (gi,) = torch.autograd.grad(loss, ws[i - 1], create_graph=True)
    flat = gi.reshape(-1)
    eye = torch.eye(flat.numel(), dtype=flat.dtype, device=flat.device)
    (jac,) = torch.autograd.grad(flat, ws[j - 1], grad_outputs=eye, is_grads_batched=True, retain_graph=True)
    return torch.linalg.vector_norm(jac)


def mixed_norms(x: torch.Tensor, y: torch.Tensor, weights: list[torch.Tensor], bn: bool) -> torch.Tensor:
    """[3, 2]: per layer i = 1, 2, 3 the log of ||H_4i||_F and of the coupling ||H_4i||_F/sqrt(||H_44||_F ||H_ii||_F),
    H_ij = d^2 f/dWi dWj (the coupling is free of the overall scale of the loss and of the weights' units)."""
    ws = [w.detach().clone().requires_grad_(True) for w in weights]
    loss = ((_forward(x, ws, bn) - y) ** 2).mean()
    h44 = _block_norm(loss, ws, 4, 4)
    out = []
    for i in LAYERS:
        h4i, hii = _block_norm(loss, ws, 4, i), _block_norm(loss, ws, i, i)
        out.append(torch.stack([torch.log(h4i), torch.log(h4i) - 0.5 * (torch.log(h44) + torch.log(hii))]))
    return torch.stack(out)


def simulate_curvature(points: list[dict[str, Any]], n: int, gen: torch.Generator,
                       device: torch.device) -> torch.Tensor:
    """Observations [P, n, 2]: (log-norm, log-coupling) with BN minus without, for the point's layer."""
    rows = []
    for _ in range(n):
        x = torch.randn(BATCH, D_IN, generator=gen, device=device, dtype=torch.float64)
        y = _forward(x, _init(gen, device), bn=False).detach()
        weights = _init(gen, device)
        rows.append(mixed_norms(x, y, weights, True) - mixed_norms(x, y, weights, False))
    table = torch.stack(rows)  # [n, 3, 2]
    return torch.stack([table[:, LAYERS.index(int(p["layer"]))] for p in points])


PROCESS = (f"tanh network 10-{WIDTH}-{WIDTH}-{WIDTH}-{WIDTH}-1 at initialization, batch {BATCH}, with and without"
           " batch-statistics BN")


def _curvature_check(claim: Any, column: int) -> MonteCarloCheck:
    return MonteCarloCheck(claim=claim, simulate=simulate_curvature, points=[{"layer": i} for i in LAYERS],
                           estimand=lambda m, p: m[column], batch_keys=(), process=PROCESS, unit_size="layer",
                           pilot_units=24, max_units=24, min_chunk=24)


CHECKS = [_curvature_check(P.cross_layer_curvature, 0), _curvature_check(P.cross_layer_coupling, 1)]
