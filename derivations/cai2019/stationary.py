"""C3. The stationary set of J and the minimum value (Cai, Li, Shen 2019, Sec. 3).

With g = H u (u = H^-1 g):

* grad_w J = -(a/||w||_H) H (u - (w'Hu/w'Hw) w): for a != 0 the w-gradient vanishes iff u - P_w u = 0,
  P_w the H-orthogonal projection onto w, i.e. iff w = t u; then dJ/da = a - w.g/||w||_H = 0 gives
  a = sign(t) ||u||_H. These are minima, with J* = (c - u'Hu)/2 = (c - g.H^-1 g)/2.
* for a = 0, grad_w J = 0 for every w and dJ/da = -w.g/||w||_H, so the other stationary points are
  a = 0, w.g = 0, where J = c/2 > J*. They are saddles: d^2/da^2 J = 1 > 0, while along
  (1, r u) the second derivative is 1 - 2 r ||u||_H^2/||w||_H, negative for r > ||w||_H/(2 u'Hu).
* J - J* = 1/2 (a - w.g/||w||_H)^2 + 1/2 (u'Hu - (w'Hu)^2/w'Hw), and the second term is >= 0 by
  Cauchy-Schwarz in the H inner product (the Lagrange identity in H's eigenbasis), so J >= J*.

Identities are proven in the Krylov dimension of :mod:`bnsym.linalg` (every d). The Lagrange
identity is written in coordinates (d = 4, in the eigenbasis, where it is the sum over pairs); the
inequalities are checked numerically at d = 4, which carries to every d because the compression
keeps the value of every inner product.
"""

import sympy as sp

from bnsym import Identity, Inequality, Param, Source, Theorem
from bnsym.linalg import dot, gradient, sufficient_dimension

from .symbols import a, c, h_norm, loss_bn, space, t, t_neg

SOURCE = Source("Cai, Li, Shen, ICML 2019", "Sec. 3", "stationary points of J")
_a, _c, _t, _tn = a.symbol, c.symbol, t.symbol, t_neg.symbol
r = Param("r", sample_lo=-5, sample_hi=5, latex="r")
delta = Param("delta", sample_lo=-1, sample_hi=1, latex=r"\delta")

D1 = sufficient_dimension(vectors=1, power=1)  # u
D2 = sufficient_dimension(vectors=2, power=1)  # u and a test vector (or w)
D3 = sufficient_dimension(vectors=3, power=1)  # u, w and a test vector
S1, S2, S3 = space(D1), space(D2), space(D3)


def _at_minimum(expr: sp.Expr, S: object, tt: sp.Expr, sign: int) -> sp.Expr:
    """``expr`` at w = t u, a = sign ||u||_H."""
    return expr.xreplace({**{wi: tt * ui for wi, ui in zip(S.w, S.u)}, _a: sign * h_norm(S.H, S.u)})


def _minimum_claims(tt: sp.Expr, sign: int, which: str) -> tuple[Identity, Identity, Identity]:
    J1 = loss_bn(S1.H, S1.u, _a, S1.w, _c)
    J2 = loss_bn(S2.H, S2.u, _a, S2.w, _c)
    da = Identity(title=f"{which}: dJ/da = 0 at w = t u, a = {'+' if sign > 0 else '-'}||u||_H (every d; d = {D1})",
                  lhs=_at_minimum(sp.diff(J1, _a), S1, tt, sign), rhs=0)
    dw = Identity(title=f"{which}: grad_w J = 0 there (every d; d = {D2})",
                  lhs=_at_minimum(dot(S2.v, gradient(J2, S2.w)), S2, tt, sign), rhs=0)
    value = Identity(title=f"{which}: J there is J* = (c - g.H^-1 g)/2 = (c - u'Hu)/2 (every d; d = {D1})",
                     lhs=_at_minimum(J1, S1, tt, sign), rhs=(_c - dot(S1.u, S1.H * S1.u)) / 2)
    return da, dw, value


minimum_da, minimum_dw, minimum_value = _minimum_claims(_t, 1, "t > 0")
minimum_neg_da, minimum_neg_dw, minimum_neg_value = _minimum_claims(_tn, -1, "t < 0")

_J3 = loss_bn(S3.H, S3.u, _a, S3.w, _c)
_proj = dot(S3.w, S3.H * S3.u) / dot(S3.w, S3.H * S3.w)
gradient_form = Identity(
    title=f"grad_w J = -(a/||w||_H) H (u - (w'Hu/w'Hw) w): for a != 0 zero iff w is a multiple of u (d = {D3})",
    lhs=dot(S3.v, gradient(_J3, S3.w)),
    rhs=-_a / h_norm(S3.H, S3.w) * dot(S3.v, S3.H * (S3.u - _proj * S3.w)))

