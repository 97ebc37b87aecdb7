"""Tests of the Liu et al. symbolic claims (derivations/liu2021/scale.py and span.py) that the claims cannot state.

Anchors: the closed forms the claims are built from, lambdified, against independent implementations in torch:
BN in train mode (torch.nn.functional.batch_norm), its Jacobian and Hessian by autograd at batch sizes the proofs
do not cover (M = 5, 7, eps = 0 and eps > 0), the chain rule through z = X w taken on trust by the claims,
conv1d/conv2d and unfold, and the optimizer steps of torch.optim.SGD (momentum, dampening, nesterov, weight decay)
and torch.optim.Adam. Mutants: a closed form 10% off, a wrong exponent or a dropped hypothesis is refuted (or at
least not proven) by the same verifier that proves the true claim.
"""

from __future__ import annotations

import dataclasses
import functools

import pytest
import sympy as sp
import torch

from bnsym import Identity, Source, Theorem
from bnsym.linalg import dot, vector
from bnsym.verdict import Status
from bnsym.verify import Settings, verify_claim
from derivations.liu2021 import scale as S1m
from derivations.liu2021 import span as S2m
from derivations.liu2021 import symbols as sym

pytestmark = pytest.mark.usefixtures("one_torch_thread")
DT = torch.float64


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _randn(*shape: int, seed: int) -> torch.Tensor:
    return torch.randn(*shape, generator=_gen(seed), dtype=DT)


def _bn_torch(z: torch.Tensor, eps: float) -> torch.Tensor:
    """BN of one unit over the batch z, train mode, no affine: torch's own implementation
    (``torch.nn.functional.batch_norm`` for eps > 0; it refuses eps = 0 in training, so then the kernel it
    dispatches to, ``torch.batch_norm``, as bnsym.sim.bnnet does)."""
    if eps > 0:
        return torch.nn.functional.batch_norm(z[:, None], None, None, training=True, eps=eps)[:, 0]
    return torch.batch_norm(z[:, None], None, None, None, None, True, 0.0, 0.0, False)[:, 0]


def _explicit_batch(M: int):
    zs = sp.symbols(f"z1:{M + 1}", real=True)
    eps = sp.Symbol("epsilon", nonnegative=True)
    return zs, eps, S1m.Batch(M, lambda q: zs[q - 1], eps)


@functools.lru_cache(maxsize=None)
def _normalized(M: int):
    """n(z) of scale.Batch for an explicit batch of M, lambdified (eps an argument)."""
    zs, eps, batch = _explicit_batch(M)
    return sp.lambdify((zs, eps), [batch.normalized(q) for q in range(1, M + 1)], "math")


@functools.lru_cache(maxsize=None)
def _derivative_forms(M: int):
    """(J b)_i and b'(Hess n_i) b of scale.Batch for an explicit batch of M, lambdified."""
    zs, eps, batch = _explicit_batch(M)
    bs = sp.symbols(f"b1:{M + 1}", real=True)
    b = lambda q: bs[q - 1]  # noqa: E731
    jb = sp.lambdify((zs, bs, eps), [batch.jacobian_action(b, q) for q in range(1, M + 1)], "math")
    hb = sp.lambdify((zs, bs, eps), [batch.hessian_form(b, q) for q in range(1, M + 1)], "math")
    return jb, hb


