"""Deep residual MLPs with and without BN, batched over independent instances: Bjorck et al., NeurIPS 2018.

The network (row-vector convention, one instance):

    h_0 = x W_in,                                   W_in  [d, n]  entries N(0, input_variance/d)
    h_{l+1} = h_l + relu(BN(h_l)) W_l   (with BN)   W_l   [n, n]  entries N(0, sigma_w2/n)   (l < L)
    h_{l+1} = h_l + relu(h_l) W_l       (without)
    logits = h_L W_out,                              W_out [n, C]  entries N(0, readout_variance/n)

BN is ``torch.nn.functional.batch_norm`` in training mode without running statistics or affine
parameters: each unit is normalised over the examples of its own batch with the biased batch
variance, (h - mean)/sqrt(var + eps). Torch refuses eps = 0 in training mode, so the default is
``BN_EPS`` = 1e-12: the normalised unit then has batch mean square var/(var + eps) instead of 1.
Its mean deficit E[eps/(var + eps)] depends on the batch size through the M - 1 degrees of freedom
of var (whose density near 0 behaves like var^((M - 3)/2)): O(sqrt(eps/s^2)) at M = 2 (about
sqrt(pi eps/s^2) ~ 2e-6 for a unit of variance s^2 ~ 1), O(eps log(1/eps)) at M = 3, and O(eps) only
from M = 4 on.

Data are synthetic (nothing is downloaded): inputs x ~ N(0, I_d), labels argmax_c (x V)_c of a random
linear teacher V with N(0, 1/d) entries; the loss is the cross-entropy ``F.cross_entropy`` averaged
over the examples of an instance.

* ``activation_statistics`` runs the network at initialization and returns, at every depth, the batch
  mean square ms_l = ||h_l||^2/(M n) (summed over the M examples of the batch), that of the branch
  input rel_l = ||relu(a_l)||^2/(M n) (a_l = h_l, or BN(h_l)), and the largest single-unit value
  max_j ||relu(a_l[:, j])||^2/M, with and without BN on the same inputs and weights (common random
  numbers); ``activations`` returns only ms_l.
* ``relative_loss`` takes one full-batch gradient step theta - alpha grad L(theta) from the same
  initialization for every learning rate alpha of a grid, the grid run as one batched tensor, and
  returns L(theta - alpha grad L)/L(theta); with ``steps > 1`` it continues with plain SGD on
  mini-batches of ``batch`` examples (drawn without replacement, the same for every alpha) and returns
  the full-data loss after each step over L(theta_0). The gradient is torch autograd's.
* ``divergence_threshold`` reads log10 alpha*, the smallest rate of the grid whose relative loss
  exceeds a criterion, and ``censoring`` flags the instances where that reading is censored: at the
  bottom (the grid's smallest rate already exceeds the criterion, so alpha* is at most that rate and
  the reading overstates it) or at the top (no rate of the grid exceeds it; the reading, the top
  rate, understates alpha*).

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

    def truncated(self, depth: int) -> "Network":
        """The same instances with only their first ``depth`` blocks (the same W_in and read-out)."""
        depth = check_count("depth", depth, 0, self.depth)
        return Network(w_in=self.w_in, blocks=self.blocks[..., :depth, :, :], w_out=self.w_out)


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


def _check_bool(name: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise UsageError(f"{name} must be True or False, got {value!r}")
    return value


def _check_eps(eps: object) -> float:
    """BN's eps: torch's training-mode batch norm needs eps > 0."""
    return check_real("eps", eps, minimum=0.0, strict=True)


def _check_tensor(name: str, value: object, dim: int | None = None, float64: bool = True) -> torch.Tensor:
    if not isinstance(value, torch.Tensor):
        raise UsageError(f"{name} must be a torch tensor, got {type(value).__name__}")
    if float64 and value.dtype != _F64:
        raise UsageError(f"{name} must be float64, got {value.dtype}")
    if not float64 and not value.is_floating_point():
        raise UsageError(f"{name} must be a floating-point tensor, got {value.dtype}")
    if dim is not None and value.dim() != dim:
        raise UsageError(f"{name} must have {dim} dimensions, got shape {tuple(value.shape)}")
    return value


def check_network(net: object, x: torch.Tensor | None = None) -> Network:
    """``net`` checked to be a float64 ``Network`` of consistent shapes (and, given inputs ``x`` [B, N, d],
    one that fits them: the same instances, input dimension and device)."""
    if not isinstance(net, Network):
        raise UsageError(f"network must be a bnsym.sim.resnet.Network, got {type(net).__name__}")
    w_in = _check_tensor("network w_in", net.w_in)
    blocks = _check_tensor("network blocks", net.blocks)
    w_out = _check_tensor("network w_out", net.w_out)
    if w_in.dim() < 2 or blocks.dim() != w_in.dim() + 1 or w_out.dim() != w_in.dim():
        raise UsageError(f"network shapes must be w_in [..., d, n], blocks [..., L, n, n], w_out [..., n, C]; got"
                         f" {tuple(w_in.shape)}, {tuple(blocks.shape)}, {tuple(w_out.shape)}")
    lead, n = w_in.shape[:-2], w_in.shape[-1]
    if blocks.shape[:-3] != lead or w_out.shape[:-2] != lead:
        raise UsageError(f"network weights disagree on their instances: {tuple(w_in.shape)}, {tuple(blocks.shape)},"
                         f" {tuple(w_out.shape)}")
    if blocks.shape[-2:] != (n, n) or w_out.shape[-2] != n:
        raise UsageError(f"network of width {n} needs blocks [..., L, {n}, {n}] and w_out [..., {n}, C]; got"
                         f" {tuple(blocks.shape)}, {tuple(w_out.shape)}")
    if len({w_in.device, blocks.device, w_out.device}) != 1:
        raise UsageError("network weights must lie on one device")
    if x is not None:
        if x.shape[:-2] != lead or x.shape[-1] != w_in.shape[-2]:
            raise UsageError(f"network of input shape {tuple(w_in.shape)} does not fit data x {tuple(x.shape)}")
        if x.device != w_in.device:
            raise UsageError(f"network on {w_in.device}, data on {x.device}")
    return net


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
    _check_tensor("h", h, float64=False)
    if h.dim() < 2 or h.shape[-2] < 2:
        raise UsageError(f"batch norm needs h [..., examples, units] with at least 2 examples, got {tuple(h.shape)}")
    eps = _check_eps(eps)
    return _batch_norm(h, eps)


def _batch_norm(h: torch.Tensor, eps: float) -> torch.Tensor:
    shape = h.shape
    # as [1, units, examples]: batch_norm's statistics run over dimensions 0 and 2, i.e. over the examples of each
    # unit of each instance, and this layout keeps every unit's examples contiguous
    flat = h.transpose(-1, -2).reshape(1, -1, shape[-2])
    out = F.batch_norm(flat, None, None, training=True, eps=eps)
    return out.reshape(shape[:-2] + (shape[-1], shape[-2])).transpose(-1, -2)


def forward(x: torch.Tensor, net: Network | Stepped, bn: bool, eps: float = BN_EPS) -> torch.Tensor:
    """Logits [..., N, C] of the residual network; ``x`` [B, N, d] broadcasts against the weights' leading
    dimensions (a grid of stepped networks [A, B] uses the same inputs)."""
    bn = _check_bool("bn", bn)
    eps = _check_eps(eps)
    x = _check_tensor("x", x)
    if x.dim() < 2 or (bn and x.shape[-2] < 2):
        raise UsageError(f"x must be [..., N, d] (N >= 2 with BN), got {tuple(x.shape)}")
    if isinstance(net, Network):
        check_network(net, x if x.dim() == 3 else None)
    elif not isinstance(net, Stepped):
        raise UsageError(f"network must be a Network, got {type(net).__name__}")
    return _forward(x, net, bn, eps)


def _forward(x: torch.Tensor, net: Network | Stepped, bn: bool, eps: float) -> torch.Tensor:
    h = x @ net.w_in
    for layer in range(net.depth):
        a = _batch_norm(h, eps) if bn else h
        h = h + torch.relu(a) @ net.block(layer)
    return h @ net.w_out


def loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy over the examples: logits [..., N, C], labels broadcast to [..., N]; returns [...]."""
    labels = labels.expand(logits.shape[:-1])
    per = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1), reduction="none")
    return per.reshape(logits.shape[:-1]).mean(-1)


