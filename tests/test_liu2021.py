"""Liu et al. (section S3): the BN network simulator against torch.nn modules and hand-written algebra, its
argument checks (shapes, dtypes, devices, label ranges), the checks wired to their claims, and mutants of the closed
forms refuted by the same checks.

The simulator (``bnsym.sim.bnnet``) is checked against independent computations, never a formula under test:
the instance-batched forward pass against one ``torch.nn.Sequential`` per instance (Linear/Conv2d,
BatchNorm1d/2d in train mode, ReLU) and, at eps = 0, against a hand-written normalisation; the gradient and the
Hessian-vector product against ``torch.autograd.functional.hessian``; the span complement against
``torch.linalg.lstsq``; the unfolded patches against the convolution; a training step against the update
written out by hand. Then, for every S3 check, a mutant (a wrong scaling law, a wrong factor, a wrong
exponent, the wrong optimizer, BN eps > 0) refuted at small samples, and the true form consistent, with its
largest deviation far below the derived allowance.
"""

from __future__ import annotations

import dataclasses
import math

import pytest
import sympy as sp
import torch
import torch.nn as nn
import torch.nn.functional as F

from bnsym import Source, Theorem
from bnsym.claims import ProcessClaim
from bnsym.errors import UsageError
from bnsym.mc.engine import MonteCarloCheck, RunOptions, run_check
from bnsym.sim import bnnet as B
from bnsym.sim import bnnet_train as T
from bnsym.verdict import Status, Verdict
from checks.liu2021 import dynamics as D
from checks.liu2021 import nets as N
from checks.liu2021 import roundoff as R
from checks.liu2021 import scaling as SC
from checks.liu2021 import span as SP
from derivations.liu2021 import processes as P
from derivations.liu2021 import symbols as S

pytestmark = pytest.mark.usefixtures("one_torch_thread")
DEVICE = torch.device("cpu")
MLP = B.MLP(7, (6, 5), 3, eps=1e-5)
CONV = B.ConvNet(2, 5, ((3, 3, 0), (4, 3, 1)), 3, eps=1e-5, loss="mse")


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator(device=DEVICE).manual_seed(seed)


def _setup(net: B.BNNet, instances: int = 3, samples: int = 6, seed: int = 0) -> tuple[B.Params, B.Data]:
    gen = _gen(seed)
    params = net.init(instances, gen)
    for name, t in params.items():  # a generic affine map and read-out bias, not the identity start
        if name.startswith(("gamma", "beta")) or name == "b":
            params[name] = (1.0 if name.startswith("gamma") else 0.0) + 0.3 * torch.randn(t.shape, generator=gen,
                                                                                          dtype=torch.float64)
    return params, net.data(instances, samples, gen)


def _sequential(net: B.BNNet, params: B.Params, i: int) -> nn.Sequential:
    """Instance i as one torch.nn.Sequential in train mode, with the same weights."""
    layers: list[nn.Module] = []
    for k, shape in enumerate(net.weight_shapes(), start=1):
        if isinstance(net, B.ConvNet):
            _, kernel, pad = net.layers[k - 1]
            lin: nn.Module = nn.Conv2d(shape[1], shape[0], kernel, padding=pad, bias=False)
            bn: nn.Module = nn.BatchNorm2d(shape[0], eps=net.eps)
        else:
            lin, bn = nn.Linear(shape[1], shape[0], bias=False), nn.BatchNorm1d(shape[0], eps=net.eps)
        lin.weight.data = params[f"W{k}"][i].clone()
        bn.weight.data, bn.bias.data = params[f"gamma{k}"][i].clone(), params[f"beta{k}"][i].clone()
        layers += [lin, bn, nn.ReLU()]
    if isinstance(net, B.ConvNet):
        layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten()]
    out = nn.Linear(net.features, net.outputs)
    out.weight.data, out.bias.data = params["V"][i].clone(), params["b"][i].clone()
    return nn.Sequential(*layers, out).double().train()


