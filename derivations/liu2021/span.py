"""S2. The gradient lies in the inputs' span; the orthogonal component under SGD and its variants (Liu et al., 2021).

The abstract's second implicit bias (SGD updates the components of fully connected weights and conv kernels in
the input feature span and leaves those orthogonal to it unchanged), its claim that weight decay suppresses
that weight noise, and weight rescaling (WRS) in its place.

A layer's weight w meets its batch inputs only through z_i = w.x_i, so for every loss F(z_1, ..., z_M) the
chain rule gives grad_w L = sum_i (dF/dz_i) x_i: the gradient lies in the span
of the inputs, and v.grad_w L = 0 for every v orthogonal to all of them. A convolution without padding
is z_p = k.patch_p over the unfolded patches, so its kernel gradient sum_p (dF/dz_p) patch_p lies in the
patches' span. Proven with an undefined SymPy function F (any loss, BN or not), for explicit sizes: fully
connected M = 2 inputs in d = 4; a 1-D convolution (input 5, kernel 4, two positions) and a 2-D one
(input 2 x 3, kernel 2 x 2, two positions). Every v orthogonal to two vectors a, b of R^4 is the
generalized cross product v(h) = *(a ^ b ^ h) for some h (the cofactors of the matrix with rows a, b, h),
so the claims with v(h) and a free h cover the whole complement. Larger sizes: the same chain rule.

The span is that of the inputs the layer sees at each step: for the first layer, trained on a fixed data set,
every batch lies in the data's span, so a v orthogonal to it has v.g_t = 0 at every step; for a hidden layer
the inputs move with training, and v must be orthogonal to all of them along the run.

With c_t = v.w_t for a v orthogonal to the span (so v.g_t = 0 at every step), proven in every d (inner
products of w, v, h, a only: ``sufficient_dimension(4)``, with g = h - (h.v/||v||^2) v and
m = a - (a.v/||v||^2) v every vector orthogonal to v):

* SGD: c_t+1 = c_t (frozen).
* heavy-ball momentum m_t+1 = beta m_t + g_t, w_t+1 = w_t - eta m_t+1: if v.m_t = 0 then v.m_t+1 = 0 and
  c_t+1 = c_t; with m_0 = 0 the induction gives a frozen c for every t. torch.optim.SGD's form (buffer
  b_t+1 = mu b_t + (1 - dampening) g_t, b_1 = g_0; step g_t + mu b_t+1 with nesterov, b_t+1 without)
  likewise.
* Adam is not frozen: its first step (m_0 = v_0 = 0, bias-corrected) is -eta g/(|g| + eps_adam)
  coordinate-wise; with x_1 = (1, 2), v = (2, -1) (v.x_1 = 0) and g = c x_1, c > 0, it moves c by
  -2 eta c^2/((c + eps_adam)(2c + eps_adam)) != 0 (-eta at eps_adam = 0, the sign step).
* weight decay w_t+1 = (1 - eta lambda) w_t - eta g_t: c_t+1 = (1 - eta lambda) c_t, so
  c_t = (1 - eta lambda)^t c_0 = ``wd_factor`` c_0 (the closed form satisfies the recurrence, t symbolic).
* weight rescaling (after each step w <- r w/||w||): from ||w_t|| = r with w_t.g_t = 0 (BN, S1),
  c_t+1 = r c_t/||w_t - eta g_t|| = c_t (1 + eta^2 ||g_t||^2/r^2)^(-1/2) = c_t ``wrs_step_factor``, and the
  rescaled w_t+1 has norm r again, so by induction c_T = c_0 prod_{s<T} wrs_step_factor(G_s) when
  ||w_0|| = r (d = 3 coordinates with g along e_1 and w, v in span(e_2, e_3): every such triple is one up
  to a rotation, which keeps every inner product, so this holds in every d). If ||w_0|| != r the first
  factor is r/sqrt(||w_0||^2 + eta^2 G_0) instead, which exceeds 1 when ||w_0||^2 + eta^2 G_0 < r^2: then
  the component grows at the first step. THEOREMS.md's product is right for a start on the sphere
  ||w_0|| = r, which it leaves unstated; every later factor is at most 1.
"""

from __future__ import annotations

import sympy as sp

