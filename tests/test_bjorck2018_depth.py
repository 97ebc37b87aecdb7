"""Bjorck et al. (section B, B3): the residual-MLP simulator against independent computations, its argument
checks, the checks and figures wired to their claims, and mutants of the closed forms refuted by their checks.

The simulator is checked against the process itself, never against a formula under test: its BN against a
hand-written normalization, the activations against a hand-written forward pass on the same draws, the
logits, the one-step relative loss and the SGD steps against a torch.nn.Module network trained by
torch.optim.SGD with the same weights and mini-batches.
"""

from __future__ import annotations

import dataclasses
import math

import pytest
import sympy as sp
import torch
from torch import nn

from bnsym import ProcessClaim, Source, Theorem
from bnsym.errors import UsageError
from bnsym.mc.engine import MonteCarloCheck, RunOptions, run_check
from bnsym.sim import resnet as R
from bnsym.verdict import Status
from checks.bjorck2018 import activations as AC
from checks.bjorck2018 import divergence as DC
from derivations.bjorck2018 import depth as B

pytestmark = pytest.mark.usefixtures("one_torch_thread")
F64 = torch.float64


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _hand_bn(h: torch.Tensor, eps: float) -> torch.Tensor:
    mean = h.mean(-2, keepdim=True)
    var = ((h - mean) ** 2).mean(-2, keepdim=True)
    return (h - mean) / torch.sqrt(var + eps)


# -- BN and the activations -------------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(3, 7, 5), (2, 3, 6, 4)])
def test_batch_norm_is_the_hand_written_normalization(shape):
    h = 3 * torch.randn(*shape, generator=_gen(1), dtype=F64) + 1
    for eps in (1e-12, 0.5):
        torch.testing.assert_close(R.batch_norm(h, eps), _hand_bn(h, eps), rtol=1e-12, atol=1e-12)
    u = R.batch_norm(h)
    var = h.var(-2, unbiased=False, keepdim=True)
    torch.testing.assert_close((u * u).mean(-2, keepdim=True), var / (var + R.BN_EPS), rtol=1e-12, atol=0)


def test_activations_follow_the_documented_draws():
    B_, M, d, n, L, s2, v = 4, 6, 3, 5, 3, 2.0, 1.7
    ms = R.activations(B_, M, d, n, L, s2, _gen(2), input_variance=v)
    gen = _gen(2)
    x = torch.randn(B_, M, d, generator=gen, dtype=F64)
    w_in = torch.randn(B_, d, n, generator=gen, dtype=F64) * math.sqrt(v / d)
    plain = bn = x @ w_in
    expect = [[], []]
    for layer in range(L + 1):
        for i, h in enumerate((plain, bn)):
            expect[i].append((h**2).sum((-2, -1)) / (M * n))
        if layer < L:
            w = torch.randn(B_, n, n, generator=gen, dtype=F64) * math.sqrt(s2 / n)
            plain = plain + torch.relu(plain) @ w
            bn = bn + torch.relu(_hand_bn(bn, R.BN_EPS)) @ w
    torch.testing.assert_close(ms, torch.stack([torch.stack(e, -1) for e in expect]), rtol=1e-12, atol=0)
    only_bn = R.activations(B_, M, d, n, L, s2, _gen(2), input_variance=v, variants=(True,))
    torch.testing.assert_close(only_bn[0], ms[1], rtol=0, atol=0)  # the same draws whichever variants run


def test_bn_keeps_every_unit_at_batch_mean_square_one_so_the_mean_square_grows_by_at_most_sigma_w2():
    """The deterministic half of the bound: per instance ms_{l+1} - ms_l = 2 h.Wr/(Mn) + ||Wr||^2/(Mn) with
    rel_l = ||relu(u_l)||^2/(Mn) <= var/(var + eps) <= 1 for every unit."""
    h = torch.randn(5, 8, 6, generator=_gen(3), dtype=F64) * 4
    u = R.batch_norm(h)
    rel = torch.relu(u).pow(2).mean((-2, -1))
    assert bool((rel <= 1).all()) and bool((rel > 0).all())


