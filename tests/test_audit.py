"""The audits of the checks: mutants, the power audit and the false-alarm calibration.

Small synthetic processes stand in for the built-in ones, so every property is shown in a
second or two: a Monte Carlo check catches a 10% error but not one far below its stated
resolution; a bound with slack is listed, not failed; a mutant that is the same function is
counted as equivalent; a calibration over seeds keeps the stated rate for a true claim and
exceeds it for a false one (so the calibration itself can fail).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import sympy as sp
import torch

from bnsym import Identity, Inequality, Param, ProcessClaim, Source, Theorem
from bnsym.audit import calibration as C
from bnsym.audit import power as P
from bnsym.audit.mutants import equivalent, mutants, scale_mutants, structural_mutants
from bnsym.cli import main
from bnsym.mc.engine import MonteCarloCheck, RunOptions, SuitePlan
from bnsym.mc.stats import binomial_sf, clopper_pearson, clopper_pearson_upper
from bnsym.verify import Settings

MU = Param("mu", lo=0.5, hi=2)
S = Param("s", lo=0.5, hi=2)
MEAN = ProcessClaim(title="E[x] = mu + s^2/2", quantity="mean of x ~ N(mu + s^2/2, s^2)",
                    value=MU.symbol + S.symbol**2 / 2)
BOUND = ProcessClaim(title="E[x] < 3/2 (mu + s^2/2)", quantity="mean of x",
                     value=sp.Rational(3, 2) * (MU.symbol + S.symbol**2 / 2), op="<")
FALSE = ProcessClaim(title="E[x] = mu (false)", quantity="mean of x", value=MU.symbol)
THEOREM = Theorem("audit test", Source("tests"), params=(MU, S), claims=(MEAN, BOUND, FALSE))
POINTS = [{"mu": 1.0, "s": 1.0}, {"mu": 0.5, "s": 2.0}]


def _normal(points, n, gen, device):
    """Draws of x ~ N(mu + s^2/2, s^2): the process, written without the claimed value's expression."""
    out = []
    for p in points:
        z = torch.randn(n, 1, generator=gen, dtype=torch.float64, device=device)
        out.append(p["mu"] + p["s"] ** 2 / 2 + p["s"] * z)
    return torch.stack(out)


def _check(claim: ProcessClaim, units: int = 20_000) -> MonteCarloCheck:
    return MonteCarloCheck(claim=claim, simulate=_normal, points=POINTS, process="normal", pilot_units=units,
                           max_units=units, min_chunk=units, unit_size="none")


def test_mutants_cover_every_kind_and_drop_duplicates() -> None:
    x, y = sp.symbols("x y", positive=True)
    e = 3 * x**2 + y / 2
    got = mutants(e)
    kinds = {m.kind for m in got}
    assert kinds == {"scale", "constant", "sign", "exponent", "swap", "drop"}
    assert len({m.expr for m in got}) == len(got) and all(m.expr != e for m in got)
    assert sp.expand(scale_mutants(e, (0.1,))[0].expr - sp.Rational(11, 10) * e) == 0
    assert any(m.kind == "drop" and m.expr == y / 2 for m in structural_mutants(e))
    offsets = scale_mutants(sp.S.Zero, (0.1,))  # a claimed 0 is offset, not scaled
    assert [m.expr for m in offsets] == [sp.Rational(1, 10), -sp.Rational(1, 10)]


def test_a_mutant_that_is_the_same_function_is_equivalent() -> None:
    dom = {MU.symbol: MU, S.symbol: S}
    symmetric = MU.symbol * S.symbol
    assert equivalent(symmetric, S.symbol * MU.symbol, dom)
    assert equivalent(sp.sqrt(S.symbol**2), S.symbol, dom)  # s > 0 on the domain
    assert not equivalent(MU.symbol + S.symbol, MU.symbol + S.symbol * sp.Rational(101, 100), dom)


