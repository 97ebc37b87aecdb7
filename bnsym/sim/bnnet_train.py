"""Training runs of the BN networks of :mod:`bnsym.sim.bnnet` (Liu et al., 2021), batched over instances.

``train`` takes real optimizer steps, ``torch.optim.SGD`` (with ``momentum`` and ``weight_decay``) or
``torch.optim.Adam``, on mini-batches drawn without replacement from a fixed data set, optionally followed by
weight rescaling (every BN row w <- r w/||w|| after each step). The :class:`Run` records, per BN layer, row
norms and gradient norms at every step, and for the first layer the component of the rows orthogonal to the
span of the data set's inputs to it (``data_complement`` gives that span's complement). Everything is float64
on the weights' device, drawn from the given generator only; bad arguments are ``UsageError``s.

Nothing here evaluates a closed form of the theory: these functions only run the networks.

>>> import torch
>>> from bnsym.sim.bnnet import MLP
>>> gen = torch.Generator().manual_seed(0)
>>> net = MLP(d_in=8, widths=(6, 6), outputs=3)
>>> params, data = net.init(4, gen), net.data(4, 5, gen)
>>> run = train(net, params, data, steps=3, batch=4, lr=0.1, generator=gen)
>>> [tuple(n.shape) for n in run.norm_sq]
[(4, 4, 6), (4, 4, 6)]
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..errors import UsageError
from .arguments import check_count, check_device, check_real
from .bnnet import BNNet, ConvNet, Data, Params, check_net, check_tensor, rescale_rows

_F64 = torch.float64
OPTIMIZERS = ("sgd", "adam")


@dataclass(frozen=True)
class Run:
    """What a training run recorded, per BN layer l (lists indexed l - 1), rows [I, units]:

    * ``norm_sq[l]`` [T + 1, I, units]: ||w_t||^2 at the start of every step t (after rescaling) and at the end;
    * ``grad_sq[l]`` [T, I, units]: ||g_t||^2, g_t the row's gradient of the step's batch loss at w_t;
    * ``stepped_sq[l]`` [T, I, units]: the squared row norm right after each optimizer step (before rescaling);

    and for the first layer, with the complement basis Q of the data set's input span given:

    * ``perp_norm`` [T + 1, I, units]: ||Q' w_t||, the norm of the component orthogonal to the span;
    * ``perp_change`` [T + 1, I, units]: ||Q' (w_t - w_0)||;
    * ``losses`` [T, I]: each step's batch loss.
    """

    norm_sq: list[torch.Tensor]
    grad_sq: list[torch.Tensor]
    stepped_sq: list[torch.Tensor]
    perp_norm: torch.Tensor | None
    perp_change: torch.Tensor | None
    losses: torch.Tensor
    params: Params


def _check_data(data: object) -> Data:
    if not isinstance(data, Data):
        raise UsageError(f"data must be a Data (from the net's data), got {data!r}")
    return data


def train(net: BNNet, params: Params, data: Data, steps: int, batch: int, lr: float, generator: torch.Generator,
          optimizer: str = "sgd", momentum: float = 0.0, weight_decay: float = 0.0, radius: float | None = None,
          complement: torch.Tensor | None = None) -> Run:
    """``steps`` optimizer steps on mini-batches of ``batch`` drawn from ``data``, recording a :class:`Run`.

    Every parameter (weights, BN's gamma and beta, the read-out) is trained by one ``torch.optim.SGD``
    (``lr``, ``momentum``, ``weight_decay``) or ``torch.optim.Adam`` (``lr``, ``weight_decay``; default
    betas) over the instance-batched tensors. Each step draws, per instance, ``batch`` distinct samples of
    ``data`` (the first ``batch`` of the ascending argsort of ``torch.rand`` keys [I, P]), sums the
    instances' batch losses, back-propagates and steps. With ``radius`` every BN row is rescaled to norm
    ``radius`` after every step (weight rescaling; the start should have that norm, see ``init``).
    ``complement`` [I, d_in, m] (float64, on the weights' device): an orthonormal basis in which the first
    layer's rows are projected and recorded. ``params`` are not modified; the trained ones are in ``Run.params``.
    """
    check_net(net)
    data = _check_data(data)
    instances = net._check_params(params, data.x)
    device = check_device(generator, params["W1"].device)
    net.check_labels(data.y, instances, data.samples, device)
    steps = check_count("steps", steps, 1)
    batch = check_count("batch", batch, 2, data.samples)
    lr = check_real("lr", lr, 0.0, strict=True)
    momentum = check_real("momentum", momentum, 0.0)
    if momentum >= 1:
        raise UsageError(f"momentum must be < 1, got {momentum!r}")
    weight_decay = check_real("weight_decay", weight_decay, 0.0)
    if optimizer not in OPTIMIZERS:
        raise UsageError(f"optimizer must be one of {', '.join(OPTIMIZERS)}, got {optimizer!r}")
    if optimizer == "adam" and momentum:
        raise UsageError("momentum is an SGD setting; Adam has its own (default betas)")
    if radius is not None:
        radius = check_real("radius", radius, 0.0, strict=True)
    if complement is not None:
        d = net.fan_in(1)
        if not isinstance(complement, torch.Tensor) or complement.dim() != 3 or \
                tuple(complement.shape[:2]) != (instances, d):
            raise UsageError(f"complement must be a basis tensor [{instances}, {d}, m], got "
                             f"{tuple(complement.shape) if isinstance(complement, torch.Tensor) else complement!r}")
        check_tensor("complement", complement, device)

    p = {k: t.detach().clone().requires_grad_(True) for k, t in params.items()}
    if optimizer == "sgd":
        opt: torch.optim.Optimizer = torch.optim.SGD(list(p.values()), lr=lr, momentum=momentum,
                                                     weight_decay=weight_decay)
    else:
        opt = torch.optim.Adam(list(p.values()), lr=lr, weight_decay=weight_decay)
    layers = range(1, net.depth + 1)
    norm_sq: list[list[torch.Tensor]] = [[] for _ in layers]
    grad_sq: list[list[torch.Tensor]] = [[] for _ in layers]
    stepped_sq: list[list[torch.Tensor]] = [[] for _ in layers]
    perp_norm, perp_change, losses = [], [], []
    w_start = net.rows(p["W1"]).detach().clone()

    def observe() -> None:
        for i in layers:
            norm_sq[i - 1].append((net.rows(p[f"W{i}"]).detach() ** 2).sum(-1))
        if complement is not None:
            rows = net.rows(p["W1"]).detach()
            perp_norm.append(torch.linalg.vector_norm(torch.bmm(rows, complement), dim=-1))
            perp_change.append(torch.linalg.vector_norm(torch.bmm(rows - w_start, complement), dim=-1))

    rows_index = torch.arange(instances, device=device).unsqueeze(-1)
    observe()
    with torch.enable_grad():
        for _ in range(steps):
            keys = torch.rand(instances, data.samples, generator=generator, device=device, dtype=_F64)
            idx = keys.argsort(-1)[:, :batch]
            x, y = data.x[rows_index, idx], data.y[rows_index, idx]
            opt.zero_grad(set_to_none=True)
            loss = net.losses_unchecked(p, x, y)  # the arguments were checked above, once
            loss.sum().backward()
            losses.append(loss.detach())
            for i in layers:
                g = p[f"W{i}"].grad
                assert g is not None
                grad_sq[i - 1].append((net.rows(g) ** 2).sum(-1))
            opt.step()
            with torch.no_grad():
                for i in layers:
                    stepped_sq[i - 1].append((net.rows(p[f"W{i}"]) ** 2).sum(-1))
                    if radius is not None:
                        p[f"W{i}"].copy_(rescale_rows(p[f"W{i}"], radius))
            observe()
    return Run(norm_sq=[torch.stack(n) for n in norm_sq], grad_sq=[torch.stack(g) for g in grad_sq],
               stepped_sq=[torch.stack(s) for s in stepped_sq],
               perp_norm=torch.stack(perp_norm) if complement is not None else None,
               perp_change=torch.stack(perp_change) if complement is not None else None,
               losses=torch.stack(losses), params={k: t.detach() for k, t in p.items()})


def data_complement(net: BNNet, data: Data) -> torch.Tensor:
    """The orthonormal basis [I, fan_in, fan_in - n] of the complement of the span of the first layer's inputs
    over the whole data set (the samples, or all their patches), the directions no batch ever reaches."""
    check_net(net)
    x = check_tensor("data.x", _check_data(data).x, data.x.device)
    if x.dim() < 2 or tuple(x.shape[2:]) != net.input_shape():
        raise UsageError(f"data.x must have shape [I, N, {', '.join(map(str, net.input_shape()))}], got"
                         f" {tuple(x.shape)}")
    inst, samples = x.shape[:2]
    if isinstance(net, ConvNet):
        inputs = x.transpose(0, 1).reshape(samples, inst * net.channels, net.image, net.image)
    else:
        inputs = x
    return net.span_complement(1, inputs)
