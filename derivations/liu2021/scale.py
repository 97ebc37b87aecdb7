"""S1. Scale invariance of a BN layer and its consequences (Liu et al., 2021: the abstract's weight-rescaling
invariance of BN networks and its first implicit bias, the weight norms in continuous and discrete time).

BN in train mode with eps = 0 normalizes the pre-activations z_i = w.x_i of one unit over a batch of M:

    n_i = (z_i - mu_B)/sigma_B,   mu_B = (1/M) sum_k z_k,   sigma_B^2 = (1/M) sum_k (z_k - mu_B)^2.

Proven for a symbolic batch size M and input dimension d (SymPy sums over undefined sequences: the
inputs x_ij, the weights w_j, the pre-activations z_i): z_i(s w) = s z_i(w), mu_B(s z) = s mu_B(z),
sigma_B^2(s z) = s^2 sigma_B^2(z), hence n_i(s w) = n_i(w) for s > 0 (and -n_i(w) for s < 0); the same for
each unit of a layer W on its own (row u of W scaled by its own s_u > 0).

Derivatives. By differentiation, for explicit M, eps >= 0 included (every entry of the Jacobian and the
Hessian at M = 3; the first row of the Jacobian at M = 4):

    dn_i/dz_k = (delta_ik - 1/M - n_i n_k/M)/sigma_B,
    d^2 n_i/dz_k dz_l = -(J_ik n_l + J_il n_k + J_kl n_i)/(M sigma_B)     (J the Jacobian).

For every M the same two lines follow from d mu_B/dz_k = 1/M and d sigma_B/dz_k = n_k/M (with
sigma_B = sqrt(sigma_B^2 + eps)), which hold for every M; that step is the written argument, the
explicit sizes are the proof (the M = 4 Hessian takes SymPy about 10 s, beyond the budget of a claim).
Every consequence below is proven for symbolic M *from these closed forms*: it holds for every M as far
as the closed forms do, which is proven at M = 3, 4 and argued above for the rest, and the titles say so.
The weight enters only through z = X w (rows x_k), so by the chain rule grad_w n_i = sum_k J_ik x_k and
v.grad_w n_i = (J b)_i with b_k = x_k.v; v = w gives b = z. That chain rule is the other step taken on
trust; it holds in every d, so the claims in b say "every d". Proven that way: w.grad_w n_i = 0; the
Jacobian at s w is the Jacobian at w over s; the second derivatives at s w are those at w over s^2; with
eps > 0, w.grad_w n_i = eps n_i/(sigma_B^2 + eps) instead (M = 3, by differentiation).

Every loss L(w) = F(n_1(w), ..., n_M(w)), F smooth and arbitrary: L(s w) = L(w) (an undefined SymPy
function F; M = 3, d = 2, two units each with its own scale); by the chain rule grad L = J' grad F and
Hess L = J' Hess F J + sum_i F_i Hess n_i, with the derivatives of F taken at n(s w) = n(w), so
w.grad L = 0, grad L(s w) = grad L(w)/s and Hess L(s w) = Hess L(w)/s^2 (symbolic M from the closed forms,
every d; F_i and F_ij are undefined sequences, the values of the partial derivatives of F). Each is proven
on the closed forms themselves: the chain rule's sums at s z against those at z.

Norms (every d: inner products of two vectors only, see :mod:`bnsym.linalg`):
||w - eta g||^2 = ||w||^2 - 2 eta w.g + eta^2 ||g||^2; for g orthogonal to w (every BN gradient, by
w.grad L = 0) plain SGD grows ||w||^2 by exactly eta^2 ||g||^2 per step, and under gradient flow
d/dt ||w||^2 = -2 w.grad L = 0. With eps > 0 the cross term -2 eta w.g stays, w.g given above.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import sympy as sp

from bnsym import Derivation, Identity, Param, Source, Theorem, by
from bnsym.claims import Justification
from bnsym.linalg import dot, sufficient_dimension, vector

from .symbols import eta, grad_factor, grad_sq, hess_factor, loss_factor, norm_next, norm_sq, scale

SOURCE = Source("Liu et al., 2021 (The Implicit Biases of SGD on Deep Neural Networks with Batch Normalization)",
                "abstract: BN networks are invariant to weight rescaling; the weight norms stay constant in continuous"
                " time and keep increasing in discrete time")

# -- parameters ---------------------------------------------------------------------------------------------
batch = Param("M", lo=2, integer=True, sample_hi=64, law="log", latex="M")
dim = Param("d", lo=1, integer=True, sample_hi=64, law="log", latex="d")
position = Param("i", lo=1, integer=True, sample_hi=64, latex="i")
unit = Param("u", lo=1, integer=True, sample_hi=64, latex="u")
scale_neg = Param("s_neg", hi=0, hi_open=True, sample_lo=-10, sample_hi=-0.1, latex="s")
scale_2 = Param("s_2", lo=0, lo_open=True, sample_lo=0.1, sample_hi=10, law="log", latex="s_2")
bn_eps = Param("epsilon", lo=0, lo_open=True, sample_lo=1e-5, sample_hi=1, law="log", latex="\\epsilon")
bn_eps0 = Param("epsilon", lo=0, sample_lo=0, sample_hi=1, latex="\\epsilon")
time_ = Param("tau", lo=0, sample_lo=0, sample_hi=10, latex="t")
_M, _d, _i, _u, _s = batch.symbol, dim.symbol, position.symbol, unit.symbol, scale.symbol
_eta = eta.symbol

# bound indices of the batch sums (one per nesting level, fixed so that equal sums are equal expressions)
_k = sp.Dummy("k", integer=True, positive=True)
_j = sp.Dummy("j", integer=True, positive=True)
_l = sp.Dummy("l", integer=True, positive=True)
_m = sp.Dummy("m", integer=True, positive=True)

# undefined real sequences: the symbolic-size data of the claims
x_seq = sp.Function("x", real=True)  # x(i, j): coordinate j of input i
w_seq = sp.Function("w", real=True)  # w(j): the unit's weight
W_seq = sp.Function("W", real=True)  # W(u, j): row u of the layer's weight
s_seq = sp.Function("s", positive=True)  # s(u) > 0: the scale of row u
z_seq = sp.Function("z", real=True)  # z(i): pre-activation of sample i
b_seq = sp.Function("b", real=True)  # b(k) = x_k.v: the direction v seen through input k
F_n = sp.Function("F_n", real=True)  # F_n(i) = dF/dn_i at n(w)
F_nn = sp.Function("F_nn", real=True)  # F_nn(i, j) = d^2F/dn_i dn_j at n(w)


@dataclass(frozen=True)
class Batch:
    """The pre-activations z_1..z_M of one unit over a batch, and the BN closed forms built on them.

    ``size`` is an int (explicit entries) or the symbol M (sums stay SymPy sums over a bound index);
    ``entry(i)`` is z_i for i = 1..size; ``eps`` is BN's eps (0: the scale-invariant case).
    """

    size: Any
    entry: Callable[[Any], sp.Expr]
    eps: sp.Expr = sp.S.Zero

    def total(self, f: Callable[[Any], sp.Expr], index: sp.Symbol = _k) -> sp.Expr:
        """sum_{k=1}^{M} f(k)."""
        if isinstance(self.size, int):
            return sp.Add(*[f(q) for q in range(1, self.size + 1)])
        return sp.Sum(f(index), (index, 1, self.size))

    def scaled(self, factor: sp.Expr) -> Batch:
        return Batch(self.size, lambda q: factor * self.entry(q), self.eps)

    def mean(self) -> sp.Expr:
        """mu_B = (1/M) sum_k z_k."""
        return self.total(self.entry) / self.size

    def variance(self) -> sp.Expr:
        """sigma_B^2 = (1/M) sum_k (z_k - mu_B)^2 (biased, as BN in train mode)."""
        mu = self.mean()
        return self.total(lambda q: (self.entry(q) - mu)**2) / self.size

    def sigma(self) -> sp.Expr:
        """sqrt(sigma_B^2 + eps)."""
        return sp.sqrt(self.variance() + self.eps)

    def normalized(self, q: Any) -> sp.Expr:
        """n_q = (z_q - mu_B)/sqrt(sigma_B^2 + eps)."""
        return (self.entry(q) - self.mean()) / self.sigma()

    def n_dot(self, b: Callable[[Any], sp.Expr]) -> sp.Expr:
        """<n, b> = sum_k n_k b_k."""
        return self.total(lambda q: self.normalized(q) * b(q))

    def jacobian_action(self, b: Callable[[Any], sp.Expr], q: Any) -> sp.Expr:
        """(J b)_q with J_qk = dn_q/dz_k = (delta_qk - 1/M - n_q n_k/M)/sigma_B (closed form)."""
        return (b(q) - self.total(b) / self.size - self.normalized(q) * self.n_dot(b) / self.size) / self.sigma()

    def jacobian_form(self, b: Callable[[Any], sp.Expr]) -> sp.Expr:
        """b'J b = (sum b_k^2 - (sum b_k)^2/M - <n, b>^2/M)/sigma_B (closed form)."""
        return (self.total(lambda q: b(q)**2) - self.total(b)**2 / self.size
                - self.n_dot(b)**2 / self.size) / self.sigma()

    def hessian_form(self, b: Callable[[Any], sp.Expr], q: Any) -> sp.Expr:
        """b'(Hess n_q) b = -(2 (J b)_q <n, b> + n_q b'J b)/(M sigma_B), from
        d^2 n_q/dz_k dz_l = -(J_qk n_l + J_ql n_k + J_kl n_q)/(M sigma_B) (closed form)."""
        return -(2 * self.jacobian_action(b, q) * self.n_dot(b)
                 + self.normalized(q) * self.jacobian_form(b)) / (self.size * self.sigma())


