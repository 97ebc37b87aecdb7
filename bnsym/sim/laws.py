"""Torch samplers of the standardized laws of ``bnsym.laws`` (mean 0, variance 1).

Only ``torch.rand``/``torch.randn`` with an explicit ``generator`` and ``device`` are used,
so one seed on one device always gives the same numbers. Draws are made in float64 and
cast to the requested dtype at the end. With u ~ U[0, 1) and g ~ N(0, 1):

* ``gaussian``     z = g
* ``laplace``      inverse CDF, b = 1/sqrt(2): z = -b sign(u - 1/2) log(1 - 2|u - 1/2|)
* ``uniform``      z = sqrt(3) (2u - 1)
* ``exponential``  inverse CDF of Exp(1), shifted: z = -log(1 - u) - 1
* ``student_t7``   z = g / sqrt(V/7) * sqrt(5/7), V = g_1^2 + ... + g_7^2
                   (draw order: the tensor of g first, then the 7 normals of V in a
                   trailing dimension of size 7)

Logarithms are taken of arguments clamped below at the smallest positive float64, so a
uniform draw of exactly 0 cannot produce log(0) (it happens with probability 2^-53).
"""

from __future__ import annotations

import math
from typing import Callable

import torch

from ..errors import UsageError

Sampler = Callable[[tuple[int, ...], torch.Generator, torch.device], torch.Tensor]

_FLOAT64 = torch.float64
_TINY = torch.finfo(torch.float64).tiny
_T7_DOF = 7


def _uniform01(shape: tuple[int, ...], generator: torch.Generator, device: torch.device) -> torch.Tensor:
    return torch.rand(shape, generator=generator, device=device, dtype=_FLOAT64)


def _normal(shape: tuple[int, ...], generator: torch.Generator, device: torch.device) -> torch.Tensor:
    return torch.randn(shape, generator=generator, device=device, dtype=_FLOAT64)


def _safe_log(x: torch.Tensor) -> torch.Tensor:
    return torch.log(x.clamp_min(_TINY))


def _gaussian(shape, generator, device):
    return _normal(shape, generator, device)


def _laplace(shape, generator, device):
    scale = 1.0 / math.sqrt(2.0)
    centred = _uniform01(shape, generator, device) - 0.5
    return -scale * torch.sign(centred) * _safe_log(1.0 - 2.0 * centred.abs())


def _uniform(shape, generator, device):
    return math.sqrt(3.0) * (2.0 * _uniform01(shape, generator, device) - 1.0)


def _exponential(shape, generator, device):
    return -_safe_log(1.0 - _uniform01(shape, generator, device)) - 1.0


def _student_t7(shape, generator, device):
    numerator = _normal(shape, generator, device)
    chi_square = _normal((*shape, _T7_DOF), generator, device).square().sum(dim=-1)
    to_unit_variance = math.sqrt((_T7_DOF - 2) / _T7_DOF)
    return numerator / torch.sqrt(chi_square / _T7_DOF) * to_unit_variance


SAMPLERS: dict[str, Sampler] = {
    "gaussian": _gaussian,
    "laplace": _laplace,
    "uniform": _uniform,
    "exponential": _exponential,
    "student_t7": _student_t7,
}


def check_law_name(law: str) -> None:
    """``UsageError`` unless ``law`` names a law with a sampler."""
    if not isinstance(law, str) or law not in SAMPLERS:
        raise UsageError(f"unknown law {law!r}; known: {', '.join(SAMPLERS)}")


def sample(law: str, shape: tuple[int, ...], generator: torch.Generator, device: torch.device | str,
           dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """``shape`` i.i.d. standardized draws of ``law`` from ``generator`` on ``device``."""
    check_law_name(law)
    shape = tuple(int(n) for n in shape)
    if any(n < 0 for n in shape):
        raise UsageError(f"shape must hold non-negative sizes, got {shape}")
    draws = SAMPLERS[law](shape, generator, torch.device(device))
    return draws.to(dtype)
