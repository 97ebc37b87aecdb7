"""C4. The Jacobian of BNGD at a minimum, H*, its interlacing, and the local rate (Cai, Li, Shen 2019, Sec. 3).

At a minimum (a*, w) = (sign(t) ||u||_H, t u) the Jacobian of the map (a, w) -> (a+, w+) is

    diag(1 - eps_a, I - eps_hat H*),   H* = H - H u u' H/(u' H u),   eps_hat = eps ||u||^2/||w||^2 = eps/t^2.

It is proven as the bilinear form p'(DF) q for free test vectors p = (p_a, p_w), q = (q_a, q_w), as a
directional derivative of p.F along q, in the Krylov dimension of three vectors u, p_w, q_w (d = 3:
the form is built from their <x, y> and <x, H y> only),
so in every d, for t > 0; the map is odd, F(-x) = -F(x), so DF(-x) = DF(x) gives t < 0.
H* u = 0 and p'H*p >= 0 (Cauchy-Schwarz), so H* is positive
semidefinite with u in its kernel: the direction along the ray of minima is neutral (eigenvalue 1).

Interlacing, d = 3. The BNGD map is equivariant under rotations (w -> Q w, g -> Q g, H -> Q H Q'), under
which H* -> Q H* Q' keeps its spectrum, so H may be taken diagonal: H = diag(l1, l1 + b, l1 + b + c)
with b, c > 0, u free. The matrix determinant lemma gives det(mu I - H*) = P(mu) with

    P(mu) = prod_i (mu - l_i) + (1/u'Hu) sum_i l_i^2 u_i^2 prod_(j != i) (mu - l_j),

P(0) = 0, and Q(mu) = P(mu)/mu is a monic quadratic with Q(l_i) = l_i u_i^2/(u'Hu) prod_(j != i) (l_i - l_j):
Q(l1) >= 0, Q(l2) <= 0, Q(l3) >= 0, so its roots mu_- <= mu_+ satisfy l1 <= mu_- <= l2 <= mu_+ <= l3 and
kappa* = mu_+/mu_- <= l3/l1 = kappa. (For general d the same values Q(l_i) alternate in sign: Cauchy
interlacing of a rank-one update; only d = 3 is proven here.)

Local rate: near a minimum the error of a, and the error of w across the ray of minima, contract per
step by at most rho = max(|1 - eps_a|, |1 - eps_hat mu_-|, |1 - eps_hat mu_+|) (d = 3), the spectral
radius of the Jacobian restricted to the complement of the neutral direction u.
"""

import sympy as sp

from bnsym import Identity, Inequality, Param, Source, Theorem
from bnsym.linalg import dot, sufficient_dimension

from .symbols import a, bngd_step, eps, eps_a, eps_hat, h_norm, h_star, mu, space, t, t_neg

SOURCE = Source("Cai, Li, Shen, ICML 2019", "Sec. 3", "Jacobian at the minimum")
_a, _e, _ea, _t, _tn, _mu = a.symbol, eps.symbol, eps_a.symbol, t.symbol, t_neg.symbol, mu.symbol

p_a = Param("p_a", sample_lo=-3, sample_hi=3)
q_a = Param("q_a", sample_lo=-3, sample_hi=3)
h = sp.Dummy("h")

D3 = sufficient_dimension(vectors=3)  # u, p_w, q_w: the form uses only <x, y> and <x, H y> of them
D2 = sufficient_dimension(vectors=2, power=1)
S3, S2 = space(D3), space(D2)


def _jacobian_form(tt: sp.Expr, sign: int) -> tuple[sp.Expr, sp.Expr]:
    """p'(DF)q at (sign ||u||_H, t u), as d/dh p.F(x + h q) at h = 0, and the claimed p' diag(...) q."""
    H, u, P, Qv = S3.H, S3.u, S3.p, S3.q
    w_h = S3.w + h * Qv
    a_next, w_next = bngd_step(H, u, _a + h * q_a.symbol, w_h, _e, _ea)
    form = sp.diff(p_a.symbol * a_next + dot(P, w_next), h).subs(h, 0)
    at_min = {**{wi: tt * ui for wi, ui in zip(S3.w, u)}, _a: sign * h_norm(H, u)}
    # sqrt((t u)'H(t u)) written as |t| ||u||_H: factor under each square root (an identity) keeps the proof short
    lhs = form.xreplace(at_min).replace(lambda e: e.is_Pow and e.exp.is_Rational and e.exp.q == 2,
                                        lambda e: sp.Pow(sp.factor(e.base), e.exp))
    rate = eps_hat(_e, u, tt * u)
    rhs = (1 - _ea) * p_a.symbol * q_a.symbol + dot(P, (sp.eye(D3) - rate * h_star(H, u)) * Qv)
    return lhs, rhs