# -- the simulator against independent computations ------------------------------------------------------------
@pytest.mark.parametrize("net", [MLP, CONV], ids=["mlp", "conv"])
def test_batched_network_is_one_torch_nn_network_per_instance(net):
    params, data = _setup(net)
    out = net.forward(params, data.x).out
    grad = B.derivatives(net, params, data.x, data.y, 1).grad
    for i in range(data.instances):
        seq = _sequential(net, params, i)
        ref = seq(data.x[i])
        torch.testing.assert_close(out[i], ref, rtol=1e-12, atol=1e-12)
        if net.loss == "cross_entropy":
            loss = F.cross_entropy(ref, data.y[i])
        else:
            loss = 0.5 * ((ref - data.y[i]) ** 2).sum(-1).mean()
        (g,) = torch.autograd.grad(loss, seq[0].weight)
        torch.testing.assert_close(grad[i], g, rtol=1e-10, atol=1e-13)


def test_eps_zero_is_the_hand_written_normalisation():
    net = dataclasses.replace(MLP, eps=0.0)
    params, data = _setup(net)
    a = data.x
    for k in (1, 2):
        z = torch.einsum("ind,ihd->inh", a, params[f"W{k}"])
        mu = z.mean(1, keepdim=True)
        sd = ((z - mu) ** 2).mean(1, keepdim=True).sqrt()  # the biased batch variance, no eps
        a = torch.relu(params[f"gamma{k}"].unsqueeze(1) * (z - mu) / sd + params[f"beta{k}"].unsqueeze(1))
    ref = torch.einsum("inh,ich->inc", a, params["V"]) + params["b"].unsqueeze(1)
    torch.testing.assert_close(net.forward(params, data.x).out, ref, rtol=1e-12, atol=1e-12)
    conv = dataclasses.replace(CONV, eps=0.0)
    params, data = _setup(conv)
    h = data.x[0]
    for k, (_, _, pad) in enumerate(conv.layers, start=1):
        z = F.conv2d(h, params[f"W{k}"][0], padding=pad)
        mu = z.mean((0, 2, 3), keepdim=True)
        sd = ((z - mu) ** 2).mean((0, 2, 3), keepdim=True).sqrt()
        gamma, beta = params[f"gamma{k}"][0].view(1, -1, 1, 1), params[f"beta{k}"][0].view(1, -1, 1, 1)
        h = torch.relu(gamma * (z - mu) / sd + beta)
    ref = h.mean((2, 3)) @ params["V"][0].T + params["b"][0]
    torch.testing.assert_close(conv.forward(params, data.x).out[0], ref, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("net, layer", [(MLP, 1), (MLP, 2), (CONV, 2)], ids=["mlp1", "mlp2", "conv2"])
def test_hessian_vector_product_is_the_full_hessian_applied(net, layer):
    params, data = _setup(net, instances=2)
    v = torch.randn(params[f"W{layer}"].shape, generator=_gen(4), dtype=torch.float64)
    d = B.derivatives(net, params, data.x, data.y, layer, v)
    assert d.hvp is not None
    for i in range(2):
        def loss(w: torch.Tensor, i: int = i) -> torch.Tensor:
            weights = params[f"W{layer}"].clone()
            weights[i] = w
            return net.losses({**params, f"W{layer}": weights}, data.x, data.y)[i]

        w0 = params[f"W{layer}"][i]
        hess = torch.autograd.functional.hessian(loss, w0).reshape(w0.numel(), w0.numel())
        torch.testing.assert_close(d.hvp[i].reshape(-1), hess @ v[i].reshape(-1), rtol=1e-9, atol=1e-12)


def test_gradient_matches_autograd_of_one_instance():
    params, data = _setup(MLP)
    d = B.derivatives(MLP, params, data.x, data.y, 2)
    w = params["W2"][1].clone().requires_grad_(True)
    weights = params["W2"].clone()
    weights = torch.cat([weights[:1], w.unsqueeze(0), weights[2:]])
    (g,) = torch.autograd.grad(MLP.losses({**params, "W2": weights}, data.x, data.y)[1], w)
    torch.testing.assert_close(d.grad[1], g, rtol=1e-12, atol=1e-14)


def test_span_complement_against_least_squares():
    params, data = _setup(MLP, samples=4)
    inputs = MLP.forward(params, data.x).inputs
    for layer in (1, 2):
        q = MLP.span_complement(layer, inputs[layer - 1])
        a = inputs[layer - 1]  # [I, 4, d]
        d = a.shape[-1]
        assert q.shape == (3, d, d - 4)
        torch.testing.assert_close(q.transpose(1, 2) @ q, torch.eye(d - 4, dtype=torch.float64).expand(3, -1, -1),
                                   rtol=0, atol=1e-14)
        assert float((a @ q).abs().max()) < 1e-14
        g = torch.randn(3, 5, d, generator=_gen(5), dtype=torch.float64)  # rows not in the span
        fit = torch.linalg.lstsq(a.transpose(1, 2), g.transpose(1, 2)).solution
        residual = g.transpose(1, 2) - a.transpose(1, 2) @ fit
        torch.testing.assert_close(torch.linalg.vector_norm(residual, dim=1), torch.linalg.vector_norm(g @ q, dim=-1),
                                   rtol=1e-12, atol=1e-14)


def test_unfolded_patches_reproduce_the_convolution():
    params, data = _setup(CONV)
    inputs = CONV.forward(params, data.x).inputs
    for layer, (c, _, pad) in enumerate(CONV.layers, start=1):
        patches = CONV.patches(layer, inputs[layer - 1])  # [I, N L, C_in k k]
        rows = CONV.rows(params[f"W{layer}"])  # [I, c, C_in k k]
        n, c_in = data.samples, CONV.weight_shapes()[layer - 1][1]
        for i in range(data.instances):
            h = inputs[layer - 1][:, i * c_in:(i + 1) * c_in]  # instance i's channels
            z = F.conv2d(h, params[f"W{layer}"][i], padding=pad)  # [N, c, H, W]
            ref = z.permute(0, 2, 3, 1).reshape(n, -1, c).reshape(-1, c)
            torch.testing.assert_close(patches[i] @ rows[i].T, ref, rtol=1e-12, atol=1e-12)


def test_a_full_batch_step_is_the_gradient_step_and_the_records_match():
    net = dataclasses.replace(MLP, eps=0.0)
    params, data = _setup(net, instances=3, samples=5)
    lr, wd = 0.3, 0.05
    q = T.data_complement(net, data)
    run = T.train(net, params, data, 1, 5, lr, _gen(6), weight_decay=wd, complement=q)  # the batch: the whole set
    for k in (1, 2):
        g = B.derivatives(net, params, data.x, data.y, k).grad
        torch.testing.assert_close(run.params[f"W{k}"], params[f"W{k}"] - lr * (g + wd * params[f"W{k}"]),
                                   rtol=1e-11, atol=1e-13)
        torch.testing.assert_close(run.norm_sq[k - 1][0], (net.rows(params[f"W{k}"]) ** 2).sum(-1), rtol=1e-14, atol=0)
        torch.testing.assert_close(run.grad_sq[k - 1][0], (net.rows(g) ** 2).sum(-1), rtol=1e-11, atol=0)
    assert run.perp_norm is not None and run.perp_change is not None
    torch.testing.assert_close(run.perp_norm[0], torch.linalg.vector_norm(params["W1"] @ q, dim=-1), rtol=1e-14,
                               atol=0)
    assert float(run.perp_change[0].abs().max()) == 0.0
    assert float((data.x @ q).abs().max()) < 1e-13  # the complement is orthogonal to every data input


def test_weight_rescaling_keeps_every_row_at_its_radius():
    net = dataclasses.replace(MLP, eps=0.0)
    gen = _gen(7)
    params = net.init(4, gen, radius=2.0)
    data = net.data(4, 6, gen)
    run = T.train(net, params, data, 5, 3, 0.5, gen, radius=2.0)
    for norms in run.norm_sq:
        torch.testing.assert_close(norms, torch.full_like(norms, 4.0), rtol=1e-14, atol=0)
    assert all(bool((s > 4.0).all()) for s in run.stepped_sq)  # each step lengthens a row before the rescaling


def test_roundings_count_the_passes():
    assert MLP.roundings(8) == sum(f + o + 5 * 8 + 16 for f, o in ((7, 5), (6, 3))) + 2 * (5 + 3 + 8) + 16
    assert CONV.roundings(4) > CONV.roundings(2) > 0
    assert R.gamma(10) == pytest.approx(10 * 2.0**-52)


# -- argument checks ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("make", [
    lambda: B.MLP(0, (4,), 3),
    lambda: B.MLP(4, (), 3),
    lambda: B.MLP(4, (4, 0), 3),
    lambda: B.MLP(4, "44", 3),
    lambda: B.MLP(4, (4,), 3, eps=-1.0),
    lambda: B.MLP(4, (4,), 3, eps=float("nan")),
    lambda: B.MLP(4, (4,), 3, loss="hinge"),
    lambda: B.MLP(4, (4,), 1),
    lambda: B.ConvNet(2, 3, ((4, 5, 0),), 3),
    lambda: B.ConvNet(2, 3, ((4, 3),), 3),
    lambda: B.ConvNet(2, 3, 4, 3),
    lambda: B.network("rnn"),
    lambda: B.network("mlp", d_in=3, widths=(2,), outputs=2, bogus=1),
])
def test_bad_networks_are_usage_errors(make):
    with pytest.raises(UsageError):
        make()


