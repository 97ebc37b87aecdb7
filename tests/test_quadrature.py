"""Gaussian expectations: the 2-D quadrature, the claim kind and its verdicts.

The teacher-student integrals of Luo et al. (delta = g'(s) (g(t) - g(s)), (s, t) ~ N(0, [[gamma^2,
gamma R], [gamma R, 1]])) are checked against their known closed forms for ReLU and erf activations
(NUMERIC), and with a planted slip (REFUTED, with the point, the quadrature and the claimed value).
The quadrature itself is tested on moments known exactly, on singular covariances, and on the Gauss
rules it is built from; integrands it cannot split are refused when the claim is declared.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import mpmath
import pytest
import sympy as sp

from bnsym import GaussianExpectation, Param, Source, Theorem
from bnsym.cli import EXIT_REFUTED, main
from bnsym.errors import DefinitionError
from bnsym.numeric import GUARD_DIGITS
from bnsym.quadrature import DEFAULT_DPS, DEFAULT_POINTS, gauss_rule, gaussian_expectation
from bnsym.verdict import Status
from bnsym.verify import Settings, verify_claim

gamma = Param("gamma", lo=0, lo_open=True, sample_lo=0.2, sample_hi=3)
R = Param("R", lo=-1, hi=1, lo_open=True, hi_open=True)
G, RR = gamma.symbol, R.symbol
s, t = sp.symbols("s t", real=True)
COV = ((G**2, G * RR), (G * RR, 1))

RELU = sp.Heaviside(s) * (sp.Max(0, t) - sp.Max(0, s)) * s  # g = max(0, u), g' = Heaviside(u)
RELU_I1 = G * (sp.pi * RR + 2 * sp.sqrt(1 - RR**2) + 2 * RR * sp.asin(RR)) / (4 * sp.pi) - G**2 / 2


def _erf(u: sp.Expr) -> sp.Expr:
    return sp.erf(u / sp.sqrt(2))


def _erf_prime(u: sp.Expr) -> sp.Expr:
    return sp.sqrt(2 / sp.pi) * sp.exp(-(u**2) / 2)


ERF = _erf_prime(s) * (_erf(t) - _erf(s)) * s
ERF_I1 = 2 / (sp.pi * (1 + G**2)) * (G * RR / sp.sqrt(2 + 2 * G**2 - G**2 * RR**2) - G**2 / sp.sqrt(1 + 2 * G**2))


def _claim(title: str, integrand: sp.Expr, value: sp.Expr) -> GaussianExpectation:
    return GaussianExpectation(title=title, integrand=integrand, variables=(s, t), covariance=COV, value=value)


DEFAULTS = Settings()
FORK = "fork" in multiprocessing.get_all_start_methods() and os.environ.get("BNSYM_NO_FORK") != "1"


def _verify(claim: GaussianExpectation, settings: Settings = DEFAULTS):
    theorem = Theorem("teacher-student integrals", Source("Luo et al. 2019"), (gamma, R), (claim,))
    verdict = verify_claim(theorem, claim, "test." + claim.title, "claim", settings)
    assert verdict is not None
    return verdict


def _at(expr: sp.Expr, point: dict[str, str], dps: int = 40) -> mpmath.mpf:
    with mpmath.workdps(dps):
        return mpmath.mpf(sp.N(expr.subs({G: sp.Float(point["gamma"], dps), RR: sp.Float(point["R"], dps)}), dps))


# -- verdicts ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("integrand,value", [(RELU, RELU_I1), (ERF, ERF_I1)], ids=["relu", "erf"])
def test_known_closed_forms_are_numeric(integrand: sp.Expr, value: sp.Expr) -> None:
    v = _verify(_claim("I1", integrand, value))
    assert v.status is Status.NUMERIC, v.summary
    assert v.method == "mpmath:quadrature"
    assert v.evidence["points"] == DEFAULT_POINTS and v.evidence["digits"] == DEFAULT_DPS
    assert v.evidence["strategies_tried"] == [] and "no symbolic attempt" in v.evidence["prover_note"]
    assert v.evidence["max_relative_deviation"] < 10.0 ** -(DEFAULT_DPS - GUARD_DIGITS)
    # what the verdict covered, in words: points, digits, the largest deviation
    assert f"{DEFAULT_POINTS} of {DEFAULT_POINTS} points" in v.summary
    assert f"{DEFAULT_DPS} digits" in v.summary and "largest relative deviation" in v.summary
    assert set(v.evidence["region"]) == {"gamma", "R"}


@pytest.mark.parametrize("wrong", [
    RELU_I1.subs(2 * RR * sp.asin(RR), 3 * RR * sp.asin(RR)),
    RELU_I1.subs(G**2 / 2, G**2 / 3),
], ids=["3R-asin", "gamma^2/3"])
def test_planted_error_is_refuted_with_a_counterexample(wrong: sp.Expr) -> None:
    assert wrong != RELU_I1
    v = _verify(_claim("I1 slipped", RELU, wrong))
    assert v.status is Status.REFUTED, v.summary
    assert v.method == "mpmath:quadrature"
    cx = v.evidence["counterexample"]
    assert {"gamma", "R", "quadrature", "claimed", "deviation", "error_estimate"} <= set(cx)
    assert 0.2 <= float(cx["gamma"]) <= 3 and -1 < float(cx["R"]) < 1
    # the quadrature is the true value there, the claimed value is the slipped form (the point is printed
    # to 20 digits, so both agree to about that)
    assert abs(mpmath.mpf(cx["quadrature"]) - _at(RELU_I1, cx)) < 1e-16
    assert abs(mpmath.mpf(cx["claimed"]) - _at(wrong, cx)) < 1e-16
    assert mpmath.mpf(cx["deviation"]) > 1e-6
    assert "stable at" in v.summary


def test_claim_that_cannot_be_integrated_is_undecided() -> None:
    v = _verify(_claim("sqrt", sp.sqrt(s), 0), Settings(quadrature_points=3))
    assert v.status is Status.UNDECIDED
    assert "could not integrate at 3 of 3 points" in v.summary
    assert "not a finite real number" in v.summary


@pytest.mark.skipif(not FORK, reason="budgets can stop a check only in a forked child")
def test_numeric_budget_spent_is_undecided() -> None:
    v = _verify(_claim("I1", ERF, ERF_I1), Settings(numeric_budget=0.05))
    assert v.status is Status.UNDECIDED
    assert "numeric budget of 0.05 s spent" in v.summary


# -- declaring the claim ----------------------------------------------------------------------------

@pytest.mark.parametrize("integrand,named", [
    (sp.Heaviside(s - 1), "Heaviside(s - 1)"),
    (sp.Max(0, s * t), "Max(0, s*t)"),
    (sp.Piecewise((1, s > 1), (0, True)), "Piecewise"),
    (sp.floor(s), "floor(s)"),
], ids=["shifted-heaviside", "product-kink", "piecewise", "floor"])
def test_unsupported_kink_is_a_definition_error(integrand: sp.Expr, named: str) -> None:
    with pytest.raises(DefinitionError) as err:
        _claim("kinked", integrand, 0)
    message = str(err.value)
    assert message.startswith("kinked: the integrand is not supported")
    assert named in message
    with pytest.raises(DefinitionError, match="not supported"):  # the quadrature refuses it as well
        gaussian_expectation(integrand, (s, t), ((1, 0), (0, 1)), {})


@pytest.mark.parametrize("kw,message", [
    (dict(variables=(s,)), "two symbols"),
    (dict(variables=(s, s)), "distinct"),
    (dict(covariance=((1, 0), (0, 1), (0, 0))), "2x2"),
    (dict(covariance=((G**2, G * RR), (RR, 1))), "not symmetric"),
    (dict(value=s * G), "depends on an integration variable"),
], ids=["one-variable", "same-variable", "3x2", "asymmetric", "value-in-s"])
def test_malformed_claim_is_a_definition_error(kw: dict, message: str) -> None:
    args = dict(title="bad", integrand=s * t, variables=(s, t), covariance=COV, value=G * RR)
    args.update(kw)
    with pytest.raises(DefinitionError, match=message):
        GaussianExpectation(**args)


def test_theorem_needs_no_domain_for_the_integration_variables() -> None:
    claim = _claim("I1", RELU, RELU_I1)
    assert claim.free_symbols() == {G, RR}
    assert claim.kind == "gaussian expectation"
    theorem = Theorem("integrals", Source("tests"), (gamma, R), (claim,))
    assert set(theorem.domain(claim)) == {G, RR}
    matrix = GaussianExpectation(title="matrix", integrand=s * t, variables=(s, t), covariance=sp.Matrix(COV),
                                 value=G * RR)
    assert matrix.covariance == COV
    with pytest.raises(DefinitionError) as err:  # a parameter without a domain is still caught
        Theorem("integrals", Source("tests"), (gamma,), (claim,))
    assert "symbols R have no declared domain" in str(err.value)


# -- the quadrature -------------------------------------------------------------------------------

POINT = {G: mpmath.mpf("1.7"), RR: mpmath.mpf("-0.35")}


def _relu_product(c11: mpmath.mpf, c12: mpmath.mpf, c22: mpmath.mpf) -> mpmath.mpf:
    r = c12 / mpmath.sqrt(c11 * c22)
    return (mpmath.sqrt(1 - r**2) + r * (mpmath.pi / 2 + mpmath.asin(r))) / (2 * mpmath.pi) * mpmath.sqrt(c11 * c22)


@pytest.mark.parametrize("integrand,exact", [
    (s**2, lambda c11, c12, c22: c11),
    (s * t, lambda c11, c12, c22: c12),
    (t**4, lambda c11, c12, c22: 3 * c22**2),
    (sp.Heaviside(s), lambda c11, c12, c22: mpmath.mpf(1) / 2),
    (sp.Max(0, s) * sp.Max(0, t), _relu_product),
    (sp.Abs(s - t), lambda c11, c12, c22: mpmath.sqrt(2 * (c11 - 2 * c12 + c22) / mpmath.pi)),
    (sp.cos(s), lambda c11, c12, c22: mpmath.exp(-c11 / 2)),
    (sp.exp(-(s**2) / 2 + s), lambda c11, c12, c22: mpmath.exp(c11 / (2 * (1 + c11))) / mpmath.sqrt(1 + c11)),
], ids=["s^2", "st", "t^4", "heaviside", "relu-product", "abs", "cos", "gaussian-factor"])
def test_quadrature_of_known_moments_is_exact_to_many_digits(integrand: sp.Expr, exact) -> None:
    dps = 30
    value, error = gaussian_expectation(integrand, (s, t), COV, POINT, dps)
    with mpmath.workdps(dps):
        g, r = POINT[G], POINT[RR]
        truth = exact(g**2, g * r, mpmath.mpf(1))
        assert abs(value - truth) <= 1e-25 * max(1, abs(truth))
        assert error <= 1e-15 * max(1, abs(truth))  # the estimate claims (conservatively) what was reached


@pytest.mark.parametrize("r", ["1", "-1"])
def test_singular_covariance_is_integrated(r: str) -> None:
    point = {G: mpmath.mpf("1.3"), RR: mpmath.mpf(r)}  # t = +-s/gamma: the law lives on a line
    value, error = gaussian_expectation(RELU, (s, t), COV, point, 30)
    with mpmath.workdps(30):
        g, rr = point[G], point[RR]
        truth = g * (mpmath.pi * rr + 2 * rr * mpmath.asin(rr)) / (4 * mpmath.pi) - g**2 / 2
        assert abs(value - truth) < 1e-25


def test_singular_covariance_with_a_jump_on_its_line_is_a_clear_error() -> None:
    point = {G: mpmath.mpf(1), RR: mpmath.mpf(1)}  # s == t almost surely: Heaviside(t - s) is Heaviside(0)
    with pytest.raises(ValueError, match="probability one"):
        gaussian_expectation(sp.Heaviside(t - s), (s, t), COV, point, 30)
    value, _ = gaussian_expectation(sp.Max(0, t - s), (s, t), COV, point, 30)  # a bend there is harmless
    assert value == 0
    with pytest.raises(ValueError, match="not positive semidefinite"):
        gaussian_expectation(s * t, (s, t), ((1, 2), (2, 1)), {}, 30)
    with pytest.raises(ValueError, match="diverges"):
        gaussian_expectation(sp.exp(s**2), (s, t), ((1, 0), (0, 1)), {}, 30)


@pytest.mark.parametrize("kind,n", [("rayleigh", 8), ("rayleigh", 48), ("legendre", 24)])
def test_gauss_rules_integrate_polynomials_exactly(kind: str, n: int) -> None:
    dps = 40
    nodes, weights = gauss_rule(kind, n, dps)
    with mpmath.workdps(dps):
        for k in range(2 * n):
            got = sum(w * x**k for x, w in zip(nodes, weights))
            if kind == "rayleigh":  # int_0^oo r^k r e^{-r^2/2} dr
                truth = mpmath.mpf(2) ** (mpmath.mpf(k) / 2) * mpmath.gamma(mpmath.mpf(k) / 2 + 1)
            else:
                truth = mpmath.mpf(2) / (k + 1) if k % 2 == 0 else mpmath.mpf(0)
            assert abs(got - truth) <= 10.0 ** -(dps - 5) * max(1, abs(truth)), (k, got, truth)


# -- the command line and the pytest plugin -------------------------------------------------------

DERIVATION = '''\
    """Luo et al.'s I1 for ReLU: right, and with gamma^2/3 for gamma^2/2."""
    import sympy as sp

    from bnsym import GaussianExpectation, Param, Source, Theorem

    gamma = Param("gamma", lo=0, lo_open=True, sample_lo=0.2, sample_hi=3)
    R = Param("R", lo=-1, hi=1, lo_open=True, hi_open=True)
    g, r = gamma.symbol, R.symbol
    s, t = sp.symbols("s t", real=True)
    relu = sp.Heaviside(s) * (sp.Max(0, t) - sp.Max(0, s)) * s
    cov = ((g**2, g * r), (g * r, 1))

    first = g * (sp.pi * r + 2 * sp.sqrt(1 - r**2) + 2 * r * sp.asin(r)) / (4 * sp.pi)

    i1 = GaussianExpectation(title="I1 (ReLU)", integrand=relu, variables=(s, t), covariance=cov,
                             value=first - g**2 / 2)
    i1_slipped = GaussianExpectation(title="I1 (ReLU), slipped", integrand=relu, variables=(s, t), covariance=cov,
                                     value=first - g**2 / 3)
    integrals = Theorem("Teacher-student integrals", Source("Luo et al. 2019"), params=(gamma, R),
                        claims=(i1, i1_slipped))
