"""Monte Carlo checks of S3: the gradient of a BN layer lies in the span of its batch inputs (FC) or patches (conv).

A unit is one network instance (``nets.MLP``, batch 16, or ``nets.CONV``, batch 8; BN eps = 0) with its own
weights and batch. Per point (a network and a layer l) the gradient in W_l comes from
``bnsym.sim.bnnet.derivatives``, and the complement of the span of the layer's inputs in the batch (the 16
inputs to the layer; for conv the 8 x 4 unfolded patches, ``torch.nn.functional.unfold``) from the complete QR
decomposition of their matrix (``BNNet.span_complement``). The observation is ||grad W_l Q||/||grad W_l||,
Q the complement's orthonormal basis: 0 in exact arithmetic, since grad W_l = sum_n dz_n a_n' for a
pre-activation z = W_l a. The allowance (``roundoff.py``) is gamma_(n + 1 + d n + 2 d), the largest over the
layers (d the fan-in, n the inputs or patches).

``simulator(drop=1)`` takes the span of the batch without its last sample (the mutant "the gradient lies in
the span of fewer inputs"), which the tests show refuted.
"""

from __future__ import annotations

from typing import Any, Callable

import torch

from bnsym.mc.engine import MonteCarloCheck
from bnsym.sim import bnnet as B
from derivations.liu2021 import processes as P

from . import nets as N
from . import roundoff as R

UNITS = 256
FC_POINTS = [{"net": "mlp", "layer": layer} for layer in (1, 2, 3)]
CONV_POINTS = [{"net": "conv", "layer": layer} for layer in (1, 2)]


def simulator(drop: int = 0) -> Callable[[list[dict[str, Any]], int, torch.Generator, torch.device], torch.Tensor]:
    """The simulation, the span taken of the batch without its last ``drop`` samples."""

    def simulate(points: list[dict[str, Any]], n: int, gen: torch.Generator, device: torch.device) -> torch.Tensor:
        """Observations [P, n, 1]; draws: weights, then data."""
        name = points[0]["net"]
        network = N.net(name)
        with N.one_thread():
            params = network.init(n, gen, device)
            data = network.data(n, N.BATCH[name], gen, device)
            inputs = network.forward(params, data.x).inputs
            out = []
            for p in points:
                layer = int(p["layer"])
                g = network.rows(B.derivatives(network, params, data.x, data.y, layer).grad)
                a = inputs[layer - 1]
                if drop:
                    a = a[:, :-drop] if isinstance(network, B.MLP) else a[:-drop]
                q = network.span_complement(layer, a)
                out.append((N.norms(torch.bmm(g, q)) / N.norms(g)).unsqueeze(-1))
        return torch.stack(out)

    return simulate


simulate_span = simulator()


def allowance(points: list[dict[str, Any]]) -> float:
    """The largest span allowance over the points' layers."""
    out = 0.0
    for p in points:
        network, layer = N.NETS[p["net"]], int(p["layer"])
        inputs = N.BATCH[p["net"]]
        if isinstance(network, B.ConvNet):
            inputs *= network.sides()[layer] ** 2
        out = max(out, R.span(network.fan_in(layer), inputs))
    return out


def check(claim: Any, points: list[dict[str, Any]], simulate: Any = simulate_span, units: int = UNITS
          ) -> MonteCarloCheck:
    return MonteCarloCheck(claim=claim, simulate=simulate, points=points, batch_keys=("net",),
                           process=f"{points[0]['net']} with BN eps = 0, random weights and batch; {units} instances"
                           " per layer", pilot_units=units, max_units=units, min_chunk=units,
                           roundoff=allowance(points))


fc_check = check(P.span_fc, FC_POINTS)
conv_check = check(P.span_conv, CONV_POINTS)

CHECKS = [fc_check, conv_check]
