"""Networks with batch normalization in train mode, batched over independent instances (Liu et al., 2021).

Two architectures, each a stack of BN layers and a linear read-out:

* :class:`MLP` ``(d_in, widths, outputs)``: x -> [Linear (no bias) -> BN -> ReLU] for each width -> Linear;
* :class:`ConvNet` ``(channels, image, layers, outputs)``: x -> [Conv2d (no bias) -> BN2d -> ReLU] for each
  ``(out_channels, kernel, padding)`` -> global average pooling -> Linear.

The BN is ``torch.nn.functional.batch_norm`` with ``training=True``: batch statistics (the biased
variance), a trainable affine map gamma, beta (gamma = 1, beta = 0 at the start), and ``eps`` a parameter
of the network (0 for the exact scale-invariance identities; torch's default is 1e-5). A *BN row* is the
weight vector feeding one BN unit: a row of a linear layer's matrix, or one output channel's kernel
flattened to C_in k k entries; its *inputs* are the layer's inputs in the batch (fully connected) or the
unfolded patches ``torch.nn.functional.unfold`` of them (conv).

Instances. I independent networks are one set of tensors with a leading instance dimension (``Params``,
a dict ``W1, gamma1, beta1, ..., V, b``): the linear maps are ``torch.bmm``, the conv layers one grouped
``conv2d`` with ``groups=I`` over the instances' channels side by side, and the BN one ``batch_norm`` call
over the I x C channels, each normalised over its own instance's batch (and positions, for BN2d). The tests
compare this formulation with one ``torch.nn.Sequential`` of ``Linear``/``Conv2d``, ``BatchNorm1d``/``2d``
and ``ReLU`` per instance. An instance's loss is the mean over its batch of the cross-entropy (labels the
argmax of a random linear teacher) or of half the squared error (targets of a random linear teacher
x -> T x/sqrt(dim x)); the losses are summed over instances, so the gradient in one instance's weights is
the gradient of that instance's loss.

Processes, all float64 on the given device, drawn from the given generator only:

* ``init``: weights N(0, 1/fan_in) (optionally every BN row rescaled to a norm ``radius``);
* ``data``: inputs N(0, 1), [I, P, d_in] or [I, P, C, H, W], and the teacher's labels;
* ``derivatives``: loss, gradient and a Hessian-vector product (double backward) in one layer;
* ``train``: real optimizer steps, ``torch.optim.SGD`` (with ``momentum`` and ``weight_decay``) or
  ``torch.optim.Adam``, on mini-batches drawn without replacement from a fixed data set, optionally
  followed by weight rescaling (every BN row w <- r w/||w|| after each step); the run records, per
  BN layer, row norms and gradient norms at every step, and for the first layer the component of the
  rows orthogonal to the span of the data set's inputs to it.

Nothing here evaluates a closed form of the theory: these functions only run the networks.

>>> gen = torch.Generator().manual_seed(0)
>>> net = MLP(d_in=8, widths=(6, 6), outputs=3)
>>> params, data = net.init(4, gen), net.data(4, 5, gen)
>>> net.losses(params, data.x, data.y).shape
torch.Size([4])
>>> run = train(net, params, data, steps=3, batch=4, lr=0.1, generator=gen)
>>> [tuple(n.shape) for n in run.norm_sq]
[(4, 4, 6), (4, 4, 6)]

``roundings`` counts the longest chain of float64 roundings of a forward and backward pass, the
operation count the checks' round-off allowances are derived from.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from ..errors import UsageError
from .arguments import check_count, check_device, check_real

_F64 = torch.float64
LOSSES = ("cross_entropy", "mse")
OPTIMIZERS = ("sgd", "adam")

Params = dict[str, torch.Tensor]


@dataclass(frozen=True)
class Data:
    """Inputs ``x`` [I, P, ...] and labels ``y``: class indices [I, P] (cross-entropy) or targets [I, P, outputs]."""

    x: torch.Tensor
    y: torch.Tensor

    @property
    def instances(self) -> int:
        return self.x.shape[0]

    @property
    def samples(self) -> int:
        return self.x.shape[1]


@dataclass(frozen=True)
class Forward:
    """Outputs [I, N, outputs] and the inputs of every BN layer (FC: [I, N, fan_in]; conv: [N, I C, H, W])."""

    out: torch.Tensor
    inputs: list[torch.Tensor]


def _check_eps_and_loss(eps: object, loss: object, outputs: object) -> None:
    check_real("eps", eps, 0.0)
    if loss not in LOSSES:
        raise UsageError(f"loss must be one of {', '.join(LOSSES)}, got {loss!r}")
    check_count("outputs", outputs, 2 if loss == "cross_entropy" else 1)


class BNNet:
    """What both architectures share: the read-out, the losses, the data, the training loop helpers."""

    eps: float
    loss: str
    outputs: int

    # -- to be provided by each architecture --------------------------------------------------------
    @property
    def depth(self) -> int:
        raise NotImplementedError

    def weight_shapes(self) -> list[tuple[int, ...]]:
        raise NotImplementedError

    def input_shape(self) -> tuple[int, ...]:
        raise NotImplementedError

    @property
    def features(self) -> int:
        raise NotImplementedError

    def _features(self, params: Params, x: torch.Tensor, inputs: list[torch.Tensor]) -> torch.Tensor:
        raise NotImplementedError

    def patches(self, layer: int, inputs: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def bn_sizes(self, batch: int) -> list[tuple[int, int, int]]:
        raise NotImplementedError

    # -- shared ---------------------------------------------------------------------------------------
    def layer(self, layer: object) -> int:
        """A BN layer index, checked: 1 .. depth."""
        return check_count("layer", layer, 1, self.depth)

    def fan_in(self, layer: int) -> int:
        return math.prod(self.weight_shapes()[self.layer(layer) - 1][1:])

    def init(self, instances: int, generator: torch.Generator, device: torch.device | str = "cpu",
             radius: float | None = None) -> Params:
        """Weights N(0, 1/fan_in) for every layer (one draw per layer, in order, then the read-out), gamma = 1,
        beta = 0, read-out bias 0; with ``radius`` every BN row is rescaled to that norm."""
        device = check_device(generator, device)
        instances = check_count("instances", instances, 1)
        if radius is not None:
            radius = check_real("radius", radius, 0.0, strict=True)
        params: Params = {}
        for i, shape in enumerate(self.weight_shapes(), start=1):
            fan = math.prod(shape[1:])
            w = torch.randn(instances, *shape, generator=generator, device=device, dtype=_F64) / math.sqrt(fan)
            if radius is not None:
                w = rescale_rows(w, radius)
            params[f"W{i}"] = w
            params[f"gamma{i}"] = torch.ones(instances, shape[0], device=device, dtype=_F64)
            params[f"beta{i}"] = torch.zeros(instances, shape[0], device=device, dtype=_F64)
        params["V"] = torch.randn(instances, self.outputs, self.features, generator=generator, device=device,
                                  dtype=_F64) / math.sqrt(self.features)
        params["b"] = torch.zeros(instances, self.outputs, device=device, dtype=_F64)
        return params

    def data(self, instances: int, samples: int, generator: torch.Generator,
             device: torch.device | str = "cpu") -> Data:
        """``samples`` inputs N(0, 1) per instance and a random linear teacher's labels (draws: x, then the
        teacher T [I, outputs, dim x] ~ N(0, 1))."""
        device = check_device(generator, device)
        instances = check_count("instances", instances, 1)
        samples = check_count("samples", samples, 2)
        x = torch.randn(instances, samples, *self.input_shape(), generator=generator, device=device, dtype=_F64)
        flat = x.reshape(instances, samples, -1)
        teacher = torch.randn(instances, self.outputs, flat.shape[-1], generator=generator, device=device,
                              dtype=_F64)
        scores = torch.bmm(flat, teacher.transpose(1, 2)) / math.sqrt(flat.shape[-1])
        y = scores.argmax(-1) if self.loss == "cross_entropy" else scores
        return Data(x, y)

    def _check_params(self, params: object, x: torch.Tensor | None = None) -> int:
        if not isinstance(params, dict):
            raise UsageError(f"params must be the dict returned by init, got {type(params).__name__}")
        names = [f"{k}{i}" for i in range(1, self.depth + 1) for k in ("W", "gamma", "beta")] + ["V", "b"]
        missing = [n for n in names if not isinstance(params.get(n), torch.Tensor)]
        if missing:
            raise UsageError(f"params lack the tensors {', '.join(missing)} (use the net's init)")
        instances = params["W1"].shape[0]
        for i, shape in enumerate(self.weight_shapes(), start=1):
            got = tuple(params[f"W{i}"].shape)
            if got != (instances, *shape):
                raise UsageError(f"params W{i} must have shape {(instances, *shape)}, got {got}")
        if x is not None:
            if not isinstance(x, torch.Tensor) or tuple(x.shape[2:]) != self.input_shape() or x.shape[0] != instances:
                got = tuple(x.shape) if isinstance(x, torch.Tensor) else x
                raise UsageError(f"inputs must have shape [{instances}, N, {', '.join(map(str, self.input_shape()))}],"
                                 f" got {got}")
            if x.shape[1] < 2:
                raise UsageError(f"BN in train mode needs a batch of at least 2, got {x.shape[1]}")
            if x.device != params["W1"].device:
                raise UsageError(f"inputs are on {x.device}, the weights on {params['W1'].device}")
        return instances

    def _bn(self, z: torch.Tensor, params: Params, i: int) -> torch.Tensor:
        """BN in train mode over dimension 0 of z [N, I C, ...]: each instance's channel with its own batch.

        ``torch.nn.functional.batch_norm`` for eps > 0; for eps = 0 (which that function refuses in training
        from torch 2.13 on) the kernel it dispatches to after its argument checks, ``torch.batch_norm``."""
        gamma, beta = params[f"gamma{i}"].reshape(-1), params[f"beta{i}"].reshape(-1)
        if self.eps > 0:
            return F.batch_norm(z, None, None, weight=gamma, bias=beta, training=True, eps=self.eps)
        return torch.batch_norm(z, gamma, beta, None, None, True, 0.0, 0.0, torch.backends.cudnn.enabled)

    def forward(self, params: Params, x: torch.Tensor) -> Forward:
        """The outputs [I, N, outputs] and every BN layer's inputs."""
        self._check_params(params, x)
        inputs: list[torch.Tensor] = []
        feats = self._features(params, x, inputs)
        return Forward(torch.bmm(feats, params["V"].transpose(1, 2)) + params["b"].unsqueeze(1), inputs)

    def losses_of(self, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Per instance [I]: the mean over the batch of the cross-entropy or of half the squared error."""
        inst, n = out.shape[:2]
        if self.loss == "cross_entropy":
            ce = F.cross_entropy(out.reshape(inst * n, -1), y.reshape(inst * n), reduction="none")
            return ce.reshape(inst, n).mean(1)
        return 0.5 * ((out - y) ** 2).sum(-1).mean(1)

    def losses(self, params: Params, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Per instance [I]: the loss of the batch ``x``, ``y``."""
        out = self.forward(params, x).out
        self._check_labels(y, out)
        return self.losses_of(out, y)

    def _check_labels(self, y: object, out: torch.Tensor) -> None:
        if self.loss == "cross_entropy":
            want, ok = f"class indices [{out.shape[0]}, {out.shape[1]}]", (
                isinstance(y, torch.Tensor) and tuple(y.shape) == tuple(out.shape[:2]) and not y.is_floating_point())
        else:
            want, ok = f"targets {list(out.shape)}", isinstance(y, torch.Tensor) and y.shape == out.shape
        if not ok:
            got = f"{y.dtype} {list(y.shape)}" if isinstance(y, torch.Tensor) else repr(y)
            raise UsageError(f"labels must be {want} for the {self.loss} loss, got {got}")

    def rows(self, weight: torch.Tensor) -> torch.Tensor:
        """A BN layer's weight as rows [I, units, fan_in] (a view)."""
        return weight.reshape(weight.shape[0], weight.shape[1], -1)

    def span_complement(self, layer: int, inputs: torch.Tensor) -> torch.Tensor:
        """An orthonormal basis [I, fan_in, fan_in - n] of the complement of the span of the layer's n inputs
        (``inputs`` as in ``Forward.inputs``), from the complete QR decomposition of the inputs' matrix.

        The inputs must number fewer than ``fan_in`` and be in general position (rank n), as random ones are."""
        if not isinstance(inputs, torch.Tensor) or inputs.dim() != (3 if isinstance(self, MLP) else 4):
            raise UsageError("inputs must be a layer's inputs as in Forward.inputs ([I, N, fan_in] for an MLP,"
                             f" [N, I C_in, H, W] for a conv net), got {inputs!r}")
        a = self.patches(self.layer(layer), inputs)  # [I, n, fan_in]
        n, fan = a.shape[1], a.shape[2]
        if n >= fan:
            raise UsageError(f"layer {layer} sees {n} inputs of dimension {fan}: their span is the whole space, its"
                             " complement empty (use fewer samples or a wider layer)")
        q, _ = torch.linalg.qr(a.transpose(1, 2), mode="complete")
        return q[:, :, n:]

    def roundings(self, batch: int) -> int:
        """The longest chain of float64 roundings in one forward and backward pass at batch size ``batch``.

        Per BN layer: the forward dot product (fan_in terms), BN's batch mean and variance (2 n over the n
        values of a channel: the batch, times the positions for BN2d), about 8 elementwise operations; the
        backward product over fan_out, the weight gradient's sum over the n values, BN's two backward means
        (3 n) and about 8 elementwise operations. Read-out and loss: the product over the features, the
        log-sum-exp over the outputs, the mean over the batch, each both ways, and 16 elementwise operations;
        the pooling of a conv net (its mean over positions), both ways."""
        batch = check_count("batch", batch, 2)
        k = 0
        for fan_in, fan_out, n in self.bn_sizes(batch):
            k += fan_in + 2 * n + 8 + fan_out + 3 * n + 8
        return k + 2 * (self.features + self.outputs + batch + self._pool()) + 16

    def _pool(self) -> int:
        return 0


@dataclass(frozen=True)
class MLP(BNNet):
    """x [I, N, d_in] -> [Linear (no bias) -> BN -> ReLU] per width -> Linear (with bias) -> outputs."""

    d_in: int
    widths: tuple[int, ...]
    outputs: int
    eps: float = 0.0
    loss: str = "cross_entropy"

    def __post_init__(self) -> None:
        check_count("d_in", self.d_in, 1)
        if isinstance(self.widths, (str, bytes)) or not hasattr(self.widths, "__iter__"):
            raise UsageError(f"widths must be a sequence of layer widths, got {self.widths!r}")
        widths = tuple(self.widths)
        if not widths:
            raise UsageError("widths must name at least one BN layer")
        for i, w in enumerate(widths):
            check_count(f"widths[{i}]", w, 1)
        object.__setattr__(self, "widths", tuple(int(w) for w in widths))
        _check_eps_and_loss(self.eps, self.loss, self.outputs)
        object.__setattr__(self, "eps", float(self.eps))

    @property
    def depth(self) -> int:
        return len(self.widths)

    @property
    def features(self) -> int:
        return self.widths[-1]

    def input_shape(self) -> tuple[int, ...]:
        return (self.d_in,)

    def weight_shapes(self) -> list[tuple[int, ...]]:
        fans = (self.d_in,) + self.widths[:-1]
        return [(w, f) for w, f in zip(self.widths, fans)]

    def _features(self, params: Params, x: torch.Tensor, inputs: list[torch.Tensor]) -> torch.Tensor:
        a = x
        inst, n = x.shape[:2]
        for i in range(1, self.depth + 1):
            inputs.append(a)
            z = torch.bmm(a, params[f"W{i}"].transpose(1, 2))  # [I, N, h]
            y = self._bn(z.transpose(0, 1).reshape(n, -1), params, i)  # [N, I h]
            a = torch.relu(y.reshape(n, inst, -1).transpose(0, 1))
        return a

    def patches(self, layer: int, inputs: torch.Tensor) -> torch.Tensor:
        return inputs

    def bn_sizes(self, batch: int) -> list[tuple[int, int, int]]:
        fan_outs = self.widths[1:] + (self.outputs,)
        return [(f, o, batch) for (_, f), o in zip(self.weight_shapes(), fan_outs)]


@dataclass(frozen=True)
class ConvNet(BNNet):
    """x [I, N, channels, image, image] -> [Conv2d (no bias) -> BN2d -> ReLU] per ``(out_channels, kernel,
    padding)`` in ``layers`` (stride 1) -> mean over positions -> Linear (with bias) -> outputs."""

    channels: int
    image: int
    layers: tuple[tuple[int, int, int], ...]
    outputs: int
    eps: float = 0.0
    loss: str = "cross_entropy"

    def __post_init__(self) -> None:
        check_count("channels", self.channels, 1)
        check_count("image", self.image, 1)
        try:
            layers = tuple(tuple(layer) for layer in self.layers)
        except TypeError:
            raise UsageError(f"layers must be a sequence of (out_channels, kernel, padding), got {self.layers!r}"
                             ) from None
        if not layers:
            raise UsageError("layers must name at least one conv layer")
        side = self.image
        for i, layer in enumerate(layers):
            if len(layer) != 3 or not all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in layer):
                raise UsageError(f"layers[{i}] must be three integers (out_channels, kernel, padding), got {layer!r}")
            c, k, p = layer
            check_count(f"layers[{i}] out_channels", c, 1)
            check_count(f"layers[{i}] kernel", k, 1)
            check_count(f"layers[{i}] padding", p, 0)
            side = side + 2 * p - k + 1
            if side < 1:
                raise UsageError(f"layers[{i}]: a kernel of {k} with padding {p} leaves no output position")
        object.__setattr__(self, "layers", tuple(tuple(int(v) for v in layer) for layer in layers))
        _check_eps_and_loss(self.eps, self.loss, self.outputs)
        object.__setattr__(self, "eps", float(self.eps))

    @property
    def depth(self) -> int:
        return len(self.layers)

    @property
    def features(self) -> int:
        return self.layers[-1][0]

    def input_shape(self) -> tuple[int, ...]:
        return (self.channels, self.image, self.image)

    def sides(self) -> list[int]:
        """The image side at the input of each layer, then at the output of the last."""
        out = [self.image]
        for _, k, p in self.layers:
            out.append(out[-1] + 2 * p - k + 1)
        return out

    def weight_shapes(self) -> list[tuple[int, ...]]:
        ins = (self.channels,) + tuple(c for c, _, _ in self.layers[:-1])
        return [(c, i, k, k) for (c, k, _), i in zip(self.layers, ins)]

    def _features(self, params: Params, x: torch.Tensor, inputs: list[torch.Tensor]) -> torch.Tensor:
        inst, n = x.shape[:2]
        h = x.transpose(0, 1).reshape(n, inst * self.channels, self.image, self.image)
        for i, (c, _, p) in enumerate(self.layers, start=1):
            inputs.append(h)
            w = params[f"W{i}"]
            h = F.conv2d(h, w.reshape(inst * c, *w.shape[2:]), padding=p, groups=inst)
            h = torch.relu(self._bn(h, params, i))
        return h.mean((2, 3)).reshape(n, inst, -1).transpose(0, 1)

    def patches(self, layer: int, inputs: torch.Tensor) -> torch.Tensor:
        """The unfolded patches [I, N L, C_in k k] of a layer's inputs [N, I C_in, H, W] (L positions)."""
        _, k, p = self.layers[layer - 1]
        n, channels = inputs.shape[:2]
        c_in = self.weight_shapes()[layer - 1][1]
        inst = channels // c_in
        cols = F.unfold(inputs, k, padding=p)  # [N, I C_in k k, L], channel-major: instance blocks
        cols = cols.reshape(n, inst, c_in * k * k, -1).permute(1, 0, 3, 2)  # [I, N, L, C_in k k]
        return cols.reshape(inst, -1, c_in * k * k)

    def bn_sizes(self, batch: int) -> list[tuple[int, int, int]]:
        shapes, sides = self.weight_shapes(), self.sides()
        fan_outs = [c * k * k for c, k, _ in self.layers[1:]] + [self.outputs]
        return [(math.prod(s[1:]), o, batch * sides[i + 1] ** 2) for i, (s, o) in enumerate(zip(shapes, fan_outs))]

    def _pool(self) -> int:
        return self.sides()[-1] ** 2