@pytest.mark.parametrize("call, message", [
    (lambda p, d: MLP.init(0, _gen()), "instances"),
    (lambda p, d: MLP.init(2, "not a generator"), "generator"),
    (lambda p, d: MLP.init(2, _gen(), radius=0.0), "radius"),
    (lambda p, d: MLP.data(2, 1, _gen()), "samples"),
    (lambda p, d: MLP.forward({"W1": p["W1"]}, d.x), "lack"),
    (lambda p, d: MLP.forward(p, d.x[:, :1]), "at least 2"),
    (lambda p, d: MLP.forward(p, d.x[..., :3]), "shape"),
    (lambda p, d: B.derivatives(MLP, p, d.x, d.y, 3), "layer"),
    (lambda p, d: B.derivatives(MLP, p, d.x, d.y, 1, v=torch.zeros(2)), "v must"),
    (lambda p, d: B.derivatives("mlp", p, d.x, d.y, 1), "net must"),
    (lambda p, d: T.train(MLP, p, d, 0, 2, 0.1, _gen()), "steps"),
    (lambda p, d: T.train(MLP, p, d, 2, 7, 0.1, _gen()), "batch"),
    (lambda p, d: T.train(MLP, p, d, 2, 2, 0.0, _gen()), "lr"),
    (lambda p, d: T.train(MLP, p, d, 2, 2, 0.1, _gen(), momentum=1.0), "momentum"),
    (lambda p, d: T.train(MLP, p, d, 2, 2, 0.1, _gen(), optimizer="rmsprop"), "optimizer"),
    (lambda p, d: T.train(MLP, p, d, 2, 2, 0.1, _gen(), optimizer="adam", momentum=0.5), "Adam"),
    (lambda p, d: T.train(MLP, p, d, 2, 2, 0.1, _gen(), weight_decay=-1.0), "weight_decay"),
    (lambda p, d: T.train(MLP, p, d, 2, 2, 0.1, _gen(), complement=torch.zeros(3, 2, 2)), "complement"),
    (lambda p, d: T.train(MLP, p, "data", 2, 2, 0.1, _gen()), "data"),
    (lambda p, d: MLP.span_complement(1, torch.zeros(3, 8, 7, dtype=torch.float64)), "whole space"),
    (lambda p, d: MLP.span_complement(1, "inputs"), "inputs must"),
    (lambda p, d: MLP.losses(p, d.x, d.y.double()), "class indices"),
    (lambda p, d: CONV.losses(*_setup(CONV)[:1], _setup(CONV)[1].x, d.y), "targets"),
    # dtypes: float64 everywhere, int64 class labels in [0, outputs)
    (lambda p, d: MLP.forward(p, d.x.float()), "float64"),
    (lambda p, d: B.derivatives(MLP, p, d.x.float(), d.y, 1), "float64"),
    (lambda p, d: B.derivatives(MLP, p, d.x, d.y, 1, weight=p["W1"].float()), "weight must be torch.float64"),
    (lambda p, d: B.derivatives(MLP, p, d.x, d.y, 1, v=p["W1"].float()), "v must be torch.float64"),
    (lambda p, d: B.derivatives(MLP, {**p, "gamma1": p["gamma1"].float()}, d.x, d.y, 1), "gamma1"),
    (lambda p, d: B.derivatives(MLP, {**p, "V": p["V"][:, :, :2]}, d.x, d.y, 1), "params V must have shape"),
    (lambda p, d: B.derivatives(MLP, p, d.x, d.y.int(), 1), "int64"),
    (lambda p, d: B.derivatives(MLP, p, d.x, d.y + MLP.outputs, 1), r"lie in \[0, 3\)"),
    (lambda p, d: MLP.losses(p, d.x, d.y - 10), r"lie in \[0, 3\)"),
    (lambda p, d: T.train(MLP, p, B.Data(d.x, d.y + MLP.outputs), 2, 2, 0.1, _gen()), r"lie in \[0, 3\)"),
    (lambda p, d: T.train(MLP, p, B.Data(d.x.float(), d.y), 2, 2, 0.1, _gen()), "float64"),
    (lambda p, d: T.train(MLP, p, d, 2, 2, 0.1, _gen(), complement=T.data_complement(MLP, d).float()),
     "complement must be torch.float64"),
    (lambda p, d: T.data_complement(MLP, B.Data(d.x.float(), d.y)), "float64"),
    (lambda p, d: MLP.span_complement(1, d.x.float()), "float64"),
    # devices: every tensor on the weights' device ("meta" stands for a second device on a CPU-only machine)
    (lambda p, d: MLP.forward(p, d.x.to("meta")), "on meta"),
    (lambda p, d: B.derivatives(MLP, p, d.x, d.y.to("meta"), 1), "on meta"),
    (lambda p, d: B.derivatives(MLP, p, d.x, d.y, 1, weight=p["W1"].to("meta")), "weight is on meta"),
    (lambda p, d: B.derivatives(MLP, p, d.x, d.y, 1, v=p["W1"].to("meta")), "v is on meta"),
    (lambda p, d: B.derivatives(MLP, {**p, "b": p["b"].to("meta")}, d.x, d.y, 1), "params b is on meta"),
    (lambda p, d: T.train(MLP, p, d, 2, 2, 0.1, _gen(), complement=T.data_complement(MLP, d).to("meta")),
     "complement is on meta"),
])
def test_bad_arguments_are_usage_errors(call, message):
    params, data = _setup(MLP)
    with pytest.raises(UsageError, match=message):
        call(params, data)


