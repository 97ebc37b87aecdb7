"""Deep residual MLPs with and without BN, batched over independent instances: Bjorck et al., NeurIPS 2018.

The network (row-vector convention, one instance):

    h_0 = x W_in,                                   W_in  [d, n]  entries N(0, input_variance/d)
    h_{l+1} = h_l + relu(BN(h_l)) W_l   (with BN)   W_l   [n, n]  entries N(0, sigma_w2/n)   (l < L)
    h_{l+1} = h_l + relu(h_l) W_l       (without)
    logits = h_L W_out,                              W_out [n, C]  entries N(0, readout_variance/n)

BN is ``torch.nn.functional.batch_norm`` in training mode without running statistics or affine
parameters: each unit is normalised over the examples of its own batch with the biased batch
variance, (h - mean)/sqrt(var + eps). Torch refuses eps = 0 in training mode, so the default is
``BN_EPS`` = 1e-12: the normalised unit then has batch mean square var/(var + eps), below 1 by a
relative eps/var (about 1e-12 here, where batch variances are of order 1 or more).

Data are synthetic (nothing is downloaded): inputs x ~ N(0, I_d), labels argmax_c (x V)_c of a random
linear teacher V with N(0, 1/d) entries; the loss is the cross-entropy ``F.cross_entropy`` averaged
over the examples of an instance.

* ``activations`` runs the network at initialization and returns the batch mean square
  ms_l = ||h_l||^2/(M n) (summed over the M examples of the batch) at every depth 0..L, with and
  without BN on the same inputs and weights (common random numbers).
* ``relative_loss`` takes one full-batch gradient step theta - alpha grad L(theta) from the same
  initialization for every learning rate alpha of a grid, the grid run as one batched tensor, and
  returns L(theta - alpha grad L)/L(theta); with ``steps > 1`` it continues with plain SGD on
  mini-batches of ``batch`` examples (drawn without replacement, the same for every alpha) and returns
  the full-data loss after each step over L(theta_0). The gradient is torch autograd's.

Everything is float64 on the generator's device, instances batched by ``torch.bmm``-style matmuls over
leading dimensions; no ``.item()`` inside a loop. A diverging step yields inf or nan, never an exception.
Nothing here evaluates a closed form of the theory: the module only runs the networks.

>>> import torch
>>> gen = torch.Generator().manual_seed(0)
>>> ms = activations(4, 16, 8, 32, 3, 2.0, gen)
>>> tuple(ms.shape)  # [variant (plain, bn), instance, depth 0..3]
(2, 4, 4)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import torch
import torch.nn.functional as F

from ..errors import UsageError
from .arguments import check_count, check_device, check_real

BN_EPS = 1e-12
_F64 = torch.float64


@dataclass(frozen=True)
class Data:
    """``x`` [B, N, d] inputs, ``labels`` [B, N] class indices, ``teacher`` [B, d, C]."""

    x: torch.Tensor
    labels: torch.Tensor
    teacher: torch.Tensor

    @property
    def classes(self) -> int:
        return int(self.teacher.shape[-1])


@dataclass(frozen=True)
class Network:
    """Weights of B instances (leading dimensions ``...``): ``w_in`` [..., d, n], ``blocks`` [..., L, n, n],
    ``w_out`` [..., n, C]."""

    w_in: torch.Tensor
    blocks: torch.Tensor
    w_out: torch.Tensor

    @property
    def depth(self) -> int:
        return int(self.blocks.shape[-3])

    @property
    def width(self) -> int:
        return int(self.w_in.shape[-1])

    def block(self, layer: int) -> torch.Tensor:
        return self.blocks[..., layer, :, :]

    def parameters(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return (self.w_in, self.blocks, self.w_out)


@dataclass(frozen=True)
class Stepped:
    """The networks theta - alpha g for every alpha of a grid [A], without storing them: a block is formed
    when the forward pass reaches it (``block``), so the memory is one layer of [A, B, n, n] at a time."""

    base: Network
    grad: Network
    alphas: torch.Tensor  # [A]

    @property
    def depth(self) -> int:
        return self.base.depth

    def _shift(self, w: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
        a = self.alphas.view(-1, *([1] * w.dim()))
        return w.unsqueeze(0) - a * g.unsqueeze(0)

    @property
    def w_in(self) -> torch.Tensor:
        return self._shift(self.base.w_in, self.grad.w_in)

    @property
    def w_out(self) -> torch.Tensor:
        return self._shift(self.base.w_out, self.grad.w_out)

    def block(self, layer: int) -> torch.Tensor:
        return self._shift(self.base.block(layer), self.grad.block(layer))


def _check_gen(gen: torch.Generator, device: torch.device | str | None) -> torch.device:
    if not isinstance(gen, torch.Generator):
        raise UsageError(f"generator must be a torch.Generator, got {gen!r}")
    return check_device(gen, gen.device if device is None else device)


def synthetic_data(instances: int, examples: int, d: int, classes: int, gen: torch.Generator,
                   device: torch.device | str | None = None) -> Data:
    """x ~ N(0, I_d) [B, N, d] and labels argmax (x V) of a teacher V [B, d, C] with N(0, 1/d) entries.

    Draws, in order: x, then V."""
    instances = check_count("instances", instances, 1)
    examples = check_count("examples", examples, 2)
    d = check_count("d", d, 1)
    classes = check_count("classes", classes, 2)
    device = _check_gen(gen, device)
    x = torch.randn(instances, examples, d, generator=gen, device=device, dtype=_F64)
    teacher = torch.randn(instances, d, classes, generator=gen, device=device, dtype=_F64) / math.sqrt(d)
    return Data(x=x, labels=(x @ teacher).argmax(-1), teacher=teacher)


def init_network(instances: int, d: int, width: int, depth: int, classes: int, sigma_w2: float,
                 gen: torch.Generator, device: torch.device | str | None = None, input_variance: float = 1.0,
                 readout_variance: float = 1.0) -> Network:
    """He-style initial weights of B instances; draws, in order: W_in, the blocks W_0..W_{L-1}, W_out."""
    instances = check_count("instances", instances, 1)
    d = check_count("d", d, 1)
    width = check_count("width", width, 1)
    depth = check_count("depth", depth, 0)
    classes = check_count("classes", classes, 2)
    sigma_w2 = check_real("sigma_w2", sigma_w2, minimum=0.0)
    input_variance = check_real("input_variance", input_variance, minimum=0.0, strict=True)
    readout_variance = check_real("readout_variance", readout_variance, minimum=0.0, strict=True)
    device = _check_gen(gen, device)
    w_in = torch.randn(instances, d, width, generator=gen, device=device, dtype=_F64) * math.sqrt(input_variance / d)
    blocks = torch.randn(instances, depth, width, width, generator=gen, device=device, dtype=_F64)
    w_out = torch.randn(instances, width, classes, generator=gen, device=device, dtype=_F64)
    return Network(w_in=w_in, blocks=blocks * math.sqrt(sigma_w2 / width),
                   w_out=w_out * math.sqrt(readout_variance / width))


def batch_norm(h: torch.Tensor, eps: float = BN_EPS) -> torch.Tensor:
    """BN of every unit over the examples (dimension -2) of its own batch, for any leading dimensions:
    ``torch.nn.functional.batch_norm`` in training mode, no running statistics, no affine parameters."""
    shape = h.shape
    # as [1, units, examples]: batch_norm's statistics run over dimensions 0 and 2, i.e. over the examples of each
    # unit of each instance, and this layout keeps every unit's examples contiguous
    flat = h.transpose(-1, -2).reshape(1, -1, shape[-2])
    out = F.batch_norm(flat, None, None, training=True, eps=eps)
    return out.reshape(shape[:-2] + (shape[-1], shape[-2])).transpose(-1, -2)


def forward(x: torch.Tensor, net: Network | Stepped, bn: bool, eps: float = BN_EPS) -> torch.Tensor:
    """Logits [..., N, C] of the residual network; ``x`` [B, N, d] broadcasts against the weights' leading
    dimensions (a grid of stepped networks [A, B] uses the same inputs)."""
    h = x @ net.w_in
    for layer in range(net.depth):
        a = batch_norm(h, eps) if bn else h
        h = h + torch.relu(a) @ net.block(layer)
    return h @ net.w_out


def loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy over the examples: logits [..., N, C], labels broadcast to [..., N]; returns [...]."""
    labels = labels.expand(logits.shape[:-1])
    per = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1), reduction="none")
    return per.reshape(logits.shape[:-1]).mean(-1)


