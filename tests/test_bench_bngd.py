"""Tests of the BNGD bench family (``bnsym.bench.bngd``): two numpy baselines of the check's process.

The baselines must produce the check's observations (min(N, T), 1{N <= T}, z) with the law of the
check's own simulator: their means agree with each other and with the simulator's within a Bonferroni
z-threshold at a stated false-alarm rate, and a baseline run at half the learning rate is told apart,
with a number of units derived from the measured shift and spreads. The comparisons use fixed seeds.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
import torch

from bnsym.bench.bngd import FAMILY, LAMBDA_MAX, LAMBDA_MIN
from bnsym.mc.stats import bonferroni_z, normal_quantile

pytestmark = pytest.mark.usefixtures("one_torch_thread")

ALPHA = 1e-3  # false-alarm rate of all agreement comparisons together
COLUMNS = (0, 2)  # min(N, T) (the estimand) and z; column 1 is 1 on every run at this point
PAIRS = (("loop", "vectorized"), ("loop", "bnsym"), ("vectorized", "bnsym"))
Z_AGREE = bonferroni_z(ALPHA, len(PAIRS) * len(COLUMNS))
UNITS = {"loop": 128, "vectorized": 256, "bnsym": 256}


def _check() -> Any:
    from checks.cai2019 import convergence as CV
    from derivations.cai2019 import convergence as C

    assert FAMILY.claim == "cai2019.C5.iterations_vs_eps" and C.iterations_vs_eps in C.C5.claims
    return next(c for c in CV.CHECKS if c.claim is C.iterations_vs_eps)


def _matches(p: dict[str, Any]) -> bool:
    return all(math.isclose(p[k], v, rel_tol=1e-12) if isinstance(v, float) else p.get(k) == v
               for k, v in FAMILY.point.items())


@pytest.fixture(scope="module")
def check_and_point() -> tuple[Any, dict[str, Any]]:
    check = _check()
    found = [p for p in check.resolved_points() if _matches(p)]
    assert len(found) == 1
    return check, found[0]


def _bnsym(check: Any, point: dict[str, Any], units: int, seed: int) -> np.ndarray:
    obs = check.simulate([point], units, torch.Generator().manual_seed(seed), torch.device("cpu"))
    return obs[0].numpy()


@pytest.fixture(scope="module")
def observations(check_and_point) -> dict[str, np.ndarray]:
    check, point = check_and_point
    return {"loop": FAMILY.loop(point, UNITS["loop"], np.random.default_rng(11)),
            "vectorized": FAMILY.vectorized(point, UNITS["vectorized"], np.random.default_rng(12)),
            "bnsym": _bnsym(check, point, UNITS["bnsym"], 13)}


def _z(x: np.ndarray, y: np.ndarray) -> float:
    """The difference of two sample means over its standard error."""
    se = math.sqrt(x.var(ddof=1) / len(x) + y.var(ddof=1) / len(y))
    return (x.mean() - y.mean()) / se


def test_the_spectrum_is_the_checks():
    from checks.cai2019 import convergence as CV

    assert (LAMBDA_MIN, LAMBDA_MAX) == (CV.LAMBDA_MIN, CV.LAMBDA_MAX)


def test_observations_have_the_checks_columns(check_and_point, observations):
    check, point = check_and_point
    T, log_tol = point["T"], math.log10(point["tol"])
    for name, obs in observations.items():
        assert obs.shape == (UNITS[name], 3), name
        capped, reached, z = obs.T
        assert np.all(np.isin(reached, (0.0, 1.0))) and np.all(capped == np.round(capped)), name
        assert np.all((capped >= 1) & (capped <= T)) and np.all(capped[reached == 0] == T), name
        assert np.all(z[reached == 1] <= log_tol + 1e-12), name  # gap_N <= tol gap_0 at the hit
        mean = torch.from_numpy(obs.mean(axis=0))
        assert float(check.estimand(mean, point)) == pytest.approx(capped.mean(), rel=1e-12)


def test_runs_that_do_not_reach_tol_and_runs_that_diverge(check_and_point):
    """T = 30 is too short to reach tol: z is the last gap's; eps_a = 2.5 makes a overflow: z = +inf."""
    check, point = check_and_point
    short = {**point, "T": 30}
    diverging = {**point, "epsilon_a": 2.5, "T": 2000}
    for p in (short, diverging):
        runs = {"loop": FAMILY.loop(p, 4, np.random.default_rng(1)),
                "vectorized": FAMILY.vectorized(p, 4, np.random.default_rng(2)), "bnsym": _bnsym(check, p, 4, 3)}
        for name, obs in runs.items():
            assert np.all(obs[:, 0] == p["T"]) and np.all(obs[:, 1] == 0), name
            if p is short:
                assert np.all(np.isfinite(obs[:, 2]) & (obs[:, 2] > math.log10(p["tol"]))), name
            else:
                assert np.all(obs[:, 2] == math.inf), name


def test_baselines_agree_with_each_other_and_with_the_check_simulator(observations):
    for first, second in PAIRS:
        for col in COLUMNS:
            z = _z(observations[first][:, col], observations[second][:, col])
            assert abs(z) < Z_AGREE, (first, second, col, z)


def test_a_baseline_at_half_the_rate_is_told_apart(check_and_point, observations):
    """The shift of the mean at eps/2 and the spreads, measured on the check's simulator, give the units per side
    at which the agreement comparison flags it with probability 0.999; the vectorized baseline is run there."""
    check, point = check_and_point
    half = {**point, "epsilon": point["epsilon"] / 2}
    right, wrong = _bnsym(check, point, 1024, 21)[:, 0], _bnsym(check, half, 1024, 22)[:, 0]
    shift = wrong.mean() - right.mean()
    assert abs(_z(wrong, right)) > Z_AGREE  # the shift is real, not noise of the measurement
    spread = math.sqrt(right.var(ddof=1) + wrong.var(ddof=1))
    units = math.ceil(((Z_AGREE + normal_quantile(0.999)) * spread / abs(shift)) ** 2)
    assert units <= UNITS["bnsym"]  # affordable: the reference below has at least as many units
    baseline = FAMILY.vectorized(half, units, np.random.default_rng(23))[:, 0]
    assert abs(_z(baseline, observations["bnsym"][:, 0])) > Z_AGREE


class _Counting:
    """A generator that counts the standard normal draws it hands out."""

    def __init__(self, seed: int) -> None:
        self.rng, self.draws = np.random.default_rng(seed), 0

    def standard_normal(self, size: Any = None) -> Any:
        out = self.rng.standard_normal(size)
        self.draws += int(np.size(out))
        return out


def test_draws_per_unit_is_what_a_run_draws(check_and_point):
    _, point = check_and_point
    for observe in (FAMILY.loop, FAMILY.vectorized):
        rng = _Counting(5)
        observe({**point, "T": 3}, 3, rng)  # type: ignore[arg-type]
        assert rng.draws == 3 * FAMILY.draws_per_unit(point) == 3 * (point["d"] ** 2 + 2 * point["d"] + 1)