# -- the network against torch.nn ------------------------------------------------------------------------------
class _Net(nn.Module):
    """The residual MLP as a torch.nn.Module (row convention h W = nn.Linear with weight W')."""

    def __init__(self, net: R.Network, b: int, bn: bool) -> None:
        super().__init__()
        d, n = net.w_in.shape[-2:]
        C = net.w_out.shape[-1]
        self.inp = nn.Linear(d, n, bias=False).double()
        self.inp.weight.data = net.w_in[b].T.clone()
        self.blocks = nn.ModuleList()
        for layer in range(net.depth):
            lin = nn.Linear(n, n, bias=False).double()
            lin.weight.data = net.blocks[b, layer].T.clone()
            self.blocks.append(lin)
        self.norms = nn.ModuleList(nn.BatchNorm1d(n, eps=R.BN_EPS, affine=False, track_running_stats=False).double()
                                   for _ in range(net.depth)) if bn else None
        self.out = nn.Linear(n, C, bias=False).double()
        self.out.weight.data = net.w_out[b].T.clone()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.inp(x)
        for layer, block in enumerate(self.blocks):
            a = self.norms[layer](h) if self.norms is not None else h
            h = h + block(torch.relu(a))
        return self.out(h)


@pytest.fixture
def problem():
    gen = _gen(4)
    data = R.synthetic_data(3, 12, 5, 4, gen)
    net = R.init_network(3, 5, 7, 4, 4, 2.0, gen)
    return data, net


def test_synthetic_labels_are_the_teachers_argmax(problem):
    data, _ = problem
    scores = torch.einsum("bnd,bdc->bnc", data.x, data.teacher)
    assert torch.equal(data.labels, scores.argmax(-1))


