"""L7. Proposition 1: Jacobian eigenvalues, maximum and effective learning rates (Luo et al. 2019).

The Jacobian of Eq. (6) is computed by SymPy with I1, I2, I3 as unknown functions of
(gamma, R); at the BN point (gamma_0, 1, L_0), with I1 = zeta gamma_0^2 and I1 = gamma_0 I3:

    lambda_Q = J_gamma,gamma = eta/gamma_0 dI1/dgamma - 2 eta zeta          (exact)
    J_RR = eta/L^2 (gamma_0 dI3/dR - dI1/dR - zeta gamma_0^2) - eta^2 gamma_0^2/(2 L^4) (dI2/dR + I2)

The paper drops I2 (= O(zeta^2) at the point) and writes J_RR as
lambda_R = dI2/dR eta gamma_0/(2 L_0^2) (eta_max - eta_eff), with
eta_max = ((gamma_0 dI3/dR - dI1/dR)/gamma_0 - zeta gamma_0)/(dI2/dR/2) and eta_eff = eta gamma_0/L_0^2.
It also drops the O(eta^2) entries below the diagonal (J_R,gamma, J_L,gamma, J_L,R) to read
the eigenvalues off the diagonal. For WN (gamma = 1, zeta = 0) and plain SGD those terms
vanish at the fixed point (I2 = 0 there, and dI2/dgamma = 0, dI1/dgamma = dI3/dgamma):
their thresholds eta_max = 2 (dI3/dR - dI1/dR)/dI2/dR are exact, 2 for ReLU and
pi sqrt(15)/3 = 4.056 for erf (derived here; the paper gives no erf value).

For BN with zeta > 0 the dropped terms are of the same order as the kept eta^2 dI2/dR:
keeping them all at (gamma_0, 1), the (gamma, R) block (length held fixed) is singular at
eta_eff = 2 (2 zeta + 1)^2/(1 + 4 zeta - 6 zeta^2), not at 2 + 4 zeta, which shows that the
truncation is not consistent. Neither number is a threshold of the process: (gamma_0, 1) is
not a rest point (L6). In online SGD with the length held fixed, started at R = 0.98, R moves
away from 1 at every learning rate checked (0.5 to 2 times 2 + 4 zeta, zeta = 0.25, 0.5), as
the full Eq. (6) predicts; there is no change of behaviour at 2 + 4 zeta.
"""

import sympy as sp

from bnsym import Erratum, Identity, Param, ProcessClaim, Source, Theorem

from .dynamics import INTEGRALS, dgamma_bn, dgamma_sgd, dL_bn, dR_bn, dR_sgd, flow, i1, i2, i3
from .symbols import L, N, R, R_init, eta, gamma, zeta

_g, _R, _L, _eta, _zeta = gamma.symbol, R.symbol, L.symbol, eta.symbol, zeta.symbol
pi = sp.pi

# values and first derivatives of I1, I2, I3 at a point, as free symbols
_names = [f"I{k}{d}" for k in (1, 2, 3) for d in ("", "_g", "_R")]
DERIV = {n: Param(n, sample_lo=-2, sample_hi=2, latex=n.replace("_g", r"_{,\gamma}").replace("_R", "_{,R}"))
         for n in _names}
_d = {n: p.symbol for n, p in DERIV.items()}
_funcs = [sp.Function(f"I{k}")(_g, _R) for k in (1, 2, 3)]


def _generic(expr: sp.Expr) -> sp.Expr:
    return expr.subs(dict(zip((i1, i2, i3), _funcs)))


def _at_point(expr: sp.Expr) -> sp.Expr:
    """Replace derivatives of I_k by the symbols I_k_g, I_k_R, then I_k by I_k (values)."""
    rep = {}
    for k, f in enumerate(_funcs, 1):
        rep[sp.Derivative(f, _g)] = _d[f"I{k}_g"]
        rep[sp.Derivative(f, _R)] = _d[f"I{k}_R"]
    out = expr.xreplace(rep)
    return out.xreplace({f: _d[f"I{k}"] for k, f in enumerate(_funcs, 1)})


J_bn = sp.Matrix([_generic(e) for e in (dgamma_bn, dR_bn, dL_bn)]).jacobian([_g, _R, _L])
_fixed = {_d["I1"]: _zeta * _g**2, _d["I3"]: _zeta * _g}  # I1 = zeta gamma_0^2, I3 = I1/gamma_0
J_bn_point = J_bn.applyfunc(lambda e: _at_point(e).subs(_R, 1).subs(_fixed))

