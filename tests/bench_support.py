"""What the bench family tests share: a family's catalog, the bnsym simulator's observations at its point, and
the estimate and z-gap of a sample of observations."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from bnsym.bench.family import Family
from bnsym.mc.engine import MonteCarloCheck
from bnsym.registry import Catalog, home, load_package_module


def family_catalog(family: Family) -> Catalog:
    """The catalog of the family's paper, with its checks."""
    root = home()
    assert root is not None
    return load_package_module(root, family.claim.split(".")[0], Catalog(), with_checks=True)


def bnsym_observations(check: MonteCarloCheck, point: dict[str, Any], units: int, seed: int) -> np.ndarray:
    """``[units, 1]`` observations of the check's own simulator at the point."""
    obs = check.simulate([point], units, torch.Generator().manual_seed(seed), torch.device("cpu"))
    assert obs.shape == (1, units, 1)
    return obs[0].numpy()


def estimate(check: MonteCarloCheck, point: dict[str, Any], obs: np.ndarray) -> tuple[float, float]:
    """The check's estimand of the mean observation, and its standard error (one column: the mean's)."""
    value = float(check.estimand(torch.from_numpy(obs.mean(axis=0)), point))
    return value, float(obs[:, 0].std(ddof=1) / math.sqrt(len(obs)))


def z_gap(a: tuple[float, float], b: tuple[float, float]) -> float:
    """|a - b| in combined standard errors, for two (estimate, standard error) pairs."""
    return abs(a[0] - b[0]) / math.hypot(a[1], b[1])