def preactivation(weight: Callable[[Any], sp.Expr], q: Any) -> sp.Expr:
    """z_q = sum_{j=1}^{d} w_j x_qj (symbolic d)."""
    return sp.Sum(weight(_m) * x_seq(q, _m), (_m, 1, _d))


def _batch_sum_linearity(e: sp.Expr) -> sp.Expr:
    """Linearity of a finite sum: expand (sum_k (a_k + c) = sum_k a_k + sum_k c, constants out) and evaluate
    the sums of terms free of their index (sum_{k=1}^{M} c = M c)."""
    e = sp.expand(e)
    return e.replace(lambda x: isinstance(x, sp.Sum) and not (x.function.free_symbols & {x.limits[0][0]}),
                     lambda x: x.doit())


LINEARITY = Justification("linearity of the batch sum",
                          "sum_k (a z_k + c) = a sum_k z_k + M c, so sum_k (z_k - mu_B) = 0 and"
                          " <n, z> = sum_k (z_k - mu_B) z_k/sigma_B = M sigma_B",
                          apply=_batch_sum_linearity)

# -- 1. n_i(s w) = n_i(w): symbolic M and d ----------------------------------------------------------------------
_sym = Batch(_M, z_seq)
_sym_s = _sym.scaled(_s)
_bn_w = Batch(_M, lambda q: preactivation(w_seq, q))
_bn_sw = Batch(_M, lambda q: preactivation(lambda j: _s * w_seq(j), q))