from bnsym import Derivation, Identity, Inequality, Param, Sign, Source, Theorem, by
from bnsym.errors import DefinitionError
from bnsym.linalg import dot, gradient, sufficient_dimension, vector

from .symbols import eta, grad_sq, lam, radius, steps, wd_factor, wrs_step_factor

SOURCE = Source("Liu et al., 2021 (The Implicit Biases of SGD on Deep Neural Networks with Batch Normalization)",
                "abstract: SGD updates the components in the input feature span and leaves the orthogonal ones"
                " unchanged; weight decay and weight rescaling (WRS)")
_eta, _lam, _r, _t, _G = eta.symbol, lam.symbol, radius.symbol, steps.symbol, grad_sq.symbol
_F = sp.Function("F")


def generalized_cross(rows: list[sp.Matrix]) -> sp.Matrix:
    """*(a_1 ^ ... ^ a_{n-1}) in R^n: entry i is the determinant with rows a_1, ..., a_{n-1}, e_i; orthogonal to
    every a_j (the cross product for n = 3)."""
    n = rows[0].rows
    if len(rows) != n - 1:
        raise DefinitionError(f"generalized_cross needs {n - 1} vectors of R^{n}, not {len(rows)}")
    top = sp.Matrix.hstack(*rows).T
    return sp.Matrix([sp.Matrix.vstack(top, sp.eye(n)[i, :]).det() for i in range(n)])


def loss_partials(args: list[sp.Expr]) -> list[sp.Expr]:
    """dF/dz_i at z = args, for the undefined loss F (as SymPy writes them: Subs of a Derivative)."""
    zeta = sp.symbols(f"zeta1:{len(args) + 1}", real=True)
    at = dict(zip(zeta, args))
    return [sp.diff(_F(*zeta), zq).subs(at) for zq in zeta]


# -- 1. fully connected: M = 2 inputs in d = 4 ---------------------------------------------------------------
D = sufficient_dimension(vectors=4)  # w, v and the free h, a of section 3; x_1, x_2 and w, v, h here
w, w_p = vector("w", D)
v, v_p = vector("v", D)
h, h_p = vector("h", D)
a, a_p = vector("a", D)
x1, x1_p = vector("x1", D, latex="x_1")
x2, x2_p = vector("x2", D, latex="x_2")
_z_fc = [dot(x1, w), dot(x2, w)]
_L_fc = _F(*_z_fc)
_Fz = loss_partials(_z_fc)
fc_gradient = Identity(
    title=f"grad_w F(w.x_1, ..., w.x_M) = sum_i dF/dz_i x_i for every loss F: the gradient lies in the inputs'"
          f" span (M = 2, d = {D})",
    lhs=dot(v, gradient(_L_fc, w)), rhs=_Fz[0] * dot(x1, v) + _Fz[1] * dot(x2, v),
    note="as v.grad_w L for a free v; F undefined (any loss of the pre-activations, BN and all later layers"
         " included)")
_v_perp = generalized_cross([x1, x2, h])
fc_orthogonal = Identity(
    title=f"v.grad_w L = 0 for every v orthogonal to all inputs x_i and every loss F (M = 2, d = {D})",
    lhs=dot(_v_perp, gradient(_L_fc, w)), rhs=0,
    note="v = *(x_1 ^ x_2 ^ h): as h runs over R^4 this is every vector orthogonal to x_1 and x_2")

# -- 2. convolution without padding --------------------------------------------------------------------------
N_1D, K_1D = 5, 4
y1d, y1d_p = vector("y", N_1D)
k1d, k1d_p = vector("k", K_1D)
conv1d_z = [sp.Add(*[k1d[j] * y1d[p + j] for j in range(K_1D)]) for p in range(N_1D - K_1D + 1)]  # torch's conv1d
conv1d_patches = [y1d[p:p + K_1D, 0] for p in range(N_1D - K_1D + 1)]
_L_1d = _F(*conv1d_z)
_F1d = loss_partials(conv1d_z)
conv1d_unfold = Identity(
    title=f"1-D convolution without padding: z_p = sum_j k_j y_(p+j) = k.patch_p (input {N_1D}, kernel {K_1D})",
    lhs=sp.Add(*[v[p] * conv1d_z[p] for p in range(len(conv1d_z))]),
    rhs=sp.Add(*[v[p] * dot(k1d, conv1d_patches[p]) for p in range(len(conv1d_z))]),
    note="the unfolded patches patch_p = (y_p, ..., y_(p+K-1)); a free v weights the positions")
