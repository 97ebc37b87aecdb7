"""Per-example gradients of a small network and the mini-batch gradients SGD would take (Bjorck et al. 2018).

The model (``synthetic_mlp``): a one-hidden-layer tanh network f(x) = w2.tanh(W1 x + b1) + b2 with the
logistic loss l(x, y) = softplus(f(x)) - y f(x) (``binary_cross_entropy_with_logits``) on a fixed data
set of N examples: inputs x ~ N(0, I_d), labels y ~ Bernoulli(sigmoid(teacher(x))) from a random
teacher network of the same shape, and the student's parameters at a random point (each weight
N(0, 1/fan_in), each bias N(0, 1)). Order of draws from the generator, all float64 on its device:
1. x [N, d] (``torch.randn``); 2. the teacher's W1, b1, w2, b2 (``torch.randn``); 3. the label keys
[N] (``torch.rand``, y = 1{key < sigmoid(teacher(x))}); 4. the student's W1, b1, w2, b2.

``per_example_gradients`` returns the N gradients g_i = grad l(x_i, y_i) at the student's parameters,
flattened to [N, P], by ``torch.func.vmap(torch.func.grad(...))`` over the examples (the tests anchor
it against one ``torch.autograd.grad`` per example). ``spread`` is C = (1/N) sum_i ||g_i - gbar||^2.

Mini-batches (``draw_batches``) are index tensors [count, |B|], drawn with the caller's generator on
its device: with replacement |B| i.i.d. uniform indices (``torch.randint``), without replacement the
first |B| entries of a uniformly random permutation (the ascending argsort of N i.i.d. ``torch.rand``
keys per batch, a batched ``torch.randperm``). ``step_errors`` returns ||alpha gbar - alpha g_B||^2
per batch, g_B the mean of the batch's gradients, with the batches processed in slices of bounded
memory. Nothing here evaluates the closed forms of the noise: the module only draws batches and
averages gradients.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..errors import UsageError
from .arguments import check_count, check_device, check_real

_F64 = torch.float64
SLICE_ELEMENTS = 1 << 21  # gathered gradient entries per slice of batches (16 MB of float64)


@dataclass(frozen=True)
class MLPProblem:
    """A data set and a parameter point of the logistic tanh network (float64 tensors on one device).

    ``x`` [N, d], ``y`` [N] in {0, 1}, ``params`` the student's {"w1": [h, d], "b1": [h], "w2": [h], "b2": []}.
    """

    x: torch.Tensor
    y: torch.Tensor
    params: dict[str, torch.Tensor]

    @property
    def examples(self) -> int:
        return self.x.shape[0]

    def to(self, device: torch.device | str) -> "MLPProblem":
        """The same problem on ``device``."""
        return MLPProblem(self.x.to(device), self.y.to(device), {k: v.to(device) for k, v in self.params.items()})


def _network(inputs: int, hidden: int, gen: torch.Generator, device: torch.device) -> dict[str, torch.Tensor]:
    def draw(*shape: int) -> torch.Tensor:
        return torch.randn(shape, generator=gen, device=device, dtype=_F64)

    return {"w1": draw(hidden, inputs) / math.sqrt(inputs), "b1": draw(hidden),
            "w2": draw(hidden) / math.sqrt(hidden), "b2": draw()}


def forward(params: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """The network's logits f(x) for inputs [..., d]."""
    return torch.tanh(x @ params["w1"].T + params["b1"]) @ params["w2"] + params["b2"]