def rescale_rows(weight: torch.Tensor, radius: float | torch.Tensor) -> torch.Tensor:
    """Every BN row of ``weight`` [I, units, ...] rescaled to the norm ``radius``: w <- r w/||w||."""
    flat = weight.reshape(weight.shape[0], weight.shape[1], -1)
    norms = torch.linalg.vector_norm(flat, dim=-1, keepdim=True)
    return (flat * (radius / norms)).reshape(weight.shape)


@dataclass(frozen=True)
class Derivatives:
    """At one layer's weight W: losses [I], gradient dL/dW and, when asked, the Hessian-vector product H v."""

    loss: torch.Tensor
    grad: torch.Tensor
    hvp: torch.Tensor | None


def derivatives(net: BNNet, params: Params, x: torch.Tensor, y: torch.Tensor, layer: int,
                v: torch.Tensor | None = None, weight: torch.Tensor | None = None) -> Derivatives:
    """The losses, the gradient in W_layer and (with ``v``) the Hessian-vector product in W_layer by double
    backward, at the given ``weight`` for W_layer (default: the params' own); every other parameter fixed."""
    _check_net(net)
    layer = net.layer(layer)
    net._check_params(params, x)
    name = f"W{layer}"
    w0 = params[name] if weight is None else weight
    if not isinstance(w0, torch.Tensor) or w0.shape != params[name].shape:
        raise UsageError(f"weight must be a tensor of shape {tuple(params[name].shape)}")
    if v is not None and (not isinstance(v, torch.Tensor) or v.shape != params[name].shape):
        raise UsageError(f"v must be a tensor of shape {tuple(params[name].shape)}")
    p = {k: t.detach() for k, t in params.items()}
    w = w0.detach().clone().requires_grad_(True)
    p[name] = w
    with torch.enable_grad():
        loss = net.losses(p, x, y)
        (g,) = torch.autograd.grad(loss.sum(), w, create_graph=v is not None)
        hv = None
        if v is not None:
            (hv,) = torch.autograd.grad((g * v).sum(), w)
    return Derivatives(loss.detach(), g.detach(), hv)


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


