"""Every verdict status is reachable, and each carries the evidence that justifies it.

PROVEN records the SymPy strategy that closed the claim; NUMERIC says the prover did not (and, for
a hanging SymPy call, that its budget was spent); REFUTED gives a counterexample or the failing
link or test; UNDECIDED and ERROR never count as holding. The Monte Carlo half is tested for
power (a claim off by a constant factor is refuted by a small simulation) and the statistics
behind it against known quantiles.
"""

from __future__ import annotations

import math
import multiprocessing
import os
import time

import mpmath
import pytest
import sympy as sp

from bnsym import Asymptotic, Claim, Derivation, Identity, Inequality, Param, ProcessClaim, Source, Theorem, by, prover
from bnsym.budget import run_with_budget
from bnsym.mc.stats import OrderFit, bonferroni_z, chi2_quantile, chi2_sf, normal_quantile
from bnsym.verdict import HOLDING, Status, weakest
from bnsym.verify import Settings, verify_claim

x = Param("x", sample_lo=-3, sample_hi=3)
y = Param("y", lo=0, lo_open=True, sample_lo=0.1, sample_hi=4)
M = Param("M", lo=2, integer=True, sample_hi=1000, law="log")
X, Y, MM = x.symbol, y.symbol, M.symbol

FAST = Settings(budget=5.0, points=12)

FORK = "fork" in multiprocessing.get_all_start_methods() and os.environ.get("BNSYM_NO_FORK") != "1"
needs_fork = pytest.mark.skipif(not FORK, reason="budgets can stop a hung call only in a forked child")


def _verify(claim: Claim, settings: Settings = FAST, role: str = "claim"):
    theorem = Theorem("test theorem", Source("tests"), (x, y, M), (claim,))
    verdict = verify_claim(theorem, claim, "test." + (claim.title or "claim"), role, settings)
    assert verdict is not None
    return verdict


def _num(text: str) -> mpmath.mpf:
    return mpmath.mpf(text)


# -- PROVEN, with the strategy ------------------------------------------------------------------

@pytest.mark.parametrize("lhs,rhs,strategy", [
    ((X + 1) ** 2, X**2 + 2 * X + 1, "expand-cancel-together"),
    (sp.gamma(Y + 1), Y * sp.gamma(Y), "gammasimp"),
    (sp.sin(X) ** 2 + sp.cos(X) ** 2, 1, "trigsimp"),
], ids=["polynomial", "gamma", "trig"])
def test_true_identity_is_proven_with_its_strategy(lhs, rhs, strategy) -> None:
    v = _verify(Identity(title="true", lhs=lhs, rhs=rhs))
    assert v.status is Status.PROVEN
    assert v.method == f"sympy:{strategy}"
    assert v.evidence["strategy"] == strategy
    assert v.evidence["strategies_tried"][-1] == strategy
    assert v.status.holds


# -- REFUTED, with a counterexample ---------------------------------------------------------------

def test_wrong_identity_is_refuted_with_a_counterexample() -> None:
    v = _verify(Identity(title="wrong", lhs=(X + 1) ** 2, rhs=X**2 + 1))  # differs by 2x: no constant
    assert v.status is Status.REFUTED
    assert not v.status.holds
    cx = v.evidence["counterexample"]
    assert {"x", "lhs", "rhs"} <= set(cx)
    at = _num(cx["x"])
    assert -3 <= at <= 3
    with mpmath.workdps(30):
        assert abs(_num(cx["lhs"]) - (at + 1) ** 2) < 1e-15
        assert abs(_num(cx["rhs"]) - (at**2 + 1)) < 1e-15
        assert abs(_num(cx["lhs"]) - _num(cx["rhs"])) > 1e-10


