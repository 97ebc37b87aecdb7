"""L5. Teacher-student learning dynamics (Luo et al. 2019, Sec. 3.1 and App. C.4).

Input x ~ N(0, I/N); teacher g(w*.x) with ||w*||^2 = N; student g(w~.x) with
w~ = gamma sqrt(N) w/||w|| (BN seen as population normalization plus a scale gamma).
Per-sample loss (1/2)(g(t) - g(s))^2 + (zeta/2) gamma^2 with s = w~.x, t = w*.x, trained
by online SGD (a fresh x each step). With delta = g'(s)(g(t) - g(s)) the steps are

    dw     = eta delta (gamma sqrt(N)/||w|| x - s/||w||^2 w)      (Eq. 5, = -eta dl/dw)
    dgamma = eta_gamma (delta s/gamma - zeta gamma)

Order parameters: gamma, R = w~.w*/(gamma N) (the cosine between student and teacher)
and L = ||w||/sqrt(N). In the limit N -> oo with time t = steps/N they obey Eq. (6):

    dgamma/dt = eta (I1/gamma - zeta gamma)
    dR/dt     = eta gamma/L^2 I3 - eta R/L^2 I1 - eta^2 gamma^2 R/(2 L^4) I2
    dL/dt     = eta^2 gamma^2/(2 L^3) I2

with I1 = <delta s>, I2 = <delta^2 x.x> -> <delta^2>, I3 = <delta t> over (s, t) jointly
Gaussian, Var s = gamma^2, Var t = 1, Cov = gamma R.

The step w.dw = 0 (the loss does not depend on the length of w), so ||w|| can only grow,
by ||dw||^2 per step: that is the eta^2 term. The printed gamma step has rate eta; for
Eq. (6) to be its limit it must be eta/N (otherwise gamma moves N times faster than R
and L, and equilibrates within O(1/N) of time). Both rates are simulated: the printed
one does not follow Eq. (6), the corrected one does.

Plain SGD (no normalization, s = w.x, dw = eta delta x) has its own equations, derived
here the same way from Q = ||w||^2/N and r = w.w*/N: dQ/dt = 2 eta I1 + eta^2 I2 and
dr/dt = eta I3, i.e. for gamma = sqrt(Q) and R = r/gamma

    dgamma/dt = (2 eta I1 + eta^2 I2)/(2 gamma),   dR/dt = eta I3/gamma - R/gamma dgamma/dt.

The per-step identities (the steps as gradients, w.dw = 0, ||dw||^2, w*.dw) are proven for
N = 3 with symbolic vectors, and the algebra from d(RL)/dt and dL^2/dt to Eq. (6) is
proven; the passage from per-step increments to their expectations as N -> oo (x.x -> 1,
(w.x)^2/||w||^2 -> 0, the law of large numbers over N steps) is not a symbolic step here: the
Monte Carlo flow claims test it, against online SGD at N = 250, 1000, 4000.

Closed forms of I1, I2, I3 for ReLU are printed; for g(u) = erf(u/sqrt(2)) only I1 is
legible, and I2, I3 are derived here from the two Gaussian integrals of Saad and Solla
(1995), applied to the covariances of (s, t). Every closed form is checked by 2-D
Gaussian quadrature (mpmath) and by Monte Carlo over sampled (s, t) pairs; the ODE
against a real online-SGD simulation of the student at N = 250 ... 4000.
"""

import sympy as sp

from bnsym import Derivation, Erratum, Flow, Identity, Param, ProcessClaim, Source, Theorem, by
from bnsym.claims import GaussianExpectation

from .symbols import L, L_init, N, R, R_init, eta, gamma, gamma_init, time, zeta

_g, _R, _L, _eta, _zeta = gamma.symbol, R.symbol, L.symbol, eta.symbol, zeta.symbol
pi = sp.pi

