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


def test_activation_statistics_match_a_hand_written_forward_pass():
    """rel_l and the largest unit's rel_l against the same draws run by hand, with and without BN."""
    B_, M, d, n, L, s2 = 3, 5, 4, 6, 3, 2.0
    stats = R.activation_statistics(B_, M, d, n, L, s2, _gen(6))
    gen = _gen(6)
    x = torch.randn(B_, M, d, generator=gen, dtype=F64)
    w_in = torch.randn(B_, d, n, generator=gen, dtype=F64) / math.sqrt(d)
    hs = [x @ w_in, x @ w_in]
    for layer in range(L):
        w = torch.randn(B_, n, n, generator=gen, dtype=F64) * math.sqrt(s2 / n)
        for i, bn in enumerate((False, True)):
            r = torch.relu(_hand_bn(hs[i], R.BN_EPS) if bn else hs[i])
            per_unit = (r**2).sum(-2) / M
            torch.testing.assert_close(stats.rel[i, :, layer], per_unit.mean(-1), rtol=1e-12, atol=0)
            torch.testing.assert_close(stats.rel_unit_max[i, :, layer], per_unit.max(-1).values, rtol=1e-12, atol=0)
            hs[i] = hs[i] + r @ w
    assert stats.variants == (False, True)


@pytest.mark.parametrize("M", [2, 3, 5, 16])
def test_bn_positive_part_bound_is_attained_and_holds(M):
    """The normalised batch's positive part: (M - 1)/M at (M - 1, -1, ..., -1) (any shift and scale), exactly 1/2 for
    every pair (times var/(var + eps) for torch's eps), and at most (M - 1)/M on skewed random batches (cubes of
    exponential values: one large, many small)."""
    bound = float(B.UNIT_BOUND.subs(B.batch.symbol, M))
    extreme = torch.tensor([M - 1.0] + [-1.0] * (M - 1), dtype=F64).view(1, M, 1) * 3.7 + 11.0
    u = R.batch_norm(extreme)
    assert math.isclose(float(torch.relu(u).pow(2).mean()), bound, rel_tol=1e-11)
    h = torch.empty(4000, M, 3, dtype=F64).exponential_(generator=_gen(7)) ** 3
    rel = torch.relu(R.batch_norm(h)).pow(2).mean(-2)
    assert float(rel.max()) <= bound + AC.ROUNDOFF
    if M == 2:  # exactly 1/2 at eps = 0; torch's eps scales it by var/(var + eps) (pairs not nearly constant)
        var = h.var(-2, unbiased=False)
        fine = var > 1e-6
        torch.testing.assert_close(rel[fine], (0.5 * var / (var + R.BN_EPS))[fine], rtol=1e-12, atol=0)
    else:
        assert float(rel.max()) > bound - 0.2 * (bound - 0.5)  # skewed batches come close to the bound


@pytest.mark.parametrize("M", [2, 3, 8])
def test_roundoff_allowance_covers_ill_conditioned_batches(M):
    """Batches of mean up to H = 1e3 and spreads down to below sqrt(eps): the computed positive part stays below
    (M - 1)/M + ROUNDOFF, the allowance derived in checks/bjorck2018/activations.py."""
    bound = float(B.UNIT_BOUND.subs(B.batch.symbol, M))
    gen = _gen(8)
    base = torch.tensor([M - 1.0] + [-1.0] * (M - 1), dtype=F64).view(1, M, 1)
    spreads = torch.logspace(-9, 1, 41, dtype=F64).view(-1, 1, 1)
    for mean in (1e3, -1e3, 3.0):
        jitter = 1 + 1e-3 * torch.randn(41, M, 64, generator=gen, dtype=F64)
        h = mean + spreads * base * jitter
        rel = torch.relu(R.batch_norm(h)).pow(2).mean(-2)
        assert float(rel.max()) <= bound + AC.ROUNDOFF
    assert 1e-13 < AC.ROUNDOFF < 1e-11


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
    bottom, top = R.censoring(runs.ratio[..., 0], 1e3)
    assert bool((bottom == 1).all()) and bool((top == 0).all())  # the only rate already diverges: censored below