# -- anchors: the BN closed forms against torch ------------------------------------------------------------------
@pytest.mark.parametrize("M", [3, 5, 8])
@pytest.mark.parametrize("eps", [0.0, 1e-2])
def test_normalized_is_torch_batch_norm(M, eps):
    z = _randn(M, seed=M)
    n = torch.tensor(_normalized(M)(z.tolist(), eps), dtype=DT)
    assert torch.allclose(n, _bn_torch(z, eps), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("M", [5])
@pytest.mark.parametrize("eps", [0.0, 0.3])
def test_jacobian_and_hessian_closed_forms_match_autograd_beyond_the_proven_sizes(M, eps):
    """The closed forms are proven by differentiation for M = 3 (and 4); autograd of torch's BN confirms them at
    other M, with and without eps."""
    jb, hb = _derivative_forms(M)
    z, b = _randn(M, seed=10 + M), _randn(M, seed=20 + M)
    J = torch.autograd.functional.jacobian(lambda x: _bn_torch(x, eps), z)
    assert torch.allclose(torch.tensor(jb(z.tolist(), b.tolist(), eps), dtype=DT), J @ b, rtol=1e-10, atol=1e-10)
    for i in range(M):
        H = torch.autograd.functional.hessian(lambda x, i=i: _bn_torch(x, eps)[i], z)
        assert torch.allclose(torch.tensor(hb(z.tolist(), b.tolist(), eps)[i], dtype=DT), b @ H @ b,
                              rtol=1e-9, atol=1e-9)


def _at_size(expr: sp.Expr, M: int, values: dict) -> float:
    """A symbolic-M expression of scale.py at an explicit M: the sums expanded, the undefined sequences
    (z, b, F_n) replaced by numbers, the position i by 1."""
    e = expr.subs({S1m._M: M, S1m._i: 1}).doit()
    reps = {a: values[a.func][int(a.args[0]) - 1] for a in e.atoms(sp.core.function.AppliedUndef)}
    return float(e.xreplace(reps))


def test_symbolic_batch_closed_forms_are_torch_derivatives_at_an_explicit_size():
    """The expressions the symbolic-M claims are proven for (sums over bound indices), expanded at M = 4, are the
    derivatives of torch's BN: guards the sums' construction (bound indices, nesting)."""
    M = 4
    z, b, f = _randn(M, seed=30), _randn(M, seed=31), _randn(M, seed=32)
    values = {S1m.z_seq: z.tolist(), S1m.b_seq: b.tolist(), S1m.F_n: f.tolist()}
    J = torch.autograd.functional.jacobian(lambda x: _bn_torch(x, 0.0), z)
    H = torch.autograd.functional.hessian(lambda x: _bn_torch(x, 0.0)[0], z)
    assert abs(_at_size(S1m._sym.normalized(S1m._i), M, values) - float(_bn_torch(z, 0.0)[0])) < 1e-12
    assert abs(_at_size(S1m._sym.jacobian_action(S1m.b_seq, S1m._i), M, values) - float((J @ b)[0])) < 1e-10
    assert abs(_at_size(S1m._sym.hessian_form(S1m.b_seq, S1m._i), M, values) - float(b @ H @ b)) < 1e-9
    assert abs(_at_size(S1m._grad_loss(S1m._sym), M, values) - float(f @ J @ b)) < 1e-10
    assert abs(_at_size(S1m._sym.jacobian_action(S1m.z_seq, S1m._i), M, values)) < 1e-10  # Euler


def test_chain_rule_through_z_equals_x_w():
    """The step the claims take on trust: v.grad_w n_i(X w) = (J b)_i with b = X v (here M = 6, d = 9)."""
    M, d = 5, 9
    jb, _ = _derivative_forms(M)
    X, w, v = _randn(M, d, seed=1), _randn(d, seed=2), _randn(d, seed=3)
    J_w = torch.autograd.functional.jacobian(lambda u: _bn_torch(X @ u, 0.0), w)
    assert torch.allclose(J_w @ v, torch.tensor(jb((X @ w).tolist(), (X @ v).tolist(), 0.0), dtype=DT),
                          rtol=1e-10, atol=1e-10)
    assert torch.allclose(J_w @ w, torch.zeros(M, dtype=DT), atol=1e-12)  # Euler: w.grad_w n_i = 0


# -- anchors: convolutions and unfolded patches ------------------------------------------------------------------
def test_conv1d_and_patches_are_torch_conv1d_and_unfold():
    ys, ks = [p.symbol for p in S2m.y1d_p], [p.symbol for p in S2m.k1d_p]
    y, k = _randn(S2m.N_1D, seed=4), _randn(S2m.K_1D, seed=5)
    z = sp.lambdify((ys, ks), S2m.conv1d_z, "math")(y.tolist(), k.tolist())
    assert torch.allclose(torch.tensor(z, dtype=DT), torch.nn.functional.conv1d(y[None, None], k[None, None])[0, 0],
                          rtol=1e-12, atol=1e-12)
    patches = sp.lambdify((ys,), [list(p) for p in S2m.conv1d_patches], "math")(y.tolist())
    assert torch.allclose(torch.tensor(patches, dtype=DT), y.unfold(0, S2m.K_1D, 1))


def test_conv2d_and_patches_are_torch_conv2d_and_unfold():
    ys, ks = [p.symbol for p in S2m._Y_p], [p.symbol for p in S2m._K_p]
    Y, K = _randn(2, 3, seed=6), _randn(2, 2, seed=7)
    z = sp.lambdify((ys, ks), S2m.conv2d_z, "math")(Y.flatten().tolist(), K.flatten().tolist())
    assert torch.allclose(torch.tensor(z, dtype=DT),
                          torch.nn.functional.conv2d(Y[None, None], K[None, None]).flatten(), rtol=1e-12, atol=1e-12)
    patches = sp.lambdify((ys,), [list(p) for p in S2m.conv2d_patches], "math")(Y.flatten().tolist())
    unfold = torch.nn.functional.unfold(Y[None, None], (2, 2))[0].T  # (positions, kernel entries)
    assert torch.allclose(torch.tensor(patches, dtype=DT), unfold)


# -- anchors: the optimizer steps against torch.optim --------------------------------------------------------------
_w_s, _ = vector("pw", 3)
_m_s, _ = vector("pm", 3)
_g_s, _ = vector("pg", 3)
_RATES = (sym.eta.symbol, S2m.beta.symbol, S2m.damp.symbol, sym.lam.symbol)


def _step_fn(expr: sp.Matrix):
    return sp.lambdify((list(_w_s), list(_m_s), list(_g_s)) + _RATES, list(expr), "math")


def _torch_steps(opt_cls, grads, **kw) -> torch.Tensor:
    p = torch.nn.Parameter(_randn(3, seed=8))
    opt = opt_cls([p], **kw)
    for g in grads:
        p.grad = g.clone()
        opt.step()
    return p.detach()


@pytest.mark.parametrize("nesterov,dampening", [(False, 0.0), (False, 0.3), (True, 0.0)])
def test_torch_sgd_momentum_step_is_torch_optim_sgd(nesterov, dampening):
    lr, mu = 0.1, 0.9
    g0, g1 = _randn(3, seed=9), _randn(3, seed=10)
    w0 = _randn(3, seed=8)
    # torch's first step: the buffer is the gradient itself (no dampening)
    w1 = w0 - lr * (g0 + mu * g0 if nesterov else g0)
    w_next, _ = S2m.torch_sgd_step(_w_s, _m_s, _g_s, nesterov)
    w2 = _step_fn(w_next)(w1.tolist(), g0.tolist(), g1.tolist(), lr, mu, dampening, 0.0)
    torch_w2 = _torch_steps(torch.optim.SGD, [g0, g1], lr=lr, momentum=mu, dampening=dampening, nesterov=nesterov)
    assert torch.allclose(torch.tensor(w2, dtype=DT), torch_w2, rtol=1e-12, atol=1e-12)


def test_heavy_ball_and_weight_decay_steps_are_torch_optim_sgd():
    lr, mu, lam = 0.05, 0.8, 0.01
    g0, g1 = _randn(3, seed=11), _randn(3, seed=12)
    w0 = _randn(3, seed=8)
    w_hb, m_hb = S2m.heavy_ball_step(_w_s, _m_s, _g_s)
    zero = [0.0] * 3
    w1 = _step_fn(w_hb)(w0.tolist(), zero, g0.tolist(), lr, mu, 0.0, 0.0)
    m1 = _step_fn(m_hb)(w0.tolist(), zero, g0.tolist(), lr, mu, 0.0, 0.0)
    w2 = _step_fn(w_hb)(w1, m1, g1.tolist(), lr, mu, 0.0, 0.0)
    assert torch.allclose(torch.tensor(w2, dtype=DT), _torch_steps(torch.optim.SGD, [g0, g1], lr=lr, momentum=mu),
                          rtol=1e-12, atol=1e-12)
    wd = _step_fn(S2m.wd_step(_w_s, _g_s))(w0.tolist(), zero, g0.tolist(), lr, 0.0, 0.0, lam)
    assert torch.allclose(torch.tensor(wd, dtype=DT), _torch_steps(torch.optim.SGD, [g0], lr=lr, weight_decay=lam),
                          rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("eps", [1e-8, 0.5])
def test_adam_first_step_is_torch_optim_adam(eps):
    lr, betas, c = 0.01, (0.9, 0.999), 0.7
    g = c * torch.tensor([1.0, 2.0], dtype=DT)
    p = torch.nn.Parameter(torch.tensor([0.3, -0.2], dtype=DT))
    start = p.detach().clone()
    opt = torch.optim.Adam([p], lr=lr, betas=betas, eps=eps)
    p.grad = g.clone()
    opt.step()
    symbols = (sym.eta.symbol, S2m.beta1.symbol, S2m.beta2.symbol, S2m.eps_adam.symbol, S2m.c_adam.symbol)
    step = sp.lambdify(symbols, list(S2m.adam_first_step(S2m.adam_gradient)), "math")(lr, *betas, eps, c)
    assert torch.allclose(p.detach() - start, torch.tensor(step, dtype=DT), rtol=1e-10, atol=1e-15)
    move = sp.lambdify(symbols, S2m.adam_move, "math")(lr, *betas, eps, c)
    v = torch.tensor([2.0, -1.0], dtype=DT)
    assert abs(float(v @ (p.detach() - start)) - move) < 1e-12 and move < 0


# -- mutants: the verifier refutes what is wrong -------------------------------------------------------------------
_PROVER = Settings(budget=2.0, points=8)
_NUMERIC = Settings(symbolic=False, points=8)  # a mutant's refutation comes from the numeric check: skip the ladder


def _status(theorem: Theorem, claim, settings: Settings = _NUMERIC) -> Status:
    scratch = Theorem(title="mutant", source=Source("test"), params=theorem.params, claims=(claim,))
    return verify_claim(scratch, claim, "mutant", settings=settings).status


def _ten_percent_off(claim: Identity) -> Identity:
    return dataclasses.replace(claim, title=f"mutant of {claim.title}", rhs=sp.Rational(11, 10) * claim.rhs)


@pytest.mark.parametrize("name", ["jacobian_formula", "jacobian_formula_m4", "hessian_formula", "euler_eps"])
def test_explicit_closed_forms_ten_percent_off_are_refuted(name):
    assert _status(S1m.S1, _ten_percent_off(getattr(S1m, name))) is Status.REFUTED


def test_a_wrong_exponent_of_the_scaling_is_refuted_and_the_true_one_proven():
    """Explicit M = 3 (so the numeric fallback can evaluate it): b'(Hess n_1)(s z) b against 1/s and 1/s^2."""
    b3 = lambda q: S1m._b3[q - 1]  # noqa: E731
    at_sz = S1m._B3.scaled(S1m._s).hessian_form(b3, 1)
    at_z = S1m._B3.hessian_form(b3, 1)
    assert _status(S1m.S1, Identity(title="1/s", lhs=at_sz, rhs=at_z / S1m._s)) is Status.REFUTED
    assert _status(S1m.S1, Identity(title="1/s^2", lhs=at_sz, rhs=at_z / S1m._s**2), _PROVER) is Status.PROVEN


def test_a_wrong_symbolic_scaling_is_not_proven():
    """Symbolic M: sums over undefined sequences cannot be sampled, so a wrong power of s stays unproven."""
    mutant = dataclasses.replace(S1m.variance_scaling, title="s^1", rhs=S1m._s * S1m._sym.variance())
    assert not _status(S1m.S1, mutant, _PROVER).holds
    mutant = dataclasses.replace(S1m.jacobian_scaling, title="1/s^2", rhs=S1m.jacobian_scaling.rhs / S1m._s)
    assert not _status(S1m.S1, mutant, _PROVER).holds


def test_the_loss_hessian_scaling_is_proven_on_the_closed_forms_and_a_1_over_s_law_is_not():
    """loss_hessian_scaling compares the chain rule's two sums built from the closed forms at s z and at z (no
    placeholder functions): the true 1/s^2 is PROVEN, 1/s is not."""
    claim = S1m.loss_hessian_scaling
    assert not any(f.func.__name__ in ("A", "A_s", "C", "C_s")
                   for f in (claim.lhs - claim.rhs).atoms(sp.core.function.AppliedUndef))
    assert _status(S1m.S1, claim, _PROVER) is Status.PROVEN
    mutant = dataclasses.replace(claim, title="1/s", rhs=S1m._hess_loss(S1m._sym) * sym.grad_factor)
    assert not _status(S1m.S1, mutant, Settings(budget=1.0, points=8)).holds  # a false identity: no budget proves it


def test_the_exact_norm_growth_needs_the_orthogonal_gradient():
    """||w - eta g||^2 = ||w||^2 + eta^2 ||g||^2 is refuted for a general g: w.g = 0 carries the claim."""
    step = S1m.w2 - S1m._eta * S1m.g2
    claim = Identity(title="no orthogonality", lhs=dot(step, step),
                     rhs=dot(S1m.w2, S1m.w2) + S1m._eta**2 * dot(S1m.g2, S1m.g2))
    assert _status(S1m.S1, claim) is Status.REFUTED


def test_adam_is_not_frozen_and_its_move_ten_percent_off_is_refuted():
    step = S2m.adam_first_step(S2m.adam_gradient)
    frozen = Identity(title="Adam frozen", lhs=dot(S2m.V_ADAM, step), rhs=0)
    assert _status(S2m.S2, frozen) is Status.REFUTED
    off = Identity(title="10% off", lhs=dot(S2m.V_ADAM, step), rhs=sp.Rational(11, 10) * S2m.adam_move)
    assert _status(S2m.S2, off) is Status.REFUTED


def test_weight_decay_and_rescaling_factors_with_a_wrong_exponent_are_refuted():
    t = sym.steps.symbol
    wrong_wd = Identity(title="t - 1", lhs=(1 - sym.eta.symbol * sym.lam.symbol) * sym.wd_factor,
                        rhs=sym.wd_factor.subs(t, t - 1))
    assert _status(S2m.S2, wrong_wd) is Status.REFUTED
    first = S2m.wrs_step.chain[0][0]
    r, G = sym.radius.symbol, sym.grad_sq.symbol
    at = {r: S2m._norm_w, G: dot(S2m._g3, S2m._g3)}
    wrong_wrs = Identity(title="power -1", lhs=first, rhs=dot(S2m._v3, S2m._w3) * (sym.wrs_step_factor**2).subs(at))
    assert _status(S2m.S2, wrong_wrs) is Status.REFUTED
    true_wrs = Identity(title="power -1/2", lhs=first, rhs=dot(S2m._v3, S2m._w3) * sym.wrs_step_factor.subs(at))
    assert _status(S2m.S2, true_wrs, _PROVER) is Status.PROVEN


def test_the_product_from_off_the_sphere_is_refuted():
    """From ||w_0|| != r the first factor is not wrs_step_factor(G_0): the printed product needs ||w_0|| = r."""
    first = S2m.wrs_first_step.chain[0][0]
    at_r = {sym.grad_sq.symbol: dot(S2m._g3, S2m._g3)}
    claim = Identity(title="printed first factor", lhs=first,
                     rhs=dot(S2m._v3, S2m._w3) * sym.wrs_step_factor.subs(at_r))
    assert _status(S2m.S2, claim) is Status.REFUTED
