"""Run the bench: rates, unit spreads and time to a resolution for bnsym and the numpy baselines.

Timing. Each estimator runs at growing numbers of units (the count grows by the factor the
last run projects, at most 8x) until one run lasts ``min_seconds``; that run gives the rate
(units per second) and the unit standard deviation ``sd`` (the standard error times the
square root of the units). Earlier, shorter runs serve as warm-up.

Time to a resolution. ``bnsym check`` states a test's resolution as the relative deviation
of the tested value it catches with probability ``POWER`` at level ``alpha``: a z-test with
``n`` units resolves ``(z_{alpha/2} + z_POWER) sd / (sqrt(n) |tested|)``. The units needed for
a target resolution ``r`` are therefore ``((z_{alpha/2} + z_POWER) sd / (r |tested|))^2`` and the
time to reach it is those units over the rate. The same definition serves every estimator,
so the ratio of two times is the ratio of ``sd^2 / rate``: speed and variance both count.
For bnsym the projection is also run for real when it takes less than ``direct_seconds``,
and the measured time and achieved resolution are reported beside it.

Agreement. The three estimates of the same quantity must agree: a baseline whose estimate
differs from bnsym's by more than the two-sided Student-t quantile at ``alpha`` split over all
the comparisons of the run (two per family), with the degrees of freedom of the smaller
sample, in combined standard errors is reported as a disagreement (exit code 1), since one
of the two simulations is not the process it claims to be.

Scaling. bnsym and the vectorized baseline are run at 1, 2, 4 and 8 times a base number of
units (an eighth of the timing run's units; for bnsym at least one chunk of the check, so
that the runs stream 1 to 8 chunks, or the timing run's units where a chunk takes longer);
the time exponent is the least-squares slope of log time on log units, and the peak resident
memory above the run's start is read from ``/proc/self/status`` (``VmHWM`` after a reset
through ``/proc/self/clear_refs``; on CUDA the allocator's peak), where the platform provides it.

Device limits. On the run's device: the rate of ``torch.randn`` filling a float64 tensor of
one chunk, and the bandwidth of copying such a tensor (8 bytes read and 8 written per
element). The batch-statistics estimator's draws per second over the randn rate is the
fraction of the random-number limit it reaches; its draws times 16 bytes per second over the
copy bandwidth a lower bound on the fraction of the memory bandwidth (every draw is written
once and read once at least).
"""

from __future__ import annotations

import functools
import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import torch

from ..claims import Measurement
from ..errors import UsageError
from ..mc.engine import MonteCarloCheck, claimed_values, seed_for, tested_parts
from ..mc.stats import POWER, normal_quantile, student_t_quantile
from ..mc.stream import MomentAccumulator
from .family import Extra, Family

GROWTH_CAP = 8  # the largest factor between the units of two consecutive timing runs
GROWTH_MARGIN = 1.25  # aim a little past min_seconds so the run that ends the search is long enough
SCALING_FACTORS = (1, 2, 4, 8)  # units of the scaling runs, as multiples of the base
LOOP_START = 4  # units of the first loop run
VECTOR_START = 64  # units of the first vectorized and bnsym runs
TIME_LINEAR = (0.8, 1.2)  # a time exponent in this range is called linear ...
MEMORY_FLAT = 1.5  # ... and peak memory growing less than this over 8x units flat
TARGETS = {"numpy loop": 20.0, "numpy vectorized": 3.0}  # required speed-ups of bnsym in time to resolution
ESTIMATORS = ("bnsym", "numpy loop", "numpy vectorized")


@dataclass
class Timing:
    """One estimator's longest run: units, seconds, estimate and standard error; the runs before it."""

    estimator: str
    units: int
    seconds: float
    estimate: float
    stderr: float
    warmups: list[tuple[int, float]] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.units / self.seconds if self.seconds > 0 else math.inf

    @property
    def unit_sd(self) -> float:
        return self.stderr * math.sqrt(self.units)

    def units_for(self, resolution: float, scale: float, z: float) -> float:
        return (z * self.unit_sd / (resolution * scale)) ** 2

    def time_for(self, resolution: float, scale: float, z: float) -> float:
        return self.units_for(resolution, scale, z) / self.rate


@dataclass
class FamilyResult:
    family: Family
    point: dict[str, Any]
    claimed: float
    tested: float
    tested_name: str
    timings: dict[str, Timing]
    direct: dict[str, Any] | None
    scaling: dict[str, list[dict[str, float | None]]]
    extras: list[Extra]
    disagreements: list[str]
    limits: dict[str, float] | None = None


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _generator(device: torch.device, seed: int) -> torch.Generator:
    gen = torch.Generator(device=device)
    gen.manual_seed(seed)
    return gen


def _estimate(check: MonteCarloCheck, point: dict[str, Any], acc: MomentAccumulator) -> tuple[float, float]:
    value, stderr, _ = acc.estimate([lambda mean: check.estimand(mean, point)])
    return float(value[0]), float(stderr[0])


