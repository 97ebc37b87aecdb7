"""``bnsym audit calibration``: do the Monte Carlo checks false-alarm at the rate they state?

The suite is run once per seed, each run with its own stated suite-wide false-alarm rate
``alpha`` (Bonferroni over its tests, as ``bnsym check`` runs it). A *false alarm* is a REFUTED
verdict on a claim believed true: every claim but the printed form of an erratum. For the printed
forms, the same runs measure how often the error is found (the detection rate over seeds).

Two counts are compared with what the stated rate allows:

* **suite-wide**: the runs (seeds) with at least one false alarm. Bonferroni bounds the chance of
  one in a run by ``alpha``, so the count is at most Binomial(seeds, alpha) in law;
* **per test**: the failed tests (points or ladders) over all runs, each test at level
  ``alpha / tests``; their expected total is at most ``alpha * seeds``.

Each count comes with its exact (Clopper-Pearson) 95% interval and the one-sided binomial p-value
of a count as large under the stated rate; the rate is *kept* when that p-value is at least
``LEVEL``. Claims that test nothing (measurements) or that cannot false-alarm statistically (a bound
on every instance, which has no statistical threshold) are listed apart and not rerun.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from ..claims import Measurement
from ..mc.stats import binomial_sf, clopper_pearson
from ..verdict import Status

LEVEL = 0.05  # the binomial test's level for "more false alarms than the stated rate allows"
INTERVAL = 0.95  # the confidence of the reported Clopper-Pearson intervals


@dataclass
class CheckCalibration:
    """One check over the seeds."""

    claim_id: str
    role: str
    tests: int
    statuses: dict[str, int] = field(default_factory=dict)  # status -> seeds
    failed_tests: int = 0  # over all seeds
    seconds: float = 0.0

    @property
    def alarms(self) -> int:
        return 0 if self.role == "printed" else self.statuses.get(Status.REFUTED.value, 0)

    def to_json(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "alarms": self.alarms}


@dataclass
class Calibration:
    """The whole audit: per check, per run, and suite-wide (see :func:`summarize`)."""

    seeds: list[int]
    alpha: float
    resolution: float | None
    samples: int | None
    tests: int  # statistical tests per run
    checks: list[CheckCalibration]
    runs: list[dict[str, Any]]  # per seed: the false alarms and the checks left undecided
    skipped: list[tuple[str, str]]  # (claim id, why it is not rerun)
    seconds: float

    def to_json(self) -> dict[str, Any]:
        out = {"seeds": self.seeds, "alpha": self.alpha, "resolution": self.resolution, "samples": self.samples,
               "tests_per_run": self.tests, "seconds": round(self.seconds, 1), "runs": self.runs,
               "checks": [c.to_json() for c in self.checks],
               "not_rerun": [{"id": i, "why": w} for i, w in self.skipped]}
        out["suite"] = summarize(out)
        return out


def summarize(result: dict[str, Any]) -> dict[str, Any]:
    """The comparison with the stated rate, from a calibration's per-run and per-check records.

    Only runs (and tests) that decided count: a run in which some check was ERROR or UNDECIDED is left out
    of the suite-wide count and reported apart, and a check's tests count in the runs where it decided.
    Suite-wide, Bonferroni bounds the chance of a false alarm in a run by alpha, and the runs are independent:
    the count of runs with one is at most Binomial(decided runs, alpha), a sound test. Per test the count is
    compared with Binomial(tests, alpha/tests per run); tests of one run share simulated units by design
    (common random numbers), so that p-value is approximate. "Kept" means not significantly exceeded at
    ``LEVEL``: with few runs it cannot show a small excess, and the Clopper-Pearson upper bound says how large a
    rate the runs still allow.
    """
    alpha = result["alpha"]
    runs = result["runs"]
    decided = [r for r in runs if not r["undecided"]]
    n, k = len(decided), sum(1 for r in decided if r["false_alarms"])
    lo, hi = clopper_pearson(k, n) if n else (0.0, 1.0)
    p = binomial_sf(k, n, alpha) if n else 1.0
    tests_per_run = result["tests_per_run"]
    per_test = alpha / max(1, tests_per_run)
    believed = [c for c in result["checks"] if c["role"] != "printed"]
    tests_total = sum(c["tests"] * (c["statuses"].get("CONSISTENT", 0) + c["statuses"].get("REFUTED", 0))
                      for c in believed)
    kt = sum(c["failed_tests"] for c in believed)
    lo_t, hi_t = clopper_pearson(kt, tests_total) if tests_total else (0.0, 1.0)
    p_t = binomial_sf(kt, tests_total, per_test) if tests_total else 1.0
    return {
        "runs": len(runs), "runs_decided": n, "runs_undecided": len(runs) - n, "runs_with_false_alarm": k,
        "observed_rate": k / n if n else None, "stated_rate": alpha, "interval": [lo, hi], "p_value": p,
        "kept": p >= LEVEL, "tests_run": tests_total, "tests_failed": kt, "stated_rate_per_test": per_test,
        "observed_rate_per_test": kt / tests_total if tests_total else None, "interval_per_test": [lo_t, hi_t],
        "p_value_per_test": p_t, "kept_per_test": p_t >= LEVEL, "level": LEVEL, "confidence": INTERVAL,
    }


def calibrate(plan: Any, seeds: list[int], options: Any, say: Callable[[str], None] | None = None) -> Calibration:
    """Run every statistical check of ``plan`` once per seed (fresh simulations per seed)."""
    from ..mc.engine import SuitePlan, count_tests, run_check

    started = time.perf_counter()
    kept = SuitePlan()
    skipped: list[tuple[str, str]] = []
    for item in plan.items:
        chk, _, cid, _ = item
        if isinstance(chk.claim, Measurement):
            skipped.append((cid, "a measurement: tests nothing"))
        elif chk.claim.every:
            skipped.append((cid, "a bound on every instance: no statistical threshold, so no false-alarm rate"))
        else:
            kept.items.append(item)
    tests = kept.tests
    rows = [CheckCalibration(cid, role, count_tests(chk)) for chk, _, cid, role in kept.items]
    runs: list[dict[str, Any]] = []
    for n, seed in enumerate(seeds, 1):
        run_opts = dataclasses.replace(options, seed=seed, tests_in_suite=tests, cache={})
        record: dict[str, Any] = {"seed": seed, "false_alarms": [], "undecided": []}
        t0 = time.perf_counter()
        for row, (chk, theorem, cid, role) in zip(rows, kept.items):
            v = run_check(chk, theorem, cid, run_opts, role)
            row.statuses[v.status.value] = row.statuses.get(v.status.value, 0) + 1
            row.seconds += v.seconds
            if role == "printed":
                continue
            row.failed_tests += _failed_tests(v.evidence) if v.status in (Status.CONSISTENT, Status.REFUTED) else 0
            if v.status == Status.REFUTED:
                record["false_alarms"].append(cid)
            elif v.status != Status.CONSISTENT:
                record["undecided"].append(f"{cid}: {v.status.value}")
        record["seconds"] = round(time.perf_counter() - t0, 1)
        runs.append(record)
        if say:
            what = (f"false alarm(s): {', '.join(record['false_alarms'])}" if record["false_alarms"]
                    else "no false alarm") + (f"; undecided: {'; '.join(record['undecided'])}"
                                              if record["undecided"] else "")
            say(f"seed {seed} ({n}/{len(seeds)}): {what} ({record['seconds']:.0f} s)")
    return Calibration(list(seeds), options.alpha, None if options.samples else options.resolution, options.samples,
                       tests, rows, runs, skipped, time.perf_counter() - started)


def _failed_tests(evidence: dict[str, Any]) -> int:
    """Failed tests of one verdict: its points' (or ladders') ``pass`` flags."""
    items = evidence.get("ladders") or evidence.get("rows") or []
    return sum(1 for r in items if r.get("pass") is False)