preactivation_scaling = Identity(title="z_i(s w) = s z_i(w) for z_i = sum_j w_j x_ij (symbolic d)",
                                 lhs=preactivation(lambda j: _s * w_seq(j), _i), rhs=_s * preactivation(w_seq, _i))
mean_scaling = Identity(title="mu_B(s z) = s mu_B(z) (symbolic M)", lhs=_sym_s.mean(), rhs=_s * _sym.mean())
variance_scaling = Identity(title="sigma_B^2(s z) = s^2 sigma_B^2(z) (symbolic M)", lhs=_sym_s.variance(),
                            rhs=_s**2 * _sym.variance())
_sz_of_w = _bn_w.scaled(_s)
bn_invariance = Derivation(
    title="n_i(s w) = n_i(w) for s > 0: BN (eps = 0) is scale invariant (symbolic M and d)",
    chain=[_bn_sw.normalized(_i),
           (_sz_of_w.normalized(_i), by.lemma(preactivation_scaling)),
           ((_s * preactivation(w_seq, _i) - _s * _bn_w.mean()) / sp.sqrt(_sz_of_w.variance()), by.lemma(mean_scaling)),
           ((_s * preactivation(w_seq, _i) - _s * _bn_w.mean()) / sp.sqrt(_s**2 * _bn_w.variance()),
            by.lemma(variance_scaling)),
           (_bn_w.normalized(_i), by.because("sqrt(s^2 sigma_B^2) = s sigma_B for s > 0"))])
