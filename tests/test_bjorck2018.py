"""Bjorck et al. (section B, theorems B1 and B2): the simulators against autograd and linear algebra, their
argument checks, the Wick pairing count against the scalar Gaussian moments and a wrong transition matrix it
refutes, the checks wired to their claims, and mutants of the closed forms refuted by the same checks (and, for
the edge and the pairing count, by the prover)."""

from __future__ import annotations

import dataclasses
import math

import pytest
import sympy as sp
import torch

from bnsym import Asymptotic, Inequality, ProcessClaim, Source, Theorem
from bnsym.errors import UsageError
from bnsym.mc.engine import MonteCarloCheck, RunOptions, run_check
from bnsym.sim import matrices as MX
from bnsym.sim import minibatch as MB
from bnsym.verdict import Status
from bnsym.verify import verify_claim
from checks.bjorck2018 import noise as NC
from checks.bjorck2018 import products as PC
from derivations.bjorck2018 import noise as B1
from derivations.bjorck2018 import products as B2

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# -- per-example gradients and mini-batches ----------------------------------------------------------------
@pytest.fixture
def mlp():
    return MB.synthetic_mlp(12, 3, 4, _gen(1))


def test_per_example_gradients_match_autograd_one_example_at_a_time(mlp):
    grads = MB.per_example_gradients(mlp)
    for i in range(mlp.examples):
        params = {k: v.clone().requires_grad_(True) for k, v in mlp.params.items()}
        auto = torch.autograd.grad(MB.example_loss(params, mlp.x[i], mlp.y[i]), [params[k] for k in
                                                                                  ("w1", "b1", "w2", "b2")])
        torch.testing.assert_close(grads[i], torch.cat([a.reshape(-1) for a in auto]), rtol=1e-12, atol=1e-14)


def test_mean_gradient_is_the_full_batch_gradient(mlp):
    params = {k: v.clone().requires_grad_(True) for k, v in mlp.params.items()}
    auto = torch.autograd.grad(MB.mean_loss(mlp, params), [params[k] for k in ("w1", "b1", "w2", "b2")])
    torch.testing.assert_close(MB.per_example_gradients(mlp).mean(0), torch.cat([a.reshape(-1) for a in auto]),
                               rtol=1e-12, atol=1e-14)


def test_spread_is_the_mean_square_minus_the_square_of_the_mean(mlp):
    g = MB.per_example_gradients(mlp)
    torch.testing.assert_close(MB.spread(g), (g**2).sum(-1).mean() - (g.mean(0) ** 2).sum(), rtol=1e-12, atol=0)
    assert float(MB.spread(g)) > 0


def test_batches_without_replacement_are_subsets_and_with_replacement_repeat():
    idx = MB.draw_batches(10, 7, 500, _gen(2), replacement=False)
    assert idx.shape == (500, 7) and int(idx.min()) >= 0 and int(idx.max()) < 10
    assert all(len(set(row.tolist())) == 7 for row in idx)
    rep = MB.draw_batches(10, 7, 500, _gen(2), replacement=True)
    assert int(rep.max()) < 10 and any(len(set(row.tolist())) < 7 for row in rep)


def test_step_errors_are_the_distance_of_the_batch_mean(mlp):
    g = MB.per_example_gradients(mlp)
    errs = MB.step_errors(g, 5, 40, _gen(3), replacement=False, learning_rate=0.3)
    idx = MB.draw_batches(mlp.examples, 5, 40, _gen(3), replacement=False)
    torch.testing.assert_close(errs, ((0.3 * (g.mean(0) - g[idx].mean(1))) ** 2).sum(-1), rtol=1e-12, atol=0)
    full = MB.step_errors(g, mlp.examples, 10, _gen(4), replacement=False)
    assert float(full.max()) < 1e-28 * float((g**2).sum())  # a full batch is the full gradient, up to round-off