def activations(instances: int, examples: int, d: int, width: int, depth: int, sigma_w2: float,
                gen: torch.Generator, device: torch.device | str | None = None, input_variance: float = 1.0,
                variants: Sequence[bool] = (False, True), eps: float = BN_EPS) -> torch.Tensor:
    """Batch mean squares ms_l = ||h_l||^2/(M n) at initialization, [V, B, depth + 1], for each variant
    (``False``: no BN, ``True``: BN) on the same inputs and weights.

    Draws, in order: x [B, M, d], W_in [B, d, n], then W_l [B, n, n] for l = 0..L-1 (one layer at a time, so
    the memory is one layer's weights; no read-out is drawn)."""
    instances = check_count("instances", instances, 1)
    examples = check_count("examples", examples, 2)
    d = check_count("d", d, 1)
    width = check_count("width", width, 1)
    depth = check_count("depth", depth, 0)
    sigma_w2 = check_real("sigma_w2", sigma_w2, minimum=0.0)
    input_variance = check_real("input_variance", input_variance, minimum=0.0, strict=True)
    eps = check_real("eps", eps, minimum=0.0, strict=True)
    variants = tuple(variants)
    if not variants or not all(isinstance(v, bool) for v in variants):
        raise UsageError(f"variants must be a non-empty sequence of booleans (True: with BN), got {variants!r}")
    device = _check_gen(gen, device)
    x = torch.randn(instances, examples, d, generator=gen, device=device, dtype=_F64)
    w_in = torch.randn(instances, d, width, generator=gen, device=device, dtype=_F64) * math.sqrt(input_variance / d)
    hs = [x @ w_in for _ in variants]
    out = torch.empty(len(variants), instances, depth + 1, dtype=_F64, device=device)
    scale = math.sqrt(sigma_w2 / width)
    for layer in range(depth + 1):
        for i, h in enumerate(hs):
            out[i, :, layer] = (h * h).mean((-2, -1))
        if layer == depth:
            break
        w = torch.randn(instances, width, width, generator=gen, device=device, dtype=_F64) * scale
        hs = [h + torch.relu(batch_norm(h, eps) if bn else h) @ w for h, bn in zip(hs, variants)]
    return out