_lhs, _rhs = _jacobian_form(_t, 1)
jacobian_at_minimum = Identity(
    title=f"the Jacobian at (||u||_H, t u), t > 0, is diag(1 - eps_a, I - eps_hat H*), eps_hat = eps ||u||^2/||w||^2"
          f" (every d; d = {D3})",
    lhs=_lhs, rhs=_rhs)
_an, _wn = bngd_step(S3.H, S3.u, _a, S3.w, _e, _ea)
_am, _wm = bngd_step(S3.H, S3.u, -_a, -S3.w, _e, _ea)
odd_symmetry_a = Identity(
    title=f"the map is odd, a part: a+(-a, -w) = -a+(a, w) (every d; d = {D3})", lhs=_am, rhs=-_an)
odd_symmetry = Identity(
    title=f"the map is odd, w part: w+(-a, -w) = -w+(a, w), so the Jacobian at (-||u||_H, -t u) is the same"
          f" (every d; d = {D3})",
    lhs=dot(S3.v, _wm), rhs=-dot(S3.v, _wn))
# eps_hat's w is the minimum BNGD reaches, w = t u with |t| = lim ||w_k||/||u|| (norm growth makes it differ from
# the teacher u = H^-1 g): read with the teacher, eps_hat would be eps, not the Jacobian's eps/t^2
eps_hat_form = Identity(title="eps_hat = eps ||u||^2/||w||^2 with w = t u the minimum's weights: eps/t^2",
                        lhs=eps_hat(_e, S2.u, _t * S2.u), rhs=_e / _t**2)
h_star_kernel = Identity(title=f"H* u = 0 (every d; d = {D2})", lhs=dot(S2.v, h_star(S2.H, S2.u) * S2.u), rhs=0)
h_star_psd = Inequality(title=f"p'H*p >= 0: H* is positive semidefinite (d = {D2}, hence every d)",
                        lhs=dot(S2.p, h_star(S2.H, S2.u) * S2.p), op=">=", rhs=0)

# -- interlacing in d = 3, in H's eigenbasis ---------------------------------------------------------
l1 = Param("l_1", lo=0, lo_open=True, sample_lo=0.01, sample_hi=10, law="log", latex=r"\lambda_1")
gap_b = Param("b", lo=0, lo_open=True, sample_lo=0.01, sample_hi=10, law="log", latex="b")
gap_c = Param("c_gap", lo=0, lo_open=True, sample_lo=0.01, sample_hi=10, law="log", latex="c")
u_e = tuple(Param(f"ue_{i}", sample_lo=-3, sample_hi=3, latex=f"u_{{{i}}}") for i in (1, 2, 3))
LAMBDAS = (l1.symbol, l1.symbol + gap_b.symbol, l1.symbol + gap_b.symbol + gap_c.symbol)
H_EIG = sp.diag(*LAMBDAS)
U_EIG = sp.Matrix([p.symbol for p in u_e])
H_STAR_EIG = h_star(H_EIG, U_EIG)
_m = dot(U_EIG, H_EIG * U_EIG)


def _prod_except(x: sp.Expr, i: int) -> sp.Expr:
    return sp.Mul(*[x - LAMBDAS[j] for j in range(3) if j != i])


SECULAR = (sp.Mul(*[_mu - lam for lam in LAMBDAS])
           + sum(LAMBDAS[i]**2 * U_EIG[i]**2 * _prod_except(_mu, i) for i in range(3)) / _m)
QUADRATIC = sp.Poly(sp.cancel(sp.together(sp.expand(SECULAR)) / _mu), _mu)  # P(mu)/mu, exact (P(0) = 0)
_qb, _qc = (sp.factor(k) for k in QUADRATIC.all_coeffs()[1:])
_disc = _qb**2 - 4 * _qc
MU_LO = (-_qb - sp.sqrt(_disc)) / 2  # the nonzero eigenvalues of H*, d = 3
MU_HI = (-_qb + sp.sqrt(_disc)) / 2


def q_of(x: sp.Expr) -> sp.Expr:
    return QUADRATIC.as_expr().subs(_mu, x)


characteristic = Identity(
    title="d = 3, eigenbasis: det(mu I - H*) = prod (mu - l_i) + sum_i l_i^2 u_i^2 prod_(j != i) (mu - l_j)/u'Hu",
    lhs=(_mu * sp.eye(3) - H_STAR_EIG).det(), rhs=SECULAR)