@dataclass(frozen=True)
class Activations:
    """Statistics at initialization per variant (``False``: no BN, ``True``: BN), instance and depth:

    ``ms`` [V, B, L + 1]: ms_l = ||h_l||^2/(M n); ``rel`` [V, B, L]: rel_l = ||relu(a_l)||^2/(M n) of the branch
    input a_l (h_l without BN, BN(h_l) with it); ``rel_unit_max`` [V, B, L]: max over the n units j of
    ||relu(a_l[:, j])||^2/M (the unit's own batch)."""

    ms: torch.Tensor
    rel: torch.Tensor
    rel_unit_max: torch.Tensor
    variants: tuple[bool, ...]


def activation_statistics(instances: int, examples: int, d: int, width: int, depth: int, sigma_w2: float,
                          gen: torch.Generator, device: torch.device | str | None = None,
                          input_variance: float = 1.0, variants: Sequence[bool] = (False, True),
                          eps: float = BN_EPS) -> Activations:
    """ms_l, rel_l and the largest unit's rel at initialization, for each variant on the same inputs and weights.

    Draws, in order: x [B, M, d], W_in [B, d, n], then W_l [B, n, n] for l = 0..L-1 (one layer at a time, so
    the memory is one layer's weights; no read-out is drawn)."""
    instances = check_count("instances", instances, 1)
    examples = check_count("examples", examples, 2)
    d = check_count("d", d, 1)
    width = check_count("width", width, 1)
    depth = check_count("depth", depth, 0)
    sigma_w2 = check_real("sigma_w2", sigma_w2, minimum=0.0)
    input_variance = check_real("input_variance", input_variance, minimum=0.0, strict=True)
    eps = _check_eps(eps)
    if isinstance(variants, (str, bytes)) or not isinstance(variants, Sequence):
        raise UsageError(f"variants must be a sequence of booleans (True: with BN), got {variants!r}")
    variants = tuple(variants)
    if not variants or not all(isinstance(v, bool) for v in variants):
        raise UsageError(f"variants must be a non-empty sequence of booleans (True: with BN), got {variants!r}")
    device = _check_gen(gen, device)
    x = torch.randn(instances, examples, d, generator=gen, device=device, dtype=_F64)
    w_in = torch.randn(instances, d, width, generator=gen, device=device, dtype=_F64) * math.sqrt(input_variance / d)
    hs = [x @ w_in for _ in variants]
    V = len(variants)
    ms = torch.empty(V, instances, depth + 1, dtype=_F64, device=device)
    rel = torch.empty(V, instances, depth, dtype=_F64, device=device)
    rel_max = torch.empty(V, instances, depth, dtype=_F64, device=device)
    scale = math.sqrt(sigma_w2 / width)
    for layer in range(depth + 1):
        for i, h in enumerate(hs):
            ms[i, :, layer] = (h * h).mean((-2, -1))
        if layer == depth:
            break
        w = torch.randn(instances, width, width, generator=gen, device=device, dtype=_F64) * scale
        for i, (h, bn) in enumerate(zip(hs, variants)):
            r = torch.relu(_batch_norm(h, eps) if bn else h)
            per_unit = (r * r).mean(-2)  # [B, n]: each unit's relu mean square over its batch
            rel[i, :, layer] = per_unit.mean(-1)
            rel_max[i, :, layer] = per_unit.amax(-1)
            hs[i] = h + r @ w
    return Activations(ms=ms, rel=rel, rel_unit_max=rel_max, variants=variants)