def test_a_monte_carlo_check_catches_ten_percent_and_states_its_resolution(one_torch_thread) -> None:
    plan = SuitePlan([(_check(MEAN), THEOREM, "t.mean", "claim")])
    r = P.audit_monte_carlo(_check(MEAN), THEOREM, "t.mean", "claim", RunOptions(seed=3, tests_in_suite=plan.tests),
                            per_kind=2)
    assert r.original == "CONSISTENT" and r.catches_ten_percent is True and r.reason == ""
    assert r.claimed_resolution is not None and r.smallest_caught is not None
    # stderr s/sqrt(20000) ~ 1% of the value: errors of 0.1-0.5% are below the stated resolution and missed,
    # 5% and more far above it and caught
    assert r.claimed_resolution < 0.05 and r.smallest_caught <= 0.05
    assert all(not m.caught for m in r.mutants if m.kind == "scale" and abs(m.delta) <= 0.002)
    assert all(m.caught for m in r.mutants if m.kind == "scale" and abs(m.delta) >= 2 * r.claimed_resolution)
    for m in r.mutants:  # the deviation at the points is what the ladder says
        if m.kind == "scale":
            assert math.isclose(m.deviation, abs(m.delta), rel_tol=1e-9)


def test_the_audit_reuses_the_units_of_the_claim(one_torch_thread) -> None:
    calls = []

    def counting(points, n, gen, device):
        calls.append(n)
        return _normal(points, n, gen, device)

    check = MonteCarloCheck(claim=MEAN, simulate=counting, points=POINTS, process="normal", pilot_units=2000,
                            max_units=2000, min_chunk=2000, unit_size="none")
    P.audit_monte_carlo(check, THEOREM, "t.mean", "claim", RunOptions(seed=1), per_kind=1)
    assert sum(calls) == 2000 * len(POINTS)  # one pilot per point, nothing drawn again for the mutants


def test_a_bound_with_slack_is_listed_with_its_slack(one_torch_thread) -> None:
    r = P.audit_monte_carlo(_check(BOUND), THEOREM, "t.bound", "claim", RunOptions(seed=2), per_kind=1)
    assert r.original == "CONSISTENT"
    assert r.slack is not None and 0.28 < r.slack < 0.38  # the bound is 3/2 of the mean: a third of it is slack
    assert r.catches_ten_percent is False and "slack" in r.reason and not r.reason.startswith(P.DEFECT)
    tightened = [m for m in r.mutants if m.kind == "scale" and m.tightening and m.tightening > 0]
    assert all(m.caught for m in tightened if m.tightening >= 0.5)  # 3/4 of the mean: broken by 25%
    assert not any(m.caught for m in tightened if m.tightening <= 0.2)  # 6/5 of the mean: still a true bound
    assert r.smallest_caught == 0.5


def test_a_check_that_fails_its_claim_is_not_audited(one_torch_thread) -> None:
    r = P.audit_monte_carlo(_check(FALSE), THEOREM, "t.false", "claim", RunOptions(seed=0), per_kind=1)
    assert r.original == "REFUTED" and not r.mutants and "does not pass" in r.reason


def test_smallest_caught_needs_both_signs_and_every_larger_error() -> None:
    def res(delta: float, caught: bool) -> P.MutantResult:
        return P.MutantResult("scale", "", delta, abs(delta), None, "REFUTED" if caught else "CONSISTENT", caught)

    results = [res(0.1, True), res(-0.1, True), res(0.05, True), res(-0.05, False), res(0.02, True), res(-0.02, True)]
    assert P.smallest_caught(results, one_sided=False) == 0.1


X = Param("x", lo=0.5, hi=3)
IDENTITY = Identity(title="(x + 1)^2 = x^2 + 2x + 1", lhs=(X.symbol + 1) ** 2, rhs=X.symbol**2 + 2 * X.symbol + 1)
SIGN = Inequality(title="x^2 + 1 > 0", lhs=X.symbol**2 + 1, op=">", rhs=0)
SYMBOLIC = Theorem("numeric audit test", Source("tests"), params=(X,), claims=(IDENTITY, SIGN))


def test_the_numeric_check_catches_every_mutant_of_an_identity() -> None:
    r = P.audit_numeric(SYMBOLIC, IDENTITY, "t.identity", "claim", Settings(points=4), per_kind=2)
    assert r.catches_ten_percent is True and r.caught == r.tried > 10
    assert r.smallest_caught == min(P.NUMERIC_SCALES)


def test_a_sign_claim_is_listed_not_failed() -> None:
    r = P.audit_numeric(SYMBOLIC, SIGN, "t.sign", "claim", Settings(points=4), per_kind=2)
    assert r.catches_ten_percent is not True and not r.reason.startswith(P.DEFECT)
    assert any(m.caught for m in r.mutants if m.kind == "sign")  # -(x^2) + 1 > 0 fails at x = 3