def test_divergence_threshold_reads_the_first_rate_beyond_the_criterion_and_flags_both_ends():
    rates = torch.tensor([1e-3, 1e-2, 1e-1, 1.0], dtype=F64)
    ratio = torch.tensor([[0.5, 0.9, 1.0, 2e3], [2e3, 0.8, 5.0, 0.1], [float("nan"), 1e4, 7.0, 0.2],
                          [1e5, 1e6, 9.0, 0.3]], dtype=F64)
    star = R.divergence_threshold(ratio, rates, 1e3)
    torch.testing.assert_close(star, torch.tensor([-2.0, -1.0, 0.0, -3.0], dtype=F64))
    bottom, top = R.censoring(ratio, 1e3)
    torch.testing.assert_close(bottom, torch.tensor([0.0, 0.0, 0.0, 1.0], dtype=F64))  # the last: at the bottom
    torch.testing.assert_close(top, torch.tensor([0.0, 0.0, 1.0, 0.0], dtype=F64))  # the third: none exceeds


def test_truncated_network_is_the_first_blocks(problem):
    data, net = problem
    short = net.truncated(2)
    assert short.depth == 2 and torch.equal(short.blocks, net.blocks[:, :2]) and short.w_in is net.w_in
    torch.testing.assert_close(R.forward(data.x, short, True), R.forward(data.x, R.Network(
        net.w_in, net.blocks[:, :2].clone(), net.w_out), True), rtol=0, atol=0)


def test_the_divergence_columns_follow_the_readings():
    """Per instance: the gap is the difference of the readings, the censoring columns are the simulator's flags, and
    the growth column is the gap at L minus the gap at L0, on the same instances."""
    p = {**B.DIVERGENCE, "L": 4, "L0": 2, "n": 8, "N": 16}
    obs = DC.simulate([p, {**p, "L": 2}], 16, _gen(9), torch.device("cpu"))
    assert obs.shape == (2, 16, 8)
    deep, shallow = obs[0], obs[1]
    torch.testing.assert_close(deep[:, DC.GAP], deep[:, DC.BN] - deep[:, DC.PLAIN])  # nothing censored here
    assert float(obs[:, :, DC.BOTTOM_PLAIN:DC.TOP_BN + 1].abs().sum()) == 0
    torch.testing.assert_close(deep[:, DC.GROWTH], deep[:, DC.GAP] - shallow[:, DC.GAP])
    again = DC.readings(p, (2, 4), 16, _gen(9), torch.device("cpu"))
    torch.testing.assert_close(again[4][:, 0], deep[:, DC.PLAIN], rtol=0, atol=0)


@pytest.mark.parametrize("k, n", [(0, 64), (0, 10), (3, 64), (10, 20)])
def test_clopper_pearson_upper_bound(k, n):
    """P(X <= k; n, p_upper) = 0.05, computed here from the binomial sum; 1 - 0.05^(1/n) at k = 0."""
    upper = DC.clopper_pearson_upper(k, n)
    cdf = sum(math.comb(n, i) * upper**i * (1 - upper) ** (n - i) for i in range(k + 1))
    assert math.isclose(cdf, 0.05, rel_tol=1e-9)
    if k == 0:
        assert math.isclose(upper, 1 - 0.05 ** (1 / n), rel_tol=1e-12)
    assert DC.clopper_pearson_upper(n, n) == 1.0


def test_sample_size_is_derived_from_the_grid_step():
    assert DC.STEP == 1 / B.GRID[2] and DC.TARGET_STDERR == DC.STEP / 4
    assert DC.UNITS == math.ceil((DC.PLANNED_SPREAD / DC.TARGET_STDERR) ** 2) == 64
    for check in DC.CHECKS:
        assert check.pilot_units == check.max_units == DC.UNITS


def test_the_grid_is_the_derivations():
    rates = DC.learning_rates()
    lo, hi, per = B.GRID
    assert len(rates) == (hi - lo) * per + 1
    assert math.isclose(rates[0], 10.0**lo) and math.isclose(rates[-1], 10.0**hi)
    assert DC.CRITERION == 1e3


