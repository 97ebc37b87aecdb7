"""K1. Least squares in normalized coordinates (Kohler et al., AISTATS 2019, Sec. 3).

E[x] = 0, S = E[x x'] positive definite, u = E[-y x]. BN writes the weight as w~ = g w/||w||_S
(||w||_S^2 = w'Sw), and the population loss E[(y - x.w~)^2] becomes

    f(w, g) = E[y^2] + 2 g u.w/||w||_S + g^2                                  (Eq. 11, plus E[y^2])

(derived here by expectation, d = 3). In scalars a = u.w, q = w'Sw (any d): the optimal length is
g* = -a/sqrt(q), which leaves f(w, g*) = E[y^2] + rho(w) with the Rayleigh quotient
rho(w) = -(u.w)^2/(w'Sw). rho is scale invariant; its gradient is
grad rho = -2/(w'Sw) ((u.w) u + rho(w) S w), orthogonal to w, so a gradient step can only lengthen
w: ||w - eta grad rho||^2 = ||w||^2 + eta^2 ||grad rho||^2. By Cauchy-Schwarz in the S inner
product (the Lagrange identity, d = 3) rho(w) >= -u'S^-1 u, with equality at w = S^-1 u.

GDNP (the paper's Sec. 3.1) sets the length optimally and moves the direction by gradient descent:
the partial gradient grad_w f(w, g) = -(g sqrt(q)/a) grad rho(w) for every g, so at g = g* it is
grad rho itself, and the direction step w <- w - eta_t grad rho(w) with
eta_t = w'Sw/(2 Lmax |rho(w)|) is gradient descent on rho. The paper's convergence theorem (Sec. 3.1) bounds it by
rho(w_t) - rho* <= (1 - mu/Lmax)^(2t) (rho(w_0) - rho*) (mu, Lmax the extreme eigenvalues of S).
Here the one-step form rho(w+) - rho* <= (1 - mu/Lmax)^2 (rho(w) - rho*) is checked at 50 digits
in d = 2 (numeric, random points), and the bound itself by simulation (K3).

What holds in every d: every claim written in the scalars a, q, b = u.v, e = v'Sw (the chain
rule is the only step taken on trust there: grad(u.w) = u and grad(w'Sw) = 2 S w), and, with no
step on trust, the explicit gradient by differentiation, the norm growth and the GDNP partial
gradient, proven in d = 3 (d = 4 for the norm growth, which takes ||S w||^2) and carried to every
d by the Krylov compression of :mod:`bnsym.linalg` (u, w and a test vector v). What is proven
only in d = 3 (eigenbasis of S, no loss of generality for that d by rotation invariance): the
expectation giving Eq. 11 (written over the entries of x) and the Lagrange identity and the
minimum (they use S^-1, which the compression does not carry); in d = 2, the one-step
contraction (numeric).
"""

import sympy as sp

from bnsym import Derivation, Identity, Inequality, Param, Source, Theorem, by
from bnsym.moments import MomentTable

from .symbols import D4, S4, VECTOR_PARAMS, D, S, a, b, c, dot, e, eigs, g, k, q, quad, u, u4, v, w, w4

SOURCE = Source("Kohler et al., AISTATS 2019", "Sec. 3", "10-11")
_a, _q, _c, _g, _k, _b, _e = a.symbol, q.symbol, c.symbol, g.symbol, k.symbol, b.symbol, e.symbol


def objective(gg: sp.Expr, aa: sp.Expr, qq: sp.Expr, cc: sp.Expr = _c) -> sp.Expr:
    """f(w, g) = E[y^2] + 2 g u.w/||w||_S + g^2, in the scalars a = u.w, q = w'Sw."""
    return cc + 2 * gg * aa / sp.sqrt(qq) + gg**2


def rayleigh(aa: sp.Expr, qq: sp.Expr) -> sp.Expr:
    """rho = -(u.w)^2/(w'Sw)."""
    return -aa**2 / qq


rho = rayleigh(_a, _q)
g_star = -_a / sp.sqrt(_q)

# -- Eq. 11 by expectation (d = 3) ----------------------------------------------------------------------------
_random = (Param("y", sample_lo=-3, sample_hi=3),) + tuple(Param(f"x{i + 1}", sample_lo=-3, sample_hi=3)
                                                          for i in range(D))