@pytest.mark.parametrize("bn", [False, True])
def test_logits_and_loss_match_the_nn_module(problem, bn):
    data, net = problem
    logits = R.forward(data.x, net, bn)
    ce = R.loss(logits, data.labels)
    for b in range(3):
        model = _Net(net, b, bn)
        torch.testing.assert_close(logits[b], model(data.x[b]), rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(ce[b], nn.functional.cross_entropy(model(data.x[b]), data.labels[b]),
                                   rtol=1e-12, atol=0)


@pytest.mark.parametrize("bn", [False, True])
def test_relative_loss_is_one_sgd_step_of_the_nn_module(problem, bn):
    data, net = problem
    rates = [1e-3, 0.1, 3.0]
    runs = R.relative_loss(data, net, bn, rates)
    assert runs.ratio.shape == (3, 3, 1)
    for i, lr in enumerate(rates):
        for b in range(3):
            model = _Net(net, b, bn)
            opt = torch.optim.SGD(model.parameters(), lr=lr)
            before = nn.functional.cross_entropy(model(data.x[b]), data.labels[b])
            before.backward()
            opt.step()
            with torch.no_grad():
                after = nn.functional.cross_entropy(model(data.x[b]), data.labels[b])
            torch.testing.assert_close(runs.ratio[i, b, 0], after / before.detach(), rtol=1e-10, atol=0)
            torch.testing.assert_close(runs.initial[b], before.detach(), rtol=1e-12, atol=0)


@pytest.mark.parametrize("bn", [False, True])
def test_sgd_steps_match_the_nn_module_on_the_same_minibatches(problem, bn):
    data, net = problem
    steps, batch, lr = 3, 6, 0.05
    runs = R.relative_loss(data, net, bn, [lr], steps=steps, batch=batch, gen=_gen(5))
    for b in range(3):
        picks = _gen(5)
        model = _Net(net, b, bn)
        opt = torch.optim.SGD(model.parameters(), lr=lr)
        x, y = data.x[b], data.labels[b]
        first = nn.functional.cross_entropy(model(x), y)
        first.backward()
        opt.step()
        for k in range(1, steps):
            pick = torch.randperm(x.shape[0], generator=picks)[:batch]
            opt.zero_grad()
            nn.functional.cross_entropy(model(x[pick]), y[pick]).backward()
            opt.step()
            with torch.no_grad():
                ratio = nn.functional.cross_entropy(model(x), y) / first.detach()
            torch.testing.assert_close(runs.ratio[0, b, k], ratio, rtol=1e-10, atol=0)


def test_a_diverging_step_is_recorded_not_raised(problem):
    data, net = problem
    runs = R.relative_loss(data, net, False, [1e300])
    assert bool((~torch.isfinite(runs.ratio) | (runs.ratio > 1e3)).all())
    star = R.divergence_threshold(runs.ratio[..., 0], runs.learning_rates, 1e3)
    assert torch.allclose(star, torch.full_like(star, 300.0))


def test_divergence_threshold_reads_the_first_rate_beyond_the_criterion():
    rates = torch.tensor([1e-3, 1e-2, 1e-1, 1.0], dtype=F64)
    ratio = torch.tensor([[0.5, 0.9, 1.0], [2e3, 0.8, 5.0], [float("nan"), 1e4, 7.0], [1e5, 1e6, 9.0]], dtype=F64)
    star = R.divergence_threshold(ratio, rates, 1e3)
    torch.testing.assert_close(star, torch.tensor([-2.0, -1.0, 0.0], dtype=F64))  # the last is censored at the top
    torch.testing.assert_close(R.censored(ratio, 1e3), torch.tensor([0.0, 0.0, 1.0], dtype=F64))


def test_the_grid_is_the_derivations():
    rates = DC.learning_rates()
    lo, hi, per = B.GRID
    assert len(rates) == (hi - lo) * per + 1
    assert math.isclose(rates[0], 10.0**lo) and math.isclose(rates[-1], 10.0**hi)
    assert DC.CRITERION == 1e3


# -- argument errors ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("call", [
    lambda d, n: R.synthetic_data(0, 10, 3, 2, _gen()),
    lambda d, n: R.synthetic_data(2, 1, 3, 2, _gen()),
    lambda d, n: R.synthetic_data(2, 10, 3, 1, _gen()),
    lambda d, n: R.synthetic_data(2, 10, 3, 2, "not a generator"),
    lambda d, n: R.init_network(2, 3, 0, 2, 2, 2.0, _gen()),
    lambda d, n: R.init_network(2, 3, 4, 2, 2, -1.0, _gen()),
    lambda d, n: R.init_network(2, 3, 4, 2, 2, 2.0, _gen(), input_variance=0.0),
    lambda d, n: R.activations(2, 4, 3, 4, 2, float("nan"), _gen()),
    lambda d, n: R.activations(2, 4, 3, 4, 2.5, 2.0, _gen()),
    lambda d, n: R.activations(2, 4, 3, 4, 2, 2.0, _gen(), variants=()),
    lambda d, n: R.activations(2, 4, 3, 4, 2, 2.0, _gen(), variants=("bn",)),
    lambda d, n: R.activations(2, 4, 3, 4, 2, 2.0, _gen(), eps=0.0),
    lambda d, n: R.relative_loss(d, n, True, []),
    lambda d, n: R.relative_loss(d, n, True, [0.1, -1.0]),
    lambda d, n: R.relative_loss(d, n, True, [0.1], steps=0),
    lambda d, n: R.relative_loss(d, n, True, [0.1], steps=2, batch=100, gen=_gen()),
    lambda d, n: R.relative_loss(d, n, True, [0.1], steps=2, batch=4),
    lambda d, n: R.relative_loss(d, R.init_network(3, 6, 7, 4, 4, 2.0, _gen()), True, [0.1]),
    lambda d, n: R.relative_loss(d, R.init_network(3, 5, 7, 4, 3, 2.0, _gen()), True, [0.1]),
    lambda d, n: R.divergence_threshold(torch.ones(3, 2, dtype=F64), torch.tensor([1.0, 2.0], dtype=F64), 1e3),
    lambda d, n: R.divergence_threshold(torch.ones(2, 2, dtype=F64), torch.tensor([2.0, 1.0], dtype=F64), 1e3),
    lambda d, n: R.divergence_threshold(torch.ones(2, 2, dtype=F64), torch.tensor([1.0, 2.0], dtype=F64), 0.0),
])
def test_argument_errors(problem, call):
    data, net = problem
    with pytest.raises(UsageError):
        call(data, net)


# -- wiring ------------------------------------------------------------------------------------------------------
CLAIMS = ("plain_first_block", "plain_growth", "bn_first_block", "bn_bound", "bn_wide", "log_rms_plain", "log_rms_bn",
          "alpha_star_plain", "alpha_star_bn", "alpha_star_depth", "censored_plain", "censored_bn", "divergence_gap")