# -- argument errors ---------------------------------------------------------------------------------------------
def _f32(net: R.Network) -> R.Network:
    return R.Network(net.w_in.float(), net.blocks.float(), net.w_out.float())


_RATES = torch.tensor([1.0, 2.0], dtype=F64)


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
    lambda d, n: R.activations(2, 1, 3, 4, 2, 2.0, _gen()),
    lambda d, n: R.activations(2, 4, 3, 4, 2, 2.0, _gen(), variants=()),
    lambda d, n: R.activations(2, 4, 3, 4, 2, 2.0, _gen(), variants=("bn",)),
    lambda d, n: R.activations(2, 4, 3, 4, 2, 2.0, _gen(), variants="bn"),
    lambda d, n: R.activations(2, 4, 3, 4, 2, 2.0, _gen(), eps=0.0),
    lambda d, n: R.activation_statistics(2, 4, 3, 4, 2, 2.0, _gen(), eps=-1e-3),
    lambda d, n: R.batch_norm(torch.ones(3, 1, 4, dtype=F64)),
    lambda d, n: R.batch_norm(torch.randn(3, 2, 4, dtype=F64), eps=-1.0),
    lambda d, n: R.batch_norm(torch.randn(3, 2, 4, dtype=F64), eps=0.0),
    lambda d, n: R.batch_norm(torch.ones(4, dtype=F64)),
    lambda d, n: R.batch_norm([[1.0, 2.0], [3.0, 4.0]]),
    lambda d, n: R.batch_norm(torch.ones(3, 2, 4, dtype=torch.int64)),
    lambda d, n: R.forward(d.x, n, "yes"),
    lambda d, n: R.forward(d.x[:, :, :2], n, False),
    lambda d, n: R.relative_loss(d, n, "no", [0.1]),
    lambda d, n: R.relative_loss(d, n, 1, [0.1]),
    lambda d, n: R.relative_loss(d, n, True, []),
    lambda d, n: R.relative_loss(d, n, True, "0.1"),
    lambda d, n: R.relative_loss(d, n, True, [0.1, -1.0]),
    lambda d, n: R.relative_loss(d, n, True, [0.1, float("inf")]),
    lambda d, n: R.relative_loss(d, n, True, [0.1], steps=0),
    lambda d, n: R.relative_loss(d, n, True, [0.1], batch=4, gen=_gen()),  # batch without SGD steps
    lambda d, n: R.relative_loss(d, n, True, [0.1], steps=2, batch=100, gen=_gen()),
    lambda d, n: R.relative_loss(d, n, True, [0.1], steps=2, batch=1, gen=_gen()),  # BN over one example
    lambda d, n: R.relative_loss(d, n, True, [0.1], steps=2, batch=4),
    lambda d, n: R.relative_loss(d, n, True, [0.1], eps=0.0),
    lambda d, n: R.relative_loss(d.x, n, True, [0.1]),
    lambda d, n: R.relative_loss(d, "net", True, [0.1]),
    lambda d, n: R.relative_loss(d, R.init_network(3, 6, 7, 4, 4, 2.0, _gen()), True, [0.1]),
    lambda d, n: R.relative_loss(d, R.init_network(3, 5, 7, 4, 3, 2.0, _gen()), True, [0.1]),
    lambda d, n: R.relative_loss(d, R.init_network(2, 5, 7, 4, 4, 2.0, _gen()), True, [0.1]),
    lambda d, n: R.relative_loss(d, R.Network(n.w_in, n.blocks[..., :6, :6], n.w_out), True, [0.1]),
    lambda d, n: R.relative_loss(d, R.Network(n.w_in, n.blocks[:, 0], n.w_out), True, [0.1]),
    lambda d, n: R.relative_loss(d, _f32(n), True, [0.1]),
    lambda d, n: R.relative_loss(R.Data(d.x.float(), d.labels, d.teacher), n, True, [0.1]),
    lambda d, n: R.relative_loss(R.Data(d.x, d.labels.float(), d.teacher), n, True, [0.1]),
    lambda d, n: n.truncated(5),
    lambda d, n: R.divergence_threshold(torch.ones(3, 2, dtype=F64), _RATES, 1e3),
    lambda d, n: R.divergence_threshold(torch.ones(2, 2, dtype=F64), torch.tensor([2.0, 1.0], dtype=F64), 1e3),
    lambda d, n: R.divergence_threshold(torch.ones(2, 2, dtype=F64), _RATES, 0.0),
    lambda d, n: R.divergence_threshold(torch.ones(2, 2, dtype=F64), torch.tensor([0.0, 1.0], dtype=F64), 1e3),
    lambda d, n: R.divergence_threshold(torch.ones(2, 2, dtype=F64), torch.tensor([-2.0, -1.0], dtype=F64), 1e3),
    lambda d, n: R.divergence_threshold(torch.ones(2, 2, dtype=F64), torch.tensor([1, 2]), 1e3),
    lambda d, n: R.divergence_threshold(torch.ones(2, 2, dtype=F64), [1.0, 2.0], 1e3),
    lambda d, n: R.divergence_threshold(torch.ones(2, dtype=F64), _RATES, 1e3),
    lambda d, n: R.divergence_threshold(torch.ones(2, 2, dtype=torch.int64), _RATES, 1e3),
    lambda d, n: R.censoring(torch.ones(2, dtype=F64), 1e3),
    lambda d, n: R.censoring([[1.0]], 1e3),
    lambda d, n: R.censoring(torch.ones(2, 2, dtype=F64), -1.0),
    lambda d, n: R.censoring(torch.ones(2, 2, dtype=F64), float("nan")),
])
def test_argument_errors(problem, call):
    data, net = problem
    with pytest.raises(UsageError):
        call(data, net)


