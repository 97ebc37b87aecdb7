"""The networks and run settings of the S3 checks, shared by their modules.

* ``MLP``: 48 -> 32 -> 32 -> 32 -> 10, Linear (no bias) -> BN -> ReLU per hidden layer, cross-entropy on the
  argmax labels of a random linear teacher; batches of 16 for the scaling and span checks (fewer than every
  fan-in, so the batch inputs span a proper subspace).
* ``CONV``: 4 x 6 x 6 images -> conv 5x5 (8 channels, no padding: 2 x 2 positions) -> conv 3x3 (8 channels,
  padding 1) -> average pooling -> 10 outputs, squared error on a random linear teacher's targets; batches
  of 8 (32 patches, in dimension 100 and 72).
* Training: a fixed data set of 16 inputs per instance (16 < 48, so the first layer's rows have a
  32-dimensional complement of the data span; for the conv net 64 patches in dimension 100), mini-batches of
  8 without replacement, 40 steps.

BN eps = 0 except where a measurement asks for torch's default 1e-5. Simulations run with one intra-op
thread (``one_thread``): their tensors are small, and a second spinning worker slows them many times over
on shared cores.
"""

from __future__ import annotations

import dataclasses
import math

import torch

from bnsym.mc.threads import one_thread  # noqa: F401  (the check modules call N.one_thread)
from bnsym.sim import bnnet as B

MLP = B.MLP(48, (32, 32, 32), 10)
CONV = B.ConvNet(4, 6, ((8, 5, 0), (8, 3, 1)), 10, loss="mse")
NETS = {"mlp": MLP, "conv": CONV}
BATCH = {"mlp": 16, "conv": 8}
DATA, MINIBATCH, STEPS = 16, 8, 40
DEFAULT_EPS = 1e-5  # torch's BatchNorm default
SCALE_RANGE = (0.1, 10.0)  # s log-uniform on this interval


def net(name: str, eps: float = 0.0) -> B.BNNet:
    """The named network with BN eps ``eps``."""
    return dataclasses.replace(NETS[name], eps=eps)


def data_patches(name: str) -> int:
    """How many first-layer inputs the data set has: samples (MLP) or samples x positions (conv)."""
    base = NETS[name]
    if isinstance(base, B.ConvNet):
        return DATA * base.sides()[1] ** 2
    return DATA


def log_uniform(shape: tuple[int, ...], gen: torch.Generator, device: torch.device) -> torch.Tensor:
    """Draws of s log-uniform on SCALE_RANGE, a float64 tensor of ``shape`` on ``device``."""
    lo, hi = (math.log(v) for v in SCALE_RANGE)
    return torch.exp(torch.rand(shape, generator=gen, device=device, dtype=torch.float64) * (hi - lo) + lo)


def norms(t: torch.Tensor) -> torch.Tensor:
    """The norm of each instance's slice of ``t`` [I, ...]."""
    return torch.linalg.vector_norm(t.reshape(t.shape[0], -1), dim=-1)
