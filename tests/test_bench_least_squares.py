"""The least-squares bench family: its numpy baselines run the process of the L9 regression checks.

The check's simulator observes the error of each sampled design averaged exactly over the teacher
and the label noise; the baselines sample both and fit each problem. The tests rebuild that
conditional mean from the definition of the fit (a linear map of teacher and noise), hold the loop
and the vectorized baseline to the same numbers on the same draws, and compare all three
estimates. Every statistical comparison holds its false-alarm rate at ``ALPHA`` per test, split
over the comparisons the test makes (Bonferroni), on the difference of two independent means over
its combined standard error.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
import pytest
import torch

from bnsym.bench.least_squares import FAMILY
from bnsym.bench.runner import find_point
from bnsym.mc.engine import MonteCarloCheck, claimed_values
from bnsym.mc.stats import bonferroni_z, normal_quantile
from bnsym.registry import Catalog
from tests.bench_support import bnsym_observations, estimate, family_catalog, z_gap

ALPHA = 0.001
MISS = 1e-6  # the power test may fail to see a real shift with at most this probability
SETTINGS = [{"alpha": 2.0, "lambda": 0.25}, {"alpha": 0.5, "lambda": 0.05}, {"alpha": 2.0}, {"alpha": 0.5},
            {"alpha": 2.0, "c": 0.3}, {"alpha": 0.5, "c": 0.3}]  # ridge, pseudo-inverse, shrunk, both sides


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return family_catalog(FAMILY)


@pytest.fixture(scope="module")
def check(catalog: Catalog) -> MonteCarloCheck:
    found: MonteCarloCheck = catalog.checks[FAMILY.claim][0]
    return found


@pytest.fixture(scope="module")
def point(check: MonteCarloCheck) -> dict[str, Any]:
    return find_point(FAMILY, check)


def test_family_names_a_point_of_its_check(point: dict[str, Any]) -> None:
    assert (point["alpha"], point["lambda"], point["sigma"], point["N"]) == (2.0, 0.25, 0.5, 64)
    assert FAMILY.draws_per_unit(point) == 64 + 128 * 64 + 128


def test_observations_have_the_simulator_layout(check: MonteCarloCheck, point: dict[str, Any]) -> None:
    columns = bnsym_observations(check, point, 3, 0).shape[1]
    for observe, units in ((FAMILY.loop, 5), (FAMILY.vectorized, 7)):
        obs = observe(point, units, np.random.default_rng(0))
        assert obs.shape == (units, columns) and obs.dtype == np.float64 and np.isfinite(obs).all()


@pytest.mark.parametrize("setting", SETTINGS)
def test_loop_and_vectorized_fit_the_same_problem(setting: dict[str, float]) -> None:
    """One problem from one seed is the same draws in both; lstsq and the normal equations give one fit."""
    at = {**setting, "sigma": 0.5, "N": 12}
    for seed in range(5):
        loop = FAMILY.loop(at, 1, np.random.default_rng(seed))
        vectorized = FAMILY.vectorized(at, 1, np.random.default_rng(seed))
        np.testing.assert_allclose(loop, vectorized, rtol=1e-9)


@pytest.mark.parametrize("setting", SETTINGS)
def test_check_observes_the_conditional_mean_of_the_fit(check: MonteCarloCheck, setting: dict[str, float]) -> None:
    """On the check's own designs, its observation is E[||w - w*||^2/N | X] written from the fit's definition.

    The fit is linear in teacher and noise, w = A w* + B xi, with A = F X and B = sigma F for
    F = (X'X + lambda I)^-1 X' / (1 + c) (ridge) or pinv(X) / (1 + c); with E[w* w*'] = I and
    E[xi xi'] = I the mean error is (||A - I||_F^2 + ||B||_F^2) / N."""
    at = {**setting, "sigma": 0.5, "N": 12}
    N, P = 12, round(at["alpha"] * 12)
    units = 6
    observed = bnsym_observations(check, at, units, 9)[:, 0]
    X = torch.randn(units, P, N, generator=torch.Generator().manual_seed(9), dtype=torch.float64).numpy() / N**0.5
    for x, got in zip(X, observed):
        lam = at.get("lambda", 0.0)
        fit = np.linalg.solve(x.T @ x + lam * np.eye(N), x.T) if lam else np.linalg.pinv(x)
        fit = fit / (1 + at.get("c", 0.0))
        want = (np.sum((fit @ x - np.eye(N)) ** 2) + at["sigma"] ** 2 * np.sum(fit**2)) / N
        assert got == pytest.approx(want, rel=1e-10)


def test_baselines_agree_with_the_check_simulator(check: MonteCarloCheck, point: dict[str, Any],
                                                  one_torch_thread: None) -> None:
    estimates = {"bnsym": estimate(check, point, bnsym_observations(check, point, 400, 1)),
                 "loop": estimate(check, point, FAMILY.loop(point, 400, np.random.default_rng(2))),
                 "vectorized": estimate(check, point, FAMILY.vectorized(point, 1_000, np.random.default_rng(3)))}
    pairs = [("loop", "bnsym"), ("vectorized", "bnsym"), ("loop", "vectorized")]
    z = bonferroni_z(ALPHA, len(pairs))
    for a, b in pairs:
        assert z_gap(estimates[a], estimates[b]) <= z, (a, b, estimates)


def test_vectorized_agrees_at_every_regression_setting(catalog: Catalog, one_torch_thread: None) -> None:
    """Every distinct setting of the L9 checks that run the regression simulator, at their smallest N."""
    check = catalog.checks[FAMILY.claim][0]
    points = []
    for checks in catalog.checks.values():
        for other in checks:
            if other.simulate is check.simulate:
                points += [p for p in other.resolved_points() if p["N"] == min(q["N"] for q in other.resolved_points())
                           and p not in points]
    assert len(points) == 10  # 6 ridge settings, the pseudo-inverse and its shrinkage on both sides of alpha = 1
    z = bonferroni_z(ALPHA, len(points))
    for i, at in enumerate(points):
        ours = estimate(check, at, bnsym_observations(check, at, 200, 10 + i))
        theirs = estimate(check, at, FAMILY.vectorized(at, 1_500, np.random.default_rng(30 + i)))
        assert z_gap(ours, theirs) <= z, (at, ours, theirs)


def test_a_baseline_at_another_decay_is_told_apart(catalog: Catalog, check: MonteCarloCheck,
                                                   point: dict[str, Any], one_torch_thread: None) -> None:
    """The vectorized baseline run at lambda = 0.05 is distinguished from bnsym at lambda = 0.25.

    The expected shift is taken from the claim at the two check points, halved so that the
    O(1/N) remainder the claim leaves may eat up to half of it; the units are enough that a
    shift of that size is missed with probability at most ``MISS``, which is asserted from the
    measured standard errors before the test is made.
    """
    weaker = find_point(dataclasses.replace(FAMILY, point={**FAMILY.point, "lambda": 0.05}), check)
    theorem = catalog.claim(FAMILY.claim)[0].theorem
    claimed, claimed_weaker = claimed_values(check.claim, theorem, [point, weaker])
    shift = abs(claimed_weaker - claimed) / 2
    ours = estimate(check, point, bnsym_observations(check, point, 200, 6))
    wrong = estimate(check, point, FAMILY.vectorized(weaker, 1_000, np.random.default_rng(7)))
    z = bonferroni_z(ALPHA, 1)
    assert shift >= (z + normal_quantile(1 - MISS)) * math.hypot(ours[1], wrong[1])  # the units suffice
    assert z_gap(ours, wrong) > z