def test_identity_off_by_a_constant_is_refuted_symbolically() -> None:
    v = _verify(Identity(title="constant", lhs=(X + 1) ** 2, rhs=X**2 + 2 * X + 2))
    assert v.status is Status.REFUTED
    assert v.method == "sympy:expand-cancel-together"
    assert "nonzero constant" in v.summary
    cx = v.evidence["counterexample"]  # the numeric check confirms it at a point
    assert {"x", "lhs", "rhs"} <= set(cx)
    assert abs(_num(cx["lhs"]) - _num(cx["rhs"]) + 1) < 1e-15


def test_exact_refutation_is_not_overridden_by_a_numeric_pass() -> None:
    v = _verify(Identity(title="tiny", lhs=X + sp.Rational(1, 10**38), rhs=X))  # differs by exactly 1e-38
    assert v.status is Status.REFUTED


def test_derivation_names_its_first_wrong_link() -> None:
    chain = Derivation(title="chain", chain=[
        (X + 1) ** 2,
        (X**2 + 2 * X + 1, by.algebra),
        (X**2 + 3 * X + 1, by.because("a slip")),  # link 2: wrong
        (X * (X + 3) + 2, by.algebra),  # link 3: wrong as well (off by 1)
        (X**2 + 3 * X + 2, by.algebra),  # link 4: right
    ])
    v = _verify(chain)
    assert v.status is Status.REFUTED
    assert [link.status for link in v.links] == [Status.PROVEN, Status.REFUTED, Status.REFUTED, Status.PROVEN]
    assert v.summary.startswith("link 2 REFUTED"), v.summary
    first_bad = next(link for link in v.links if not link.status.holds)
    assert first_bad.claim_id.endswith("[2]")
    assert "a slip" in first_bad.evidence["justification"]
    assert "x" in first_bad.evidence["counterexample"]


def test_derivation_with_every_link_right_is_proven() -> None:
    chain = Derivation(title="good chain", chain=[
        sp.gamma(Y + 2),
        ((Y + 1) * sp.gamma(Y + 1), by.gamma_function),
        ((Y + 1) * Y * sp.gamma(Y), by.gamma_function),
    ])
    v = _verify(chain)
    assert v.status is Status.PROVEN
    assert v.summary == "all 2 links hold"


# -- asymptotic claims ------------------------------------------------------------------------------

CHI_MEAN = sp.sqrt(2 / MM) * sp.gamma(MM / 2) / sp.gamma((MM - 1) / 2)  # E[sigma_B]/sigma_P, Gaussian


@pytest.mark.parametrize("lhs,rhs,order", [
    (1 / (MM - 1), 1 / MM + 1 / MM**2, 3),
    (CHI_MEAN, 1 - sp.Rational(3, 4) / MM, 2),
], ids=["rational", "gamma-ratio"])
def test_asymptotic_with_right_coefficients_is_proven(lhs, rhs, order) -> None:
    v = _verify(Asymptotic(title="right", lhs=lhs, rhs=rhs, var=M, order=order))
    assert v.status is Status.PROVEN
    assert v.method == "sympy:series comparison"


@pytest.mark.parametrize("lhs,rhs,order", [
    (1 / (MM - 1), 2 / MM, 2),
    (CHI_MEAN, 1 - sp.Rational(1, 4) / MM, 2),
], ids=["rational", "gamma-ratio"])
def test_asymptotic_with_wrong_leading_coefficient_is_refuted(lhs, rhs, order) -> None:
    v = _verify(Asymptotic(title="wrong", lhs=lhs, rhs=rhs, var=M, order=order))
    assert v.status is Status.REFUTED
    cx = v.evidence["counterexample"]
    scaled = [_num(val) for key, val in cx.items() if key.startswith(f"M^{order}*remainder")]
    assert len(scaled) >= 2
    assert scaled[-1] / scaled[-2] > 3  # a remainder of lower order grows by ~10 per decade
    assert "grows" in v.summary


def test_series_comparison_refutes_a_wrong_coefficient() -> None:
    assert prover.prove_asymptotic(1 / (MM - 1), 2 / MM, MM, 2).decided is False
    tiny = Asymptotic(title="tiny", lhs=1 / MM, rhs=(1 + sp.Rational(1, 10**60)) / MM, var=M, order=2)
    assert _verify(tiny).status is Status.REFUTED  # the numeric test alone cannot see 1e-60