def test_step_errors_in_slices_are_the_slices_of_batches_drawn_in_turn(mlp, monkeypatch):
    g = MB.per_example_gradients(mlp)
    monkeypatch.setattr(MB, "SLICE_ELEMENTS", 3 * g.shape[1] * 7)  # slices of 7 batches: 7, 7, ..., 1
    sliced = MB.step_errors(g, 3, 50, _gen(5), replacement=True)
    gen = _gen(5)
    by_hand = [((g.mean(0) - g[MB.draw_batches(12, 3, m, gen, replacement=True)].mean(1)) ** 2).sum(-1)
               for m in [7] * 7 + [1]]
    torch.testing.assert_close(sliced, torch.cat(by_hand), rtol=1e-12, atol=0)


@pytest.mark.parametrize("call", [
    lambda g: MB.step_errors(g, 13, 5, _gen(), replacement=False),  # more than N without replacement
    lambda g: MB.step_errors(g, 0, 5, _gen(), replacement=True),
    lambda g: MB.step_errors(g, 2, 5, _gen(), replacement=True, learning_rate=0.0),
    lambda g: MB.step_errors(g[0], 2, 5, _gen(), replacement=True),
    lambda g: MB.step_errors(g, 2, 5, "seed", replacement=True),
    lambda g: MB.draw_batches(10, 2, 5, _gen(), replacement="yes"),
    lambda g: MB.spread(g[:1]),
    lambda g: MB.synthetic_mlp(1, 3, 4, _gen()),
    lambda g: MB.per_example_gradients(g),
    lambda g: MB.spread(torch.where(g == g[0, 0], torch.nan, g)),
    lambda g: MB.step_errors(torch.where(g == g[1, 1], torch.inf, g), 2, 5, _gen(), replacement=True),
])
def test_minibatch_argument_errors(mlp, call):
    with pytest.raises(UsageError):
        call(MB.per_example_gradients(mlp))


def test_non_finite_gradients_are_named():
    g = torch.tensor([[1.0, torch.nan], [0.0, 1.0]], dtype=torch.float64)
    with pytest.raises(UsageError, match="finite"):
        MB.spread(g)


# -- Gaussian products ---------------------------------------------------------------------------------------
def test_products_are_the_factors_multiplied_in_order():
    A = MX.products(3, 4, 5, _gen(6))
    gen = _gen(6)
    W = [torch.randn(3, 5, 5, generator=gen, dtype=torch.float64) / math.sqrt(5) for _ in range(4)]
    torch.testing.assert_close(A, W[3] @ W[2] @ W[1] @ W[0], rtol=1e-12, atol=1e-14)


def test_norm_ratios_use_the_same_draws_as_products():
    x = torch.tensor([0.5, -1.0, 2.0, 0.0], dtype=torch.float64)
    ratios = MX.norm_ratios(x, 6, 3, _gen(7))
    A = MX.products(6, 3, 4, _gen(7))
    torch.testing.assert_close(ratios, ((A @ x) ** 2).sum(-1) / (x**2).sum(), rtol=1e-12, atol=0)


def test_trace_moments_and_singular_values_from_the_spectrum():
    A = MX.products(4, 2, 6, _gen(8))
    eig = torch.linalg.eigvalsh(A @ A.transpose(-1, -2))
    expected = torch.stack([(eig**m).sum(-1) / 6 for m in (1, 2, 3, 4, 5)], dim=-1)
    torch.testing.assert_close(MX.trace_moments(A, (1, 2, 3, 4, 5)), expected, rtol=1e-10, atol=0)
    stats = MX.product_statistics(4, 2, 6, _gen(8), orders=(2,), singular=True)
    torch.testing.assert_close(stats[:, 0], expected[:, 1], rtol=1e-10, atol=0)
    torch.testing.assert_close(stats[:, 1], torch.linalg.matrix_norm(A, ord=2), rtol=1e-12, atol=0)
    cond = torch.linalg.cond(A)
    torch.testing.assert_close(stats[:, 2], torch.log10(cond), rtol=1e-9, atol=0)


