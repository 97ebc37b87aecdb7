"""Bounds on every instance (``ProcessClaim(every=True)``): one unit beyond the bound refutes the claim.

A mean test cannot do this: one violating problem among many moves the mean and the standard
error alike, so its z stays small however large the violation. The every-unit test looks at each
unit's value against the bound plus the check's declared round-off allowance; it adds no test to
the false-alarm budget (nothing random can make it fail), and its resolution is the smallest
fraction of violating instances the sample catches with probability 0.9.
"""

from __future__ import annotations

import math

import pytest
import torch

from bnsym import Param, ProcessClaim, Source, Theorem
from bnsym.errors import DefinitionError
from bnsym.mc.engine import MonteCarloCheck, RunOptions, count_tests, run_check
from bnsym.mc.stats import POWER
from bnsym.verdict import Status

M = Param("M", lo=1, integer=True, sample_hi=64)
BOUND = ProcessClaim(title="every unit below 0", quantity="a per-problem excess", value=0, op="<", every=True)
THEOREM = Theorem("bounds", Source("tests"), params=(M,), claims=(BOUND,))
UNITS = 200


def _simulator(planted: float | None = None, at: int = 7):
    def simulate(points, n, gen, device):
        x = -torch.rand(len(points), n, 1, generator=gen, dtype=torch.float64) - 1e-3
        if planted is not None and n > at:
            x[0, at, 0] = planted
        return x
    return simulate


def _run(simulate, roundoff: float = 0.0):
    check = MonteCarloCheck(claim=BOUND, simulate=simulate, points=[{"M": 1}], pilot_units=50, max_units=UNITS,
                            roundoff=roundoff)
    return check, run_check(check, THEOREM, "t.bound", RunOptions(seed=2))


def test_every_unit_within_the_bound_is_consistent() -> None:
    check, v = _run(_simulator())
    assert count_tests(check) == 0
    assert v.status == Status.CONSISTENT
    assert v.evidence["samples"] == UNITS  # the whole cap is looked at
    assert v.evidence["resolution"] == pytest.approx(1 - (1 - POWER) ** (1 / UNITS))
    assert v.evidence["rows"][0]["worst"] < 0


@pytest.mark.parametrize("planted", [50.0, 1e-6, math.inf])
def test_one_unit_beyond_the_bound_refutes(planted: float) -> None:
    _, v = _run(_simulator(planted))
    assert v.status == Status.REFUTED, v.summary
    assert v.evidence["rows"][0]["worst"] == planted


def test_the_roundoff_allowance_is_applied() -> None:
    _, v = _run(_simulator(1e-12), roundoff=1e-10)
    assert v.status == Status.CONSISTENT
    _, v = _run(_simulator(1e-9), roundoff=1e-10)
    assert v.status == Status.REFUTED


def test_a_nan_unit_is_undecided() -> None:
    _, v = _run(_simulator(math.nan))
    assert v.status == Status.UNDECIDED


def test_every_needs_a_one_sided_claim() -> None:
    with pytest.raises(DefinitionError):
        ProcessClaim(title="bad", quantity="q", value=0, every=True)
    assert BOUND.holds == "for every instance"


def test_a_point_key_that_clashes_with_a_verdict_column_is_refused() -> None:
    check = MonteCarloCheck(claim=BOUND, simulate=_simulator(), points=[{"M": 1, "samples": 1000}])
    with pytest.raises(DefinitionError, match="samples"):
        run_check(check, THEOREM, "t.bound", RunOptions())