conv1d_gradient = Identity(
    title=f"the kernel gradient of every loss F(z_1, z_2) is sum_p dF/dz_p patch_p, in the patches' span"
          f" (1-D: input {N_1D}, kernel {K_1D})",
    lhs=dot(v, gradient(_L_1d, k1d)),
    rhs=sp.Add(*[_F1d[p] * dot(conv1d_patches[p], v) for p in range(len(conv1d_z))]))
conv1d_orthogonal = Identity(
    title=f"v.grad_k L = 0 for every v orthogonal to the unfolded patches and every loss F (1-D: input {N_1D},"
          f" kernel {K_1D})",
    lhs=dot(generalized_cross(conv1d_patches + [h]), gradient(_L_1d, k1d)), rhs=0,
    note="v = *(patch_1 ^ patch_2 ^ h): every vector orthogonal to both patches as h runs over R^4")
_Y = sp.Matrix(2, 3, lambda a, b: sp.Symbol(f"y_{a + 1}{b + 1}", real=True))
_Y_p = tuple(Param(f"y_{a + 1}{b + 1}", sample_lo=-3, sample_hi=3) for a in range(2) for b in range(3))
_K = sp.Matrix(2, 2, lambda a, b: sp.Symbol(f"k_{a + 1}{b + 1}", real=True))
_K_p = tuple(Param(f"k_{a + 1}{b + 1}", sample_lo=-3, sample_hi=3) for a in range(2) for b in range(2))
_kvec = sp.Matrix([_K[a, b] for a in range(2) for b in range(2)])
conv2d_z = [sp.Add(*[_K[a, b] * _Y[a, q + b] for a in range(2) for b in range(2)]) for q in range(2)]  # conv2d
conv2d_patches = [sp.Matrix([_Y[a, q + b] for a in range(2) for b in range(2)]) for q in range(2)]
_L_2d = _F(*conv2d_z)
_F2d = loss_partials(conv2d_z)
conv2d_gradient = Identity(
    title="2-D convolution (input 2 x 3, kernel 2 x 2, no padding): the kernel gradient of every loss F is"
          " sum_p dF/dz_p patch_p",
    lhs=dot(v, gradient(_L_2d, _kvec)), rhs=sp.Add(*[_F2d[q] * dot(conv2d_patches[q], v) for q in range(2)]),
    note="kernel and patches flattened row by row, as torch's unfold does")
conv2d_orthogonal = Identity(
    title="v.grad_K L = 0 for every v orthogonal to the unfolded patches and every loss F (2-D: input 2 x 3,"
          " kernel 2 x 2)",
    lhs=dot(generalized_cross(conv2d_patches + [h]), gradient(_L_2d, _kvec)), rhs=0)

# -- 3. the orthogonal component under SGD, momentum and Adam (every d) -------------------------------------------
g = h - dot(h, v) / dot(v, v) * v  # every gradient orthogonal to v, as h runs over R^d
m = a - dot(a, v) / dot(v, v) * v  # every momentum buffer orthogonal to v
beta = Param("beta", lo=0, hi=1, hi_open=True, sample_lo=0, sample_hi=0.999, latex="\\beta")
damp = Param("tau", lo=0, hi=1, sample_lo=0, sample_hi=1, latex="\\tau")
_beta, _tau = beta.symbol, damp.symbol
_ORTH = "g = h - (h.v/||v||^2) v is every vector with v.g = 0 as h runs over R^d (the gradient, by S2.1)"


def sgd_step(w_: sp.Matrix, g_: sp.Matrix) -> sp.Matrix:
    """Plain SGD: w - eta g."""
    return w_ - _eta * g_


def heavy_ball_step(w_: sp.Matrix, m_: sp.Matrix, g_: sp.Matrix) -> tuple[sp.Matrix, sp.Matrix]:
    """Heavy-ball momentum: m+ = beta m + g, w+ = w - eta m+."""
    m_next = _beta * m_ + g_
    return w_ - _eta * m_next, m_next