@pytest.mark.parametrize("call", [
    lambda: MX.products(0, 2, 3, _gen()),
    lambda: MX.products(2, 0, 3, _gen()),
    lambda: MX.products(2, 2, 3, "gen"),
    lambda: MX.norm_ratios(torch.zeros(3, dtype=torch.float64), 2, 2, _gen()),
    lambda: MX.norm_ratios([1.0, 2.0], 2, 2, _gen()),
    lambda: MX.trace_moments(torch.zeros(2, 3, 4), (2,)),
    lambda: MX.trace_moments(torch.zeros(2, 3, 3), (0,)),
    lambda: MX.product_statistics(2, 2, 3, _gen()),
    lambda: MX.product_statistics(2, 2, 3, _gen(), orders=(2,), singular="yes"),
    lambda: MX.product_statistics(2, 2, 3, _gen(), orders="2"),
    lambda: MX.trace_moments(torch.zeros(2, 3, 3, dtype=torch.float64), ()),
    lambda: MX.trace_moments(torch.full((2, 3, 3), torch.nan, dtype=torch.float64), (2,)),
    lambda: MX.norm_ratios(torch.tensor([1.0, torch.inf], dtype=torch.float64), 2, 2, _gen()),
])
def test_matrix_argument_errors(call):
    with pytest.raises(UsageError):
        call()


@pytest.mark.parametrize("bad", [torch.inf, -torch.inf, torch.nan])
def test_a_non_finite_x_is_named_as_such(bad):
    with pytest.raises(UsageError, match="finite"):
        MX.norm_ratios(torch.tensor([1.0, bad], dtype=torch.float64), 2, 2, _gen())


# -- the Wick pairing count -------------------------------------------------------------------------------------
@pytest.mark.parametrize("partitions", [B2.PARTITIONS_2, B2.PARTITIONS_3, ((4,), (3, 1), (2, 2), (2, 1, 1),
                                                                          (1, 1, 1, 1))])
def test_the_pairing_count_at_one_row_gives_the_scalar_gaussian_moments(partitions):
    """At N = 1, W is one N(0, 1) number and every p_mu(P) is p^n: each row of the count sums to E[w^(2n)] =
    (2n - 1)!!, independently of how the pairings are sorted into classes."""
    T = B2.pairing_count(partitions, sp.Integer(1))
    n = sum(partitions[0])
    assert all(sum(T.row(r)) == sp.factorial2(2 * n - 1) for r in range(T.rows))


def test_the_pairing_count_counts_every_pairing():
    assert len(list(B2.pairings(list(range(6))))) == 15 and len(list(B2.pairings(list(range(8))))) == 105


def test_a_transition_matrix_right_at_N_3_only_is_refuted_by_the_count():
    """T3[0, 0] = 1 + 3/N + 12/N^3 equals 1 + 3/N + 4/N^2 at N = 3 only: the expectation at N = 3 proves it, the
    pairing count for symbolic N refutes it."""
    N = B2.N.symbol
    wrong = B2.T3.copy()
    wrong[0, 0] = 1 + 3 / N + 12 / N**3
    assert sp.simplify(wrong[0, 0] - B2.T3[0, 0]).subs(N, 3) == 0
    assert _verify(B2._wick_step(3, wrong, B2.PARTITIONS_3)) is Status.PROVEN
    assert _verify(B2._counted(wrong, B2.PARTITIONS_3)) is Status.REFUTED


def test_remainder_degrees_decide_the_fc_ladders():
    """The exact remainder E tr((A A')^n)/N - FC_k(n) is a polynomial in 1/N of degree k (n = 2) and 2k (n = 3):
    the engine's fit c1/N + c2/N^2 is exact on the check's ladders and would not be at k = 3."""
    N, k = B2.N.symbol, B2.k.symbol
    eps = sp.Symbol("eps", positive=True)

    def degree(moment: sp.Expr, kk: int, nn: int) -> int:
        rem = sp.expand(sp.simplify((moment.subs(k, kk) - B2.fuss_catalan(kk, nn)).subs(N, 1 / eps)))
        return sp.Poly(rem, eps).degree()

    moments = {2: B2.moment2, 3: B2.moment3}
    for kk, nn in PC.FC_SETTINGS:
        assert degree(moments[nn], kk, nn) <= 2
    assert degree(B2.moment2, 3, 2) == 3 and degree(B2.moment3, 2, 3) == 4