def test_binomial_tail_and_clopper_pearson_match_the_sums() -> None:
    n = 20
    for k in (0, 1, 5, 20):
        direct = sum(math.comb(n, j) * 0.2**j * 0.8 ** (n - j) for j in range(k, n + 1))
        assert math.isclose(binomial_sf(k, n, 0.2), direct, rel_tol=1e-12)
    lo, hi = clopper_pearson(3, n)
    assert math.isclose(binomial_sf(3, n, lo), 0.025, rel_tol=1e-9)  # P(X >= 3; lo) = 2.5%
    assert math.isclose(1 - binomial_sf(4, n, hi), 0.025, rel_tol=1e-9)  # P(X <= 3; hi) = 2.5%
    assert clopper_pearson(0, n)[0] == 0.0 and clopper_pearson(n, n)[1] == 1.0
    assert math.isclose(clopper_pearson_upper(0, n), 1 - 0.05 ** (1 / n), rel_tol=1e-12)


def _calibrate(claim: ProcessClaim, seeds: int) -> C.Calibration:
    plan = SuitePlan([(_check(claim, 400), THEOREM, "t", "claim")])
    return C.calibrate(plan, list(range(seeds)), RunOptions(alpha=0.2, samples=400))


def test_calibration_keeps_the_rate_of_a_true_claim(one_torch_thread) -> None:
    cal = _calibrate(MEAN, 20)
    suite = C.summarize(cal.to_json())
    assert cal.tests == 2 and suite["tests_run"] == 40 and suite["runs_decided"] == 20
    assert suite["kept"] and suite["kept_per_test"], suite  # can fail with probability about LEVEL; seeds fixed


def test_calibration_fails_for_a_false_claim(one_torch_thread) -> None:
    cal = _calibrate(FALSE, 20)
    suite = C.summarize(cal.to_json())
    assert suite["runs_with_false_alarm"] == 20 and not suite["kept"]


def test_a_calibration_where_nothing_decided_is_not_kept_silently(one_torch_thread) -> None:
    def broken(points, n, gen, device):
        raise RuntimeError("out of memory")

    check = MonteCarloCheck(claim=MEAN, simulate=broken, points=POINTS, process="broken", pilot_units=400,
                            max_units=400, min_chunk=400, unit_size="none")
    cal = C.calibrate(SuitePlan([(check, THEOREM, "t", "claim")]), list(range(3)), RunOptions(alpha=0.2, samples=400))
    result = {"command": "audit calibration", "device": "cpu", **cal.to_json()}
    suite = C.summarize(result)
    assert suite["runs_decided"] == 0 and suite["tests_run"] == 0 and suite["runs_undecided"] == 3
    from bnsym.audit.cli import calibration_exit

    assert calibration_exit(result) == 3


ASYMPTOTIC_M = Param("M", lo=4, integer=True, sample_hi=64, law="log")
DECAY = ProcessClaim(title="E[x] = mu (1 - 1/M) + O(M^-2)", quantity="mean of x ~ N(mu (1 - 1/M), 1)",
                     value=MU.symbol * (1 - 1 / ASYMPTOTIC_M.symbol), var=ASYMPTOTIC_M, order=2)
DECAY_THEOREM = Theorem("asymptotic audit test", Source("tests"), params=(MU, ASYMPTOTIC_M), claims=(DECAY,))


def _decaying(points, n, gen, device):
    out = []
    for p in points:
        z = torch.randn(n, 1, generator=gen, dtype=torch.float64, device=device)
        out.append(p["mu"] - p["mu"] / p["M"] + 0.05 * z)
    return torch.stack(out)