bn_sign_flip = Identity(title="n_i(s w) = -n_i(w) for s < 0: only positive scales leave BN unchanged (symbolic M, d)",
                        lhs=Batch(_M, lambda q: preactivation(lambda j: scale_neg.symbol * w_seq(j), q)).normalized(_i),
                        rhs=-_bn_w.normalized(_i))


def _row_batch(row_scale: Callable[[Any], sp.Expr]) -> Batch:
    """The pre-activations of unit u of a layer: z_i = sum_j s_u W_uj x_ij."""
    return Batch(_M, lambda q: preactivation(lambda j: row_scale(_u) * W_seq(_u, j), q))


per_unit_invariance = Identity(
    title="per unit: scaling each row u of W by its own s_u > 0 leaves every unit's output n_i^(u) unchanged"
          " (symbolic M, d and unit u)",
    lhs=_row_batch(s_seq).normalized(_i), rhs=_row_batch(lambda _: 1).normalized(_i),
    note="unit u's pre-activations use row u of W only, so its BN output sees s_u alone")

# -- 2. the derivatives by differentiation (explicit M) --------------------------------------------------------
M4 = 4
z4, z4_p = vector("z", M4)
b4, b4_p = vector("b", M4, latex="x^\\top v")
u3, u3_p = vector("u", 3)
_z3, _b3 = z4[:3, 0], b4[:3, 0]


def _explicit(zz: sp.Matrix, eps: sp.Expr = sp.S.Zero) -> Batch:
    return Batch(zz.rows, lambda q: zz[q - 1], eps)


def _as_seq(v: sp.Matrix) -> Callable[[Any], sp.Expr]:
    return lambda q: v[q - 1]


def _directional(e: sp.Expr, zz: sp.Matrix, b: sp.Matrix) -> sp.Expr:
    """sum_k b_k de/dz_k (the derivative of e along b, by differentiation)."""
    return sp.Add(*[b[k] * sp.diff(e, zz[k]) for k in range(zz.rows)])


_e0 = bn_eps0.symbol
_B3e = _explicit(_z3, _e0)
jacobian_formula = Identity(
    title="dn_i/dz_k = (delta_ik - 1/M - n_i n_k/M)/sigma_B by differentiation, every entry, eps >= 0 (M = 3)",
    lhs=sp.Add(*[u3[q] * _directional(_B3e.normalized(q + 1), _z3, _b3) for q in range(3)]),
    rhs=sp.Add(*[u3[q] * _B3e.jacobian_action(_as_seq(_b3), q + 1) for q in range(3)]),
    where=(bn_eps0,), note="as u'J b for free u and b; sigma_B = sqrt(sigma_B^2 + eps)")
_B4e = _explicit(z4, _e0)
jacobian_formula_m4 = Identity(
    title="dn_1/dz_k = (delta_1k - 1/M - n_1 n_k/M)/sigma_B by differentiation, eps >= 0 (M = 4; the other rows by"
          " relabelling the batch)",
    lhs=_directional(_B4e.normalized(1), z4, b4), rhs=_B4e.jacobian_action(_as_seq(b4), 1), where=(bn_eps0,),
    note="BN commutes with permutations of the batch, so row 1 carries every row")