# -- the checks: wiring, mutants refuted, true forms consistent ------------------------------------------------
def test_bad_conv_targets_are_usage_errors():
    params, data = _setup(CONV)
    with pytest.raises(UsageError, match="float64"):
        CONV.losses(params, data.x, data.y.float())
    with pytest.raises(UsageError, match="on meta"):
        CONV.losses(params, data.x, data.y.to("meta"))


def test_checks_are_wired_to_every_claim():
    from bnsym.registry import load  # noqa: PLC0415

    reg, _ = load(["liu2021"], with_checks=True)
    for claim, _role in P.S3.all_claims():
        name = next(k for k, v in vars(P).items() if v is claim)
        assert reg.checks.get(f"liu2021.S3.{name}"), name


def _verdict(claim: ProcessClaim, check: MonteCarloCheck, units: int, **changes) -> Verdict:
    theorem = Theorem(title="mutant", source=Source("test"), params=P.S3.params, claims=(claim,))
    small = dataclasses.replace(check, claim=claim, pilot_units=units, max_units=units, min_chunk=units, **changes)
    return run_check(small, theorem, "mutant", RunOptions(seed=5))


def _holds_with_margin(claim: ProcessClaim, check: MonteCarloCheck, units: int, **changes) -> None:
    """The true form is CONSISTENT, and its largest deviation is far (100x) below the derived allowance."""
    verdict = _verdict(claim, check, units, **changes)
    assert verdict.status is Status.CONSISTENT, verdict.summary
    worst = max(row["worst"] for row in verdict.evidence["rows"])
    assert worst < check.roundoff / 100, (worst, check.roundoff)