eta_eff_bn = _eta * _g / _L**2
eta_max_bn = ((_g * _d["I3_R"] - _d["I1_R"]) / _g - _zeta * _g) / (_d["I2_R"] / 2)
lambda_Q = _eta / _g * _d["I1_g"] - 2 * _eta * _zeta
lambda_R = _d["I2_R"] * _eta * _g / (2 * _L**2) * (eta_max_bn - eta_eff_bn)

lambda_Q_general = Identity(title="Prop. 1: lambda_Q = eta/gamma_0 dI1/dgamma - 2 eta zeta at the BN point",
                            lhs=J_bn_point[0, 0], rhs=lambda_Q)
lambda_R_truncated = Identity(
    title="Prop. 1: with I2 dropped, J_RR = dI2/dR eta gamma_0/(2 L^2) (eta_max - eta_eff)",
    lhs=J_bn_point[1, 1].subs(_d["I2"], 0), rhs=lambda_R)
J_RR_full = Identity(
    title="the full J_RR keeps -eta^2 gamma_0^2 I2/(2 L^4), which the paper drops",
    lhs=J_bn_point[1, 1], rhs=lambda_R - _eta**2 * _g**2 * _d["I2"] / (2 * _L**4))

# -- ReLU derivatives in closed form (the sqrt(1 - R^2) terms cancel in dI1/dR) ------------------------
I1_relu, I2_relu, I3_relu = INTEGRALS["relu"]
I1_R_relu = _g * (pi + 2 * sp.asin(_R)) / (4 * pi)
I3_R_relu = sp.sqrt(1 - _R**2) / pi - _g / 2
I2_R_relu = sp.sqrt(1 - _R**2) / pi - _g * (pi + 2 * sp.asin(_R)) / (2 * pi)
relu_dI1 = Identity(title="ReLU: dI1/dR = gamma (pi + 2 asin R)/(4 pi)", lhs=sp.diff(I1_relu, _R), rhs=I1_R_relu)
relu_dI2 = Identity(title="ReLU: dI2/dR = sqrt(1 - R^2)/pi - gamma (pi + 2 asin R)/(2 pi)",
                    lhs=sp.diff(I2_relu, _R), rhs=I2_R_relu)
relu_dI3 = Identity(title="ReLU: dI3/dR = sqrt(1 - R^2)/pi - gamma/2", lhs=sp.diff(I3_relu, _R), rhs=I3_R_relu)


def relu_values(g0: sp.Expr) -> dict[sp.Symbol, sp.Expr]:
    """I_k and their derivatives for ReLU at (g0, R = 1)."""
    vals = {"I1": I1_relu, "I2": I2_relu, "I3": I3_relu, "I1_R": I1_R_relu, "I2_R": I2_R_relu, "I3_R": I3_R_relu,
            "I1_g": sp.diff(I1_relu, _g), "I2_g": sp.diff(I2_relu, _g), "I3_g": sp.diff(I3_relu, _g)}
    return {_d[k]: sp.simplify(v.subs(_R, 1).subs(_g, g0)) for k, v in vals.items()}


def erf_values(g0: sp.Expr) -> dict[sp.Symbol, sp.Expr]:
    out = {}
    for k, f in enumerate(INTEGRALS["erf"], 1):
        out[_d[f"I{k}"]] = f.subs(_R, 1).subs(_g, g0)
        out[_d[f"I{k}_g"]] = sp.diff(f, _g).subs(_R, 1).subs(_g, g0)
        out[_d[f"I{k}_R"]] = sp.diff(f, _R).subs(_R, 1).subs(_g, g0)
    return out


_g0_relu = 1 / (2 * _zeta + 1)
_relu_bn = relu_values(_g0_relu)
lambda_Q_relu = Identity(title="Prop. 1 (ReLU): lambda_Q = -eta (zeta + 1/2)",
                         lhs=lambda_Q.subs(_g, _g0_relu).subs(_relu_bn), rhs=-_eta * (_zeta + sp.Rational(1, 2)))
eta_max_bn_relu = Identity(title="Prop. 1 (ReLU): the printed eta_max of BN is 2 + 4 zeta",
                           lhs=eta_max_bn.subs(_g, _g0_relu).subs(_relu_bn), rhs=2 + 4 * _zeta)

