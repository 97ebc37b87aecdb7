"""Measurements: exploratory quantities are reported with estimate, standard error and setting, never tested.

A measurement adds no test to the suite's false-alarm budget, its verdict is MEASURED whatever
the numbers, and a run holding only measurements (beside holding claims) exits 0; a diverged
run is still UNDECIDED, not a silent number.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from bnsym import Measurement, Param, ProcessClaim, Source, Theorem
from bnsym.cli import main
from bnsym.errors import DefinitionError
from bnsym.mc.engine import MonteCarloCheck, RunOptions, SuitePlan, count_tests, run_check
from bnsym.verdict import Status

M = Param("M", lo=2, integer=True, sample_hi=64, law="log")
SPREAD = Measurement(title="spread of a batch mean", quantity="M * Var(batch mean)", setting="standard normal draws")
THEOREM = Theorem("measurements", Source("tests"), params=(M,), claims=(SPREAD,))


def _batch_means(points, n, gen, device):
    out = []
    for p in points:
        x = torch.randn(n, int(p["M"]), generator=gen, dtype=torch.float64, device=device)
        out.append((int(p["M"]) * x.mean(dim=1) ** 2).unsqueeze(-1))
    return torch.stack(out)


def test_a_measurement_reports_estimates_and_adds_no_test(one_torch_thread) -> None:
    check = MonteCarloCheck(claim=SPREAD, simulate=_batch_means, points=[{"M": 4}, {"M": 16}], pilot_units=500)
    assert count_tests(check) == 0
    assert SuitePlan([(check, THEOREM, "t.spread", "claim")]).tests == 0
    v = run_check(check, THEOREM, "t.spread", RunOptions(seed=1, resolution=0.05))
    assert v.status == Status.MEASURED and not v.status.holds
    rows = v.evidence["rows"]
    assert [r["M"] for r in rows] == [4, 16]
    for r in rows:
        assert abs(r["estimate"] - 1.0) < 6 * r["stderr"]  # E[M mean^2] = 1 for standard normal draws
        assert r["relative_stderr"] <= 0.05 * 1.2 or r["samples"] >= check.max_units
        assert "claimed" not in r
    assert "measured" in v.summary


def test_a_diverged_measurement_is_undecided() -> None:
    def nan_sim(points, n, gen, device):
        return torch.full((len(points), n, 1), math.nan, dtype=torch.float64)

    check = MonteCarloCheck(claim=SPREAD, simulate=nan_sim, points=[{"M": 4}], pilot_units=50)
    v = run_check(check, THEOREM, "t.spread", RunOptions(samples=50))
    assert v.status == Status.UNDECIDED


@pytest.mark.parametrize("extra", [{"value": 1}, {"op": "<"}])
def test_a_measurement_claims_no_value(extra) -> None:
    with pytest.raises(DefinitionError):
        Measurement(title="bad", quantity="q", **extra)
    with pytest.raises(DefinitionError):
        Measurement(title="no quantity")


def test_a_run_with_measurements_exits_by_its_claims(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "measured.py"
    path.write_text('''\
import torch
from bnsym import Measurement, Param, ProcessClaim, Source, Theorem
from bnsym.mc.engine import MonteCarloCheck

M = Param("M", lo=2, integer=True, sample_hi=64, law="log")
spread = Measurement(title="spread", quantity="M * Var(mean)", setting="normal draws")
mean = ProcessClaim(title="E[mean] = 0", quantity="E[mean]", value=0)
measured = Theorem("measured", Source("tests"), params=(M,), claims=(spread, mean))

def simulate(points, n, gen, device):
    x = torch.randn(len(points), n, 8, generator=gen, dtype=torch.float64)
    return torch.stack([8 * x.mean(-1) ** 2, x.mean(-1)], dim=-1)

checks = [MonteCarloCheck(claim=spread, simulate=simulate, points=[{"M": 8}], pilot_units=400, max_units=2000),
          MonteCarloCheck(claim=mean, simulate=simulate, points=[{"M": 8}], estimand=lambda m, p: m[1],
                          pilot_units=400, max_units=2000)]
''')
    code = main(["check", str(path), "--json", "--quiet", "--seed", "3"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0, out
    assert out["tests"] == 1  # only the process claim is tested
    statuses = {c["id"].rsplit(".", 1)[-1]: c["status"] for c in out["checks"]}
    assert statuses == {"spread": "MEASURED", "mean": "CONSISTENT"}
    assert main(["check", str(path), "--quiet", "--seed", "3"]) == 0
    text = capsys.readouterr().out
    assert "MEASURED" in text and "· " in text


def test_process_claim_is_not_a_measurement() -> None:
    assert not isinstance(ProcessClaim(title="p", quantity="q"), Measurement)