# -- the two Gaussian pre-activations and the activations ------------------------------------------
s, t = sp.symbols("s t", real=True)  # student and teacher pre-activations (integration variables)
COVARIANCE = ((_g**2, _g * _R), (_g * _R, sp.Integer(1)))


def _cov(a: sp.Symbol, b: sp.Symbol) -> sp.Expr:
    i, j = (0 if a == s else 1), (0 if b == s else 1)
    return COVARIANCE[i][j]


def relu(u: sp.Expr) -> sp.Expr:
    return sp.Max(0, u)


def relu_prime(u: sp.Expr) -> sp.Expr:
    return sp.Heaviside(u)


def erf_act(u: sp.Expr) -> sp.Expr:
    """The sigmoid-like activation of the paper's App. C.5, g(u) = erf(u/sqrt(2))."""
    return sp.erf(u / sp.sqrt(2))


def erf_prime(u: sp.Expr) -> sp.Expr:
    return sp.sqrt(2 / pi) * sp.exp(-u**2 / 2)


ACTIVATIONS = {"relu": (relu, relu_prime), "erf": (erf_act, erf_prime)}


def delta(activation: str) -> sp.Expr:
    g, dg = ACTIVATIONS[activation]
    return dg(s) * (g(t) - g(s))


# -- closed forms -----------------------------------------------------------------------------------
_A = pi * _R + 2 * sp.sqrt(1 - _R**2) + 2 * _R * sp.asin(_R)
_B = pi + 2 * _R * sp.sqrt(1 - _R**2) + 2 * sp.asin(_R)
I1_relu = _g * _A / (4 * pi) - _g**2 / 2
I2_relu = _g**2 / 2 + _B / (4 * pi) - _g * _A / (2 * pi)
I3_relu = _B / (4 * pi) - _g * _R / 2

_D = 2 + 2 * _g**2 - _g**2 * _R**2
I1_erf_printed = 2 / (pi * (1 + _g**2)) * (_g * _R / sp.sqrt(_D) - _g**2 / sp.sqrt(1 + 2 * _g**2))
I3_erf = 2 / (pi * (1 + _g**2)) * ((1 + _g**2 - _g**2 * _R**2) / sp.sqrt(_D) - _g * _R / sp.sqrt(1 + 2 * _g**2))
_K = 1 + 2 * _g**2 - _g**2 * _R**2
I2_erf = 4 / (pi**2 * sp.sqrt(1 + 2 * _g**2)) * (
    sp.asin((1 + 2 * _g**2 - 2 * _g**2 * _R**2) / (2 * _K))
    - 2 * sp.asin(_g * _R / sp.sqrt(2 * _K * (1 + 3 * _g**2)))
    + sp.asin(_g**2 / (1 + 3 * _g**2)))

INTEGRALS = {"relu": (I1_relu, I2_relu, I3_relu), "erf": (I1_erf_printed, I2_erf, I3_erf)}


# -- Saad and Solla's integrals for g(u) = erf(u/sqrt(2)), as functions of the covariances ----------
def saad_solla_3(u: sp.Symbol, v: sp.Symbol, w: sp.Symbol) -> sp.Expr:
    """E[g'(u) v g(w)] = (2/pi) (C_vw (1 + C_uu) - C_uv C_uw) / ((1 + C_uu) sqrt(Lambda_3)),
    Lambda_3 = (1 + C_uu)(1 + C_ww) - C_uw^2."""
    c11, c12, c13, c23, c33 = _cov(u, u), _cov(u, v), _cov(u, w), _cov(v, w), _cov(w, w)
    lam3 = (1 + c11) * (1 + c33) - c13**2
    return 2 / pi * (c23 * (1 + c11) - c12 * c13) / ((1 + c11) * sp.sqrt(lam3))


