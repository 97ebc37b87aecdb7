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
* training runs (real optimizer steps, weight rescaling, what a run records) are in
  :mod:`bnsym.sim.bnnet_train`.

Every function meant to be called checks its arguments and raises ``UsageError``: tensors must be float64
(class labels int64 in [0, outputs)) and on the weights' device, shapes those of the net.

Nothing here evaluates a closed form of the theory: these functions only run the networks.

>>> gen = torch.Generator().manual_seed(0)
>>> net = MLP(d_in=8, widths=(6, 6), outputs=3)
>>> params, data = net.init(4, gen), net.data(4, 5, gen)
>>> net.losses(params, data.x, data.y).shape
torch.Size([4])
>>> derivatives(net, params, data.x, data.y, layer=1).grad.shape
torch.Size([4, 6, 8])

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


def check_tensor(name: str, value: object, device: torch.device, dtype: torch.dtype = _F64) -> torch.Tensor:
    """A tensor of ``dtype`` (float64 unless told) on ``device``."""
    if not isinstance(value, torch.Tensor):
        raise UsageError(f"{name} must be a torch tensor, got {type(value).__name__}")
    if value.dtype != dtype:
        raise UsageError(f"{name} must be {dtype} (the simulations run in float64, class labels are int64), got"
                         f" {value.dtype}")
    if value.device != device:
        raise UsageError(f"{name} is on {value.device}, the weights on {device}: put both on one device")
    return value


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

    def param_shapes(self, instances: int) -> dict[str, tuple[int, ...]]:
        """The shape of every tensor of ``Params`` for ``instances`` instances."""
        shapes: dict[str, tuple[int, ...]] = {}
        for i, shape in enumerate(self.weight_shapes(), start=1):
            shapes[f"W{i}"] = (instances, *shape)
            shapes[f"gamma{i}"] = shapes[f"beta{i}"] = (instances, shape[0])
        shapes["V"], shapes["b"] = (instances, self.outputs, self.features), (instances, self.outputs)
        return shapes

    def _check_params(self, params: object, x: object = None) -> int:
        """The params (every tensor float64, on W1's device, of the net's shapes) and, if given, the inputs x
        [I, N, ...] (float64, same device, N >= 2); returns I."""
        if not isinstance(params, dict):
            raise UsageError(f"params must be the dict returned by init, got {type(params).__name__}")
        w1 = params.get("W1")
        instances = w1.shape[0] if isinstance(w1, torch.Tensor) and w1.dim() else 1
        shapes = self.param_shapes(instances)
        missing = [n for n in shapes if not isinstance(params.get(n), torch.Tensor)]
        if missing:
            raise UsageError(f"params lack the tensors {', '.join(missing)} (use the net's init)")
        device = params["W1"].device
        for name, shape in shapes.items():
            check_tensor(f"params {name}", params[name], device)
            if tuple(params[name].shape) != shape:
                raise UsageError(f"params {name} must have shape {shape}, got {tuple(params[name].shape)}")
        if x is not None:
            check_tensor("inputs x", x, device)
            assert isinstance(x, torch.Tensor)
            if x.dim() < 2 or tuple(x.shape[2:]) != self.input_shape() or x.shape[0] != instances:
                raise UsageError(f"inputs must have shape [{instances}, N, {', '.join(map(str, self.input_shape()))}],"
                                 f" got {tuple(x.shape)}")
            if x.shape[1] < 2:
                raise UsageError(f"BN in train mode needs a batch of at least 2, got {x.shape[1]}")
        return instances

    def check_labels(self, y: object, instances: int, samples: int, device: torch.device) -> torch.Tensor:
        """Labels for a batch of ``samples`` per instance: class indices int64 [I, N] in [0, outputs) for the
        cross-entropy, float64 targets [I, N, outputs] for the squared error, on ``device``."""
        shape: tuple[int, ...] = (instances, samples)
        if self.loss == "cross_entropy":
            want, dtype = f"class indices [{instances}, {samples}]", torch.int64
        else:
            want, dtype, shape = f"targets [{instances}, {samples}, {self.outputs}]", _F64, shape + (self.outputs,)
        if not isinstance(y, torch.Tensor) or y.dtype != dtype or tuple(y.shape) != shape:
            got = f"{y.dtype} {list(y.shape)}" if isinstance(y, torch.Tensor) else repr(y)
            raise UsageError(f"labels must be {want} ({dtype}) for the {self.loss} loss, got {got}")
        check_tensor("labels", y, device, dtype)
        if self.loss == "cross_entropy" and y.numel():
            low, high = int(y.min()), int(y.max())  # one synchronisation per call, not per step
            if low < 0 or high >= self.outputs:
                raise UsageError(f"class labels must lie in [0, {self.outputs}) for {self.outputs} outputs, got"
                                 f" labels from {low} to {high}")
        return y

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
        return self.forward_unchecked(params, x)

    def forward_unchecked(self, params: Params, x: torch.Tensor) -> Forward:
        """``forward`` without the argument checks, for loops that checked their arguments once."""
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
        instances = self._check_params(params, x)
        self.check_labels(y, instances, x.shape[1], x.device)
        return self.losses_unchecked(params, x, y)

    def losses_unchecked(self, params: Params, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """``losses`` without the argument checks, for loops that checked their arguments once."""
        return self.losses_of(self.forward_unchecked(params, x).out, y)

    def rows(self, weight: torch.Tensor) -> torch.Tensor:
        """A BN layer's weight as rows [I, units, fan_in] (a view)."""
        return weight.reshape(weight.shape[0], weight.shape[1], -1)

    def span_complement(self, layer: int, inputs: torch.Tensor) -> torch.Tensor:
        """An orthonormal basis [I, fan_in, fan_in - n] of the complement of the span of the layer's n inputs
        (``inputs`` as in ``Forward.inputs``), from the complete QR decomposition of the inputs' matrix.

        The inputs must number fewer than ``fan_in`` and be in general position (rank n), as random ones are."""
        shape = "[I, N, fan_in] for an MLP, [N, I C_in, H, W] for a conv net"
        if not isinstance(inputs, torch.Tensor) or inputs.dim() != (3 if isinstance(self, MLP) else 4):
            raise UsageError(f"inputs must be a layer's inputs as in Forward.inputs ({shape}), got {inputs!r}")
        check_tensor("inputs", inputs, inputs.device)
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


def check_net(net: object) -> BNNet:
    """An MLP or a ConvNet."""
    if not isinstance(net, BNNet):
        raise UsageError(f"net must be an MLP or a ConvNet, got {net!r}")
    return net


def derivatives(net: BNNet, params: Params, x: torch.Tensor, y: torch.Tensor, layer: int,
                v: torch.Tensor | None = None, weight: torch.Tensor | None = None) -> Derivatives:
    """The losses, the gradient in W_layer and (with ``v``) the Hessian-vector product in W_layer by double
    backward, at the given ``weight`` for W_layer (default: the params' own); every other parameter fixed.
    ``weight`` and ``v`` are float64 tensors of W_layer's shape on the weights' device."""
    check_net(net)
    layer = net.layer(layer)
    instances = net._check_params(params, x)
    net.check_labels(y, instances, x.shape[1], x.device)
    name = f"W{layer}"
    shape, device = tuple(params[name].shape), params[name].device
    for label, t in (("weight", weight), ("v", v)):
        if t is not None:
            check_tensor(label, t, device)
            if tuple(t.shape) != shape:
                raise UsageError(f"{label} must be a tensor of shape {shape}, got {tuple(t.shape)}")
    w0 = params[name] if weight is None else weight
    p = {k: t.detach() for k, t in params.items()}
    w = w0.detach().clone().requires_grad_(True)
    p[name] = w
    with torch.enable_grad():
        loss = net.losses_unchecked(p, x, y)
        (g,) = torch.autograd.grad(loss.sum(), w, create_graph=v is not None)
        hv = None
        if v is not None:
            (hv,) = torch.autograd.grad((g * v).sum(), w)
    return Derivatives(loss.detach(), g.detach(), hv)


def network(kind: str, **settings: Any) -> BNNet:
    """An ``MLP`` (``kind="mlp"``) or a ``ConvNet`` (``kind="conv"``) from keyword settings."""
    classes: dict[str, type[BNNet]] = {"mlp": MLP, "conv": ConvNet}
    if kind not in classes:
        raise UsageError(f"kind must be 'mlp' or 'conv', got {kind!r}")
    try:
        return classes[kind](**settings)
    except TypeError as error:
        raise UsageError(f"{kind}: {error}") from None