def torch_sgd_step(w_: sp.Matrix, buf: sp.Matrix, g_: sp.Matrix, nesterov: bool) -> tuple[sp.Matrix, sp.Matrix]:
    """torch.optim.SGD with momentum mu = beta and dampening tau, after its first step (which sets the buffer to g):
    b+ = mu b + (1 - tau) g; the step is g + mu b+ with nesterov, b+ without; w+ = w - eta step."""
    buf_next = _beta * buf + (1 - _tau) * g_
    return w_ - _eta * (g_ + _beta * buf_next if nesterov else buf_next), buf_next


def wd_step(w_: sp.Matrix, g_: sp.Matrix) -> sp.Matrix:
    """SGD with weight decay as torch.optim.SGD(weight_decay=lambda) takes it: w - eta (g + lambda w)."""
    return w_ - _eta * (g_ + _lam * w_)


def rescale(w_: sp.Matrix, r: sp.Expr) -> sp.Matrix:
    """Weight rescaling: r w/||w||."""
    return r * w_ / sp.sqrt(dot(w_, w_))


sgd_frozen = Identity(title=f"SGD: v.(w - eta g) = v.w for v.g = 0: the orthogonal component is frozen (every d;"
                            f" d = {D})",
                      lhs=dot(v, sgd_step(w, g)), rhs=dot(v, w), note=_ORTH)
_hb_w, _hb_m = heavy_ball_step(w, m, g)
momentum_buffer = Identity(
    title=f"heavy ball, induction step: v.m_t = 0 gives v.m_t+1 = v.(beta m_t + g_t) = 0 (every d; d = {D})",
    lhs=dot(v, _hb_m), rhs=0,
    note=_ORTH + "; m = a - (a.v/||v||^2) v likewise; the base case is m_0 = 0")
momentum_frozen = Identity(
    title=f"heavy ball: v.(w_t - eta m_t+1) = v.w_t, so c_t = v.w_t is frozen for every t from m_0 = 0 (every d;"
          f" d = {D})",
    lhs=dot(v, _hb_w), rhs=dot(v, w), note="with momentum_buffer, by induction on t")
_ts_w, _ts_buf = torch_sgd_step(w, m, g, nesterov=False)
_tn_w, _ = torch_sgd_step(w, m, g, nesterov=True)
torch_sgd_buffer = Identity(
    title=f"torch.optim.SGD momentum buffer: v.(mu b_t + (1 - dampening) g_t) = 0 (every d; d = {D})",
    lhs=dot(v, _ts_buf), rhs=0,
    note="beta is torch's momentum mu, tau its dampening; the first buffer is b_1 = g_0 (no dampening), also"
         " orthogonal to v")
torch_sgd_frozen = Identity(
    title=f"torch.optim.SGD with momentum and dampening: v.(w - eta b_t+1) = v.w, frozen (every d; d = {D})",
    lhs=dot(v, _ts_w), rhs=dot(v, w))
torch_sgd_nesterov = Identity(
    title=f"torch.optim.SGD with nesterov: v.(w - eta (g + mu b_t+1)) = v.w, frozen (every d; d = {D})",
    lhs=dot(v, _tn_w), rhs=dot(v, w))

c_adam = Param("c", lo=0, lo_open=True, sample_lo=0.01, sample_hi=10, law="log", latex="c")
eps_adam = Param("epsilon_adam", lo=0, lo_open=True, sample_lo=1e-8, sample_hi=1, law="log",
                 latex="\\epsilon_{Adam}")
beta1 = Param("beta_1", lo=0, lo_open=True, hi=1, hi_open=True, sample_lo=0.5, sample_hi=0.999, latex="\\beta_1")
beta2 = Param("beta_2", lo=0, lo_open=True, hi=1, hi_open=True, sample_lo=0.5, sample_hi=0.9999, latex="\\beta_2")
_c, _ea, _b1, _b2 = c_adam.symbol, eps_adam.symbol, beta1.symbol, beta2.symbol
X1_ADAM = sp.Matrix([1, 2])
V_ADAM = sp.Matrix([2, -1])