def saad_solla_4(u: sp.Symbol, v: sp.Symbol, w: sp.Symbol, y: sp.Symbol) -> sp.Expr:
    """E[g'(u) g'(v) g(w) g(y)] = 4/(pi^2 sqrt(Lambda_4)) asin(Lambda_0/sqrt(Lambda_1 Lambda_2))."""
    c = {(i, j): _cov(a, b) for i, a in enumerate((u, v, w, y), 1) for j, b in enumerate((u, v, w, y), 1)}
    lam4 = (1 + c[1, 1]) * (1 + c[2, 2]) - c[1, 2]**2
    lam0 = (lam4 * c[3, 4] - c[2, 3] * c[2, 4] * (1 + c[1, 1]) - c[1, 3] * c[1, 4] * (1 + c[2, 2])
            + c[1, 2] * c[1, 3] * c[2, 4] + c[1, 2] * c[1, 4] * c[2, 3])
    lam1 = (lam4 * (1 + c[3, 3]) - c[2, 3]**2 * (1 + c[1, 1]) - c[1, 3]**2 * (1 + c[2, 2])
            + 2 * c[1, 2] * c[1, 3] * c[2, 3])
    lam2 = (lam4 * (1 + c[4, 4]) - c[2, 4]**2 * (1 + c[1, 1]) - c[1, 4]**2 * (1 + c[2, 2])
            + 2 * c[1, 2] * c[1, 4] * c[2, 4])
    return 4 / (pi**2 * sp.sqrt(lam4)) * sp.asin(lam0 / sp.sqrt(lam1 * lam2))


erf_I1_derivation = Derivation(
    title="erf I1 = E[g'(s) s g(t)] - E[g'(s) s g(s)], by Saad-Solla: the printed form",
    chain=[
        saad_solla_3(s, s, t) - saad_solla_3(s, s, s),
        (I1_erf_printed, by.algebra),
    ],
)
erf_I3_derivation = Derivation(
    title="erf I3 = E[g'(s) t g(t)] - E[g'(s) t g(s)], by Saad-Solla",
    chain=[
        saad_solla_3(s, t, t) - saad_solla_3(s, t, s),
        (I3_erf, by.algebra),
    ],
)
erf_I2_derivation = Derivation(
    title="erf I2 = E[g'(s)^2 g(t)^2] - 2 E[g'(s)^2 g(t) g(s)] + E[g'(s)^2 g(s)^2], by Saad-Solla",
    chain=[
        saad_solla_4(s, s, t, t) - 2 * saad_solla_4(s, s, t, s) + saad_solla_4(s, s, s, s),
        (I2_erf, by.algebra),
    ],
)


def _expectation(activation: str, k: int, observable: sp.Expr, name: str) -> GaussianExpectation:
    return GaussianExpectation(
        title=f"{activation}: {name} = E[{observable}] over (s, t), closed form",
        integrand=observable, variables=(s, t), covariance=COVARIANCE, value=INTEGRALS[activation][k],
    )


_d_relu, _d_erf = delta("relu"), delta("erf")
I1_relu_quadrature = _expectation("relu", 0, _d_relu * s, "I1")
I2_relu_quadrature = _expectation("relu", 1, _d_relu**2, "I2")
I3_relu_quadrature = _expectation("relu", 2, _d_relu * t, "I3")
I1_erf_quadrature = _expectation("erf", 0, _d_erf * s, "I1")
I2_erf_quadrature = _expectation("erf", 1, _d_erf**2, "I2")
I3_erf_quadrature = _expectation("erf", 2, _d_erf * t, "I3")

_PAIRS = "pairs (s, t) = (gamma z1, R z1 + sqrt(1 - R^2) z2), z1, z2 i.i.d. N(0, 1); delta = g'(s)(g(t) - g(s))"


def _sampled(activation: str, k: int, name: str, observable: str) -> ProcessClaim:
    return ProcessClaim(
        title=f"{activation}: {name} is the mean of {observable} over sampled Gaussian pairs",
        quantity=f"mean of {observable} over {_PAIRS}", quantity_tex=rf"\mathbb{{E}}[{observable}]",
        value=INTEGRALS[activation][k],
    )


