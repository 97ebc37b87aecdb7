"""C1, C2. The BN model on least squares, BNGD as gradient descent, its invariances (Cai, Li, Shen 2019, Sec. 2-3).

C1. The loss of the BN model is J(a, w) = E[1/2 (y - a x.w/||w||_H)^2] = 1/2 (c - 2 a w.g/||w||_H + a^2):
expand the square and take expectations term by term, E[y^2] = c, E[x y] = g, E[x x'] = H
(linearity; proven in d = 3 with a general symmetric H and a free g, and the same three moments
give it in every d). The printed BNGD updates are the gradient steps a+ = a - eps_a dJ/da and
w+ = w - eps grad_w J, and GD's w+ = w + eps (g - H w) is the gradient step of J0; with g = H u
its error obeys w+ - u = (I - eps H)(w - u), so mode i is multiplied by 1 - eps lambda_i and GD
converges from every start iff eps < 2/lambda_max.

C2. J(a, s w) = J(a, w) for s > 0, hence grad_w J(a, s w) = grad_w J(a, w)/s and w.grad_w J = 0;
so ||w+||^2 = ||w||^2 + eps^2 ||grad_w J||^2: the norm never decreases. Scaling law: one step
with rates (eps_a, s^2 eps) from (a, s w) lands on (a+, s w+); by induction on k the orbit from
(a_0, s w_0) with (eps_a, s^2 eps) is (a_k, s w_k): only eps/||w_0||^2 matters.

Every claim here except the expectation is built from inner products <H^p x_i, H^q x_j> with
p, q <= 1 and is proven in the dimension D of the Krylov compression (:mod:`bnsym.linalg`): with
the test vector v, three vectors (D = 6), otherwise two (D = 4); so it holds in every d.
"""

import sympy as sp

from bnsym import Derivation, Identity, Param, Source, Theorem, by
from bnsym.linalg import dot, gradient, sufficient_dimension
from bnsym.moments import MomentTable

from .symbols import a, bngd_step, c, eps, eps_a, gd_step, h_norm, loss_bn, loss_plain, s, space

SOURCE = Source("Cai, Li, Shen, ICML 2019", "Sec. 2-3", "BNGD updates")
_a, _e, _ea, _c, _s = a.symbol, eps.symbol, eps_a.symbol, c.symbol, s.symbol

D2 = sufficient_dimension(vectors=2, power=1)  # w, u
D3 = sufficient_dimension(vectors=3, power=1)  # w, u and a test vector v
S2, S3 = space(D2), space(D3)

# -- the loss as an expectation: d = 3, a general symmetric H, a free g ------------------------------
_D_EXP = 3
_x_params = tuple(Param(f"x_{i}", sample_lo=-3, sample_hi=3) for i in range(1, _D_EXP + 1))
_y_param = Param("y", sample_lo=-3, sample_hi=3)
_g_params = tuple(Param(f"g_{i}", sample_lo=-3, sample_hi=3) for i in range(1, _D_EXP + 1))
# H = L L' with a Cholesky factor of positive diagonal: every symmetric positive definite H, and w'Hw > 0
_chol = {(i, j): Param(f"l_{i}{j}", lo=0, lo_open=True, sample_lo=0.2, sample_hi=3) if i == j else
         Param(f"l_{i}{j}", sample_lo=-2, sample_hi=2)
         for i in range(1, _D_EXP + 1) for j in range(1, i + 1)}
_L = sp.Matrix(_D_EXP, _D_EXP, lambda i, j: _chol[(i + 1, j + 1)].symbol if j <= i else 0)
H_general = _L * _L.T
_x = sp.Matrix([p.symbol for p in _x_params])
_g = sp.Matrix([p.symbol for p in _g_params])
_w3 = space(_D_EXP).w
_n3 = h_norm(H_general, _w3)
_moments: dict[tuple[int, ...], sp.Expr] = {}
for _i in range(_D_EXP):
    _k = [0] * (_D_EXP + 1)
    _k[_i] = 1
    _moments[tuple(_k)] = sp.S.Zero  # E[x] = 0
    _k[-1] = 1
    _moments[tuple(_k)] = _g[_i]  # E[x_i y] = g_i
    for _j in range(_D_EXP):
        _k2 = [0] * (_D_EXP + 1)
        _k2[_i] += 1
        _k2[_j] += 1
        _moments[tuple(_k2)] = H_general[_i, _j]  # E[x_i x_j] = H_ij
_moments[(0,) * _D_EXP + (1,)] = sp.S.Zero  # E[y] = E[x].w* = 0
_moments[(0,) * _D_EXP + (2,)] = _c  # E[y^2] = c
MOMENTS = MomentTable("second moments of (x, y): E[x] = 0, E[x y] = g, E[x x'] = H, E[y^2] = c",
                      tuple(p.symbol for p in _x_params) + (_y_param.symbol,), _moments)

loss_as_expectation = Derivation(
    title="J(a, w) = E[1/2 (y - a x.w/||w||_H)^2] = 1/2 (c - 2a w.g/||w||_H + a^2) (d = 3, general H = L L', free g)",
    chain=[(_y_param.symbol - _a * dot(_x, _w3) / _n3)**2 / 2,
           ((_c - 2 * _a * dot(_w3, _g) / _n3 + _a**2 * dot(_w3, H_general * _w3) / _n3**2) / 2,
            by.expectation(MOMENTS)),
           ((_c - 2 * _a * dot(_w3, _g) / _n3 + _a**2) / 2, by.algebra)],
    note="Linearity: only E[y^2], E[x y] and E[x x'] enter, so the same steps hold in every d.")