_y, _x = _random[0].symbol, tuple(p.symbol for p in _random[1:])
_moments = {}
for i in range(D):
    one = [0] * (D + 1)
    one[0], one[i + 1] = 1, 1
    _moments[tuple(one)] = -u[i]  # E[y x_i] = -u_i
    for j in range(i, D):
        two = [0] * (D + 1)
        two[i + 1] += 1
        two[j + 1] += 1
        _moments[tuple(two)] = S[i, j]  # E[x_i x_j] = S_ij
_moments[(2,) + (0,) * D] = _c
SECOND_MOMENTS = MomentTable("second moments of (y, x): E[y^2] = c, E[y x] = -u, E[x x'] = S", (_y,) + _x,
                             _moments)
_aw, _qw = dot(u, w), quad(w)
decoupled_objective = Derivation(
    title="Eq. 11 (d = 3): E[(y - g x.w/||w||_S)^2] = E[y^2] + 2 g u.w/||w||_S + g^2",
    chain=[(_y - _g * dot(sp.Matrix(_x), w) / sp.sqrt(_qw))**2,
           (objective(_g, _aw, _qw), by.expectation(SECOND_MOMENTS))], where=_random,
    note="only second moments enter, so no distributional assumption beyond E[x x'] = S and E[y x] = -u")

# -- the length, in scalars (any d) -----------------------------------------------------------------------------
optimal_length = Identity(title="df/dg = 0 at g* = -u.w/||w||_S (any d)",
                          lhs=sp.diff(objective(_g, _a, _q), _g).subs(_g, g_star), rhs=0)
length_is_minimum = Identity(title="f(w, g) - f(w, g*) = (g - g*)^2: g* is the unique minimiser (any d)",
                             lhs=objective(_g, _a, _q) - objective(g_star, _a, _q), rhs=(_g - g_star)**2)
reduced_objective = Derivation(
    title="min over g leaves E[y^2] + rho(w), rho = -(u.w)^2/(w'Sw) (any d)",
    chain=[objective(g_star, _a, _q), (_c - _a**2 / _q, by.algebra), (_c + rho, by.definition)])
scale_invariance = Identity(title="rho(k w) = rho(w) for k > 0 (any d: u.w -> k u.w, w'Sw -> k^2 w'Sw)",
                            lhs=rayleigh(_k * _a, _k**2 * _q), rhs=rho)

# -- the gradient of rho ---------------------------------------------------------------------------------------
rho_gradient = Derivation(
    title="v.grad rho = -2/(w'Sw) ((u.w)(u.v) + rho (v'Sw)) for every v (any d)",
    chain=[sp.diff(rho, _a) * _b + sp.diff(rho, _q) * 2 * _e,
           (-2 / _q * (_a * _b + rho * _e), by.algebra)],
    note="first expression: the chain rule with grad(u.w) = u, grad(w'Sw) = 2 S w, projected on v")
orthogonality = Identity(title="w.grad rho = 0 (any d: v = w gives u.v = u.w, v'Sw = w'Sw)",
                         lhs=(-2 / _q * (_a * _b + rho * _e)).subs({_b: _a, _e: _q}), rhs=0)

_grad3 = sp.Matrix([sp.diff(rayleigh(_aw, _qw), wi) for wi in w])
rho_gradient_explicit = Identity(
    title=f"grad rho by differentiation equals -2/(w'Sw) ((u.w) u + rho S w) (every d: proven in d = {D})",
    lhs=dot(v, _grad3), rhs=dot(v, -2 / _qw * (_aw * u + rayleigh(_aw, _qw) * S * w)))
eta = Param("eta", lo=0, lo_open=True, sample_lo=0.01, sample_hi=10, law="log", latex="\\eta")
_a4, _q4 = dot(u4, w4), quad(w4, S4)
_grad4 = sp.Matrix([sp.diff(rayleigh(_a4, _q4), wi) for wi in w4])
_step = w4 - eta.symbol * _grad4
norm_growth = Identity(
    title=f"||w - eta grad rho||^2 = ||w||^2 + eta^2 ||grad rho||^2: a step never shortens w (every d: proven in"
          f" d = {D4})",
    lhs=dot(_step, _step), rhs=dot(w4, w4) + eta.symbol**2 * dot(_grad4, _grad4))

# -- the minimum (Cauchy-Schwarz in the S inner product) ------------------------------------------------------
_l = [p.symbol for p in eigs]
_uSu = sum(u[i]**2 / _l[i] for i in range(D))  # u'S^-1 u
lagrange = Identity(
    title="(u'S^-1 u)(w'Sw) - (u.w)^2 = sum_{i<j} (u_i l_j w_j - u_j l_i w_i)^2/(l_i l_j) (d = 3)",
    lhs=_uSu * _qw - _aw**2,
    rhs=sum((u[i] * _l[j] * w[j] - u[j] * _l[i] * w[i])**2 / (_l[i] * _l[j])
            for i in range(D) for j in range(i + 1, D)))
