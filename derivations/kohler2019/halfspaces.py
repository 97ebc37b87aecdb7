"""K2. Learning halfspaces with Gaussian input (Kohler et al., AISTATS 2019, Sec. 4).

z = -y x is Gaussian with mean u = E[z] and second moment S = E[z z'] (covariance C = S - u u');
the risk is f(w~) = E[phi(z.w~)]. For any smooth phi, Stein's lemma for the jointly Gaussian pair
X = z.w~, Y = z.v (means u.w~, u.v; Cov(X, Y) = w~'Cv) gives E[phi'(X) Y] = (u.v) E[phi'(X)] +
(w~'Cv) E[phi''(X)], i.e. for every v

    grad f(w~) = E[phi'] u + E[phi''] C w~ = c1 u + c2 S w~,
    c1 = E[phi'(z.w~)] - E[phi''(z.w~)] u.w~,   c2 = E[phi''(z.w~)]            (the paper's Lemma)

(the second form, with the second moment S, by algebra in any d). So grad f = 0 with c2 != 0 puts
w~ on the line through S^-1 u. In normalized coordinates w~ = g w/||w||_S the chain rule gives
grad_w f = (g/||w||_S)(I - S w w'/||w||_S^2) grad f(w~), and with the Stein form this is
-(g c1 ||w||_S/(2 u.w)) grad rho(w), rho the Rayleigh quotient of K1 (every d, proven in the
compression dimension 3 of u, w and a test vector): the direction
gradient vanishes only where c1 = 0 or on span(S^-1 u), every critical direction is rho's. At the
optimal length (dF/dg = 0, i.e. c1 u.w = -c2 g ||w||_S) the GDNP direction step
s_t grad_w f with s_t = w'Sw/(Lmax c2 g^2) is exactly the least-squares step eta_t grad rho, so the
direction iterates of GDNP on the population halfspace risk are those of K1 and obey its envelope; the length is found
by bisection on dF/dg (F convex in g when phi is convex), which is the paper's Bisection routine.
All of this is about the population risk: Stein's lemma needs z Gaussian, so on a finite-sample
risk (as simulated in K3) the reduction to K1 is not derived and the envelope is only a reference.

The general-phi lemma is not a SymPy computation (an integral against an arbitrary function); it is
checked for one smooth convex loss with closed-form Gaussian expectations,

    phi(t) = t Phi(t) + pdf(t),   phi' = Phi (standard normal cdf),   phi'' = pdf,

for which, with X = m + s, s ~ N(0, q) and r = sqrt(1 + q):
E[Phi(X)] = Phi(m/r), E[pdf(X)] = pdf(m/r)/r and E[phi(X)] = r phi(m/r); and the projected Stein
identity E[Phi(X) Y] = b Phi(m/r) + k pdf(m/r)/r for (X, Y) with means (m, b), Var X = q, Cov = k.
E[pdf(X)] and the Stein identity are decided by 2-D Gaussian quadrature (NUMERIC); the other two
follow from E[pdf(X)] by differentiating in m (proven), and K3 samples z itself. The
paper's own loss is left generic here (its Sec. 4 states the assumptions on phi); phi above is the
stand-in that gives the Stein claim a closed-form value.
"""

import sympy as sp

from bnsym import Derivation, Identity, Param, Source, Theorem, by
from bnsym.claims import GaussianExpectation, Justification

from .least_squares import rayleigh
from .symbols import VECTOR_PARAMS, D, S, a, b, dot, e, g, q, quad, u, v, w

SOURCE = Source("Kohler et al., AISTATS 2019", "Sec. 4", "16")

_x = sp.Symbol("x", real=True)
Phi = sp.Lambda(_x, (1 + sp.erf(_x / sp.sqrt(2))) / 2)
pdf = sp.Lambda(_x, sp.exp(-_x**2 / 2) / sp.sqrt(2 * sp.pi))
loss = sp.Lambda(_x, _x * Phi(_x) + pdf(_x))

