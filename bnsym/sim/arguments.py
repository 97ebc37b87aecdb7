"""Argument checks shared by the simulators: a bad argument is a ``UsageError`` with a clear message."""

from __future__ import annotations

import math
import numbers

import torch

from ..errors import UsageError


def check_real(name: str, value: object, minimum: float | None = None, strict: bool = False) -> float:
    """A finite real, at least ``minimum`` (above it when ``strict``)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(float(value)):
        raise UsageError(f"{name} must be a finite real number, got {value!r}")
    value = float(value)
    if minimum is not None and (value < minimum or (strict and value == minimum)):
        relation = ">" if strict else ">="
        raise UsageError(f"{name} must be {relation} {minimum}, got {value!r}")
    return value


def check_count(name: str, value: object, minimum: int, maximum: int | None = None) -> int:
    """An integer in [minimum, maximum]."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or int(value) < minimum:
        raise UsageError(f"{name} must be an integer >= {minimum}, got {value!r}")
    if maximum is not None and int(value) > maximum:
        raise UsageError(f"{name} must be an integer <= {maximum}, got {value!r}")
    return int(value)


def check_device(generator: object, device: torch.device | str) -> torch.device:
    """The device, checked to hold the generator."""
    try:
        device = torch.device(device)
    except (TypeError, RuntimeError) as error:
        raise UsageError(f"device must name a torch device, got {device!r}") from error
    if not isinstance(generator, torch.Generator):
        raise UsageError(f"generator must be a torch.Generator, got {generator!r}")
    if generator.device.type != device.type:
        raise UsageError(f"generator is on {generator.device}, the run on {device}: give a generator on {device}")
    return device