def _check_net(net: object) -> None:
    if not isinstance(net, BNNet):
        raise UsageError(f"net must be an MLP or a ConvNet, got {net!r}")


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
    ``complement`` [I, d_in, m]: an orthonormal basis in which the first layer's rows are projected and
    recorded. ``params`` are not modified; the trained ones are in ``Run.params``.
    """
    _check_net(net)
    instances = net._check_params(params, data.x if isinstance(data, Data) else None)
    if not isinstance(data, Data):
        raise UsageError(f"data must be a Data (from the net's data), got {data!r}")
    device = check_device(generator, params["W1"].device)
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
            loss = net.losses(p, x, y)
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
    _check_net(net)
    if not isinstance(data, Data):
        raise UsageError(f"data must be a Data (from the net's data), got {data!r}")
    inst, samples = data.x.shape[:2]
    if isinstance(net, ConvNet):
        inputs = data.x.transpose(0, 1).reshape(samples, inst * net.channels, net.image, net.image)
    else:
        inputs = data.x
    return net.span_complement(1, inputs)


def network(kind: str, **settings: Any) -> BNNet:
    """An ``MLP`` (``kind="mlp"``) or a ``ConvNet`` (``kind="conv"``) from keyword settings."""
    classes: dict[str, type[BNNet]] = {"mlp": MLP, "conv": ConvNet}
    if kind not in classes:
        raise UsageError(f"kind must be 'mlp' or 'conv', got {kind!r}")
    try:
        return classes[kind](**settings)
    except TypeError as error:
        raise UsageError(f"{kind}: {error}") from None