def bnsym_run(check: MonteCarloCheck, point: dict[str, Any], device: torch.device, seed: int
              ) -> Callable[[int], tuple[float, float]]:
    """``run(units)``: the check's simulator streamed chunk by chunk into the engine's accumulator."""
    def run(units: int) -> tuple[float, float]:
        gen = _generator(device, seed_for(seed, "bench:" + check.process, f"{sorted(point.items())}:{units}"))
        acc = MomentAccumulator()
        chunk = check.chunk_units([point])
        while acc.count < units:
            acc.add(check.simulate([point], min(chunk, units - acc.count), gen, device))
        _synchronize(device)
        return _estimate(check, point, acc)
    return run


def baseline_run(observe: Callable[..., np.ndarray], check: MonteCarloCheck, point: dict[str, Any], seed: int,
                 name: str) -> Callable[[int], tuple[float, float]]:
    """``run(units)``: a numpy baseline's observations, through the check's own estimand."""
    def run(units: int) -> tuple[float, float]:
        rng = np.random.default_rng(seed_for(seed, "bench:" + name, f"{sorted(point.items())}:{units}"))
        obs = np.asarray(observe(point, units, rng), dtype=np.float64)
        if obs.ndim == 1:
            obs = obs[:, None]
        if obs.shape[0] != units:
            raise RuntimeError(f"{name} returned {obs.shape[0]} units, {units} asked")
        acc = MomentAccumulator()
        acc.add(torch.from_numpy(obs).unsqueeze(0))
        return _estimate(check, point, acc)
    return run


def time_until(run: Callable[[int], tuple[float, float]], name: str, start: int, min_seconds: float,
               say: Callable[[str], None]) -> Timing:
    """Runs at growing unit counts until one lasts ``min_seconds``; the last run's figures."""
    units = start
    warmups: list[tuple[int, float]] = []
    while True:
        began = time.perf_counter()
        estimate, stderr = run(units)
        seconds = time.perf_counter() - began
        if seconds >= min_seconds:
            say(f"  {name}: {units} units in {seconds:.2f} s")
            return Timing(name, units, seconds, estimate, stderr, warmups)
        warmups.append((units, seconds))
        factor = GROWTH_MARGIN * min_seconds / seconds if seconds > 0 else GROWTH_CAP
        units = int(units * min(GROWTH_CAP, max(2.0, factor)))


def peak_memory(device: torch.device, fn: Callable[[], Any]) -> tuple[Any, float | None]:
    """``fn()`` and the peak memory (bytes) it took above its start, or None where it cannot be read."""
    if device.type == "cuda":
        _synchronize(device)
        start = torch.cuda.memory_allocated(device)
        torch.cuda.reset_peak_memory_stats(device)
        out = fn()
        _synchronize(device)
        return out, float(torch.cuda.max_memory_allocated(device) - start)
    try:
        before = _resident_bytes("VmRSS")
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # resets the peak (VmHWM) to the current resident size
    except OSError:
        return fn(), None
    out = fn()
    return out, float(_resident_bytes("VmHWM") - before)


def _resident_bytes(field_name: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field_name + ":"):
                return int(line.split()[1]) * 1024
    raise OSError(f"{field_name} not in /proc/self/status")


def scaling(run: Callable[[int], tuple[float, float]], base: int, device: torch.device
            ) -> list[dict[str, float | None]]:
    """Seconds and peak memory at 1, 2, 4, 8 times ``base`` units."""
    rows: list[dict[str, float | None]] = []
    for factor in SCALING_FACTORS:
        units = base * factor
        began = time.perf_counter()
        _, memory = peak_memory(device, functools.partial(run, units))
        rows.append({"units": float(units), "seconds": time.perf_counter() - began, "peak_bytes": memory})
    return rows


def time_exponent(rows: list[dict[str, float | None]]) -> float:
    """Least-squares slope of log seconds on log units."""
    x = np.log([float(r["units"] or 0) for r in rows])
    y = np.log([max(float(r["seconds"] or 0), 1e-9) for r in rows])
    return float(np.polyfit(x, y, 1)[0])


def memory_growth(rows: list[dict[str, float | None]]) -> float | None:
    """Peak memory of the largest run over that of the smallest (None where memory was not read)."""
    first, last = rows[0]["peak_bytes"], rows[-1]["peak_bytes"]
    if first is None or last is None:
        return None
    floor = float(1 << 20)  # a peak below 1 MiB above the start is read as 1 MiB: the page-level noise floor
    return max(last, floor) / max(first, floor)


def device_limits(device: torch.device, elements: int, min_seconds: float) -> dict[str, float]:
    """Rate of ``torch.randn`` into a float64 tensor of ``elements``, and copy bandwidth (bytes/s) of one."""
    gen = _generator(device, 0)
    buffer = torch.empty(elements, dtype=torch.float64, device=device)
    target = torch.empty_like(buffer)

    def repeat(op: Callable[[], Any]) -> float:
        op()
        _synchronize(device)
        count, began = 0, time.perf_counter()
        while time.perf_counter() - began < min_seconds:
            op()
            count += 1
        _synchronize(device)
        return count / (time.perf_counter() - began)

    randn_per_s = repeat(lambda: torch.randn(elements, dtype=torch.float64, device=device, generator=gen,
                                             out=buffer)) * elements
    copies_per_s = repeat(lambda: target.copy_(buffer))
    return {"randn_per_s": randn_per_s, "copy_bytes_per_s": copies_per_s * elements * 16}