'''


def test_cli_verifies_a_file_of_gaussian_expectations(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "teacher.py"
    path.write_text(textwrap.dedent(DERIVATION))
    code = main(["verify", str(path), "--quiet", "--json"])
    data = json.loads(capsys.readouterr().out)
    assert code == EXIT_REFUTED
    claims = {c["id"]: c for c in data["theorems"][0]["claims"]}
    right, slipped = claims["teacher.integrals.i1"], claims["teacher.integrals.i1_slipped"]
    assert right["status"] == "NUMERIC" and right["kind"] == "gaussian expectation"
    assert right["method"] == "mpmath:quadrature"
    assert slipped["status"] == "REFUTED" and "quadrature" in slipped["evidence"]["counterexample"]


def test_pytest_plugin_collects_gaussian_expectations(tmp_path: Path) -> None:
    (tmp_path / "teacher_claims.py").write_text(textwrap.dedent(DERIVATION))
    (tmp_path / "pytest.ini").write_text("[pytest]\nbnsym_files = teacher_*.py\naddopts = -p no:cacheprovider\n")
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-rf", "teacher_claims.py"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    assert "1 failed, 1 passed" in out, out
    assert "teacher_claims.integrals.i1_slipped: REFUTED: quadrature differs" in out, out
    assert "counterexample: {" in out and "'quadrature'" in out