@dataclass(frozen=True)
class RelativeLosses:
    """``initial`` [B] = L(theta_0); ``ratio`` [A, B, steps] = L(theta_k)/L(theta_0) for k = 1..steps, one row
    per learning rate (inf or nan where a step overflowed)."""

    initial: torch.Tensor
    ratio: torch.Tensor
    learning_rates: torch.Tensor


def relative_loss(data: Data, net: Network, bn: bool, learning_rates: Sequence[float], steps: int = 1,
                  batch: int | None = None, gen: torch.Generator | None = None,
                  eps: float = BN_EPS) -> RelativeLosses:
    """L(theta_k)/L(theta_0) after k = 1..steps updates from ``net`` for every learning rate (one tensor).

    Step 1 is the full-batch gradient step theta - alpha grad L(theta) (the same gradient for every alpha);
    later steps are SGD on mini-batches of ``batch`` examples, drawn without replacement from ``gen`` and
    shared by every alpha (``batch=None``: full-batch gradient descent). The recorded loss is always the
    full-data loss (BN with the statistics of all N examples)."""
    rates = tuple(check_real("learning rate", r, minimum=0.0, strict=True) for r in learning_rates)
    if not rates:
        raise UsageError("learning_rates must hold at least one learning rate")
    steps = check_count("steps", steps, 1)
    eps = check_real("eps", eps, minimum=0.0, strict=True)
    x, labels = data.x, data.labels
    N = x.shape[-2]
    if batch is not None:
        batch = check_count("batch", batch, 2, N)
    if steps > 1 and batch is not None:
        if gen is None:
            raise UsageError("SGD steps (batch given, steps > 1) need a generator for the mini-batches")
        _check_gen(gen, x.device)
    if net.w_in.shape[:-2] != x.shape[:-2] or net.w_in.shape[-2] != x.shape[-1]:
        raise UsageError(f"network of input shape {tuple(net.w_in.shape)} does not fit data x {tuple(x.shape)}")
    if net.w_out.shape[-1] != data.classes:
        raise UsageError(f"network has {net.w_out.shape[-1]} outputs, the data {data.classes} classes")
    alphas = torch.tensor(rates, dtype=_F64, device=x.device)
    A = len(rates)
    params = [p.detach().clone().requires_grad_(True) for p in net.parameters()]
    first = Network(*params)
    l0 = loss(forward(x, first, bn, eps), labels)
    grads = torch.autograd.grad(l0.sum(), params)
    l0 = l0.detach()
    ratios = []
    with torch.no_grad():
        stepped = Stepped(Network(*[p.detach() for p in params]), Network(*grads), alphas)
        ratios.append(loss(forward(x, stepped, bn, eps), labels) / l0)
    if steps > 1:  # the grid's networks are stored from here on: [A, B, ...]
        current = [stepped.w_in, stepped.base.blocks.unsqueeze(0) - alphas.view(-1, 1, 1, 1, 1) * grads[1].unsqueeze(0),
                   stepped.w_out]
        xs, ys = x.expand((A,) + x.shape), labels.expand((A,) + labels.shape)
        for _ in range(steps - 1):
            if batch is None:
                xb, yb = xs, ys
            else:
                assert gen is not None
                pick = torch.randperm(N, generator=gen, device=x.device)[:batch]
                xb, yb = xs[..., pick, :], ys[..., pick]
            ps = [p.detach().requires_grad_(True) for p in current]
            lb = loss(forward(xb, Network(*ps), bn, eps), yb)
            gs = torch.autograd.grad(lb.sum(), ps)
            with torch.no_grad():
                a = alphas.view(-1, 1, 1, 1)
                current = [ps[0] - a * gs[0], ps[1] - a.unsqueeze(-1) * gs[1], ps[2] - a * gs[2]]
                ratios.append(loss(forward(xs, Network(*current), bn, eps), ys) / l0)
    return RelativeLosses(initial=l0, ratio=torch.stack(ratios, -1), learning_rates=alphas)