def adam_first_step(grad: sp.Matrix, e: sp.Expr = _ea) -> sp.Matrix:
    """Adam's first update from m_0 = v_0 = 0 (torch.optim.Adam, bias-corrected):
    m_1 = (1 - beta_1) g, v_1 = (1 - beta_2) g^2, step -eta (m_1/(1 - beta_1))/(sqrt(v_1/(1 - beta_2)) + eps)."""
    m1 = (1 - _b1) * grad
    v1 = (1 - _b2) * grad.applyfunc(lambda q: q**2)
    return sp.Matrix([-_eta * (m1[q] / (1 - _b1)) / (sp.sqrt(v1[q] / (1 - _b2)) + e) for q in range(grad.rows)])


adam_gradient = _c * X1_ADAM
adam_premise = Identity(title="Adam counterexample: v = (2, -1) is orthogonal to the input x_1 = (1, 2), so v.g = 0"
                              " for g = c x_1", lhs=dot(V_ADAM, adam_gradient), rhs=0)
adam_move = -2 * _eta * _c**2 / ((_c + _ea) * (2 * _c + _ea))
adam_moves = Derivation(
    title="Adam's first step moves c = v.w by -2 eta c^2/((c + eps)(2c + eps)) != 0: not frozen (d = 2)",
    chain=[dot(V_ADAM, adam_first_step(adam_gradient)),
           (-_eta * (2 * _c / (_c + _ea) - 2 * _c / (2 * _c + _ea)), by.because("the step is -eta g_j/(|g_j| + eps)"
                                                                              " coordinate-wise, |g_j| = c |x_1j|")),
           (adam_move, by.algebra)],
    note="any beta_1, beta_2: the bias corrections cancel at the first step")
adam_moves_sign = Sign(adam_move, title="the move is negative for every c > 0, eta > 0, eps > 0 (d = 2)")
adam_sign_step = Identity(
    title="at eps_adam = 0 the first step is -eta sign(g) and moves c by -eta v.sign(x_1) = -eta (d = 2)",
    lhs=dot(V_ADAM, adam_first_step(adam_gradient, sp.S.Zero)), rhs=-_eta)

# -- 4. weight decay --------------------------------------------------------------------------------------------
wd_one_step = Identity(
    title=f"weight decay: v.(w - eta (g + lambda w)) = (1 - eta lambda) v.w for v.g = 0 (every d; d = {D})",
    lhs=dot(v, wd_step(w, g)), rhs=(1 - _eta * _lam) * dot(v, w),
    note=_ORTH + "; the step w - eta (g + lambda w) of torch.optim.SGD's weight_decay")
wd_closed_form = Derivation(
    title="c_t = (1 - eta lambda)^t c_0 = wd_factor c_0 solves c_t+1 = (1 - eta lambda) c_t (symbolic t)",
    chain=[(1 - _eta * _lam) * wd_factor, (wd_factor.subs(_t, _t + 1), by.algebra)],
    note="the recurrence of wd_one_step applied to the closed form; with wd_start, induction on t")
wd_start = Identity(title="wd_factor = 1 at t = 0", lhs=wd_factor.subs(_t, 0), rhs=1)

# -- 5. weight rescaling (every d: coordinates of R^3 with g along e_1, w and v in span(e_2, e_3)) ---------------
gamma = Param("gamma", sample_lo=-3, sample_hi=3, latex="\\gamma")
wr, wr_p = vector("omega", 2, latex="w")
vr, vr_p = vector("nu", 2, latex="v")
_w3 = sp.Matrix([0, wr[0], wr[1]])
_v3 = sp.Matrix([0, vr[0], vr[1]])
_g3 = sp.Matrix([gamma.symbol, 0, 0])
_next = sgd_step(_w3, _g3)
_norm_w = sp.sqrt(dot(_w3, _w3))
_WLOG = ("w.g = 0 (BN, S1) and v.g = 0 (v orthogonal to the span): every such triple is, up to a rotation, g"
         " along e_1 with w and v in span(e_2, e_3), and a rotation keeps every inner product")