s = P.scale.symbol
MLP1 = [{"net": "mlp", "layer": 1}]
CONV2 = [{"net": "conv", "layer": 2}]


@pytest.mark.parametrize("claim, column, roundoff, mutant", [
    (P.grad_scaling, SC.GRAD, SC.GRAD_ROUNDOFF, SC.simulator(grad_factor=1 / s**2)),  # "s^2 grad L(s W) = grad L(W)"
    (P.hvp_scaling, SC.HVP, SC.HVP_ROUNDOFF, SC.simulator(hess_factor=1 / s)),  # H scaling as 1/s
    (P.loss_invariance, SC.LOSS, SC.LOSS_ROUNDOFF, SC.simulator(loss_factor=sp.Rational(11, 10))),  # 10% off
    (P.loss_invariance, SC.LOSS, SC.LOSS_ROUNDOFF, SC.simulator(eps=N.DEFAULT_EPS)),  # BN eps > 0: not invariant
    (P.grad_orthogonal, SC.COS, SC.COS_ROUNDOFF, SC.simulator(eps=N.DEFAULT_EPS)),
])
@pytest.mark.parametrize("points", [MLP1, CONV2], ids=["mlp", "conv"])
def test_scaling_checks_refute_a_wrong_law_and_hold_for_the_true_one(claim, column, roundoff, mutant, points):
    check = SC.check(claim, column, roundoff, points=points)
    assert _verdict(claim, check, 16, simulate=mutant).status is Status.REFUTED
    _holds_with_margin(claim, check, 16)