zero_root = Identity(title="d = 3: P(0) = 0, so P(mu) = mu Q(mu) with Q a monic quadratic",
                     lhs=SECULAR.subs(_mu, 0), rhs=0)
quotient = Identity(title="d = 3: P(mu) = mu Q(mu)", lhs=SECULAR, rhs=_mu * QUADRATIC.as_expr())
_values = [Identity(title=f"d = 3: Q(l_{i + 1}) = l_{i + 1} u_{i + 1}^2/u'Hu prod_(j != {i + 1}) (l_{i + 1} - l_j)",
                    lhs=q_of(LAMBDAS[i]), rhs=LAMBDAS[i] * U_EIG[i]**2 / _m * _prod_except(LAMBDAS[i], i))
           for i in range(3)]
q_at_l1, q_at_l2, q_at_l3 = _values
_Bp = Param("B", sample_lo=-20, sample_hi=-1)
_Cp = Param("C", lo=0, lo_open=True, sample_lo=0.1, sample_hi=1)
_B, _C = _Bp.symbol, _Cp.symbol
_xm, _xp = (-_B - sp.sqrt(_B**2 - 4 * _C)) / 2, (-_B + sp.sqrt(_B**2 - 4 * _C)) / 2
root_minus = Identity(title="x^2 + B x + C vanishes at x_- = (-B - sqrt(B^2 - 4C))/2",
                      lhs=_xm**2 + _B * _xm + _C, rhs=0, where=(_Bp, _Cp))
root_plus = Identity(title="x^2 + B x + C vanishes at x_+ = (-B + sqrt(B^2 - 4C))/2",
                     lhs=_xp**2 + _B * _xp + _C, rhs=0, where=(_Bp, _Cp))
quadratic_formula = Identity(title="(x_+ - x_-)^2/(x_+ x_-) = (B^2 - 4C)/C for the roots x_+- of x^2 + B x + C",
                             lhs=(_xp - _xm)**2 / (_xp * _xm), rhs=(_B**2 - 4 * _C) / _C, where=(_Bp, _Cp))
_signs = []
for _i, _op in enumerate((">=", "<=", ">=")):
    _signs.append(Inequality(title=f"d = 3: Q(l_{_i + 1}) {_op} 0", lhs=LAMBDAS[_i] * U_EIG[_i]**2 / _m
                             * _prod_except(LAMBDAS[_i], _i), op=_op, rhs=0,
                             note="With Q monic these signs put one root in [l1, l2] and one in [l2, l3]"
                                  " (intermediate values): l1 <= mu_- <= l2 <= mu_+ <= l3."))
sign_at_l1, sign_at_l2, sign_at_l3 = _signs
KAPPA_STAR_FORM = sp.factor(_disc) / _qc  # kappa* + 1/kappa* - 2, from the quadratic formula's identity
condition = Inequality(
    title="d = 3: kappa* + 1/kappa* - 2 = (B^2 - 4C)/C <= kappa + 1/kappa - 2, i.e. kappa* = mu_+/mu_- <= l3/l1",
    lhs=KAPPA_STAR_FORM, op="<=", rhs=(LAMBDAS[2] - LAMBDAS[0])**2 / (LAMBDAS[0] * LAMBDAS[2]),
    note="x + 1/x increases on x >= 1, so the two forms of the condition number compare alike.")

EPS_HAT_T = sp.cancel(eps_hat(_e, S2.u, _t * S2.u))  # eps/t^2 (eps_hat_form)
RATE = sp.Max(sp.Abs(1 - _ea), sp.Abs(1 - EPS_HAT_T * MU_LO), sp.Abs(1 - EPS_HAT_T * MU_HI))
"""The local rate rho (d = 3, eigenbasis parameters): the spectral radius of the Jacobian off the neutral direction."""

C4 = Theorem(
    title="The Jacobian of BNGD at a minimum: diag(1 - eps_a, I - eps_hat H*); H* u = 0; interlacing, kappa* <= kappa"
          " (d = 3)",
    source=SOURCE,
    params=(a, eps, eps_a, t, t_neg, mu, p_a, q_a, l1, gap_b, gap_c) + u_e + S2.params,
    claims=(jacobian_at_minimum, odd_symmetry_a, odd_symmetry, eps_hat_form, h_star_kernel, h_star_psd, characteristic,
            zero_root, quotient, q_at_l1, q_at_l2, q_at_l3, sign_at_l1, sign_at_l2, sign_at_l3, root_minus, root_plus,
            quadratic_formula,
            condition),
    summary="Near a minimum BNGD is GD on H* with the effective rate eps_hat = eps/t^2; kappa* <= kappa.")