_B3 = _explicit(_z3)
_n1e = _B3e.normalized(1)
hessian_formula = Identity(
    title="d^2 n_1/dz_k dz_l = -(J_1k n_l + J_1l n_k + J_kl n_1)/(M sigma_B) by differentiation, eps >= 0 (M = 3;"
          " the other outputs by relabelling the batch)",
    lhs=_directional(_directional(_n1e, _z3, _b3), _z3, _b3), rhs=_B3e.hessian_form(_as_seq(_b3), 1),
    where=(bn_eps0,),
    note="as the quadratic form b'(Hess n_1) b for a free b, which determines the symmetric Hessian; sigma_B ="
         " sqrt(sigma_B^2 + eps)")

# -- 3. map-level consequences from the closed forms: symbolic M, every d --------------------------------------
_FROM_J = "symbolic M from the closed-form Jacobian, proven at M = 3, 4; every d by the chain rule"
_FROM_J_AND_H = ("symbolic M from the closed-form Jacobian (proven at M = 3, 4) and Hessian (proven at M = 3); every d"
                 " by the chain rule")
_CHAIN = ("chain rule through z = X w: grad_w n_i = sum_k J_ik x_k, so v.grad_w n_i = (J b)_i with b_k = x_k.v"
          " (every d); v = w gives b_k = z_k")
euler = Derivation(
    title=f"w.grad_w n_i = (J z)_i = 0: the gradient of every BN output is orthogonal to w ({_FROM_J})",
    chain=[_sym.jacobian_action(z_seq, _i), (0, LINEARITY)], note=_CHAIN)
jacobian_scaling = Identity(
    title=f"grad_w n_i(s w) = grad_w n_i(w)/s: the Jacobian at s w is the Jacobian at w over s ({_FROM_J})",
    lhs=_sym_s.jacobian_action(b_seq, _i), rhs=_sym.jacobian_action(b_seq, _i) * grad_factor,
    note=_CHAIN + "; z(s w) = s z(w) while b does not depend on w")
hessian_scaling = Identity(
    title=f"Hess_w n_i(s w) = Hess_w n_i(w)/s^2, as the quadratic form along every v ({_FROM_J_AND_H})",
    lhs=_sym_s.hessian_form(b_seq, _i), rhs=_sym.hessian_form(b_seq, _i) * hess_factor,
    note="v'Hess_w n_i v = b'(Hess_z n_i) b with b_k = x_k.v (z is linear in w)")
_B3eps = _explicit(_z3, bn_eps.symbol)
_f3 = tuple(Param(f"F_{q}", sample_lo=-3, sample_hi=3, latex=f"F_{{{q}}}") for q in range(1, 4))
euler_eps = Identity(
    title="with eps > 0: w.grad_w n_i = eps n_i/(sigma_B^2 + eps), not 0, so w.grad L = eps/(sigma_B^2 + eps)"
          " sum_i F_i n_i for every loss F (M = 3, every d; by differentiation)",
    lhs=sp.Add(*[_f3[q].symbol * _directional(_B3eps.normalized(q + 1), _z3, _z3) for q in range(3)]),
    rhs=bn_eps.symbol / (_B3eps.variance() + bn_eps.symbol) * sp.Add(*[_f3[q].symbol * _B3eps.normalized(q + 1)
                                                                      for q in range(3)]),
    where=(bn_eps,),
    note="as sum_i F_i (J z)_i for free F_i (the chain rule, F_i = dF/dn_i at n(w)), which is also the map-level"
         " statement output by output; the cross term of the norm identity below is -2 eta times this")

# -- 4. every loss F(n_1, ..., n_M) ---------------------------------------------------------------------------
_D_LOSS = 2
_X = sp.Matrix(3, _D_LOSS, lambda q, j: sp.Symbol(f"x_{q + 1}{j + 1}", real=True))
_X_params = tuple(Param(f"x_{q + 1}{j + 1}", sample_lo=-3, sample_hi=3) for q in range(3) for j in range(_D_LOSS))
row1, row1_p = vector("p", _D_LOSS, latex="w^{(1)}")
row2, row2_p = vector("q", _D_LOSS, latex="w^{(2)}")
_F = sp.Function("F")


