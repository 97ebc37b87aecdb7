"""What a simulator family gives the bench: a built-in check's point and two numpy baselines of its process.

A :class:`Family` names one built-in process claim and one point of its Monte Carlo check.
The bench times three estimators of that claim's quantity at that point:

* **bnsym**: the check's own simulator and estimand, streamed chunk by chunk through the
  engine's float64 accumulator, exactly as ``bnsym check`` runs it (variance reduction,
  batching and dtype are the simulator's);
* **numpy loop**: :attr:`Family.loop`, the same process written as a theorist writes it by
  hand, one unit (a batch, an SGD run, a regression problem, a BNGD run) per Python
  iteration, plain Monte Carlo;
* **numpy vectorized**: :attr:`Family.vectorized`, the same plain Monte Carlo as one
  vectorized numpy computation over all units.

Both baselines return observations of shape ``[units, k]`` laid out like the check's own
observations (same columns, same meaning), so that the check's estimand applies to all
three and the three estimates must agree within their standard errors. A baseline never
evaluates the closed form under test; it runs the process.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

Observe = Callable[[dict[str, Any], int, np.random.Generator], np.ndarray]
"""``observe(point, units, rng)``: ``[units, k]`` float64 observations of ``units`` independent units."""


@dataclass(frozen=True)
class ExtraRow:
    """One line of a family's own comparison (e.g. 64 learning rates in one call against a loop over them)."""

    name: str
    seconds: float
    units: int  # units (runs) done in those seconds
    note: str = ""


@dataclass(frozen=True)
class Extra:
    """A family's own comparison: rows timed on the same work, the first being bnsym's batched run.

    ``target`` is the speed-up of the first row over ``baseline`` (a row name) that the bench
    requires, ``None`` for none."""

    title: str
    rows: list[ExtraRow]
    baseline: str
    target: float | None = None


@dataclass(frozen=True)
class Family:
    key: str  # command-line name: batch-statistics, teacher-student, least-squares, bngd
    title: str
    claim: str  # id of the built-in process claim whose check is benched
    point: dict[str, Any]  # picks one point of that check: every key given must match (floats to 1e-12)
    unit: str  # what one unit is, in words ("a batch of M = 32 draws")
    loop: Observe
    vectorized: Observe
    draws_per_unit: Callable[[dict[str, Any]], int]  # random numbers one unit of the process draws
    notes: str = ""  # what bnsym's estimator does that the baselines do not (control variate, float32 ...)
    limits: bool = False  # also measure the fraction of the device's random-number and bandwidth limits reached
    extras: Callable[[Any, float], list[Extra]] | None = field(default=None)
    """``extras(device, min_seconds)``: the family's own comparisons (timed work of about min_seconds each)."""