mean = Param("m", sample_lo=-3, sample_hi=3, latex="m")
var_x = Param("q_x", lo=0, lo_open=True, sample_lo=0.05, sample_hi=9, law="log", latex="\\sigma_X^2")
var_y = Param("p_y", lo=0, lo_open=True, sample_lo=0.05, sample_hi=9, law="log", latex="\\sigma_Y^2")
corr = Param("r_xy", lo=-1, hi=1, lo_open=True, hi_open=True, sample_lo=-0.95, sample_hi=0.95, latex="r")
cov_xy = Param("k_xy", sample_lo=-5, sample_hi=5, latex="\\mathrm{Cov}(X, Y)")
c1 = Param("c1", sample_lo=-2, sample_hi=2, latex="c_1")
c2 = Param("c2", lo=0, lo_open=True, sample_lo=0.05, sample_hi=2, latex="c_2")
lmax = Param("Lmax", lo=0, lo_open=True, sample_lo=0.5, sample_hi=20, law="log", latex="L")

_m, _qx, _py, _r = mean.symbol, var_x.symbol, var_y.symbol, corr.symbol
_s, _t = sp.symbols("s t", real=True)  # the centred parts of X and Y (integration variables)
_root = sp.sqrt(1 + _qx)
_ONE_D = ((_qx, 0), (0, 1))

pdf_mean = GaussianExpectation(title="E[pdf(m + s)] = pdf(m/sqrt(1 + q))/sqrt(1 + q), s ~ N(0, q)",
                               integrand=pdf(_m + _s), variables=(_s, _t), covariance=_ONE_D,
                               value=pdf(_m / _root) / _root)
# E[Phi(m + s)] and E[phi(m + s)] follow from pdf_mean: differentiating under the integral, d/dm E[Phi(m + s)] =
# E[pdf(m + s)] and d/dm E[phi(m + s)] = E[Phi(m + s)]; both sides vanish as m -> -oo (Phi, phi -> 0 there, with
# Gaussian tails), so equal m-derivatives give equal functions. The identities below are those m-derivatives.
cdf_mean = Identity(
    title="E[Phi(m + s)] = Phi(m/sqrt(1 + q)): d/dm Phi(m/sqrt(1 + q)) is pdf_mean's value, both sides -> 0 as"
          " m -> -oo",
    lhs=sp.diff(Phi(_m / _root), _m), rhs=pdf(_m / _root) / _root)
loss_mean = Identity(
    title="E[phi(m + s)] = sqrt(1 + q) phi(m/sqrt(1 + q)): its m-derivative is Phi(m/sqrt(1 + q)) = E[Phi(m + s)],"
          " both sides -> 0 as m -> -oo",
    lhs=sp.diff(_root * loss(_m / _root), _m), rhs=Phi(_m / _root))
_x_param = Param("x", sample_lo=-5, sample_hi=5)
loss_derivative = Identity(title="phi' = Phi for phi(t) = t Phi(t) + pdf(t)", lhs=sp.diff(loss(_x), _x), rhs=Phi(_x),
                           where=(_x_param,))
loss_second_derivative = Identity(title="phi'' = pdf for phi(t) = t Phi(t) + pdf(t)", lhs=sp.diff(loss(_x), _x, 2),
                                  rhs=pdf(_x), where=(_x_param,))

_k = _r * sp.sqrt(_qx * _py)
_b = b.symbol


def stein_value(m_: sp.Expr, q_: sp.Expr, b_: sp.Expr, k_: sp.Expr) -> sp.Expr:
    """E[Phi(X) Y] for (X, Y) Gaussian with means (m, b), Var X = q, Cov(X, Y) = k: b E[Phi] + k E[pdf]."""
    root = sp.sqrt(1 + q_)
    return b_ * Phi(m_ / root) + k_ * pdf(m_ / root) / root


stein_projected = GaussianExpectation(
    title="Stein on v: E[phi'(X) Y] = (u.v) E[phi'(X)] + Cov(X, Y) E[phi''(X)], X = z.w~, Y = z.v (any d)",
    integrand=Phi(_m + _s) * (_b + _t), variables=(_s, _t), covariance=((_qx, _k), (_k, _py)),
    value=stein_value(_m, _qx, _b, _k),
    note="only the pair (z.w~, z.v) enters, so the identity holds in every dimension; Cov(X, Y) = w~'Cv")