# -- inequalities -----------------------------------------------------------------------------------

@pytest.mark.parametrize("lhs,op,rhs", [
    (X**2 + 1, ">", 0),
    (sp.sin(X), "<", 2),
    (Y + 1 / Y, ">=", 2),
], ids=["square", "sine", "am-gm"])
def test_inequality_that_holds_is_proven_or_numeric(lhs, op, rhs) -> None:
    v = _verify(Inequality(title="holds", lhs=lhs, op=op, rhs=rhs))
    assert v.status in (Status.PROVEN, Status.NUMERIC), v.summary
    if v.status is Status.NUMERIC:
        assert v.evidence["points"] > 0


def test_false_inequality_is_refuted_at_a_point() -> None:
    v = _verify(Inequality(title="false", lhs=X**2, op="<", rhs=4))
    assert v.status is Status.REFUTED
    cx = v.evidence["counterexample"]
    assert abs(_num(cx["x"])) >= 2
    assert _num(cx["lhs"]) >= _num(cx["rhs"])


# -- hang-proofing: a SymPy call that never returns -------------------------------------------------

def _forever(*args, **kwargs):
    while True:
        pass


class Hang(sp.Function):
    """The identity function to numbers, a hang to SymPy: every rewrite hook the ladder reaches loops.

    Probed with a profiler: expand-cancel-together and simplify reach ``as_numer_denom``, gammasimp
    reaches ``_eval_rewrite`` and simplify ``doit``; trigsimp reaches none (it only asks ``has``).
    """

    _imp_ = staticmethod(lambda v: v)  # what lambdify (and so mpmath) evaluates
    _eval_simplify = _forever
    _eval_rewrite = _forever
    _eval_expand_func = _forever
    doit = _forever
    as_numer_denom = _forever


@needs_fork
def test_hanging_sympy_call_falls_back_to_numeric_within_budget() -> None:
    budget = 0.5
    settings = Settings(budget=budget, points=8)
    # every strategy may spend its budget; the margin covers forking and the numeric fallback
    bound = len(prover.EQUALITY_LADDER) * budget + 10.0
    started = time.perf_counter()
    v = _verify(Identity(title="hang", lhs=Hang(X), rhs=X), settings)
    elapsed = time.perf_counter() - started
    assert v.status is Status.NUMERIC, v.summary
    assert elapsed < bound
    note = v.evidence["prover_note"]
    assert f"budget of {budget:g} s spent" in note
    spent = [s for s in ("expand-cancel-together", "gammasimp", "simplify") if f"{s}: budget" in note]
    assert len(spent) == 3, note
    assert v.evidence["strategies_tried"] == [name for name, _ in prover.EQUALITY_LADDER]


@needs_fork
def test_run_with_budget_stops_a_call_that_sleeps_forever() -> None:
    budget = 0.3
    started = time.perf_counter()
    out = run_with_budget(time.sleep, 3600, seconds=budget)
    elapsed = time.perf_counter() - started
    assert out.timed_out and not out.ok
    assert budget <= elapsed < budget + 5.0


def test_run_with_budget_returns_values_and_errors() -> None:
    assert run_with_budget(sum, [1, 2, 3], seconds=10).value == 6
    out = run_with_budget(math.sqrt, -1.0, seconds=10)
    assert not out.ok and not out.timed_out
    assert "ValueError" in out.error


# -- UNDECIDED --------------------------------------------------------------------------------------

def _no_number(v):
    raise ValueError("no numeric value")


class Opaque(sp.Function):
    """A function SymPy cannot simplify and mpmath cannot evaluate at any point."""

    _imp_ = staticmethod(_no_number)


class Slow(sp.Function):
    """A function that takes an hour per evaluation."""

    _imp_ = staticmethod(lambda v: (time.sleep(3600), v)[1])