# -- wiring --------------------------------------------------------------------------------------------------
def test_checks_are_wired_to_their_claims():
    from bnsym.registry import load  # noqa: PLC0415

    reg, _ = load(["bjorck2018"], with_checks=True)
    for cid in ("B1.sgd_noise_with", "B1.sgd_noise_without", "B2.norm_process",
                "B2.moment2_process", "B2.moment3_process", "B2.fc_process", "B2.largest_singular_value",
                "B2.condition_number"):
        assert reg.checks.get(f"bjorck2018.{cid}"), cid


# -- mutants: a wrong closed form is refuted by the same check -------------------------------------------------
def _status(claim: ProcessClaim, check: MonteCarloCheck, theorem: Theorem, samples: int, points=None) -> Status:
    scratch = Theorem(title="mutant", source=Source("test"), params=theorem.params, claims=(claim,))
    replaced = dataclasses.replace(check, claim=claim, **({"points": points} if points is not None else {}))
    return run_check(replaced, scratch, "mutant", RunOptions(seed=11, samples=samples)).status


def _mutant(claim: ProcessClaim, value: sp.Expr) -> ProcessClaim:
    return dataclasses.replace(claim, title=f"mutant of {claim.title}", value=value)


_a, _C, _N, _b = B1.alpha.symbol, B1.C.symbol, B1.N.symbol, B1.batch.symbol
_NOISE = NC.points(("with", "without"), ((16, 4, 1.0), (16, 12, 0.5)))


def _noise_points(mode: str):
    return [p for p in _NOISE if p["replacement"] == mode]


@pytest.mark.parametrize("mode, claim, check", [("with", B1.sgd_noise_with, NC.with_check),
                                                ("without", B1.sgd_noise_without, NC.without_check)])
def test_true_noise_forms_are_consistent(mode, claim, check):
    assert _status(claim, check, B1.B1, 4_000, _noise_points(mode)) is Status.CONSISTENT


@pytest.mark.parametrize("value", [
    B1.with_replacement,  # no finite-population factor
    _a**2 * _C / (_b - 1) * (_N - _b) / (_N - 1),  # C/(|B| - 1)
    sp.Rational(11, 10) * B1.without_replacement,  # 10% off
    _a**2 * _C / _b * (1 - _b / _N),  # the factor 1 - |B|/N of C_u used with the 1/N spread C
])
def test_wrong_without_replacement_forms_are_refuted(value):
    mutant = _mutant(B1.sgd_noise_without, value)
    assert _status(mutant, NC.without_check, B1.B1, 4_000, _noise_points("without")) is Status.REFUTED


@pytest.mark.parametrize("value", [
    _a**2 * _C / (_b - 1),  # C/(|B| - 1)
    sp.Rational(11, 10) * B1.with_replacement,
    _a**2 * _C * _N / ((_N - 1) * _b),  # C taken with 1/(N-1): alpha^2 C_u/|B| in terms of the 1/N spread
])
def test_wrong_with_replacement_forms_are_refuted(value):
    mutant = _mutant(B1.sgd_noise_with, value)
    assert _status(mutant, NC.with_check, B1.B1, 4_000, _noise_points("with")) is Status.REFUTED


def test_norm_preservation_holds_and_a_ten_percent_gain_is_refuted():
    pts = [{"k": 3, "N": 16}]
    assert _status(B2.norm_process, PC.norm_check, B2.B2, 8_000, pts) is Status.CONSISTENT
    assert _status(_mutant(B2.norm_process, sp.Rational(11, 10)), PC.norm_check, B2.B2, 8_000, pts) is Status.REFUTED


_MOMENT_POINTS = [{"k": 1, "N": 8}, {"k": 3, "N": 16}]


@pytest.mark.parametrize("claim, check", [(B2.moment2_process, PC.moment2_check),
                                          (B2.moment3_process, PC.moment3_check)])