# -- wiring ------------------------------------------------------------------------------------------------------
CLAIMS = ("plain_first_block", "plain_growth", "bn_first_block", "bn_pair", "bn_branch_bound", "bn_wide",
          "log_rms_plain", "log_rms_bn", "alpha_star_plain", "alpha_star_bn", "gap_by_depth", "censored_plain_bottom",
          "censored_plain_top", "censored_bn_bottom", "censored_bn_top", "divergence_gap", "gap_growth")


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


_s, _l, _m0, _Mb = B.sigma_w2.symbol, B.depth.symbol, B.ms0.symbol, B.batch.symbol
_LADDER = [{"bn": 0, "n": w, "M": 16, "l": 4, **AC.BASE} for w in (16, 32, 64)]


def test_plain_growth_refutes_the_slope_log_1_plus_sigma_w2():
    wrong = dataclasses.replace(B.plain_growth, value=(1 + _s) ** _l * _m0)  # slope log(1 + s)/2, not log(1 + s/2)/2
    assert sp.simplify(sp.diff(B.log_rms(wrong.value), _l) - sp.log(1 + _s) / 2) == 0
    assert _status(B.plain_growth, AC.plain_growth_check, 300, _LADDER) is Status.CONSISTENT
    assert _status(wrong, AC.plain_growth_check, 300, _LADDER) is Status.REFUTED


@pytest.mark.parametrize("value, depth", [((sp.Rational(11, 10) * (1 + _s / 2)) ** _l * _m0, 2),  # base 10% too large
                                          ((1 + sp.Rational(9, 10) * _s / 2) ** _l * _m0, 4)])  # gain s/2 10% too small
def test_plain_growth_refutes_a_base_off_by_a_tenth(value, depth):
    """Near mutants at 300 instances per width, over the check's own four widths (a three-width ladder has two free
    coefficients for three remainders, too little to tell a constant offset of 20% from c1/n + c2/n^2): the base 10%
    too large at l = 2 (E[ms_2] 21% off) and the branch's gain sigma_w^2/2 10% too small at l = 4 (E[ms_4] 19% off)."""
    ladder = [{"bn": 0, "n": w, "M": 16, "l": depth, **AC.BASE} for w in AC.WIDTHS]
    wrong = dataclasses.replace(B.plain_growth, value=value)
    assert _status(B.plain_growth, AC.plain_growth_check, 300, ladder) is Status.CONSISTENT
    assert _status(wrong, AC.plain_growth_check, 300, ladder) is Status.REFUTED