def test_span_checks_refute_a_span_of_fewer_inputs():
    for claim, check in ((P.span_fc, SP.fc_check), (P.span_conv, SP.conv_check)):
        assert _verdict(claim, check, 16, simulate=SP.simulator(drop=1)).status is Status.REFUTED
        _holds_with_margin(claim, check, 16)


def test_norm_identity_refutes_a_wrong_growth():
    eta, g, n = S.eta.symbol, S.grad_sq.symbol, P.norm_sq.symbol
    points = [{"net": "mlp", "layer": 2, "eta": D.SGD_LR}]
    for wrong in (n + sp.Rational(11, 10) * eta**2 * g, n):  # 10% more growth; gradient flow's constant norm
        mutant = D.norm_simulator(wrong)
        assert _verdict(P.sgd_norm, D.norm_check, 8, simulate=mutant, points=points).status is Status.REFUTED
    _holds_with_margin(P.sgd_norm, D.norm_check, 8, points=points)


def test_frozen_component_claims_tell_sgd_from_adam():
    sgd = [{"net": "mlp", "optimizer": "sgd", "eta": D.SGD_LR, "K": D.frozen_count({"net": "mlp"})}]
    adam = [{"net": "mlp", "optimizer": "adam", "eta": D.ADAM_LR}]
    assert _verdict(P.frozen, D.frozen_check, 8, points=adam).status is Status.REFUTED  # Adam is not frozen
    assert _verdict(P.adam_moves, D.adam_check, 8, points=sgd).status is Status.REFUTED  # SGD does not move
    _holds_with_margin(P.frozen, D.frozen_check, 8, points=[{k: v for k, v in sgd[0].items() if k != "K"}])
    assert _verdict(P.adam_moves, D.adam_check, 8, points=D.adam_points()[:1]).status is Status.CONSISTENT


def test_the_frozen_component_holds_at_default_eps_too():
    """The span argument holds for every loss: BN's eps = 1e-5 leaves the orthogonal component frozen (the
    point of FROZEN_POINTS that says so), and Adam at eps = 1e-5 still moves it."""
    point = [p for p in D.FROZEN_POINTS if p.get("eps")]
    assert point and point[0]["eps"] == N.DEFAULT_EPS
    _holds_with_margin(P.frozen, D.frozen_check, 8, points=point)
    adam = [{**point[0], "optimizer": "adam", "eta": D.ADAM_LR}]
    assert _verdict(P.frozen, D.frozen_check, 8, points=adam).status is Status.REFUTED


def test_adam_bound_is_gamma_k_of_the_plain_sgd_count():
    """The claimed value of adam_moves is gamma_K = K eps/(1 - K eps), eps = 2^-52, as roundoff.gamma, with K the
    frozen statistic's count along plain SGD on the same net (not the momentum count behind FROZEN_ROUNDOFF)."""
    assert P.MACHINE_EPSILON == sp.Rational(1, 2**52)
    fn = sp.lambdify(P.count.symbol, P.sgd_allowance, "mpmath")
    for point in D.adam_points():
        assert point["K"] == D.frozen_count({"net": point["net"]})
        assert float(fn(point["K"])) == pytest.approx(R.gamma(point["K"]), rel=1e-14)
    assert R.gamma(D.frozen_count({"net": "mlp"})) < D.FROZEN_ROUNDOFF  # the momentum point's count is larger