def example_loss(params: dict[str, torch.Tensor], x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The logistic loss of one example (x [d], y a 0-d tensor)."""
    return F.binary_cross_entropy_with_logits(forward(params, x), y)


def mean_loss(problem: MLPProblem, params: dict[str, torch.Tensor] | None = None) -> torch.Tensor:
    """The loss over the whole data set, l = (1/N) sum_i l(x_i, y_i)."""
    p = problem.params if params is None else params
    return F.binary_cross_entropy_with_logits(forward(p, problem.x), problem.y)


def synthetic_mlp(examples: int, inputs: int, hidden: int, gen: torch.Generator,
                  device: torch.device | str = "cpu") -> MLPProblem:
    """A data set of ``examples`` labelled points in R^``inputs`` and a student with ``hidden`` tanh units.

    >>> p = synthetic_mlp(8, 3, 4, torch.Generator().manual_seed(0))
    >>> tuple(p.x.shape), per_example_gradients(p).shape[1]
    ((8, 3), 21)
    """
    device = check_device(gen, device)
    examples = check_count("examples", examples, 2)
    inputs, hidden = check_count("inputs", inputs, 1), check_count("hidden", hidden, 1)
    x = torch.randn(examples, inputs, generator=gen, device=device, dtype=_F64)
    teacher = _network(inputs, hidden, gen, device)
    keys = torch.rand(examples, generator=gen, device=device, dtype=_F64)
    y = (keys < torch.sigmoid(forward(teacher, x))).to(_F64)
    return MLPProblem(x, y, _network(inputs, hidden, gen, device))


def per_example_gradients(problem: MLPProblem) -> torch.Tensor:
    """The gradients g_i of the per-example losses at the student's parameters, flattened: [N, P]."""
    if not isinstance(problem, MLPProblem):
        raise UsageError(f"problem must be an MLPProblem (from synthetic_mlp), got {type(problem).__name__}")
    grads = torch.func.vmap(torch.func.grad(example_loss), in_dims=(None, 0, 0))(problem.params, problem.x,
                                                                                 problem.y)
    return torch.cat([grads[name].reshape(problem.examples, -1) for name in ("w1", "b1", "w2", "b2")], dim=1)


def _check_gradients(gradients: object) -> torch.Tensor:
    if not isinstance(gradients, torch.Tensor) or gradients.dim() != 2 or gradients.shape[0] < 2:
        shape = tuple(gradients.shape) if isinstance(gradients, torch.Tensor) else type(gradients).__name__
        raise UsageError(f"gradients must be a tensor [N, P] with N >= 2 examples, got {shape}")
    if not gradients.is_floating_point():
        raise UsageError(f"gradients must be a floating-point tensor, got {gradients.dtype}")
    if not bool(torch.isfinite(gradients).all()):
        raise UsageError("gradients must be finite (no inf or nan entries)")
    return gradients


def spread(gradients: torch.Tensor) -> torch.Tensor:
    """C = (1/N) sum_i ||g_i - gbar||^2 of per-example gradients [N, P] (the mean over a uniform example)."""
    g = _check_gradients(gradients)
    return ((g - g.mean(0)) ** 2).sum(-1).mean()


def draw_batches(examples: int, size: int, count: int, gen: torch.Generator, replacement: bool,
                 device: torch.device | str | None = None) -> torch.Tensor:
    """``count`` mini-batches of ``size`` indices into ``examples`` examples: [count, size] (int64).

    With replacement: i.i.d. uniform indices. Without: a uniformly random ``size``-subset, in random order.
    """
    device = check_device(gen, device if device is not None else getattr(gen, "device", "cpu"))
    examples = check_count("examples", examples, 1)
    size = check_count("size", size, 1, None if replacement else examples)
    count = check_count("count", count, 1)
    if not isinstance(replacement, bool):
        raise UsageError(f"replacement must be True or False, got {replacement!r}")
    if replacement:
        return torch.randint(examples, (count, size), generator=gen, device=device)
    keys = torch.rand(count, examples, generator=gen, device=device, dtype=_F64)
    return torch.argsort(keys, dim=-1)[:, :size]


def step_errors(gradients: torch.Tensor, size: int, count: int, gen: torch.Generator, replacement: bool,
                learning_rate: float = 1.0) -> torch.Tensor:
    """||alpha gbar - alpha g_B||^2 for ``count`` mini-batches B of ``size`` examples: [count].

    ``gradients`` [N, P] lives on the generator's device; alpha is ``learning_rate``.

    >>> g = torch.tensor([[1.0, 0.0], [-1.0, 0.0]], dtype=torch.float64)
    >>> step_errors(g, 2, 3, torch.Generator().manual_seed(0), replacement=False)
    tensor([0., 0., 0.], dtype=torch.float64)
    """
    g = _check_gradients(gradients)
    check_device(gen, g.device)
    lr = check_real("learning_rate", learning_rate, minimum=0.0, strict=True)
    size = check_count("size", size, 1, None if replacement else g.shape[0])
    count = check_count("count", count, 1)
    gbar = g.mean(0)
    per_slice = max(1, SLICE_ELEMENTS // (size * g.shape[1]))
    out = []
    for start in range(0, count, per_slice):
        idx = draw_batches(g.shape[0], size, min(per_slice, count - start), gen, replacement, g.device)
        out.append(((lr * (gbar - g[idx].mean(1))) ** 2).sum(-1))
    return torch.cat(out)