# -- WN and plain SGD: exact thresholds -----------------------------------------------------------------
eta_max_wn_formula = 2 * (_d["I3_R"] - _d["I1_R"]) / _d["I2_R"]
_wn_rate = _at_point(sp.diff(_generic(dR_bn), _R)).subs({_R: 1, _g: 1, _zeta: 0})
wn_rate = Identity(
    title="WN (length fixed): the R eigenvalue is -dI2/dR eta/(2 L^2) (eta/L^2 - eta_max), I1 = I2 = 0 at R = 1",
    lhs=_wn_rate.subs({_d["I1"]: 0, _d["I2"]: 0, _d["I3"]: 0}),
    rhs=-_d["I2_R"] * _eta / (2 * _L**2) * (_eta / _L**2 - eta_max_wn_formula))
J_sgd = sp.Matrix([_generic(e) for e in (dgamma_sgd, dR_sgd)]).jacobian([_g, _R])
_sgd_point = {_d["I1"]: 0, _d["I2"]: 0, _d["I3"]: 0, _d["I1_g"]: _d["I3_g"], _d["I2_g"]: 0}
J_sgd_point = J_sgd.applyfunc(lambda e: _at_point(e).subs({_R: 1, _g: 1}).subs(_sgd_point))
sgd_triangular = Identity(
    title="plain SGD: the Jacobian at (1, 1) is triangular (dI1/dgamma = dI3/dgamma and dI2/dgamma = 0 there)",
    lhs=J_sgd_point[1, 0], rhs=0)
sgd_rate = Identity(title="plain SGD: the R eigenvalue is -dI2/dR eta/2 (eta - eta_max), eta_max as for WN",
                    lhs=J_sgd_point[1, 1], rhs=-_d["I2_R"] * _eta / 2 * (_eta - eta_max_wn_formula))
_relu_one, _erf_one = relu_values(sp.Integer(1)), erf_values(sp.Integer(1))


def _sgd_conditions(values: dict[sp.Symbol, sp.Expr]) -> sp.Expr:
    return sp.Abs((_d["I1_g"] - _d["I3_g"]).subs(values)) + sp.Abs(_d["I2_g"].subs(values))


sgd_conditions_relu = Identity(title="ReLU at (1, 1): dI1/dgamma - dI3/dgamma = 0 and dI2/dgamma = 0",
                               lhs=_sgd_conditions(_relu_one), rhs=0)
sgd_conditions_erf = Identity(title="erf at (1, 1): dI1/dgamma - dI3/dgamma = 0 and dI2/dgamma = 0",
                              lhs=_sgd_conditions(_erf_one), rhs=0)
ETA_MAX_WN = {"relu": eta_max_wn_formula.subs(_relu_one), "erf": eta_max_wn_formula.subs(_erf_one)}
eta_max_wn_relu = Identity(title="Prop. 1 (ReLU): eta_max of WN and of SGD is 2", lhs=ETA_MAX_WN["relu"], rhs=2)
eta_max_wn_erf = Identity(title="erf: eta_max of WN and of SGD is pi sqrt(15)/3 (about 4.056)",
                          lhs=ETA_MAX_WN["erf"], rhs=pi * sp.sqrt(15) / 3)

# -- BN: a consistent second-order truncation -----------------------------------------------------------
_ee = sp.Symbol("eta_eff", positive=True)
_block = J_bn_point[:2, :2].subs(_relu_bn).subs(_g, _g0_relu)
det_block = sp.factor(sp.simplify(_block.det().subs(_eta, _ee * _L**2 / _g0_relu)))
zeta_small = Param("zeta", lo=0, lo_open=True, hi=0.8, sample_lo=0.01, latex=r"\zeta")
eta_max_bn_full = 2 * (2 * _zeta + 1)**2 / (1 + 4 * _zeta - 6 * _zeta**2)
block_singular_full = Identity(
    title="BN (ReLU), every O(eta^2) term kept at (gamma_0, 1), L fixed: the (gamma, R) block is singular at"
          " eta_eff = 2 (2 zeta + 1)^2/(1 + 4 zeta - 6 zeta^2), not at 2 + 4 zeta",
    lhs=det_block.subs(_ee, eta_max_bn_full).subs(_zeta, zeta_small.symbol), rhs=0, where=(zeta_small,),
    note="An observation on the truncation, not a corrected threshold: Prop. 1 keeps the eta^2 dI2/dR term of"
         " J_RR but drops I2 in J_RR and the eta^2 entry J_R,gamma, of the same order for zeta > 0; kept together"
         " they move the singular point (2 + 20 zeta^2 + O(zeta^3) at small zeta). Neither value is a threshold of"
         " the dynamics, since (gamma_0, 1) is not a rest point (L6) and the ReLU sqrt(1 - R^2) terms shift J_RR at"
         " the true rest point by O(eta^2 zeta) as well.",
)