def test_norm_identity_runs_one_training_per_run_setting():
    """Points with different learning rates or optimizers are never served by one run: the check groups by every
    run setting, and a simulator call given points that differ on one refuses them."""
    assert D.norm_check.batch_keys == D.RUN_KEYS and D.default_eps_check.batch_keys == D.RUN_KEYS
    mixed = [{"net": "mlp", "layer": 1, "eta": D.SGD_LR}, {"net": "mlp", "layer": 2, "eta": 0.05}]
    with pytest.raises(ValueError, match="differ on eta"):
        D.norm_simulator()(mixed, 2, _gen(), DEVICE)
    with pytest.raises(ValueError, match="differ on optimizer"):
        D.norm_simulator()([mixed[0], {**mixed[0], "optimizer": "momentum"}], 2, _gen(), DEVICE)
    verdict = _verdict(P.sgd_norm, D.norm_check, 4, points=mixed)  # two groups, one run each
    assert verdict.status is Status.CONSISTENT, verdict.summary


def test_the_scaling_statistics_scale_each_row_by_its_own_s():
    """The loss and gradient columns draw one s_u per row: with the factors of the right rows the deviations are
    round-off; with each row given its neighbour's factor the gradient column is far off."""
    net = dataclasses.replace(MLP, eps=0.0)
    params, data = _setup(net, instances=4, samples=6)
    gen = _gen(12)
    w = params["W1"]
    s_rows, s = N.log_uniform((4, w.shape[1]), gen, DEVICE), N.log_uniform((4,), gen, DEVICE)
    v = torch.randn(w.shape, generator=gen, dtype=torch.float64)
    one = lambda q: 1  # noqa: E731
    good = SC.statistics(net, params, data, 1, s_rows, s, v, one, lambda q: 1 / q, lambda q: 1 / q**2)
    assert float(good[:, [SC.LOSS, SC.GRAD, SC.HVP]].max()) < 1e-12
    shifted = SC.statistics(net, params, data, 1, s_rows, s, v, one, lambda q: 1 / q.roll(1, -1), lambda q: 1 / q**2)
    assert float(shifted[:, SC.GRAD].min()) > 1e-3


def test_weight_decay_check_refutes_eta_lambda_ten_percent_off():
    eta, lam = S.eta.symbol, S.lam.symbol
    wrong = S.wd_factor.subs(eta, sp.Rational(11, 10) * eta)  # eta lambda -> 1.1 eta lambda
    points = D.DECAY_POINTS[:1]
    assert _verdict(P.wd_decay, D.decay_check, 8, simulate=D.decay_simulator(wrong), points=points).status \
        is Status.REFUTED
    assert _verdict(P.wd_decay, D.decay_check, 8, simulate=D.decay_simulator(sp.S.One), points=points).status \
        is Status.REFUTED  # "frozen under weight decay too"
    assert lam in S.wd_factor.free_symbols
    _holds_with_margin(P.wd_decay, D.decay_check, 8, points=points)


def test_rescaling_check_refutes_exponent_minus_one():
    wrong = S.wrs_step_factor ** 2  # (1 + eta^2 G/r^2)^(-1) instead of ^(-1/2)
    for points in (D.RESCALING_POINTS[:1], D.RESCALING_POINTS[2:]):
        assert _verdict(P.wrs_shrink, D.rescaling_check, 8, simulate=D.rescaling_simulator(wrong),
                        points=points).status is Status.REFUTED
        _holds_with_margin(P.wrs_shrink, D.rescaling_check, 8, points=points)