def activations(instances: int, examples: int, d: int, width: int, depth: int, sigma_w2: float,
                gen: torch.Generator, device: torch.device | str | None = None, input_variance: float = 1.0,
                variants: Sequence[bool] = (False, True), eps: float = BN_EPS) -> torch.Tensor:
    """Batch mean squares ms_l = ||h_l||^2/(M n) at initialization, [V, B, depth + 1], for each variant
    (``False``: no BN, ``True``: BN) on the same inputs and weights (``activation_statistics``' draws)."""
    return activation_statistics(instances, examples, d, width, depth, sigma_w2, gen, device, input_variance,
                                 variants, eps).ms


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
    if not isinstance(data, Data):
        raise UsageError(f"data must be a bnsym.sim.resnet.Data, got {type(data).__name__}")
    bn = _check_bool("bn", bn)
    if isinstance(learning_rates, (str, bytes)) or not isinstance(learning_rates, (Sequence, torch.Tensor)):
        raise UsageError(f"learning_rates must be a sequence of positive reals, got {learning_rates!r}")
    rates = tuple(check_real("learning rate", float(r) if isinstance(r, torch.Tensor) else r, minimum=0.0,
                             strict=True) for r in learning_rates)
    if not rates:
        raise UsageError("learning_rates must hold at least one learning rate")
    steps = check_count("steps", steps, 1)
    eps = _check_eps(eps)
    x = _check_tensor("data x", data.x, dim=3)
    labels = data.labels
    if labels.shape != x.shape[:-1] or labels.dtype != torch.int64 or labels.device != x.device:
        raise UsageError(f"data labels must be int64 class indices [B, N] on the inputs' device, got"
                         f" {labels.dtype} {tuple(labels.shape)}")
    N = x.shape[-2]
    if batch is not None:
        if steps == 1:
            raise UsageError("batch sets the mini-batches of the SGD steps after the first: give steps > 1 with it,"
                             " or batch=None")
        batch = check_count("batch", batch, 2 if bn else 1, N)
        if gen is None:
            raise UsageError("SGD steps (batch given, steps > 1) need a generator for the mini-batches")
        _check_gen(gen, x.device)
    check_network(net, x)
    if net.w_out.shape[-1] != data.classes:
        raise UsageError(f"network has {net.w_out.shape[-1]} outputs, the data {data.classes} classes")
    if int(labels.min()) < 0 or int(labels.max()) >= data.classes:
        raise UsageError(f"data labels must lie in 0..{data.classes - 1}")
    alphas = torch.tensor(rates, dtype=_F64, device=x.device)
    A = len(rates)
    params = [p.detach().clone().requires_grad_(True) for p in net.parameters()]
    first = Network(*params)
    l0 = loss(_forward(x, first, bn, eps), labels)
    grads = torch.autograd.grad(l0.sum(), params)
    l0 = l0.detach()
    ratios = []
    with torch.no_grad():
        stepped = Stepped(Network(*[p.detach() for p in params]), Network(*grads), alphas)
        ratios.append(loss(_forward(x, stepped, bn, eps), labels) / l0)
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
            lb = loss(_forward(xb, Network(*ps), bn, eps), yb)
            gs = torch.autograd.grad(lb.sum(), ps)
            with torch.no_grad():
                a = alphas.view(-1, 1, 1, 1)
                current = [ps[0] - a * gs[0], ps[1] - a.unsqueeze(-1) * gs[1], ps[2] - a * gs[2]]
                ratios.append(loss(_forward(xs, Network(*current), bn, eps), ys) / l0)
    return RelativeLosses(initial=l0, ratio=torch.stack(ratios, -1), learning_rates=alphas)