def test_claim_that_cannot_be_evaluated_is_undecided() -> None:
    v = _verify(Identity(title="opaque", lhs=Opaque(X), rhs=X))
    assert v.status is Status.UNDECIDED
    assert "could not evaluate" in v.summary
    assert v.evidence["points"] == 0
    assert "counterexample" not in v.evidence


@needs_fork
def test_numeric_budget_spent_is_undecided() -> None:
    settings = Settings(numeric_budget=0.3, symbolic=False, points=4)
    started = time.perf_counter()
    v = _verify(Identity(title="slow", lhs=Slow(X), rhs=X), settings)
    assert time.perf_counter() - started < 0.3 + 5.0
    assert v.status is Status.UNDECIDED
    assert "numeric budget of 0.3 s spent" in v.summary


def test_only_proven_numeric_and_consistent_hold() -> None:
    assert Status.UNDECIDED.holds is False
    assert Status.ERROR.holds is False
    assert Status.REFUTED.holds is False
    assert HOLDING == {Status.PROVEN, Status.NUMERIC, Status.CONSISTENT}
    assert weakest([Status.PROVEN, Status.UNDECIDED, Status.NUMERIC]) is Status.UNDECIDED
    assert weakest([Status.ERROR, Status.REFUTED]) is Status.REFUTED


# -- ERROR ------------------------------------------------------------------------------------------

def _broken_truncation(e):
    raise RuntimeError("truncation failed")


def test_link_whose_justification_cannot_be_applied_is_an_error() -> None:
    chain = Derivation(title="broken", chain=[
        X**2,
        (X * X, by.algebra),
        (X**2, by.truncation("keep everything", _broken_truncation)),
    ])
    v = _verify(chain)
    assert v.status is Status.ERROR
    assert not v.status.holds
    assert [link.status for link in v.links] == [Status.PROVEN, Status.ERROR]
    assert "link 2 ERROR" in v.summary
    assert "truncation failed" in v.links[1].summary


def test_claim_without_a_verifier_is_an_error() -> None:
    class Strange(Claim):
        kind = "strange"

    v = _verify(Strange(title="strange"))
    assert v.status is Status.ERROR
    assert "no verifier" in v.summary


# -- Monte Carlo: power, errors ---------------------------------------------------------------------

def _theorem1_zeta_check(denominator: int):
    """Theorem 1's zeta with ``denominator * M`` in place of 8M, checked on the real-BN simulator."""
    from bnsym.mc.engine import MonteCarloCheck
    from checks.luo2019 import theorem1 as checks
    from derivations.luo2019 import theorem1 as L

    g, rho, m, f, mu2 = L.gamma.symbol, L.rho.symbol, L.M.symbol, L.F.symbol, L.mu2.symbol
    claim = ProcessClaim(title=f"zeta with {denominator}M", quantity=L.theorem1_printed.quantity,
                         value=g**2 * ((rho + 2) / (denominator * m) * f + mu2 / (2 * m)), var=L.M, order=2)
    theorem = Theorem("Theorem 1, variant", Source("tests"), L.L2.params, (claim,))
    check = MonteCarloCheck(claim=claim, simulate=checks.SIMULATE_REAL_BN,
                            points=checks._points(("gaussian",), ((1.5, 0.3),)),
                            batch_keys=("law", "M"), process=checks.REAL_BN)
    return check, theorem