def divergence_threshold(ratio: torch.Tensor, learning_rates: torch.Tensor, criterion: float) -> torch.Tensor:
    """Per instance, log10 of the smallest learning rate whose relative loss exceeds ``criterion`` (a non-finite
    relative loss, an overflowed step, counts as exceeding); the grid's largest rate when none does (censored).

    ``ratio`` [A, B] over the grid ``learning_rates`` [A] (increasing); returns [B]."""
    criterion = check_real("criterion", criterion, minimum=0.0, strict=True)
    if ratio.dim() != 2 or ratio.shape[0] != learning_rates.numel():
        raise UsageError(f"ratio must be [A, B] over the {learning_rates.numel()} learning rates, got"
                         f" {tuple(ratio.shape)}")
    if learning_rates.numel() > 1 and not bool((learning_rates[1:] > learning_rates[:-1]).all()):
        raise UsageError("learning rates must increase along the grid")
    diverged = ~(ratio <= criterion)
    index = torch.argmax(diverged.to(torch.int8), dim=0)
    index = torch.where(diverged.any(0), index, torch.full_like(index, learning_rates.numel() - 1))
    return torch.log10(learning_rates[index])


def censored(ratio: torch.Tensor, criterion: float) -> torch.Tensor:
    """Per instance [B]: 1 where no learning rate of the grid exceeds ``criterion`` (the threshold is censored)."""
    return (ratio <= criterion).all(0).to(_F64)