def _check_grid(ratio: object, criterion: object, learning_rates: object = None) -> tuple[torch.Tensor, float]:
    ratio = _check_tensor("ratio", ratio, dim=2, float64=False)
    criterion = check_real("criterion", criterion, minimum=0.0, strict=True)
    if learning_rates is not None:
        rates = _check_tensor("learning_rates", learning_rates, dim=1, float64=False)
        if ratio.shape[0] != rates.numel():
            raise UsageError(f"ratio must be [A, B] over the {rates.numel()} learning rates, got {tuple(ratio.shape)}")
        if rates.device != ratio.device:
            raise UsageError(f"learning rates on {rates.device}, ratio on {ratio.device}")
        if not bool((torch.isfinite(rates) & (rates > 0)).all()):
            raise UsageError("learning rates must be finite and positive")
        if rates.numel() > 1 and not bool((rates[1:] > rates[:-1]).all()):
            raise UsageError("learning rates must increase along the grid")
    return ratio, criterion


def divergence_threshold(ratio: torch.Tensor, learning_rates: torch.Tensor, criterion: float) -> torch.Tensor:
    """Per instance, log10 of the smallest learning rate whose relative loss exceeds ``criterion`` (a non-finite
    relative loss, an overflowed step, counts as exceeding); the grid's largest rate when none does (censored at
    the top). The grid's smallest rate is returned when it already exceeds (censored at the bottom: alpha* is at
    most that rate); ``censoring`` flags both.

    ``ratio`` [A, B] over the grid ``learning_rates`` [A] (positive, increasing, floating point); returns [B]."""
    ratio, criterion = _check_grid(ratio, criterion, learning_rates)
    diverged = ~(ratio <= criterion)
    index = torch.argmax(diverged.to(torch.int8), dim=0)
    index = torch.where(diverged.any(0), index, torch.full_like(index, learning_rates.numel() - 1))
    return torch.log10(learning_rates.to(_F64)[index])


def censoring(ratio: torch.Tensor, criterion: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Per instance, float64 flags [B] (bottom, top): ``bottom`` 1 where the grid's smallest rate already exceeds
    ``criterion`` (alpha* at or below the grid's bottom), ``top`` 1 where no rate of the grid exceeds it."""
    ratio, criterion = _check_grid(ratio, criterion)
    diverged = ~(ratio <= criterion)
    return diverged[0].to(_F64), (~diverged.any(0)).to(_F64)