minimum = Inequality(title="rho(w) >= -u'S^-1 u (d = 3)", lhs=rayleigh(_aw, _qw), op=">=", rhs=-_uSu)
_wopt = sp.Matrix([u[i] / _l[i] for i in range(D)])
minimum_attained = Identity(title="rho(S^-1 u) = -u'S^-1 u (d = 3)", lhs=rayleigh(dot(u, _wopt), quad(_wopt)),
                            rhs=-_uSu)

# -- GDNP: the direction step at the optimal length is gradient descent on rho ---------------------------------
_f3 = objective(_g, _aw, _qw)
_partial = sp.Matrix([sp.diff(_f3, wi) for wi in w])
partial_gradient = Identity(
    title=f"grad_w f(w, g) = -(g ||w||_S/(u.w)) grad rho(w) for every length g (every d: proven in d = {D})",
    lhs=dot(v, _partial), rhs=dot(v, -(_g * sp.sqrt(_qw) / _aw) * _grad3))
gdnp_direction = Identity(
    title=f"at the optimal length g* the partial gradient grad_w f(w, g*) is grad rho (every d: proven in d = {D})",
    lhs=dot(v, _partial.subs(_g, -_aw / sp.sqrt(_qw))), rhs=dot(v, _grad3))

# -- one step of GDNP contracts the gap by (1 - mu/Lmax)^2 (d = 2, numeric) -----------------------------------
# d = 2 (S = diag(mu, Lmax)): SymPy factors the difference of the two sides in about a second and the sign
# is then checked at 50 digits; the d = 3 expression costs the whole symbolic budget. Larger d is simulated (K3).
mu = Param("mu", lo=0, lo_open=True, sample_lo=0.1, sample_hi=10, law="log", latex="\\mu")
kappa = Param("kappa", lo=1, sample_lo=1, sample_hi=1000, law="log", latex="\\kappa")
_mu, _L = mu.symbol, mu.symbol * kappa.symbol
_u2, _w2 = u[:2, 0], w[:2, 0]
_lam2 = (_mu, _L)


def _gap(x: sp.Matrix) -> sp.Expr:
    """rho(x) - min rho in d = 2, through the Lagrange identity (exact, no cancellation)."""
    return (_u2[0] * _lam2[1] * x[1] - _u2[1] * _lam2[0] * x[0])**2 / (_lam2[0] * _lam2[1]) \
        / (_lam2[0] * x[0]**2 + _lam2[1] * x[1]**2)


_a2, _q2 = dot(_u2, _w2), _lam2[0] * _w2[0]**2 + _lam2[1] * _w2[1]**2
_r2 = rayleigh(_a2, _q2)
_eta_t = _q2 / (2 * _L * (-_r2))
_w_next = _w2 - _eta_t * (-2 / _q2) * (_a2 * _u2 + _r2 * sp.Matrix([_lam2[0] * _w2[0], _lam2[1] * _w2[1]]))
one_step_contraction = Inequality(
    title="one GDNP step: rho(w+) - rho* <= (1 - mu/Lmax)^2 (rho(w) - rho*) (d = 2, S = diag(mu, Lmax))",
    lhs=_gap(_w_next), op="<=", rhs=(1 - _mu / _L)**2 * _gap(_w2), where=(mu, kappa),
    note="the per-step form of the paper's bound; iterating it gives (1 - mu/Lmax)^(2t)")

K1 = Theorem(
    title="Least squares in normalized coordinates: decoupled objective, Rayleigh quotient, GDNP",
    source=SOURCE,
    params=(a, q, c, g, k, b, e, eta) + VECTOR_PARAMS,
    claims=(decoupled_objective, optimal_length, length_is_minimum, reduced_objective, scale_invariance,
            rho_gradient, orthogonality, rho_gradient_explicit, norm_growth, lagrange, minimum, minimum_attained,
            partial_gradient, gdnp_direction, one_step_contraction),
    summary="Eq. 11 by expectation (d = 3); the optimal length, the Rayleigh quotient, its gradient and its"
            " minimum; the GDNP direction step as gradient descent on rho; the one-step contraction at 50 digits.",
)