def test_exact_moments_hold_and_ten_percent_off_is_refuted(claim, check):
    assert _status(claim, check, B2.B2, 6_000, _MOMENT_POINTS) is Status.CONSISTENT
    assert _status(_mutant(claim, sp.Rational(11, 10) * claim.value), check, B2.B2, 6_000,
                   _MOMENT_POINTS) is Status.REFUTED


def test_the_limit_as_exact_moment_is_refuted_at_finite_N():
    """The Fuss-Catalan value k + 1 put in place of the finite-N moment misses the 1/N terms."""
    mutant = _mutant(B2.moment2_process, B2.k.symbol + 1)
    assert _status(mutant, PC.moment2_check, B2.B2, 6_000, _MOMENT_POINTS) is Status.REFUTED


_FC_POINTS = [p for p in PC.FC_POINTS if (p["k"], p["n"]) == (1, 2)]
_k, _n = B2.k.symbol, B2.n.symbol


@pytest.mark.parametrize("value, status", [
    (B2.fuss_catalan(_k, _n), Status.CONSISTENT),
    (sp.binomial((_k + 2) * _n, _n) / (_k * _n + 1), Status.REFUTED),  # (k+2) n in place of (k+1) n
    (sp.Rational(11, 10) * B2.fuss_catalan(_k, _n), Status.REFUTED),
])
def test_fuss_catalan_limit_and_its_mutants(value, status):
    assert _status(_mutant(B2.fc_process, value), PC.fc_check, B2.B2, 3_000, _FC_POINTS) is status


def test_a_wrong_remainder_order_is_refuted():
    """FC_k(n) + O(1/N^2) (a wrong exponent) is refuted: at k = 1, n = 2 the remainder is exactly 1/N, which the
    fit c2/N^2 + c3/N^3 cannot absorb."""
    mutant = dataclasses.replace(B2.fc_process, title="order 2", order=2)
    assert _status(mutant, PC.fc_check, B2.B2, 3_000, _FC_POINTS) is Status.REFUTED


# -- the edge: mutants refuted by the prover -------------------------------------------------------------------
def _verify(claim) -> Status:
    scratch = Theorem(title="mutant", source=Source("test"), params=B2.B2.params, claims=(claim,))
    return verify_claim(scratch, claim, "mutant").status


@pytest.mark.parametrize("kk", [3, 5])
def test_an_edge_with_k_to_the_k_plus_1_is_refuted(kk):
    kk_ = sp.Integer(kk)
    wrong = (kk_ + 1) ** (kk_ + 1) / kk_ ** (kk_ + 1)
    assert _verify(dataclasses.replace(getattr(B2, f"edge_{kk}"), rhs=wrong)) is Status.REFUTED
    printed, half = B2.printed_value(B2.PRINTED[kk])
    decimals = Inequality(title="mutant decimals", lhs=sp.Abs(sp.sqrt(wrong) - printed), op="<=", rhs=half)
    assert _verify(decimals) is Status.REFUTED


def test_an_edge_ten_percent_off_is_refuted():
    edge3 = B2.edge(sp.Integer(3))
    assert _verify(Asymptotic(title="mutant", lhs=B2.ratio(3), rhs=sp.Rational(11, 10) * edge3, var=B2.n,
                              order=1)) is Status.REFUTED
    assert _verify(dataclasses.replace(B2.decimals_3, lhs=sp.Abs(sp.sqrt(sp.Rational(11, 10) * edge3)
                                                                  - B2.printed_value(B2.PRINTED[3])[0]))) \
        is Status.REFUTED



def test_an_edge_with_k_to_the_k_plus_1_is_refuted_for_symbolic_k():
    kp = B2.k_pos.symbol
    wrong = sp.exp((kp + 1) * sp.log(kp + 1) - (kp + 1) * sp.log(kp))
    assert _verify(dataclasses.replace(B2.edge_every_k, rhs=wrong)) is Status.REFUTED


def test_the_printed_one_is_not_a_decimal_approximation_but_the_edge():
    assert _verify(dataclasses.replace(B2.decimals_1, rhs=sp.Rational(2001, 1000))) is Status.REFUTED