# -- the thresholds in the process ---------------------------------------------------------------------
_SIGNED = ("s log((1 - R(T))/(1 - R(0))) with s = -1 below eta_max and +1 above, online SGD started at R(0) = 1 -"
           " epsilon near the fixed point, T fixed")


def _threshold(title: str, value_note: str) -> ProcessClaim:
    return ProcessClaim(title=title, quantity=_SIGNED, value=0, op=">",
                        quantity_tex=r"s\,\log\frac{1-R(T)}{1-R(0)}", note=value_note)


threshold_sgd_relu = _threshold("plain SGD (ReLU): 1 - R shrinks below eta = 2 and grows above", "eta_max = 2")
threshold_sgd_erf = _threshold("plain SGD (erf): 1 - R shrinks below eta = pi sqrt(15)/3 and grows above",
                               "eta_max = 4.056")
threshold_wn_relu = _threshold("WN (ReLU, length fixed): 1 - R shrinks below eta_eff = 2 and grows above",
                               "eta_max = 2")
threshold_wn_erf = _threshold("WN (erf, length fixed): 1 - R shrinks below eta_eff = pi sqrt(15)/3 and grows above",
                              "eta_max = 4.056")
threshold_bn_printed = _threshold("BN (ReLU, length fixed): 1 - R shrinks below eta_eff = 2 + 4 zeta and grows"
                                  " above", "eta_max = 2 + 4 zeta")
threshold_bn_corrected = ProcessClaim(
    title="BN (ReLU, length fixed): log((1 - R(T))/(1 - R(0))) follows the full Eq. (6), under which R drifts"
          " away from 1 at every eta_eff",
    quantity="log((1 - R(T))/(1 - R(0))), online SGD with ||w|| held fixed, started near (gamma_0, 1)",
    value=sp.log((1 - _R) / (1 - R_init.symbol)), flow=flow("bn", "relu", frozen_length=True),
    var=N, order=1)
bn_threshold = Erratum(
    printed=threshold_bn_printed,
    corrected=threshold_bn_corrected,
    note="Started at R = 0.98 near (gamma_0, 1), BN online SGD with the length held fixed moves R away from 1 at"
         " every learning rate of the grid (0.5 to 2 times 2 + 4 zeta, zeta = 0.25 and 0.5), and follows the full"
         " Eq. (6) doing so: R settles at R* < 1, lower for larger eta_eff. The claim that fails is convergence to"
         " R = 1 below 2 + 4 zeta; it fails because of the O(eta^2 zeta^2) drift of L6, which Prop. 1 drops, so no"
         " value of the threshold could make it hold.",
)

L7 = Theorem(
    title="Proposition 1: Jacobian eigenvalues, maximum and effective learning rates",
    source=Source("Luo et al., ICLR 2019", "Sec. 3.3, App. C.4", "Prop. 1"),
    params=(gamma, R, L, eta, zeta, *DERIV.values()),
    claims=(
        lambda_Q_general, lambda_R_truncated, J_RR_full, relu_dI1, relu_dI2, relu_dI3, lambda_Q_relu,
        eta_max_bn_relu, wn_rate, sgd_triangular, sgd_rate, sgd_conditions_relu, sgd_conditions_erf,
        eta_max_wn_relu, eta_max_wn_erf, block_singular_full,
        threshold_sgd_relu, threshold_sgd_erf, threshold_wn_relu, threshold_wn_erf, bn_threshold,
    ),
    summary="lambda_Q, the truncated lambda_R and the ReLU values (eta_max 2 for WN/SGD, 2 + 4 zeta for BN) follow"
            " from the stated truncation. WN and SGD thresholds are exact and the simulation finds them; erf gives"
            " pi sqrt(15)/3. The BN threshold 2 + 4 zeta rests on an inconsistent truncation and is not seen in"
            " online SGD.",
)
