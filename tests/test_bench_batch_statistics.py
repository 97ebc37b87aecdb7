"""The batch-statistics bench family: its numpy baselines run the process of the Theorem 1 check.

Every statistical comparison holds its false-alarm rate at ``ALPHA`` per test, split over the
comparisons the test makes (Bonferroni), on the difference of two independent means over its
combined standard error.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
import pytest
import torch

from bnsym.bench.batch_statistics import FAMILY
from bnsym.bench.runner import find_point
from bnsym.mc.engine import MonteCarloCheck, claimed_values
from bnsym.mc.stats import bonferroni_z, normal_quantile
from bnsym.registry import Catalog
from bnsym.sim.batchnorm import integral_of_activation, loss_gap
from bnsym.sim.laws import sample
from tests.bench_support import bnsym_observations, estimate, family_catalog, z_gap

ALPHA = 0.001
MISS = 1e-6  # the power test may fail to see a real shift with at most this probability
LAWS = ("gaussian", "laplace", "uniform", "exponential", "student_t7")


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
    assert point["law"] == "gaussian" and point["M"] == 32
    assert (point["gamma"], point["beta"]) == (point["gamma_star"], point["beta_star"])  # at the optimum
    assert FAMILY.draws_per_unit(point) == 32


def test_observations_have_the_simulator_layout(check: MonteCarloCheck, point: dict[str, Any]) -> None:
    columns = bnsym_observations(check, point, 3, 0).shape[1]
    for observe, units in ((FAMILY.loop, 5), (FAMILY.vectorized, 7)):
        obs = observe(point, units, np.random.default_rng(0))
        assert obs.shape == (units, columns) and obs.dtype == np.float64 and np.isfinite(obs).all()


@pytest.mark.parametrize("law", LAWS)
def test_loop_and_vectorized_run_the_same_units(point: dict[str, Any], law: str) -> None:
    """Batches drawn one by one or as rows of one array are the same numbers from one seed."""
    at = {**point, "law": law, "teacher_cubic": 0.2}
    loop = FAMILY.loop(at, 40, np.random.default_rng(11))
    vectorized = FAMILY.vectorized(at, 40, np.random.default_rng(11))
    np.testing.assert_allclose(loop, vectorized, rtol=1e-12, atol=1e-15)


def test_control_variate_is_inactive_at_this_point(point: dict[str, Any], one_torch_thread: None) -> None:
    """What the notes say: at the optimum l'(h_bar) = 0, so bnsym's control changes no unit."""
    runs = [loss_gap("gaussian", 32, 200, torch.Generator().manual_seed(3), "cpu", activation="softplus",
                     gamma=point["gamma"], beta=point["beta"], gamma_star=point["gamma_star"],
                     beta_star=point["beta_star"], control_variate=control) for control in (False, True)]
    assert torch.equal(runs[0], runs[1])


def test_baselines_agree_with_the_check_simulator(check: MonteCarloCheck, point: dict[str, Any],
                                                  one_torch_thread: None) -> None:
    estimates = {"bnsym": estimate(check, point, bnsym_observations(check, point, 20_000, 1)),
                 "loop": estimate(check, point, FAMILY.loop(point, 2_000, np.random.default_rng(2))),
                 "vectorized": estimate(check, point, FAMILY.vectorized(point, 20_000, np.random.default_rng(3)))}
    pairs = [("loop", "bnsym"), ("vectorized", "bnsym"), ("loop", "vectorized")]
    z = bonferroni_z(ALPHA, len(pairs))
    for a, b in pairs:
        assert z_gap(estimates[a], estimates[b]) <= z, (a, b, estimates)


def test_vectorized_agrees_for_every_law_of_the_check(check: MonteCarloCheck, point: dict[str, Any],
                                                      one_torch_thread: None) -> None:
    """The other laws' numpy transforms (same student, same batch size) against the check's sampler."""
    others = [law for law in LAWS if law != point["law"]]
    z = bonferroni_z(ALPHA, len(others))
    for law in others:
        at = find_point(dataclasses.replace(FAMILY, point={**FAMILY.point, "law": law}), check)
        ours = estimate(check, at, bnsym_observations(check, at, 6_000, 4))
        theirs = estimate(check, at, FAMILY.vectorized(at, 6_000, np.random.default_rng(5)))
        assert z_gap(ours, theirs) <= z, (law, ours, theirs)


def test_a_baseline_at_another_batch_size_is_told_apart(catalog: Catalog, check: MonteCarloCheck,
                                                        point: dict[str, Any], one_torch_thread: None) -> None:
    """The vectorized baseline run at M = 16 is distinguished from bnsym at M = 32.

    The expected shift is taken from the claim at the two check points, halved so that the
    O(M^-2) remainder the claim leaves may eat up to half of it; the units are enough that
    a shift of that size is missed with probability at most ``MISS``, which is asserted
    from the measured standard errors before the test is made.
    """
    smaller = find_point(dataclasses.replace(FAMILY, point={**FAMILY.point, "M": 16}), check)
    theorem = catalog.claim(FAMILY.claim)[0].theorem
    claimed_32, claimed_16 = claimed_values(check.claim, theorem, [point, smaller])
    shift = abs(claimed_16 - claimed_32) / 2
    ours = estimate(check, point, bnsym_observations(check, point, 2_000, 6))
    wrong = estimate(check, point, FAMILY.vectorized(smaller, 2_000, np.random.default_rng(7)))
    z = bonferroni_z(ALPHA, 1)
    assert shift >= (z + normal_quantile(1 - MISS)) * math.hypot(ours[1], wrong[1])  # the units suffice
    assert z_gap(ours, wrong) > z


# --- the float32 quadrature of the check's simulator --------------------------------------------------------------

U32 = 2.0**-24  # float32 unit round-off


def _intervals(law: str, M: int, gamma: float, beta: float, batches: int, seed: int,
               include_self: bool = True) -> tuple[torch.Tensor, ...]:
    """(h_bar, h_hat) of real BN (or, without ``include_self``, BN with an independent batch's statistics)
    for ``batches`` batches of the law, as ``loss_gap`` forms them."""
    gen = torch.Generator().manual_seed(seed)
    z = sample(law, (batches, M), gen, "cpu")
    source = z if include_self else sample(law, (batches, M), gen, "cpu")
    mu = source.mean(dim=-1, keepdim=True)
    sigma = (source - mu).square().mean(dim=-1, keepdim=True).sqrt()
    return gamma * z + beta, gamma * (z - mu) / sigma + beta


def _bound(lo: torch.Tensor, hi: torch.Tensor) -> torch.Tensor:
    """B = 42 u |h| (1 + |m| + |h|), the bound of ``loss_gap`` on the float32 quadrature's error."""
    m, h = (hi + lo) / 2, (hi - lo) / 2
    return 42 * U32 * h.abs() * (1 + m.abs() + h.abs())


@pytest.mark.parametrize("law, M, gamma, beta", [("gaussian", 32, 1.5, 0.3), ("student_t7", 4, 6.0, -2.0),
                                                 ("exponential", 16, 12.0, 5.0)])
def test_float32_quadrature_stays_within_its_bound(law: str, M: int, gamma: float, beta: float,
                                                   one_torch_thread: None) -> None:
    """On every sample drawn (heavy tails and steep students included, so arguments reach the softplus
    threshold), and on intervals far out on both sides."""
    lo, hi = _intervals(law, M, gamma, beta, 1_000, 8)
    lo = torch.cat([lo.flatten(), torch.tensor([-25.0, 12.0, 4.0, -60.0, 30.0], dtype=torch.float64)])
    hi = torch.cat([hi.flatten(), torch.tensor([-23.0, 10.5, 4.0, 45.0, 31.0], dtype=torch.float64)])
    exact = integral_of_activation("softplus", lo, hi)
    single = integral_of_activation("softplus", lo, hi, torch.float32)
    assert single.dtype == torch.float64
    assert bool(((single - exact).abs() <= _bound(lo, hi)).all())


def test_float32_bias_bound_is_far_below_the_resolution(catalog: Catalog, one_torch_thread: None) -> None:
    """At every point of every check that runs the loss gap with float32 nodes (all the Theorem 1 checks),
    E[B] is below a tenth of the standard error at which its z-test (level 0.01, power 0.9) resolves 1% of
    the value: such a bias moves the test by under 0.1 sd."""
    from checks.luo2019.theorem1 import CHECKS, SIMULATE_REAL_BN

    allowed = 0.1 * 0.01 / (normal_quantile(1 - 0.01 / 2) + normal_quantile(0.9))
    for chk in CHECKS:
        theorem = catalog.claim(_claim_id(catalog, chk))[0].theorem
        points = chk.resolved_points()
        for p, claimed in zip(points, claimed_values(chk.claim, theorem, points), strict=True):
            lo, hi = _intervals(p["law"], int(p["M"]), p["gamma"], p["beta"], 500, 9,
                                include_self=chk.simulate is SIMULATE_REAL_BN)
            assert float(_bound(lo, hi).mean()) <= allowed * abs(claimed), (chk.claim.title, p)


def _claim_id(catalog: Catalog, chk: MonteCarloCheck) -> str:
    return next(cid for cid, found in catalog.checks.items() if any(chk is f for f in found))