I1_relu_sampled = _sampled("relu", 0, "I1", "delta s")
I2_relu_sampled = _sampled("relu", 1, "I2", "delta^2")
I3_relu_sampled = _sampled("relu", 2, "I3", "delta t")
I1_erf_sampled = _sampled("erf", 0, "I1", "delta s")
I2_erf_sampled = _sampled("erf", 1, "I2", "delta^2")
I3_erf_sampled = _sampled("erf", 2, "I3", "delta t")

relu_R1 = Identity(title="relu: at R = 1, I1 = gamma I3 (t = s/gamma, so R = 1 is stationary)",
                   lhs=I1_relu.subs(_R, 1), rhs=_g * I3_relu.subs(_R, 1))
erf_R1 = Identity(title="erf: at R = 1, I1 = gamma I3", lhs=I1_erf_printed.subs(_R, 1), rhs=_g * I3_erf.subs(_R, 1))

# -- one SGD step, written out for N = 3 (the components enter symmetrically) ----------------------
_W = [Param(f"w{i}", sample_lo=-2, sample_hi=2, latex=f"w_{i}") for i in (1, 2, 3)]
_X = [Param(f"x{i}", sample_lo=-2, sample_hi=2, latex=f"x_{i}") for i in (1, 2, 3)]
_T = [Param(f"v{i}", sample_lo=-2, sample_hi=2, latex=f"w^*_{i}") for i in (1, 2, 3)]
teacher_out = Param("t_out", sample_lo=-3, sample_hi=3, latex=r"g(w^{*\top}x)")
w = sp.Matrix([p.symbol for p in _W])
x = sp.Matrix([p.symbol for p in _X])
wstar = sp.Matrix([p.symbol for p in _T])
_n = sp.Integer(3)
_norm = sp.sqrt(w.dot(w))
_s3 = _g * sp.sqrt(_n) * w.dot(x) / _norm
_act = sp.Function("g")
_u = sp.Symbol("u", real=True)
_delta3 = sp.diff(_act(_u), _u).subs(_u, _s3) * (teacher_out.symbol - _act(_s3))
_loss3 = (teacher_out.symbol - _act(_s3))**2 / 2 + _zeta * _g**2 / 2
dw_printed = _eta * _delta3 * (_g * sp.sqrt(_n) / _norm * x - _s3 / _norm**2 * w)

step_w = Identity(title="Eq. 5: the printed w step is -eta dl/dw (component 1, N = 3)",
                  lhs=-_eta * sp.diff(_loss3, w[0]), rhs=dw_printed[0])
step_gamma = Identity(title="Eq. 5: the gamma step is -eta_gamma dl/dgamma = eta_gamma (delta s/gamma - zeta gamma)",
                      lhs=-sp.diff(_loss3, _g), rhs=_delta3 * _s3 / _g - _zeta * _g)
step_orthogonal = Identity(title="w . dw = 0: the step is orthogonal to w, so ||w|| never shrinks",
                           lhs=w.dot(dw_printed), rhs=0)
step_norm = Identity(
    title="||dw||^2 = (eta delta gamma/L)^2 (x.x - (w.x)^2/||w||^2), L = ||w||/sqrt(N)",
    lhs=dw_printed.dot(dw_printed),
    rhs=(_eta * _delta3 * _g * sp.sqrt(_n) / _norm)**2 * (x.dot(x) - w.dot(x)**2 / w.dot(w)))
step_overlap = Identity(
    title="w*.dw = eta delta gamma sqrt(N)/||w|| (w*.x - (w.x)(w.w*)/||w||^2)",
    lhs=wstar.dot(dw_printed),
    rhs=_eta * _delta3 * _g * sp.sqrt(_n) / _norm * (wstar.dot(x) - w.dot(x) * w.dot(wstar) / w.dot(w)))