def test_an_asymptotic_claim_is_mutated_in_the_coefficient_it_asserts(one_torch_thread) -> None:
    check = MonteCarloCheck(claim=DECAY, simulate=_decaying, points=[{"mu": 1.0, "M": m} for m in (4, 8, 16, 32)],
                            process="decaying", pilot_units=4000, max_units=4000, min_chunk=4000, unit_size="none")
    r = P.audit_monte_carlo(check, DECAY_THEOREM, "t.decay", "claim", RunOptions(seed=1), per_kind=1)
    ladder = [m for m in r.mutants if m.kind == "scale"]
    assert ladder and all(m.change.startswith("value - limit") for m in ladder)
    for m in ladder:  # the deviation of the tested part (value - limit) is exactly the ladder's delta
        assert math.isclose(m.deviation, abs(m.delta), rel_tol=1e-9)
    assert any(m.kind == "limit" and m.caught for m in r.mutants)  # an error in the limit is caught too
    # the coefficient is resolved to about 11% here (stderr 0.05/sqrt(4000) against a decaying part of 1/M):
    # the ladder catches 20% both ways, 10% not both, and the claim is listed for its resolution, not a defect
    assert r.claimed_resolution is not None and 0.05 < r.claimed_resolution < 0.2
    assert r.smallest_caught == 0.2 and r.catches_ten_percent is False
    assert "resolves" in r.reason and not r.reason.startswith(P.DEFECT)


ZERO_BOUND = ProcessClaim(title="E[-x] < 0", quantity="mean of -x", value=0, op="<")


def test_a_zero_bound_reports_its_absolute_slack_not_a_defect(one_torch_thread) -> None:
    def negative(points, n, gen, device):
        return -_normal(points, n, gen, device)

    check = MonteCarloCheck(claim=ZERO_BOUND, simulate=negative, points=POINTS, process="negative",
                            pilot_units=4000, max_units=4000, min_chunk=4000, unit_size="none")
    r = P.audit_monte_carlo(check, THEOREM, "t.zero", "claim", RunOptions(seed=1), per_kind=1)
    assert r.slack is not None and r.slack > 1  # E[-x] is -1.5 and -2.5 at the points: absolute slack
    assert "slack" in r.reason and not r.reason.startswith(P.DEFECT)


def test_equivalence_is_relative_even_for_small_values() -> None:
    dom = {MU.symbol: MU, S.symbol: S}
    tiny = sp.exp(-60 * MU.symbol) * S.symbol
    assert not equivalent(tiny, 2 * tiny, dom)
    # two forms of an expression identically 0 differ only by round-off, which shrinks at twice the digits
    m, s = MU.symbol, S.symbol
    zero = sp.sqrt(3) * ((m + s) ** 3 - (m**3 + 3 * m**2 * s + 3 * m * s**2 + s**3))
    assert equivalent(zero, zero.xreplace({m: s, s: m}), dom)
    assert not equivalent(zero, zero + sp.Rational(1, 10**25), dom)


def test_markdown_cells_escape_emphasis_and_pipes() -> None:
    from bnsym.audit.markdown import _cell

    assert _cell("x**2 | sigma_B `a`") == "x\\*\\*2 \\| sigma\\_B \\`a\\`"


def test_cli_audit_needs_a_subcommand(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audit"]) == 2
    assert "bnsym audit power" in capsys.readouterr().err


USER_FILE = """\
from bnsym import Identity, Param, Source, Theorem

x = Param("x", lo=0.5, hi=3)
square = Identity(title="(x + 1)^2", lhs=(x.symbol + 1) ** 2, rhs=x.symbol**2 + 2 * x.symbol + 1)
T = Theorem("a user's theorem", Source("tests"), params=(x,), claims=(square,))
"""


def test_cli_power_json_and_docs_from_saved_results(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    theorem = tmp_path / "mine.py"
    theorem.write_text(USER_FILE)
    code = main(["audit", "power", str(theorem), "--json", "--quiet", "--per-kind", "1", "--points", "4"])
    out = capsys.readouterr().out
    data = json.loads(out)
    assert code == 0 and data["claims"][0]["catches_ten_percent"] is True
    power = tmp_path / "power.json"
    power.write_text(out)
    cal = _calibrate(MEAN, 3)
    calib = tmp_path / "calibration.json"
    calib.write_text(json.dumps({"command": "audit calibration", "device": "cpu", **cal.to_json()}))
    doc = tmp_path / "audit.md"
    code = main(["audit", "docs", "-o", str(doc), "--power-json", str(power), "--calibration-json", str(calib)])
    text = doc.read_text()
    assert code == 0 and "mine.T.square" in text and "runs with a false alarm" in text
    assert main(["audit", "docs", "-o", str(tmp_path / "x.md"), "--power-json", str(calib),
                 "--calibration-json", str(calib)]) == 2
    assert not (tmp_path / "x.md").exists()