@pytest.fixture
def one_torch_thread():
    """One intra-op thread: on a small shared machine, torch's spinning worker threads slow a tiny
    simulation twentyfold when the cores are busy. Restored afterwards."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.mark.parametrize("denominator,expected", [(4, Status.REFUTED), (8, Status.CONSISTENT)],
                         ids=["4M-refuted", "8M-consistent"])
def test_monte_carlo_refutes_a_constant_factor(denominator: int, expected: Status, one_torch_thread) -> None:
    from bnsym.mc.engine import RunOptions, run_check

    check, theorem = _theorem1_zeta_check(denominator)
    options = RunOptions(seed=0, samples=3000, tests_in_suite=1)
    v = run_check(check, theorem, f"test.zeta{denominator}", options)
    assert v.status is expected, v.summary
    assert v.method == "monte-carlo"
    ladder = v.evidence["ladders"][0]
    assert [row["M"] for row in ladder["rows"]] == [16, 32, 64, 128]
    assert all(row["samples"] == 3000 for row in ladder["rows"])
    assert ladder["pass"] is (expected is Status.CONSISTENT)
    assert (ladder["chi2"] > ladder["critical"]) is (expected is Status.REFUTED)


def test_simulator_that_raises_gives_an_error_verdict() -> None:
    from bnsym.mc.engine import MonteCarloCheck, RunOptions, run_check

    claim = ProcessClaim(title="anything", quantity="E[y]", value=Y)
    theorem = Theorem("raising simulator", Source("tests"), (y,), (claim,))

    def simulate(points, n, gen, device):
        raise RuntimeError("simulator broke")

    check = MonteCarloCheck(claim=claim, simulate=simulate, points=[{"y": 1.0}])
    v = run_check(check, theorem, "test.raises", RunOptions(seed=0, samples=100))
    assert v.status is Status.ERROR
    assert "simulator broke" in v.summary


# -- the statistics -------------------------------------------------------------------------------

def test_normal_quantiles() -> None:
    assert normal_quantile(0.975) == pytest.approx(1.959963984540054, rel=1e-12)
    assert normal_quantile(0.5) == pytest.approx(0.0, abs=1e-15)
    assert normal_quantile(0.995) == pytest.approx(2.5758293035489004, rel=1e-12)
    assert normal_quantile(0.025) == pytest.approx(-1.959963984540054, rel=1e-12)
    assert bonferroni_z(0.05, 1) == pytest.approx(1.959963984540054, rel=1e-12)
    assert bonferroni_z(0.01, 4) == pytest.approx(normal_quantile(1 - 0.01 / 8), rel=1e-12)
    for bad in (0.0, 1.0, -0.1, 1.5):
        with pytest.raises(ValueError):
            normal_quantile(bad)


def test_chi_square_quantiles() -> None:
    assert chi2_quantile(0.95, 3) == pytest.approx(7.814727903251178, rel=1e-9)
    assert chi2_quantile(0.95, 1) == pytest.approx(1.959963984540054**2, rel=1e-9)
    assert chi2_quantile(0.99, 2) == pytest.approx(-2 * math.log(0.01), rel=1e-9)  # exponential law
    assert chi2_sf(7.814727903251178, 3) == pytest.approx(0.05, rel=1e-9)
    assert chi2_sf(0.0, 5) == 1.0


LADDER = [16.0, 32.0, 64.0, 128.0]


def _fit(remainders: list[float], order: int = 2, stderr: float = 1e-7) -> OrderFit:
    return OrderFit(LADDER, remainders, [stderr] * len(LADDER), [1 / m for m in LADDER], order, 0.01)


def test_order_fit_accepts_remainders_of_the_declared_order() -> None:
    fit = _fit([0.7 / m**2 for m in LADDER])
    assert fit.passed
    assert fit.chi2 < 1e-6
    assert fit.dof == 2
    assert fit.coefficients[0] == pytest.approx(0.7, rel=1e-6)
    fit3 = _fit([0.7 / m**2 - 2.0 / m**3 for m in LADDER])  # the next order is absorbed too
    assert fit3.passed


def test_order_fit_rejects_remainders_of_lower_order() -> None:
    fit = _fit([0.7 / m for m in LADDER])
    assert not fit.passed
    assert fit.chi2 > fit.critical
    assert fit.p_value < 1e-6


def test_order_fit_needs_three_points() -> None:
    with pytest.raises(ValueError):
        OrderFit([16.0, 32.0], [0.0, 0.0], [1.0, 1.0], [1.0, 1.0], 2, 0.01)


def test_inequality_is_tested_at_the_closed_corners_of_its_domain() -> None:
    z = Param("z", lo=0, hi=3)  # closed at 3: z < 3 fails exactly there
    claim = Inequality(title="corner", lhs=z.symbol, op="<", rhs=3)
    theorem = Theorem("corner theorem", Source("tests"), (z,), (claim,))
    v = verify_claim(theorem, claim, "test.corner", "claim", FAST)
    assert v is not None and v.status is Status.REFUTED
    assert _num(v.evidence["counterexample"]["z"]) == 3


def test_numeric_fallback_compares_tiny_values_relatively() -> None:
    # the prover cannot see e^-100 rho^2 = 2 e^-100 rho^2 as false without evaluating; numbers this small
    # must be compared relative to their size, not to 1
    claim = Identity(title="tiny", lhs=sp.exp(-100) * X**2, rhs=2 * sp.exp(-100) * X**2)
    v = _verify(claim, Settings(budget=5.0, points=12, symbolic=False))
    assert v.status is Status.REFUTED


def test_numeric_fallback_does_not_skip_where_a_side_is_complex() -> None:
    claim = Identity(title="sqrt", lhs=sp.sqrt(X), rhs=sp.sqrt(X) + sp.Piecewise((1, X < 0), (0, True)))
    v = _verify(claim, Settings(budget=5.0, points=24, symbolic=False))
    assert v.status is Status.REFUTED


def test_asymptotic_remainder_half_an_order_too_low_is_refuted() -> None:
    claim = Asymptotic(title="half order", lhs=1 / MM + MM ** sp.Rational(-3, 2), rhs=1 / MM, var=M, order=2)
    v = _verify(claim, Settings(budget=5.0, points=12, symbolic=False))
    assert v.status is Status.REFUTED


def test_order_fit_with_the_first_neglected_term() -> None:
    xs = [16.0, 32.0, 64.0, 128.0, 256.0]
    remainders = [3 / x**2 + 200 / x**4 for x in xs]  # a large first neglected term
    se = [1e-7] * len(xs)
    two = OrderFit(xs, remainders, se, [1 / x for x in xs], 2, 1e-3)
    three = OrderFit(xs, remainders, se, [1 / x for x in xs], 2, 1e-3, terms=3)
    assert not two.passed  # precise enough to see the neglected term: the two-term fit rejects
    assert three.passed and three.dof == 2


def test_a_nan_never_passes_a_numeric_check() -> None:
    """A nan residual compares as neither above nor below a tolerance: it must count as not evaluable."""
    from bnsym import numeric

    x = Param("x", lo=1, hi=2)
    nan = sp.nan * x.symbol
    assert numeric.check_equal(nan, x.symbol, [x], 4).decided is None
    assert numeric.check_inequality(nan, "<", x.symbol, [x], 4).decided is None
    assert numeric.check_asymptotic(nan, x.symbol, x, 1, [x], 2).decided is None
    assert numeric.check_equal(x.symbol + 1, 1 + x.symbol, [x], 4).decided is True


def test_an_expression_identically_zero_is_not_refuted_by_its_round_off() -> None:
    """Sides that are themselves round-off (terms that cancel to 0) must not be taken for a difference: the
    residual shrinks with the digits, where a real difference keeps its size."""
    from bnsym import numeric

    a, b = Param("a", lo=1, hi=2), Param("b", lo=1, hi=2)
    zero = (a.symbol + b.symbol) ** 3 - (a.symbol**3 + 3 * a.symbol**2 * b.symbol + 3 * a.symbol * b.symbol**2
                                          + b.symbol**3)
    assert numeric.check_equal(sp.sqrt(3) * zero, 0, [a, b], 8).decided is True
    assert numeric.check_equal(sp.sqrt(3) * zero + sp.Rational(1, 10**30), 0, [a, b], 8).decided is False