# saddles: a = 0 and w.g = 0, with w = z - (z'Hu/u'Hu) u for a free z (written in the w slot)
_J2 = loss_bn(S2.H, S2.u, _a, S2.w, _c)
saddle_da = Identity(title=f"at a = 0: dJ/da = -w.g/||w||_H, zero iff w.g = 0 (every d; d = {D2})",
                     lhs=sp.diff(_J2, _a).subs(_a, 0), rhs=-dot(S2.w, S2.H * S2.u) / h_norm(S2.H, S2.w))
saddle_dw = Identity(title=f"at a = 0: grad_w J = 0 for every w (every d; d = {D3})",
                     lhs=dot(S3.v, gradient(_J3, S3.w)).subs(_a, 0), rhs=0)
_u2, _H2 = S2.u, S2.H
_d = delta.symbol
_n2 = h_norm(_H2, S2.w)
_wg2 = dot(S2.w, _H2 * _u2)
_along = loss_bn(_H2, _u2, _d, S2.w + _d * r.symbol * _u2, _c)
saddle_value = Identity(title=f"at a = 0: J = c/2 = J* + u'Hu/2 (every d; d = {D2})",
                        lhs=_along.subs(_d, 0), rhs=(_c - dot(_u2, _H2 * _u2)) / 2 + dot(_u2, _H2 * _u2) / 2)
saddle_curvature = Identity(
    title=f"saddle: d^2/ddelta^2 J(delta, w + delta r u) at delta = 0 is 1 - 2 r u'Hu/||w||_H + 2 r (w.g)^2/||w||_H^3"
          f" (every d; d = {D2})",
    lhs=sp.diff(_along, _d, 2).subs(_d, 0),
    rhs=1 - 2 * r.symbol * dot(_u2, _H2 * _u2) / _n2 + 2 * r.symbol * _wg2**2 / _n2**3,
    note="At a saddle w.g = 0, so it is 1 - 2 r u'Hu/||w||_H: negative for r > ||w||_H/(2 u'Hu), while"
         " d^2J/da^2 = 1 > 0: the Hessian is indefinite.")

# J >= J*
_J_star2 = (_c - dot(_u2, _H2 * _u2)) / 2
_wHu, _wHw, _uHu = dot(S2.w, _H2 * _u2), dot(S2.w, _H2 * S2.w), dot(_u2, _H2 * _u2)
gap_decomposition = Identity(
    title=f"J - J* = 1/2 (a - w.g/||w||_H)^2 + 1/2 (u'Hu - (w'Hu)^2/w'Hw) (every d; d = {D2})",
    lhs=_J2 - _J_star2, rhs=(_a - _wHu / h_norm(_H2, S2.w))**2 / 2 + (_uHu - _wHu**2 / _wHw) / 2)
lagrange = Identity(
    title=f"Cauchy-Schwarz in the H inner product: u'Hu w'Hw - (w'Hu)^2 = sum_(i<j) l_i l_j (u_i w_j - u_j w_i)^2"
          f" (eigenbasis, d = {D2})",
    lhs=_uHu * _wHw - _wHu**2,
    rhs=sum(_H2[i, i] * _H2[j, j] * (_u2[i] * S2.w[j] - _u2[j] * S2.w[i])**2
            for i in range(D2) for j in range(i + 1, D2)))
loss_above_minimum = Inequality(title=f"J(a, w) >= J* = (c - g.H^-1 g)/2 (d = {D2}, hence every d)",
                                lhs=_J2, op=">=", rhs=_J_star2)

C3 = Theorem(
    title="Stationary set of J: minima w = t u, a = sign(t) ||u||_H, J* = (c - g.H^-1 g)/2; saddles a = 0, w.g = 0",
    source=SOURCE,
    params=(a, c, t, t_neg, r, delta) + S3.params,
    claims=(minimum_da, minimum_dw, minimum_value, minimum_neg_da, minimum_neg_dw, minimum_neg_value, gradient_form,
            saddle_da, saddle_dw, saddle_value, saddle_curvature, gap_decomposition, lagrange, loss_above_minimum),
    summary="Every stationary point is a minimum on the ray of u or a saddle with a = 0, w.g = 0.")