@pytest.mark.parametrize("name", ["plain_first_block", "bn_first_block"])
def test_first_block_refutes_a_10_percent_wrong_value(name):
    claim = getattr(B, name)
    check = AC.plain_first_block_check if name == "plain_first_block" else AC.bn_first_block_check
    points = [dict(p) for p in check.resolved_points()[:2]]
    assert _status(claim, check, 3000, points) is Status.CONSISTENT
    assert _status(dataclasses.replace(claim, value=sp.Rational(11, 10) * claim.value), check, 3000,
                   points) is Status.REFUTED


_PAIR = [{"bn": 1, "n": 8, "M": 2, "l": 8, **AC.BASE}]


@pytest.mark.parametrize("wrong", [_m0 + sp.Rational(11, 20) * _s * _l,  # the slope 10% too large
                                   _m0 + sp.Rational(9, 20) * _s * _l])  # ... and 10% too small
def test_bn_pair_is_exact_at_m2_and_refutes_a_slope_off_by_a_tenth(wrong):
    """At M = 2, n = 8, l = 8: E[ms_l] = 9 exactly (a two-sided z-test that can fail), a slope 10% off is refuted."""
    assert _status(B.bn_pair, AC.bn_pair_check, 2000, _PAIR) is Status.CONSISTENT
    assert _status(dataclasses.replace(B.bn_pair, value=wrong), AC.bn_pair_check, 2000, _PAIR) is Status.REFUTED


_BOUND = [{"bn": 1, "n": AC.BOUND_WIDTH, "M": M, "l": AC.BOUND_DEPTH, **AC.BASE} for M in (3, 4)]


@pytest.mark.parametrize("wrong", [sp.Rational(99, 100) * (_Mb - 1) / _Mb,  # the bound 1% too low
                                   sp.Rational(1, 2)])  # the infinite-width mean, read as a bound on every unit
def test_bn_branch_bound_is_sharp(wrong):
    assert _status(B.bn_branch_bound, AC.bn_branch_bound_check, 300, _BOUND) is Status.CONSISTENT
    mutant = dataclasses.replace(B.bn_branch_bound, value=wrong)
    assert _status(mutant, AC.bn_branch_bound_check, 300, _BOUND) is Status.REFUTED


def test_bn_wide_refutes_a_10_percent_wrong_slope():
    points = [{"bn": 1, "n": w, "M": M, "l": 8, **AC.BASE} for M in (4, 16) for w in (16, 32, 64)]
    wrong = dataclasses.replace(B.bn_wide, value=_m0 + sp.Rational(11, 10) * _s * _l / 2)
    assert _status(B.bn_wide, AC.bn_wide_check, 200, points) is Status.CONSISTENT
    assert _status(wrong, AC.bn_wide_check, 200, points) is Status.REFUTED


def test_divergence_gap_holds_at_l16_refutes_four_decades_and_fails_at_shallow_depth():
    assert _status(B.divergence_gap, DC.divergence_gap_check, 16) is Status.CONSISTENT
    wrong = dataclasses.replace(B.divergence_gap, value=4)
    assert _status(wrong, DC.divergence_gap_check, 16) is Status.REFUTED
    shallow = [{**B.DIVERGENCE, "L": 2, "L0": 2}]  # the same claim at L = 2: the gap is below a decade there
    assert _status(B.divergence_gap, DC.divergence_gap_check, 16, shallow) is Status.REFUTED


def test_gap_growth_holds_and_refutes_three_decades_of_growth():
    assert _status(B.gap_growth, DC.gap_growth_check, 16) is Status.CONSISTENT
    wrong = dataclasses.replace(B.gap_growth, value=3)
    assert _status(wrong, DC.gap_growth_check, 16) is Status.REFUTED
