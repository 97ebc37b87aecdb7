"""The bench itself: its arithmetic, its agreement test (which must be able to fail), and a smoke run of the CLI.

Timings are never asserted: the bench measures, the tests check that it runs and computes what it says.
"""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest
import torch

from bnsym.bench import runner
from bnsym.bench.cli import FAMILY_MODULES, load_family
from bnsym.cli import main
from bnsym.errors import UsageError
from bnsym.registry import load


def test_timing_arithmetic() -> None:
    t = runner.Timing("x", units=400, seconds=2.0, estimate=1.0, stderr=0.01)
    assert t.rate == 200 and t.unit_sd == pytest.approx(0.2)
    # units for resolution r: (z sd / (r scale))^2; time = units / rate
    assert t.units_for(0.01, 1.0, 3.0) == pytest.approx((3.0 * 0.2 / 0.01) ** 2)
    assert t.time_for(0.01, 1.0, 3.0) == pytest.approx((3.0 * 0.2 / 0.01) ** 2 / 200)


def test_time_until_grows_until_long_enough() -> None:
    calls: list[int] = []

    def run(units: int) -> tuple[float, float]:
        calls.append(units)
        s = 0.0
        for _ in range(units * 2000):  # work proportional to the units
            s += 1.0
        return s, 1.0

    t = runner.time_until(run, "x", 4, 0.05, lambda _: None)
    assert t.seconds >= 0.05 and t.units == calls[-1]
    assert all(b > a for a, b in zip(calls, calls[1:]))  # strictly growing
    assert all(b <= a * runner.GROWTH_CAP for a, b in zip(calls, calls[1:]))


def test_scaling_figures() -> None:
    rows = [{"units": float(u), "seconds": 0.01 * u, "peak_bytes": 2.0 * 2**20} for u in (1, 2, 4, 8)]
    assert runner.time_exponent(rows) == pytest.approx(1.0)
    assert runner.memory_growth(rows) == pytest.approx(1.0)
    rows[-1]["peak_bytes"] = 16.0 * 2**20
    assert runner.memory_growth(rows) == pytest.approx(8.0)
    rows[0]["peak_bytes"] = None
    assert runner.memory_growth(rows) is None


def test_peak_memory_sees_an_allocation() -> None:
    size = 64 * 2**20
    _, peak = runner.peak_memory(torch.device("cpu"), lambda: np.ones(size // 8).sum())
    if peak is None:
        pytest.skip("peak memory is not readable on this platform")
    assert peak >= 0.9 * size


def test_unknown_family_is_a_usage_error() -> None:
    with pytest.raises(UsageError):
        load_family("no-such-family")


def _family_and_check(key: str):  # type: ignore[no-untyped-def]
    family = load_family(key)
    catalog, ids = load([family.claim], with_checks=True)
    theorem = next(entry.theorem for entry, _ in catalog.select(ids))
    return family, catalog.checks[family.claim][0], theorem


@pytest.mark.parametrize("key", list(FAMILY_MODULES))
def test_family_point_is_one_point_of_its_check(key: str) -> None:
    family, check, _ = _family_and_check(key)
    point = runner.find_point(family, check)
    assert point in check.resolved_points()
    with pytest.raises(UsageError):
        runner.find_point(dataclasses.replace(family, point={**family.point, "no_such_key": 1}), check)


def test_agreement_test_can_fail() -> None:
    """A baseline of a different process (its observations shifted by many standard errors) is reported."""
    family, check, theorem = _family_and_check("batch-statistics")

    def shifted(point, units, rng):  # type: ignore[no-untyped-def]
        obs = family.vectorized(point, units, rng)
        return obs + 50 * obs[:, :1].std() / math.sqrt(units)  # 50 standard errors away

    kwargs = dict(device=torch.device("cpu"), seed=0, min_seconds=0.02, resolution=0.01, alpha=0.01,
                  direct_seconds=0.0, with_scaling=False, with_limits=False, say=lambda _: None)
    good = runner.run_family(family, check, theorem, **kwargs)  # type: ignore[arg-type]
    bad = runner.run_family(dataclasses.replace(family, vectorized=shifted), check, theorem,
                            **kwargs)  # type: ignore[arg-type]
    assert not good.disagreements
    assert len(bad.disagreements) == 1 and "numpy vectorized" in bad.disagreements[0]


def test_smoke_run_of_the_cli(capsys: pytest.CaptureFixture[str], tmp_path) -> None:  # type: ignore[no-untyped-def]
    md = tmp_path / "bench.md"
    code = main(["bench", "--smoke", "--json", "--quiet", "--device", "cpu", "--markdown", str(md)])
    out = json.loads(capsys.readouterr().out)
    assert code == 0, out
    assert [f["family"] for f in out["families"]] == list(FAMILY_MODULES)
    for f in out["families"]:
        names = [e["estimator"] for e in f["estimators"]]
        assert names == list(runner.ESTIMATORS)
        for e in f["estimators"]:
            assert e["units_per_s"] > 0 and math.isfinite(e["seconds_to_resolution"])
        assert set(f["scaling"]) == {"bnsym", "numpy vectorized"}
    assert any(f["extras"] for f in out["families"])
    assert any(f["limits"] for f in out["families"])
    assert {t["against"] for t in out["targets"]} >= {"numpy loop", "numpy vectorized"}
    text = md.read_text()
    assert "Smoke run" in text and "| family | against |" in text


def test_bad_options_are_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "no-such-family", "--smoke"]) == 2
    with pytest.raises(SystemExit) as err:
        main(["bench", "--min-seconds", "-1"])
    assert err.value.code == 2
    with pytest.raises(SystemExit) as err:
        main(["bench", "--resolution", "2"])
    assert err.value.code == 2