# -- from the per-step increments to Eq. (6) ---------------------------------------------------------
_I = [Param(f"I{k}", sample_lo=-2, sample_hi=2, latex=f"I_{k}") for k in (1, 2, 3)]
i1, i2, i3 = (p.symbol for p in _I)
dRL_dt = _eta / _L * (_g * i3 - _R * i1)  # N E[w*.dw]/N with w*.x = t, (w.x)/||w|| = s/(gamma sqrt N)
dL2_dt = _eta**2 * _g**2 * i2 / _L**2  # N E[||dw||^2]/N with x.x -> 1, (w.x)^2/||w||^2 -> 0
dgamma_bn = _eta * (i1 / _g - _zeta * _g)
dR_bn = _eta * _g / _L**2 * i3 - _eta * _R / _L**2 * i1 - _eta**2 * _g**2 * _R / (2 * _L**4) * i2
dL_bn = _eta**2 * _g**2 / (2 * _L**3) * i2

ode_L = Derivation(
    title="Eq. 6: dL/dt = (dL^2/dt)/(2L) = eta^2 gamma^2 I2/(2 L^3)",
    chain=[dL2_dt / (2 * _L), (dL_bn, by.algebra)],
)
ode_R = Derivation(
    title="Eq. 6: dR/dt = (d(RL)/dt - R dL/dt)/L",
    chain=[
        (dRL_dt - _R * dL_bn) / _L,
        (dR_bn, by.algebra),
    ],
)
_Q, _r = sp.symbols("Q r", positive=True)
dgamma_sgd = (2 * _eta * i1 + _eta**2 * i2) / (2 * _g)
dR_sgd = _eta * i3 / _g - _R / _g * dgamma_sgd
ode_sgd = Derivation(
    title="plain SGD: from dQ/dt = 2 eta I1 + eta^2 I2 and dr/dt = eta I3 to (gamma, R), Q = gamma^2, r = gamma R",
    chain=[
        (_eta * i3 - _R * (2 * _eta * i1 + _eta**2 * i2) / (2 * _g)) / _g,
        (dR_sgd, by.algebra),
    ],
)


def bn_rhs(activation: str, frozen_length: bool = False) -> tuple[sp.Expr, ...]:
    """Eq. (6) with the activation's closed forms: (dgamma, dR, dL)/dt."""
    sub = dict(zip((i1, i2, i3), INTEGRALS[activation]))
    out = (dgamma_bn.subs(sub), dR_bn.subs(sub), dL_bn.subs(sub))
    return out[:2] if frozen_length else out


def wn_rhs(activation: str, frozen_length: bool = False) -> tuple[sp.Expr, ...]:
    """WN: gamma = 1 and no decay; (dR, dL)/dt."""
    sub = {k: v.subs(_g, 1) for k, v in zip((i1, i2, i3), INTEGRALS[activation])}
    out = (dR_bn.subs(sub).subs(_g, 1), dL_bn.subs(sub).subs(_g, 1))
    return out[:1] if frozen_length else out


def sgd_rhs(activation: str) -> tuple[sp.Expr, ...]:
    sub = dict(zip((i1, i2, i3), INTEGRALS[activation]))
    return (dgamma_sgd.subs(sub), dR_sgd.subs(sub))


def flow(method: str, activation: str, frozen_length: bool = False) -> Flow:
    """The ODE of a student (``bn``, ``wn``, ``sgd``) as a :class:`~bnsym.Flow`."""
    if method == "bn":
        state, init = ((gamma, R), (gamma_init, R_init)) if frozen_length else \
            ((gamma, R, L), (gamma_init, R_init, L_init))
        rhs = bn_rhs(activation, frozen_length)
    elif method == "wn":
        state, init = ((R,), (R_init,)) if frozen_length else ((R, L), (R_init, L_init))
        rhs = wn_rhs(activation, frozen_length)
    else:
        state, init, rhs = (gamma, R), (gamma_init, R_init), sgd_rhs(activation)
    return Flow(state=state, rhs=rhs, initial=init, time=time,
                title=f"{method}{' (length frozen)' if frozen_length else ''}, {activation}")


