"""L6. Fixed points of the teacher-student dynamics (Luo et al. 2019, Table 1).

BN: (gamma_0, 1, L_0) with I1(gamma_0, 1) = zeta gamma_0^2 (ReLU: gamma_0 = 1/(2 zeta + 1)).
WN: (1, 1, L_0). Plain SGD: (1, 1, 1) in its own coordinates (gamma = ||w||/sqrt(N)).

At R = 1 the student is a multiple of the teacher, t = s/gamma, so I1 = gamma I3 for every
activation and the O(eta) part of dR/dt vanishes: R = 1 is stationary to first order in
eta. The eta^2 term does not vanish for BN: I2(gamma_0, 1) > 0 when zeta > 0 (the student
output gamma_0 g(t) differs from the teacher's), so at (gamma_0, 1, L) ReLU gives

    dR/dt = -eta^2 zeta^2/((2 zeta + 1)^4 L^4) < 0,    dL/dt = eta^2 zeta^2/((2 zeta + 1)^4 L^3) > 0:

the BN point is fixed only after dropping O(eta^2 zeta^2) terms, as the paper does in
App. C.4; Table 1 states it without that caveat. For WN and SGD I2 = 0 at the point
and it is an exact fixed point.

For erf, I1(gamma, 1) = zeta gamma^2 has no closed-form root; the fixed point is
parametrised by gamma_0 in (0, 1]: zeta(gamma_0) = I1(gamma_0, 1)/gamma_0^2, which falls
from oo to 0, so each zeta >= 0 has one gamma_0.
"""

import sympy as sp

from bnsym import Erratum, Identity, Param, Sign, Source, Theorem

from .dynamics import INTEGRALS, bn_rhs, sgd_rhs, wn_rhs
from .symbols import L, R, eta, gamma, zeta

_g, _R, _L, _eta, _zeta = gamma.symbol, R.symbol, L.symbol, eta.symbol, zeta.symbol

gamma_0 = Param("gamma_0", lo=0, hi=1, lo_open=True, hi_open=True, sample_lo=0.02, latex=r"\gamma_0")
zeta_pos = Param("zeta", lo=0, lo_open=True, sample_lo=0.01, sample_hi=5, latex=r"\zeta")
gamma0_relu = 1 / (2 * _zeta + 1)


def at_bn_point(expr: sp.Expr) -> sp.Expr:
    """``expr`` at the ReLU BN point (gamma_0, 1)."""
    return expr.subs(_R, 1).subs(_g, gamma0_relu)


I1_relu, I2_relu, I3_relu = INTEGRALS["relu"]
I1_erf, I2_erf, I3_erf = INTEGRALS["erf"]
dgamma_relu, dR_relu, dL_relu = bn_rhs("relu")

relu_gamma0 = Identity(title="ReLU: gamma_0 = 1/(2 zeta + 1) solves I1(gamma_0, 1) = zeta gamma_0^2",
                       lhs=at_bn_point(I1_relu), rhs=_zeta * gamma0_relu**2)
bn_gamma_fixed = Identity(title="BN (ReLU): dgamma/dt = 0 at (gamma_0, 1)", lhs=at_bn_point(dgamma_relu), rhs=0)
first_order_relu = Identity(title="ReLU: the O(eta) part of dR/dt vanishes at R = 1 for every gamma",
                            lhs=(_g * I3_relu - _R * I1_relu).subs(_R, 1), rhs=0)
first_order_erf = Identity(title="erf: the O(eta) part of dR/dt vanishes at R = 1 for every gamma",
                           lhs=(_g * I3_erf - _R * I1_erf).subs(_R, 1), rhs=0)
relu_I2_at_point = Identity(title="ReLU: I2(gamma_0, 1) = (1 - gamma_0)^2/2 = 2 zeta^2/(2 zeta + 1)^2",
                            lhs=at_bn_point(I2_relu), rhs=2 * _zeta**2 / (2 * _zeta + 1)**2)
bn_point_printed = Identity(title="Table 1: (gamma_0, 1, L_0) is a fixed point of BN (dR/dt = 0 there)",
                            lhs=at_bn_point(dR_relu), rhs=0)