def test_checks_and_figures_are_wired():
    from bnsym.registry import load  # noqa: PLC0415

    reg, _ = load(["bjorck2018"], with_checks=True)
    for name in CLAIMS:
        assert reg.checks.get(f"bjorck2018.B3.{name}"), name
    for name in ("fig_divergence", "fig_activations"):
        assert f"bjorck2018.{name}" in reg.figures


def test_quick_figures_draw(tmp_path):
    from bnsym.figures import FigureOptions, render  # noqa: PLC0415
    from checks.bjorck2018 import figures as FG  # noqa: PLC0415

    for fig in (FG.fig_divergence, FG.fig_activations):
        out = tmp_path / "fig.png"
        found = render(fig, out, FigureOptions(quick=True))
        assert out.stat().st_size > 10_000 and found


# -- mutants: a wrong closed form is refuted by the same check -------------------------------------------------
def _status(claim: ProcessClaim, check: MonteCarloCheck, samples: int, points: list | None = None) -> Status:
    theorem = Theorem(title="mutant", source=Source("test"), params=B.B3.params, claims=(claim,))
    replaced = dataclasses.replace(check, claim=claim, **({"points": points} if points is not None else {}))
    return run_check(replaced, theorem, "mutant", RunOptions(seed=11, samples=samples)).status


_s, _l, _m0 = B.sigma_w2.symbol, B.depth.symbol, B.ms0.symbol
_LADDER = [{"bn": 0, "n": w, "M": 16, "l": 4, **AC.BASE} for w in (16, 32, 64)]


def test_plain_growth_refutes_the_slope_log_1_plus_sigma_w2():
    wrong = dataclasses.replace(B.plain_growth, value=(1 + _s) ** _l * _m0)  # slope log(1 + s)/2, not log(1 + s/2)/2
    assert sp.simplify(sp.diff(B.log_rms(wrong.value), _l) - sp.log(1 + _s) / 2) == 0
    assert _status(B.plain_growth, AC.plain_growth_check, 300, _LADDER) is Status.CONSISTENT
    assert _status(wrong, AC.plain_growth_check, 300, _LADDER) is Status.REFUTED


@pytest.mark.parametrize("name", ["plain_first_block", "bn_first_block"])
def test_first_block_refutes_a_10_percent_wrong_value(name):
    claim = getattr(B, name)
    check = AC.plain_first_block_check if name == "plain_first_block" else AC.bn_first_block_check
    points = [dict(p) for p in check.resolved_points()[:2]]
    assert _status(claim, check, 3000, points) is Status.CONSISTENT
    assert _status(dataclasses.replace(claim, value=sp.Rational(11, 10) * claim.value), check, 3000,
                   points) is Status.REFUTED


def test_bn_bound_refutes_the_bound_ms0_plus_sigma_w2_l_over_4():
    points = [{"bn": 1, "n": 32, "M": M, "l": 8, **AC.BASE} for M in (4, 32)]
    wrong = dataclasses.replace(B.bn_bound, value=_m0 + _s * _l / 4)
    assert _status(B.bn_bound, AC.bn_bound_check, 64, points) is Status.CONSISTENT
    assert _status(wrong, AC.bn_bound_check, 64, points) is Status.REFUTED


def test_bn_wide_refutes_a_10_percent_wrong_slope():
    points = [{"bn": 1, "n": w, "M": 16, "l": 8, **AC.BASE} for w in (16, 32, 64)]
    wrong = dataclasses.replace(B.bn_wide, value=_m0 + sp.Rational(11, 10) * _s * _l / 2)
    assert _status(B.bn_wide, AC.bn_wide_check, 200, points) is Status.CONSISTENT
    assert _status(wrong, AC.bn_wide_check, 200, points) is Status.REFUTED


def test_divergence_gap_refutes_a_threshold_of_four_decades():
    small = [{**B.DIVERGENCE, "L": 8}]
    assert _status(B.divergence_gap, DC.divergence_gap_check, 16, small) is Status.CONSISTENT
    wrong = dataclasses.replace(B.divergence_gap, value=4)
    assert _status(wrong, DC.divergence_gap_check, 16, small) is Status.REFUTED