wrs_step = Derivation(
    title="weight rescaling from ||w_t|| = r: c_t+1 = r c_t/||w_t - eta g_t|| = c_t wrs_step_factor, the factor"
          " (1 + eta^2 ||g_t||^2/r^2)^(-1/2) (every d)",
    chain=[dot(_v3, rescale(_next, _norm_w)),
           (_norm_w * dot(_v3, _w3) / sp.sqrt(dot(_w3, _w3) + _eta**2 * dot(_g3, _g3)),
            by.because("v.g = 0 (sgd_frozen) and ||w - eta g||^2 = ||w||^2 + eta^2 ||g||^2 (S1 sgd_norm_growth)")),
           (dot(_v3, _w3) * wrs_step_factor.subs({_r: _norm_w, _G: dot(_g3, _g3)}), by.algebra)],
    note=_WLOG + "; r = ||w_t|| (the previous rescaling), G = ||g_t||^2")
_y = sp.Matrix([gamma.symbol, wr[0], wr[1]])
wrs_radius = Identity(title="the rescaled weight r w/||w|| has norm r again, so the step repeats: by induction"
                            " c_T = c_0 prod_s<T wrs_step_factor(G_s) from ||w_0|| = r (every d)",
                      lhs=dot(rescale(_y, _r), rescale(_y, _r)), rhs=_r**2)
wrs_first_step = Derivation(
    title="from ||w_0|| != r the first factor is r/sqrt(||w_0||^2 + eta^2 G_0), not wrs_step_factor(G_0)"
          " (every d)",
    chain=[dot(_v3, rescale(_next, _r)),
           (dot(_v3, _w3) * _r / sp.sqrt(dot(_w3, _w3) + _eta**2 * dot(_g3, _g3)),
            by.because("v.g = 0 and w.g = 0, as in wrs_step")),
           (dot(_v3, _w3) * _r / _norm_w * wrs_step_factor.subs({_r: _norm_w, _G: dot(_g3, _g3)}), by.algebra)],
    note=_WLOG + "; equal to c_0 wrs_step_factor(G_0) exactly when ||w_0|| = r")
start_norm = Param("n_0", lo=0, lo_open=True, sample_lo=0.1, sample_hi=10, law="log", latex="\\|w_0\\|")
_first = _r / sp.sqrt(start_norm.symbol**2 + _eta**2 * _G)
wrs_first_growth = Identity(
    title="the first factor squared minus 1 is (r^2 - ||w_0||^2 - eta^2 G_0)/(||w_0||^2 + eta^2 G_0): above 1,"
          " the component grows, when ||w_0||^2 + eta^2 G_0 < r^2",
    lhs=_first**2 - 1, rhs=(_r**2 - start_norm.symbol**2 - _eta**2 * _G) / (start_norm.symbol**2 + _eta**2 * _G),
    where=(start_norm,))
wrs_shrinks = Inequality(title="every factor from the sphere ||w_t|| = r is at most 1: wrs_step_factor^-2 ="
                               " 1 + eta^2 G/r^2 >= 1", lhs=wrs_step_factor**-2, op=">=", rhs=1,
                         note="the factor is positive, so a reciprocal square of at least 1 puts it in (0, 1]")

S2 = Theorem(
    title="The gradient in the inputs' span; the orthogonal component under SGD, momentum, Adam, weight decay and"
          " weight rescaling",
    source=SOURCE,
    params=(eta, lam, radius, steps, grad_sq, beta, damp, c_adam, eps_adam, beta1, beta2, gamma) + x1_p + x2_p
    + y1d_p + k1d_p + _Y_p + _K_p + w_p + v_p + h_p + a_p + wr_p + vr_p,
    claims=(fc_gradient, fc_orthogonal, conv1d_unfold, conv1d_gradient, conv1d_orthogonal, conv2d_gradient,
            conv2d_orthogonal, sgd_frozen, momentum_buffer, momentum_frozen, torch_sgd_buffer, torch_sgd_frozen,
            torch_sgd_nesterov,
            adam_premise, adam_moves, adam_moves_sign, adam_sign_step, wd_one_step, wd_closed_form, wd_start,
            wrs_step, wrs_radius, wrs_first_step, wrs_first_growth, wrs_shrinks),
    summary="For every loss F the gradient of a fully connected or conv weight lies in the span of its inputs or"
            " unfolded patches (explicit sizes); the component orthogonal to the span is frozen by SGD and"
            " momentum (every d), moved by Adam (explicit counterexample), multiplied by 1 - eta lambda per step"
            " under weight decay and by wrs_step_factor under weight rescaling from ||w_0|| = r.",
)