bn_point_corrected = Identity(title="BN (ReLU): at (gamma_0, 1, L) dR/dt = -eta^2 zeta^2/((2 zeta + 1)^4 L^4), an"
                                    " O(eta^2 zeta^2) drift away from R = 1",
                              lhs=at_bn_point(dR_relu), rhs=-_eta**2 * _zeta**2 / ((2 * _zeta + 1)**4 * _L**4))
bn_point = Erratum(
    printed=bn_point_printed,
    corrected=bn_point_corrected,
    note="The eta^2 term of dR/dt is -eta^2 gamma^2 R I2/(2 L^4), and I2(gamma_0, 1) > 0 for zeta > 0: the point"
         " is fixed only when O(eta^2 zeta^2) terms are dropped (App. C.4 drops them; Table 1 does not say so).",
)
bn_length_grows = Identity(title="BN (ReLU): at (gamma_0, 1, L) dL/dt = eta^2 zeta^2/((2 zeta + 1)^4 L^3)",
                           lhs=at_bn_point(dL_relu), rhs=_eta**2 * _zeta**2 / ((2 * _zeta + 1)**4 * _L**3))
bn_length_grows_sign = Sign(at_bn_point(dL_relu).subs(_zeta, zeta_pos.symbol), negative=False, where=(zeta_pos,),
                            title="BN (ReLU): dL/dt > 0 at (gamma_0, 1, L) for zeta > 0, so L keeps growing")


def _exact_point(rhs: tuple[sp.Expr, ...], subs: dict, name: str, activation: str) -> Identity:
    return Identity(title=f"{name} ({activation}): every rate vanishes at its fixed point",
                    lhs=sum(sp.Abs(e.subs(subs)) for e in rhs), rhs=0)


wn_fixed_relu = _exact_point(wn_rhs("relu"), {_R: 1}, "WN (1, 1, L_0)", "relu")
wn_fixed_erf = _exact_point(wn_rhs("erf"), {_R: 1}, "WN (1, 1, L_0)", "erf")
sgd_fixed_relu = _exact_point(sgd_rhs("relu"), {_R: 1, _g: 1}, "SGD (1, 1, 1)", "relu")
sgd_fixed_erf = _exact_point(sgd_rhs("erf"), {_R: 1, _g: 1}, "SGD (1, 1, 1)", "erf")

# erf: the BN point parametrised by gamma_0
_g0 = gamma_0.symbol
zeta_of_gamma0_erf = (I1_erf.subs(_R, 1) / _g**2).subs(_g, _g0)
erf_zeta_at_one = Identity(title="erf: zeta(gamma_0) = I1(gamma_0, 1)/gamma_0^2 vanishes at gamma_0 = 1 (WN)",
                           lhs=zeta_of_gamma0_erf.subs(_g0, 1), rhs=0)
erf_zeta_positive = Sign(zeta_of_gamma0_erf, negative=False, where=(gamma_0,),
                         title="erf: zeta(gamma_0) > 0 on (0, 1): a fixed point with gamma_0 < 1 for zeta > 0")
erf_zeta_monotone = Sign(sp.diff(zeta_of_gamma0_erf, _g0), where=(gamma_0,),
                         title="erf: zeta(gamma_0) decreases on (0, 1): one gamma_0 per zeta")

L6 = Theorem(
    title="Fixed points of BN, WN and SGD (Table 1), and the O(eta^2 zeta^2) caveat",
    source=Source("Luo et al., ICLR 2019", "Sec. 3.2, Table 1, App. C.4"),
    params=(gamma, R, L, eta, zeta, gamma_0),
    claims=(
        relu_gamma0, bn_gamma_fixed, first_order_relu, first_order_erf, relu_I2_at_point, bn_point,
        bn_length_grows, bn_length_grows_sign, wn_fixed_relu, wn_fixed_erf, sgd_fixed_relu, sgd_fixed_erf,
        erf_zeta_at_one, erf_zeta_positive, erf_zeta_monotone,
    ),
    summary="ReLU gamma_0 = 1/(2 zeta + 1) and R = 1 stationary to first order are proven. The BN point is not"
            " fixed once the eta^2 terms Eq. (6) keeps are kept: R drifts down at rate eta^2 zeta^2/((2zeta+1)^4"
            " L^4) and L grows. WN and SGD points are exact.",
)
