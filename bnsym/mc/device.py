"""Choosing the compute device: CUDA when present, CPU otherwise, or what the user asks."""

from __future__ import annotations

import torch

from ..errors import DeviceError


def resolve_device(name: str = "auto") -> torch.device:
    """``"auto"`` gives ``cuda`` when available, else ``cpu``; ``"cuda"`` without a GPU is an error."""
    if name in (None, "", "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(name)
    except (RuntimeError, TypeError):
        raise DeviceError(f"unknown device {name!r}; use auto, cpu, cuda or cuda:N") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise DeviceError(f"device {name!r} asked for but no CUDA GPU is available; use --device cpu") from None
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise DeviceError(f"device {name!r}: only {torch.cuda.device_count()} CUDA device(s) present") from None
    elif dev.type != "cpu":
        raise DeviceError(f"device {name!r} is not supported; use auto, cpu or cuda")
    return dev
