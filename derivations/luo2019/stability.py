"""L8. Propositions 2 and 3 (Luo et al. 2019, App. C.5-C.6).

Prop. 2: for ReLU and for erf, (i) lambda_Q < 0 at the BN point and (ii) lambda_R < 0 iff
eta_max > eta_eff, which holds because dI2/dR < 0 there. For ReLU both are proven:
lambda_Q = -eta (zeta + 1/2) and dI2/dR = -gamma_0. For erf the BN point has no closed
form; it is parametrised by gamma_0 in (0, 1] (zeta = I1(gamma_0, 1)/gamma_0^2, see L6)
and the signs are checked numerically over that interval, which covers every zeta >= 0.

Prop. 3 (ReLU): eta_max_bn >= eta_max_wn,sgd + 2 zeta; with the printed values
2 + 4 zeta >= 2 + 2 zeta, true with slack 2 zeta. (L7 shows that 2 + 4 zeta itself rests on
an inconsistent truncation.)
"""

import sympy as sp

from bnsym import Identity, Inequality, Sign, Source, Theorem

from .dynamics import INTEGRALS
from .fixed_points import gamma_0, zeta_of_gamma0_erf
from .learning_rates import ETA_MAX_WN, _d, eta_max_bn, lambda_Q, relu_values
from .symbols import R, eta, gamma, zeta

_g, _R, _eta, _zeta = gamma.symbol, R.symbol, eta.symbol, zeta.symbol
_g0 = gamma_0.symbol

_relu = relu_values(1 / (2 * _zeta + 1))
lambda_Q_negative_relu = Sign(lambda_Q.subs(_g, 1 / (2 * _zeta + 1)).subs(_relu),
                              title="Prop. 2 (ReLU): lambda_Q < 0 at the BN point")
dI2_relu = Identity(title="Prop. 2 (ReLU): dI2/dR = -gamma_0 at the BN point",
                    lhs=_d["I2_R"].subs(_relu), rhs=-1 / (2 * _zeta + 1))
dI2_negative_relu = Sign(_d["I2_R"].subs(_relu), title="Prop. 2 (ReLU): dI2/dR < 0, so lambda_R < 0 iff"
                         " eta_max > eta_eff")

I1_erf, I2_erf, _ = INTEGRALS["erf"]
_lambda_Q_erf = (_eta / _g * sp.diff(I1_erf, _g) - 2 * _eta * zeta_of_gamma0_erf.subs(_g0, _g)).subs(_R, 1)
lambda_Q_negative_erf = Sign(_lambda_Q_erf.subs(_g, _g0), where=(gamma_0,),
                             title="Prop. 2 (erf): lambda_Q < 0 at the BN point, for every gamma_0 in (0, 1)")
dI2_negative_erf = Sign(sp.diff(I2_erf, _R).subs(_R, 1).subs(_g, _g0), where=(gamma_0,),
                        title="Prop. 2 (erf): dI2/dR < 0 at the BN point, for every gamma_0 in (0, 1)")
prop3 = Inequality(title="Prop. 3 (ReLU): eta_max_bn >= eta_max_wn,sgd + 2 zeta (printed eta_max values)",
                   lhs=eta_max_bn.subs(_g, 1 / (2 * _zeta + 1)).subs(_relu), op=">=",
                   rhs=ETA_MAX_WN["relu"] + 2 * _zeta)

L8 = Theorem(
    title="Propositions 2 and 3: stable fixed point of BN and its larger maximum learning rate",
    source=Source("Luo et al., ICLR 2019", "App. C.5-C.6", "Props. 2-3"),
    params=(gamma, R, eta, zeta, gamma_0),
    claims=(lambda_Q_negative_relu, dI2_relu, dI2_negative_relu, lambda_Q_negative_erf, dI2_negative_erf, prop3),
    summary="ReLU: proven. erf: checked numerically over gamma_0 in (0, 1), i.e. every zeta >= 0. Prop. 3 holds"
            " for the printed eta_max values.",
)
