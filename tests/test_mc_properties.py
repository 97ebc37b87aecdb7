"""Property tests of exact process claims: hypothesis draws the point from the claim's domain.

Each example runs the claim's own Monte Carlo check at one drawn point with a small fixed
sample (the check's simulator, the claim's closed form through lambdify), and asserts the
verdict is CONSISTENT. The suite's false-alarm rate is ALPHA over all examples of a test
(Bonferroni through ``tests_in_suite``); examples are derandomized, so the run is
reproducible.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bnsym.mc.engine import MonteCarloCheck, RunOptions, run_check
from bnsym.registry import load_builtin
from bnsym.verdict import Status

EXAMPLES = 8
ALPHA = 1e-3
SAMPLES = 3000
PROPERTY = settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(scope="module")
def catalog() -> Any:
    return load_builtin(with_checks=True)


def _run_at(catalog: Any, claim_id: str, point: dict[str, Any]) -> Any:
    entry, claim, role = catalog.claim(claim_id)
    (check,) = catalog.checks[claim_id]
    one = dataclasses.replace(check, points=(point,))
    assert isinstance(one, MonteCarloCheck)
    options = RunOptions(seed=0, samples=SAMPLES, alpha=ALPHA, tests_in_suite=EXAMPLES)
    return run_check(one, entry.theorem, claim_id, options, role)


def _l1_point(law: str, M: int, sigma: float, mu: float) -> dict[str, Any]:
    from checks.luo2019.priors import _point

    return {**_point(law, M), "sigma_P": sigma, "mu_P": mu}


def _l1_strategy() -> Any:
    from checks.luo2019.priors import ALL_LAWS
    from derivations.luo2019.symbols import M, mu_P, sigma_P

    return st.builds(_l1_point, st.sampled_from(ALL_LAWS), M.strategy(), sigma_P.strategy(), mu_P.strategy())


def _l3_strategy() -> Any:
    from derivations.luo2019.symbols import M4, beta, gamma

    return st.fixed_dictionaries({"M": M4.strategy(), "gamma": gamma.strategy(), "beta": beta.strategy(),
                                  "law": st.just("gaussian")})


def _pair_strategy() -> Any:
    from derivations.luo2019.symbols import R, gamma

    return st.fixed_dictionaries({"gamma": gamma.strategy(), "R": R.strategy()})


@pytest.mark.parametrize("claim_id,points", [
    ("luo2019.L1.prior_var_mu", _l1_strategy), ("luo2019.L1.prior_mean_var", _l1_strategy),
    ("luo2019.L3.gap_real_bn", _l3_strategy), ("luo2019.L3.gap_half_mu", _l3_strategy),
    ("luo2019.L5.I1_relu_sampled", _pair_strategy), ("luo2019.L5.I2_erf_sampled", _pair_strategy),
    ("luo2019.L5.I3_relu_sampled", _pair_strategy),
])
def test_exact_process_claims_hold_across_the_domain(catalog: Any, claim_id: str, points: Any) -> None:
    @PROPERTY
    @given(point=points())
    def prop(point: dict[str, Any]) -> None:
        v = _run_at(catalog, claim_id, point)
        assert v.status is Status.CONSISTENT, (point, v.summary)

    prop()