def _unit_outputs(row: sp.Matrix) -> list[sp.Expr]:
    zz = _X * row
    bn = _explicit(zz)
    return [bn.normalized(q) for q in range(1, zz.rows + 1)]


def layer_loss(r1: sp.Matrix, r2: sp.Matrix) -> sp.Expr:
    """L = F(n^(1)_1..n^(1)_3, n^(2)_1..n^(2)_3): a loss of the BN outputs of two units (rows r1, r2), F undefined."""
    return _F(*(_unit_outputs(r1) + _unit_outputs(r2)))


loss_invariance = Identity(
    title="L(s_1 w^(1), s_2 w^(2)) = L(w^(1), w^(2)) for every loss F of the BN outputs: each unit's row is scale"
          " invariant on its own (M = 3, d = 2, two units, F an undefined function)",
    lhs=layer_loss(_s * row1, scale_2.symbol * row2), rhs=loss_factor * layer_loss(row1, row2),
    note="for symbolic sizes: bn_invariance and per_unit_invariance leave every argument of F unchanged")
_LOSS_CHAIN = ("chain rule: v.grad_w L = sum_i F_i (J b)_i and v'Hess_w L v = (J b)'(Hess F)(J b) + sum_i F_i"
               " b'(Hess n_i) b, with F's derivatives F_i, F_ij taken at n(s w) = n(w) (bn_invariance), so the same"
               " at w and at s w")
loss_euler = Derivation(
    title=f"w.grad L = sum_i F_i (w.grad_w n_i) = 0 for every loss F ({_FROM_J})",
    chain=[_sym.total(lambda q: F_n(q) * _sym.jacobian_action(z_seq, q), _j), (0, LINEARITY)], note=_LOSS_CHAIN)


def _grad_loss(bn: Batch) -> sp.Expr:
    """v.grad_w L = sum_i F_i (J b)_i."""
    return bn.total(lambda q: F_n(q) * bn.jacobian_action(b_seq, q), _j)


loss_gradient_scaling = Derivation(
    title=f"grad L(s w) = grad L(w)/s for every loss F ({_FROM_J})",
    chain=[_grad_loss(_sym_s), (_grad_loss(_sym) * grad_factor, by.lemma(jacobian_scaling))], note=_LOSS_CHAIN)


def _hess_loss(bn: Batch) -> sp.Expr:
    """v'Hess_w L v = (J b)'(Hess F)(J b) + sum_i F_i b'(Hess n_i) b, from the closed forms (J b)_i and
    b'(Hess n_i) b of ``bn``."""
    jb = lambda q: bn.jacobian_action(b_seq, q)  # noqa: E731
    outer = bn.total(lambda q: bn.total(lambda r: F_nn(q, r) * jb(q) * jb(r), _l), _j)
    return outer + bn.total(lambda q: F_n(q) * bn.hessian_form(b_seq, q), _j)


loss_hessian_scaling = Identity(
    title=f"Hess L(s w) = Hess L(w)/s^2 for every loss F, along every v ({_FROM_J_AND_H})",
    lhs=_hess_loss(_sym_s), rhs=_hess_loss(_sym) * hess_factor,
    note=_LOSS_CHAIN + "; the closed forms of J and Hess n at s z against those at z, inside the chain rule's two"
         " sums (jacobian_scaling and hessian_scaling term by term)")

# -- 5. norms: SGD steps and gradient flow (every d) -----------------------------------------------------------
D_NORM = sufficient_dimension(vectors=2)  # w and g (or w and a free h)
w2, w2_p = vector("w", D_NORM)
g2, g2_p = vector("g", D_NORM)
h2, h2_p = vector("h", D_NORM)
_step = w2 - _eta * g2
step_norm = Identity(
    title=f"||w - eta g||^2 = ||w||^2 - 2 eta w.g + eta^2 ||g||^2 for every g (every d; d = {D_NORM})",
    lhs=dot(_step, _step), rhs=dot(w2, w2) - 2 * _eta * dot(w2, g2) + _eta**2 * dot(g2, g2),
    note="with BN eps > 0 the cross term is -2 eta w.grad L = -2 eta eps/(sigma_B^2 + eps) sum_i F_i n_i"
         " (euler_eps)")