@pytest.mark.parametrize("claim, check, allowance", [
    (P.wgrad_default_eps, SC.default_eps_check, SC.COS_ROUNDOFF),
    (P.loss_default_eps, SC.loss_eps_check, SC.LOSS_ROUNDOFF),
    (P.grad_default_eps, SC.grad_eps_check, SC.GRAD_ROUNDOFF),
    (P.hvp_default_eps, SC.hvp_eps_check, SC.HVP_ROUNDOFF),
    (P.norm_default_eps, D.default_eps_check, D.NORM_ROUNDOFF),
    (P.wrs_default_eps, D.rescaling_eps_check, D.RESCALING_ROUNDOFF),
], ids=["wgrad", "loss", "grad", "hvp", "norm", "wrs"])
def test_measurements_at_default_eps_are_measured_and_far_beyond_round_off(claim, check, allowance):
    """At eps = 1e-5 each statistic lies far (100x) above the eps = 0 claim's round-off allowance, on every point
    measured (the scale-invariance ones on both networks)."""
    points = [p for p in check.resolved_points() if p.get("layer", 2) == 2]
    assert {p["net"] for p in points} == ({"mlp", "conv"} if check.simulate is SC.simulate_default_eps else {"mlp"})
    verdict = _verdict(claim, check, 8, points=points)
    assert verdict.status is Status.MEASURED
    for row in verdict.evidence["rows"]:
        assert row["estimate"] > 100 * allowance, (row, allowance)


def test_the_default_eps_measurements_share_one_simulation():
    from bnsym.registry import load  # noqa: PLC0415

    reg, _ = load(["liu2021"], with_checks=True)
    checks = [reg.checks[f"liu2021.S3.{name}"][0] for name in ("wgrad_default_eps", "loss_default_eps",
                                                               "grad_default_eps", "hvp_default_eps")]
    assert {c.simulate for c in checks} == {SC.simulate_default_eps} and len({c.process for c in checks}) == 1
    assert {p["net"] for p in checks[0].resolved_points()} == {"mlp", "conv"}


def test_the_log_ratio_statistics_read_every_entry_at_the_default_points():
    for simulate, points in ((D.decay_check.simulate, D.DECAY_POINTS), (D.rescaling_check.simulate,
                                                                          D.RESCALING_POINTS)):
        obs = simulate(points, 8, _gen(9), DEVICE)
        assert bool((obs[..., 1] == 1).all()), obs[..., 1]


def test_a_nan_run_is_undecided_not_consistent():
    t, units = 3, 2
    perp = torch.ones(t + 1, 1, units, dtype=torch.float64)
    perp[2, 0, 1] = math.nan
    ones = torch.ones(t + 1, 1, units, dtype=torch.float64)
    run = T.Run(norm_sq=[ones], grad_sq=[ones[1:]], stepped_sq=[ones[1:]], perp_norm=perp, perp_change=perp - 1,
                losses=torch.ones(t, 1), params={})
    assert math.isnan(float(D.log_ratio_deviation(run, torch.zeros(1))[0]))

    def diverged(points, n, gen, device):
        return torch.full((len(points), n, 2), math.nan, dtype=torch.float64)

    assert _verdict(P.wd_decay, D.decay_check, 4, simulate=diverged, points=D.DECAY_POINTS[:1]).status \
        is Status.UNDECIDED


def test_allowances_follow_the_operation_counts():
    assert SC.HVP_ROUNDOFF > SC.GRAD_ROUNDOFF > SC.COS_ROUNDOFF > 0
    assert D.FROZEN_ROUNDOFF >= R.gamma(D.frozen_count({"net": "mlp", "optimizer": "momentum"}))
    assert R.frozen_count(48, 16, 8, 40, 0.9) > R.frozen_count(48, 16, 8, 40)
    assert D.DECAY_ROUNDOFF > 2 * R.gamma(R.frozen_count(48, 16, 8, 40)) / R.FLOOR > 0


@pytest.mark.montecarlo
def test_every_s3_check_holds_at_its_default_settings():
    from bnsym.registry import load  # noqa: PLC0415

    reg, _ = load(["liu2021"], with_checks=True)
    theorem = P.S3
    for claim, _role in theorem.all_claims():
        name = next(k for k, v in vars(P).items() if v is claim)
        for check in reg.checks[f"liu2021.S3.{name}"]:
            verdict = run_check(check, theorem, name, RunOptions(seed=11))
            expected = Status.MEASURED if claim.kind == "measurement" else Status.CONSISTENT
            assert verdict.status is expected, (name, verdict.summary)