_SGD_PROCESS = ("online SGD of the student on the teacher, one fresh x ~ N(0, I/N) per step, time t = steps/N,"
                " mean over independent runs")


def _on_flow(title: str, method: str, activation: str, value: sp.Expr, quantity: str, **kw) -> ProcessClaim:
    return ProcessClaim(title=title, quantity=f"{quantity} under {_SGD_PROCESS}", value=value,
                        flow=flow(method, activation), var=N, order=1, **kw)


_bn_gamma_quantity = "gamma(t) - gamma(0)"
gamma_rate_printed = _on_flow("BN: with the printed gamma step (rate eta) gamma follows Eq. (6)", "bn", "relu",
                              _g - gamma_init.symbol, _bn_gamma_quantity)
gamma_rate_corrected = _on_flow("BN: with the gamma step at rate eta/N, gamma follows Eq. (6) up to O(1/N)", "bn",
                                "relu", _g - gamma_init.symbol, _bn_gamma_quantity)
gamma_rate = Erratum(
    printed=gamma_rate_printed,
    corrected=gamma_rate_corrected,
    note="The gamma update of Eq. (5) has rate eta per step, while dw is O(1/sqrt(N)) per coordinate: in time"
         " t = steps/N gamma then moves N times faster than Eq. (6) says. Eq. (6) is the limit of the gamma step"
         " at rate eta/N.",
)
bn_overlap = _on_flow("BN (ReLU): R follows Eq. (6) up to O(1/N)", "bn", "relu", _R - R_init.symbol,
                      "R(t) - R(0)")
bn_length = _on_flow("BN (ReLU): L follows Eq. (6) up to O(1/N) (the eta^2 growth of ||w||)", "bn", "relu",
                     _L**2 - L_init.symbol**2, "L(t)^2 - L(0)^2")
wn_overlap = _on_flow("WN (ReLU): R follows Eq. (6) at gamma = 1 up to O(1/N)", "wn", "relu", _R - R_init.symbol,
                      "R(t) - R(0)")
sgd_overlap = _on_flow("plain SGD (ReLU): R follows its ODE up to O(1/N)", "sgd", "relu", _R - R_init.symbol,
                       "R(t) - R(0)")
bn_overlap_erf = _on_flow("BN (erf): R follows Eq. (6) up to O(1/N)", "bn", "erf", _R - R_init.symbol,
                          "R(t) - R(0)")

L5 = Theorem(
    title="Teacher-student dynamics: the steps, the Gaussian integrals and the ODE (6)",
    source=Source("Luo et al., ICLR 2019", "Sec. 3.1, App. C.4-C.5", "5-6"),
    params=(gamma, R, L, eta, zeta, time, gamma_init, R_init, L_init, N, teacher_out, *_W, *_X, *_T, *_I),
    claims=(
        step_w, step_gamma, step_orthogonal, step_norm, step_overlap,
        ode_L, ode_R, ode_sgd,
        I1_relu_quadrature, I2_relu_quadrature, I3_relu_quadrature,
        erf_I1_derivation, erf_I2_derivation, erf_I3_derivation,
        I1_erf_quadrature, I2_erf_quadrature, I3_erf_quadrature,
        I1_relu_sampled, I2_relu_sampled, I3_relu_sampled, I1_erf_sampled, I2_erf_sampled, I3_erf_sampled,
        relu_R1, erf_R1,
        gamma_rate, bn_overlap, bn_length, wn_overlap, sgd_overlap, bn_overlap_erf,
    ),
    summary="The printed steps are exact gradient steps of the loss; w.dw = 0, so ||w||^2 grows by ||dw||^2 and"
            " gives the eta^2 terms. Eq. (6) follows with the gamma step at rate eta/N (printed: eta). The ReLU"
            " integrals are as printed; for erf, I1 is as printed and I2, I3 are derived from Saad-Solla.",
)