# -- the updates are gradient steps (every d) ---------------------------------------------------------
_J2 = loss_bn(S2.H, S2.u, _a, S2.w, _c)
_J3 = loss_bn(S3.H, S3.u, _a, S3.w, _c)
_a_next, _ = bngd_step(S2.H, S2.u, _a, S2.w, _e, _ea)
_, _w_next3 = bngd_step(S3.H, S3.u, _a, S3.w, _e, _ea)
_grad3 = gradient(_J3, S3.w)

step_a_is_gradient = Identity(title=f"a+ = a - eps_a dJ/da (every d; proven in d = {D2})",
                              lhs=_a_next, rhs=_a - _ea * sp.diff(_J2, _a))
step_w_is_gradient = Identity(title=f"w+ = w - eps grad_w J, as v.(w+ - w + eps grad_w J) = 0 (every d; d = {D3})",
                              lhs=dot(S3.v, _w_next3 - (S3.w - _e * _grad3)), rhs=0)
gd_step_is_gradient = Identity(
    title=f"GD: w + eps (g - H w) = w - eps grad J0 (every d; d = {D3})",
    lhs=dot(S3.v, gd_step(S3.H, S3.u, S3.w, _e) - (S3.w - _e * gradient(loss_plain(S3.H, S3.u, S3.w, _c), S3.w))),
    rhs=0)
gd_error_map = Identity(
    title=f"GD error: w+ - u = (I - eps H)(w - u) (every d; d = {D3})",
    lhs=dot(S3.v, gd_step(S3.H, S3.u, S3.w, _e) - S3.u), rhs=dot(S3.v, (sp.eye(D3) - _e * S3.H) * (S3.w - S3.u)))

lam_max = Param("lambda_max", lo=0, lo_open=True, sample_lo=0.01, sample_hi=100, law="log", latex=r"\lambda_{max}")
EPS_MAX_GD = 2 / lam_max.symbol  # GD's largest stable rate: the top mode's factor 1 - eps lambda_max reaches -1
mode_factor = Identity(
    title="(1 - eps lambda)^2 - 1 = eps lambda (eps lambda - 2): |1 - eps lambda| < 1 iff 0 < eps < 2/lambda",
    lhs=(1 - _e * lam_max.symbol)**2 - 1, rhs=_e * lam_max.symbol * (_e * lam_max.symbol - 2))
gd_threshold = Identity(title="at eps = 2/lambda_max the top mode's factor is -1 (GD's threshold)",
                        lhs=1 - EPS_MAX_GD * lam_max.symbol, rhs=-1)

C1 = Theorem(
    title="BN least squares: the loss J(a, w) and BNGD as gradient descent; GD's threshold 2/lambda_max",
    source=SOURCE,
    params=(a, eps, eps_a, c, lam_max, _y_param) + _x_params + _g_params + tuple(_chol.values())
    + S3.params + space(_D_EXP).params,
    claims=(loss_as_expectation, step_a_is_gradient, step_w_is_gradient, gd_step_is_gradient, gd_error_map,
            mode_factor, gd_threshold),
    summary="J from the model by linearity; the printed updates are the gradient steps of J (and of J0 for GD).")

# -- C2: invariances, norm growth, scaling law (every d) -----------------------------------------------
_sw2 = {wi: _s * wi for wi in S2.w}
_sw3 = {wi: _s * wi for wi in S3.w}
scale_invariance = Identity(title=f"J(a, s w) = J(a, w) for s > 0 (every d; d = {D2})",
                            lhs=_J2.xreplace(_sw2), rhs=_J2)
gradient_scaling = Identity(title=f"grad_w J(a, s w) = grad_w J(a, w)/s (every d; d = {D3})",
                            lhs=dot(S3.v, _grad3.xreplace(_sw3)), rhs=dot(S3.v, _grad3) / _s)
_grad2 = gradient(_J2, S2.w)
orthogonality = Identity(title=f"w.grad_w J = 0 (every d; d = {D2})", lhs=dot(S2.w, _grad2), rhs=0)
_, _w_next2 = bngd_step(S2.H, S2.u, _a, S2.w, _e, _ea)
norm_growth = Identity(title=f"||w+||^2 = ||w||^2 + eps^2 ||grad_w J||^2 (every d; d = {D2})",
                       lhs=dot(_w_next2, _w_next2), rhs=dot(S2.w, S2.w) + _e**2 * dot(_grad2, _grad2))
_a_scaled, _ = bngd_step(S2.H, S2.u, _a, S2.w.xreplace(_sw2), _s**2 * _e, _ea)
scaling_law_a = Identity(title=f"scaling law, a: a+ from (a, s w) with (eps_a, s^2 eps) is a+ (every d; d = {D2})",
                         lhs=_a_scaled, rhs=_a_next)
_, _w_scaled = bngd_step(S3.H, S3.u, _a, S3.w.xreplace(_sw3), _s**2 * _e, _ea)
scaling_law_w = Identity(
    title=f"scaling law, w: w+ from (a, s w) with (eps_a, s^2 eps) is s w+ (every d; d = {D3})",
    lhs=dot(S3.v, _w_scaled), rhs=_s * dot(S3.v, _w_next3),
    note="With scaling_law_a this is the induction step: the orbit of (a_0, s w_0) under (eps_a, s^2 eps) is"
         " (a_k, s w_k) for every k.")

C2 = Theorem(
    title="Scale invariance of J, orthogonal gradients, norm growth and the scaling law of BNGD",
    source=Source("Cai, Li, Shen, ICML 2019", "Sec. 3", "scaling property"),
    params=(a, eps, eps_a, c, s) + S3.params,
    claims=(scale_invariance, gradient_scaling, orthogonality, norm_growth, scaling_law_a, scaling_law_w),
    summary="Norms of w never decrease under BNGD; only eps/||w_0||^2 matters.")