def find_point(family: Family, check: MonteCarloCheck) -> dict[str, Any]:
    """The check's point that matches every key of ``family.point``."""
    def matches(p: dict[str, Any]) -> bool:
        for key, want in family.point.items():
            have = p.get(key)
            if isinstance(want, float) and isinstance(have, (int, float)):
                if not math.isclose(have, want, rel_tol=1e-12, abs_tol=1e-12):
                    return False
            elif have != want:
                return False
        return True
    found = [p for p in check.resolved_points() if matches(p)]
    if len(found) != 1:
        raise UsageError(f"bench family {family.key}: {len(found)} points of the check of {family.claim} match"
                         f" {family.point} (one is needed)")
    return found[0]


def run_family(family: Family, check: MonteCarloCheck, theorem: Any, *, device: torch.device, seed: int,
               min_seconds: float, resolution: float, alpha: float, direct_seconds: float, with_scaling: bool,
               with_limits: bool, say: Callable[[str], None], quick_scaling: bool = False,
               comparisons: int = len(ESTIMATORS) - 1) -> FamilyResult:
    point = find_point(family, check)
    claimed = claimed_values(check.claim, theorem, [point])[0]
    tested_values, tested_name = tested_parts(check.claim, [point], [claimed])
    tested = tested_values[0]
    runs = {"bnsym": bnsym_run(check, point, device, seed),
            "numpy loop": baseline_run(family.loop, check, point, seed, "loop"),
            "numpy vectorized": baseline_run(family.vectorized, check, point, seed, "vectorized")}
    starts = {"bnsym": VECTOR_START, "numpy loop": LOOP_START, "numpy vectorized": VECTOR_START}
    say(f"{family.key}: {family.claim} at {_point_text(family)}")
    timings = {name: time_until(run, name, starts[name], min_seconds, say) for name, run in runs.items()}
    disagreements = []
    ours = timings["bnsym"]
    for name in ESTIMATORS[1:]:
        other = timings[name]
        z_agree = student_t_quantile(1 - alpha / (2 * comparisons), min(other.units, ours.units) - 1)
        spread = math.hypot(other.stderr, ours.stderr)
        gap = abs(other.estimate - ours.estimate) / spread if spread > 0 else (
            0.0 if other.estimate == ours.estimate else math.inf)
        if not gap <= z_agree:
            disagreements.append(f"{family.key}: {name} estimates {other.estimate:.6g} +- {other.stderr:.2g},"
                                 f" bnsym {ours.estimate:.6g} +- {ours.stderr:.2g} ({gap:.1f} standard errors,"
                                 f" threshold {z_agree:.2f})")
    if isinstance(check.claim, Measurement):  # no closed form: the resolution refers to the estimate itself
        tested, tested_name = ours.estimate, "estimate (a measurement)"
    scale = abs(tested) if tested else 1.0
    z = normal_quantile(1 - alpha / 2) + normal_quantile(POWER)
    direct = None
    needed = ours.units_for(resolution, scale, z)
    if ours.time_for(resolution, scale, z) <= direct_seconds:
        units = max(int(math.ceil(needed)), 2)
        began = time.perf_counter()
        estimate, stderr = runs["bnsym"](units)
        direct = {"units": units, "seconds": time.perf_counter() - began, "estimate": estimate,
                  "resolution": z * stderr / scale}
    scale_rows: dict[str, list[dict[str, float | None]]] = {}
    if with_scaling:
        for name in ("bnsym", "numpy vectorized"):
            base = max(2, timings[name].units // SCALING_FACTORS[-1])
            if name == "bnsym" and not quick_scaling:  # runs of 1 to 8 chunks, so that streaming shows, unless a
                base = max(base, min(check.chunk_units([point]), timings[name].units))  # chunk outlasts the timing
            scale_rows[name] = scaling(runs[name], base, device)
    limits = None
    if with_limits:
        elements = check.chunk_elements
        limits = device_limits(device, elements, min_seconds / 2)
        draws = ours.rate * family.draws_per_unit(point)
        limits["draws_per_s"] = draws
        limits["rng_fraction"] = draws / limits["randn_per_s"]
        limits["bandwidth_fraction_lower_bound"] = draws * 16 / limits["copy_bytes_per_s"]
    extras = family.extras(device, min_seconds) if family.extras is not None else []
    return FamilyResult(family, point, claimed, tested, tested_name, timings, direct, scale_rows, extras,
                        disagreements, limits)


def _point_text(family: Family) -> str:
    return ", ".join(f"{k}={v}" for k, v in family.point.items())