# -- the Stein form in the paper's second-moment convention (any d) ----------------------------------------------
_a, _e, _c1, _c2 = a.symbol, e.symbol, c1.symbol, c2.symbol
second_moment_form = Identity(
    title="E[phi'] (u.v) + E[phi''] (w~'Cv) = c1 (u.v) + c2 (w~'Sv) with C = S - u u', c1 = E[phi'] - E[phi''] u.w~"
          " (any d)",
    lhs=sp.Symbol("E1", real=True) * _b + _c2 * (_e - _a * _b),
    rhs=(sp.Symbol("E1", real=True) - _c2 * _a) * _b + _c2 * _e,
    where=(Param("E1", sample_lo=0, sample_hi=1),),
    note="here a = u.w~ and e = v'S w~")

# -- normalized coordinates (every d: proven in the compression dimension of u, w, v) ---------------------------
_g = g.symbol
_aw, _qw = dot(u, w), quad(w)
_wt = _g * w / sp.sqrt(_qw)  # w~ = g w/||w||_S
_grad_f = _c1 * u + _c2 * S * _wt  # the Stein form of grad f at w~
_jac = _wt.jacobian(w)  # d w~/d w
_grad_w = _jac.T * _grad_f
_rho = rayleigh(_aw, _qw)
_grad_rho = sp.Matrix([sp.diff(_rho, wi) for wi in w])
direction_gradient = Identity(
    title=f"grad_w f(g w/||w||_S) = -(g c1 ||w||_S/(2 u.w)) grad rho(w): critical directions are rho's (every d:"
          f" proven in d = {D})",
    lhs=dot(v, _grad_w), rhs=dot(v, -(_g * _c1 * sp.sqrt(_qw) / (2 * _aw)) * _grad_rho))
length_derivative = Identity(
    title=f"dF/dg = (c1 u.w + c2 g ||w||_S)/||w||_S for F(g) = f(g w/||w||_S) (every d: proven in d = {D})",
    lhs=dot(sp.diff(_wt, _g), _grad_f), rhs=(_c1 * _aw + _c2 * _g * sp.sqrt(_qw)) / sp.sqrt(_qw))
critical_line = Identity(
    title="grad f(w~) = c2 S (w~ + (c1/c2) S^-1 u): a critical point with c2 != 0 lies on the line through S^-1 u"
          " (d = 3)",
    lhs=dot(v, _c1 * u + _c2 * S * w), rhs=dot(v, _c2 * S * (w + (_c1 / _c2) * S.inv() * u)))
_L, _qs = lmax.symbol, q.symbol
_c1_opt = -_c2 * _g * sp.sqrt(_qs) / _a  # dF/dg = 0 (length_derivative), in the scalars a = u.w, q = w'Sw
_factor = -(_g * _c1 * sp.sqrt(_qs) / (2 * _a))  # grad_w f = factor * grad rho (direction_gradient)
halfspace_step = Derivation(
    title="at the optimal length, s_t grad_w f with s_t = w'Sw/(Lmax c2 g^2) is the least-squares step eta_t grad rho,"
          " eta_t = w'Sw/(2 Lmax |rho|) (any d, given direction_gradient)",
    chain=[_qs / (_L * _c2 * _g**2) * _factor,
           (_qs / (_L * _c2 * _g**2) * _factor.subs(_c1, _c1_opt),
            Justification("substitution", "c1 u.w = -c2 g ||w||_S at dF/dg = 0 (length_derivative)",
                          apply=lambda x: x.subs(_c1, _c1_opt))),
           (_qs / (2 * _L * _a**2 / _qs), by.algebra)],
    note="the chain is s_t times the factor of grad rho(w) in grad_w f; it ends at eta_t (|rho| = a^2/q), so the"
         " direction step w - s_t grad_w f is w - eta_t grad rho")

K2 = Theorem(
    title="Halfspaces with Gaussian input: Stein's lemma, critical points, the GDNP step",
    source=SOURCE,
    params=(mean, var_x, var_y, corr, cov_xy, c1, c2, lmax, a, b, e, g, q) + VECTOR_PARAMS,
    claims=(loss_derivative, loss_second_derivative, pdf_mean, cdf_mean, loss_mean, stein_projected, second_moment_form,
            direction_gradient, length_derivative, critical_line, halfspace_step),
    summary="Gaussian expectations of Phi, pdf and phi by quadrature; the projected Stein identity (any d); the"
            " direction gradient as a multiple of grad rho and the GDNP step equal to K1's (every d).",
)