_g_orth = h2 - dot(h2, w2) / dot(w2, w2) * w2  # every g orthogonal to w, as h runs over R^d
_step_orth = w2 - _eta * _g_orth
sgd_norm_growth = Derivation(
    title=f"plain SGD on a BN weight (eps = 0): ||w_t+1||^2 = ||w_t||^2 + eta^2 ||g_t||^2 exactly (every d;"
          f" d = {D_NORM})",
    chain=[dot(_step_orth, _step_orth),
           (dot(w2, w2) - 2 * _eta * dot(w2, _g_orth) + _eta**2 * dot(_g_orth, _g_orth), by.lemma(step_norm)),
           (dot(w2, w2) + _eta**2 * dot(_g_orth, _g_orth), by.because("w.g = 0 (loss_euler)")),
           (norm_next.subs({norm_sq.symbol: dot(w2, w2), grad_sq.symbol: dot(_g_orth, _g_orth)}),
            by.definition)],
    note="g = h - (h.w/||w||^2) w is every vector orthogonal to w as h runs over R^d; the gradient of a BN loss"
         " is one (loss_euler), so ||w||^2 never decreases and grows by eta^2 ||g_t||^2 per step")
_t = time_.symbol
_wt = [sp.Function(f"w_{q}", real=True)(_t) for q in range(1, D_NORM + 1)]
_wt_vec = sp.Matrix(_wt)
_g_flow = h2 - dot(h2, _wt_vec) / dot(_wt_vec, _wt_vec) * _wt_vec
_flow = {sp.Derivative(wq, _t): -_g_flow[q] for q, wq in enumerate(_wt)}
gradient_flow = Derivation(
    title=f"gradient flow dw/dt = -grad L: d/dt ||w||^2 = -2 w.grad L = 0, the norm is constant (every d;"
          f" d = {D_NORM})",
    chain=[sp.diff(dot(_wt_vec, _wt_vec), _t),
           (2 * sp.Add(*[wq * sp.Derivative(wq, _t) for wq in _wt]), by.algebra),
           (-2 * dot(_wt_vec, _g_flow), Justification("substitution", "dw/dt = -g, g = grad L(w(t))",
                                                      apply=lambda e: e.subs(_flow))),
           (0, by.because("w.g = 0 (loss_euler)"))],
    note="g = h - (h.w/||w||^2) w: the gradient of a BN loss at w(t) is orthogonal to w(t) (loss_euler)")

S1 = Theorem(
    title="Scale invariance of a BN layer and its consequences: orthogonal gradients, 1/s and 1/s^2 scaling, norms",
    source=SOURCE,
    params=(batch, dim, position, unit, scale, scale_neg, scale_2, time_, eta) + z4_p + b4_p + u3_p + _X_params
    + row1_p + row2_p + _f3 + w2_p + g2_p + h2_p,
    claims=(preactivation_scaling, mean_scaling, variance_scaling, bn_invariance, bn_sign_flip, per_unit_invariance,
            jacobian_formula, jacobian_formula_m4, hessian_formula, euler, jacobian_scaling, hessian_scaling,
            euler_eps, loss_invariance, loss_euler, loss_gradient_scaling, loss_hessian_scaling,
            step_norm, sgd_norm_growth, gradient_flow),
    summary="BN (eps = 0) is invariant under w -> s w, s > 0, per unit (symbolic M, d); its Jacobian and Hessian"
            " in closed form by differentiation (eps >= 0; M = 3, and the Jacobian at M = 4); from them, for every"
            " loss F of the outputs (symbolic M as far as the closed forms hold, every d by the chain rule):"
            " w.grad L = 0, grad L(s w) = grad L(w)/s, Hess L(s w) = Hess L(w)/s^2; SGD grows"
            " ||w||^2 by exactly eta^2 ||g||^2, gradient flow keeps it; the eps > 0 deviation w.grad n_i ="
            " eps n_i/(sigma_B^2 + eps).",
)
