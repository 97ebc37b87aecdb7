"""L2. Theorem 1: BN = population normalization + gamma decay (Luo et al. 2019, Sec. 2.1, App. C.1-C.2).

A GLM with per-sample loss l(h) = A(h) - y h. For a standardized pre-activation z, BN
gives h_hat = gamma (z - mu_B)/sigma_B + beta, PN gives h_bar = gamma z + beta, and

    delta = h_hat - h_bar = gamma [ z (1/sigma_B - 1) - mu_B / sigma_B ].

To second order, l(h_hat) - l(h_bar) = l'(h_bar) delta + A''(h_bar) delta^2 / 2 + O(delta^3),
and delta = O(M^-1/2). Taking expectations over the batch statistics:

* with the paper's priors (mu_B ~ N(0, 1/M), sigma_B ~ N(1, (rho+2)/(4M)), independent,
  E[sigma_B] = 1) the expected gap is R_f + zeta gamma^2 with the printed
  R_f = gamma (rho+2)/(4M) (1/P) sum (A'(h_bar) - y) z and
  zeta = (rho+2)/(8M) F + mu_A2/(2M), F = mean A''(h_bar) z^2, mu_A2 = mean A''(h_bar);
* with the true moments of the batch statistics (E[sigma_B^2] = (M-1)/M, Var sigma_B^2,
  Cov(mu_B, sigma_B^2) = kappa/M to leading order; see L1), still independent of the
  sample, the first-order coefficient becomes (3(rho+2)/8 + 1/2)/M plus a skewness term,
  and zeta gains kappa/(2M) mean A''(h_bar) z;
* in real BN the sample is part of its own batch: conditionally on z, E[mu_B | z] = z/M
  and E[sigma_B^2 | z] = (z^2 + M - 1)(M - 1)/M^2, which changes the first-order term to
  gamma/M mean (A'(h_bar) - y)(3(rho+2) z/8 - z^3/2 + kappa/2) while the second-order
  term is unchanged at O(1/M).

At the PN optimum of a well-specified model (E[y | z] = A'(h_bar) for every z) every
first-order term vanishes and the gap is zeta gamma^2 + O(1/M^2). At a stationary point of
the PN loss of a misspecified model (E[l'] = E[l' z] = 0 only), the independent-batch
first-order term vanishes but real BN keeps -gamma E[l' z^3]/(2M).

ReLU is handled through its smooth surrogate softplus: A' = softplus, A'' = sigmoid,
A = -Li_2(-e^h).
"""

import sympy as sp

from bnsym import Asymptotic, Derivation, Erratum, Identity, Param, ProcessClaim, Source, Theorem, by
from bnsym.moments import MomentTable, truncate_degree

from .priors import var_sigma_sq
from .symbols import M, beta, gamma, h, kappa, rho, sigma_P, z

_M, _rho, _kappa, _g, _z, _h = M.symbol, rho.symbol, kappa.symbol, gamma.symbol, z.symbol, h.symbol

# -- the ReLU (softplus) partition function -------------------------------------------------
softplus = sp.log(1 + sp.exp(_h))
sigmoid = 1 / (1 + sp.exp(-_h))
relu_partition_function = -sp.polylog(2, -sp.exp(_h))

relu_partition = Identity(
    title="A(h) = -Li2(-e^h) is the partition function of softplus: A' = softplus",
    lhs=sp.diff(relu_partition_function, _h), rhs=softplus,
)
relu_curvature = Identity(
    title="A'' = softplus' = sigmoid",
    lhs=sp.diff(softplus, _h), rhs=sigmoid,
)

# -- per-sample Taylor expansion ---------------------------------------------------------------
lp = Param("lp", sample_lo=-3, sample_hi=3, latex=r"l'(\bar h)")  # l'(h_bar) = A'(h_bar) - y
A2 = Param("A2", lo=0, sample_hi=1, latex=r"A''(\bar h)")  # A''(h_bar) >= 0 (convex A)
a = Param("a", sample_lo=-3, sample_hi=3, latex="a")  # paper's prior: mu_B = a / sqrt(M)
b = Param("b", sample_lo=-3, sample_hi=3, latex="b")  # paper's prior: sigma_B = 1 + b sqrt((rho+2)/(4M))
m = Param("m", sample_lo=-0.5, sample_hi=0.5, latex=r"\mu_{\mathcal{B}}")  # batch mean (standardized)
u = Param("u", sample_lo=-0.5, sample_hi=0.5, latex="u")  # u = sigma_B^2 - 1
_lp, _A2, _a, _b, _m, _u = lp.symbol, A2.symbol, a.symbol, b.symbol, m.symbol, u.symbol


def _second_order_gap(mean: sp.Expr, std: sp.Expr) -> sp.Expr:
    """l'(h_bar) delta + A''(h_bar) delta^2 / 2 for batch statistics (mean, std)."""
    delta = _g * (_z * (1 / std - 1) - mean / std)
    return _lp * delta + _A2 / 2 * delta**2


def truncate_in_inverse_sqrt_M(e: sp.Expr) -> sp.Expr:
    """Keep the terms of e up to order 1/M (e expanded in t = M^-1/2)."""
    t = sp.Dummy("t", positive=True)
    series = sp.series(e.subs(_M, 1 / t**2), t, 0, 3).removeO()
    return sp.expand(series.subs(t, 1 / sp.sqrt(_M)))


def truncate_degree_two(e: sp.Expr) -> sp.Expr:
    """Taylor polynomial of e to total degree 2 in (m, u), both O(M^-1/2)."""
    s = sp.Dummy("s")
    series = sp.series(e.subs({_m: s * _m, _u: s * _u}), s, 0, 3).removeO()
    return truncate_degree(sp.expand(series.subs(s, 1)), (_m, _u), 2)


_c = sp.sqrt((_rho + 2) / (4 * _M))
paper_priors = MomentTable(
    "paper's priors: a, b independent standard normal", (_a, _b),
    {(1, 0): 0, (0, 1): 0, (2, 0): 1, (0, 2): 1, (1, 1): 0},
)
# true moments of (mu_B, u) for a batch independent of the sample (standardized, from L1)
independent_batch = MomentTable(
    "true batch statistics of an independent batch (L1), degree <= 2", (_m, _u),
    {(1, 0): 0, (0, 1): -1 / _M, (2, 0): 1 / _M,
     (0, 2): var_sigma_sq.subs(sigma_P.symbol, 1) + 1 / _M**2, (1, 1): (_M - 1) / _M**2 * _kappa},
)
# moments of (mu_B, u) given that the sample z is a member of the batch, to O(1/M)
own_batch = MomentTable(
    "batch statistics of the sample's own batch, conditional on z (to O(1/M))", (_m, _u),
    {(1, 0): _z / _M, (0, 1): (_z**2 + _M - 1) * (_M - 1) / _M**2 - 1, (2, 0): (_z**2 + _M - 1) / _M**2,
     (0, 2): (_rho + 2) / _M, (1, 1): _kappa / _M},
)

rf_printed_term = _g * (_rho + 2) / (4 * _M) * _lp * _z
zeta_printed_term = (_rho + 2) / (8 * _M) * _A2 * _z**2 + _A2 / (2 * _M)
rf_true_term = _g * _lp * ((sp.Rational(3, 8) * (_rho + 2) + sp.Rational(1, 2)) * _z + _kappa / 2) / _M
rf_real_term = _g * _lp * (sp.Rational(3, 8) * (_rho + 2) * _z - _z**3 / 2 + _kappa / 2) / _M
zeta_true_term = zeta_printed_term + _kappa / (2 * _M) * _A2 * _z

_paper_gap = _second_order_gap(_a / sp.sqrt(_M), 1 + _c * _b)

taylor_paper = Derivation(
    title="Expected gap under the paper's priors = R_f + zeta gamma^2 (per sample)",
    chain=[
        _paper_gap,
        (rf_printed_term + _g**2 * (_rho + 2) / (4 * _M) * _A2 / 2 * _z**2 + _g**2 * _A2 / (2 * _M),
         by.expectation(paper_priors, truncate_in_inverse_sqrt_M, "expand to O(1/M) in 1/sqrt(M)")),
        (rf_printed_term + _g**2 * zeta_printed_term, by.algebra),
    ],
    holds="in expectation",
    assumptions=("mu_B ~ N(0, 1/M) and sigma_B ~ N(1, (rho+2)/(4M)) independent of each other and of z",),
)

# With the true statistics the second-order gap is expanded to degree 2 in (m, u) and
# averaged with the moment tables above; the claims below compare the result with the
# stated first-order and gamma-decay terms.
_true_gap_quadratic = truncate_degree_two(_second_order_gap(_m, sp.sqrt(1 + _u)))
true_gap_expectation = independent_batch.expect(_true_gap_quadratic)
real_gap_expectation = own_batch.expect(_true_gap_quadratic)

first_order_independent = Asymptotic(
    title="independent batch: gap = gamma l' ((3(rho+2)/8 + 1/2) z + kappa/2)/M + zeta' gamma^2 + O(1/M^2)",
    lhs=true_gap_expectation, rhs=rf_true_term + _g**2 * zeta_true_term, var=M, order=2,
)

first_order_own_batch = Asymptotic(
    title="sample in its own batch: gap = gamma l' (3(rho+2) z/8 - z^3/2 + kappa/2)/M + zeta' gamma^2 + O(1/M^2)",
    lhs=real_gap_expectation, rhs=rf_real_term + _g**2 * zeta_true_term, var=M, order=2,
)

# -- process claims: population functionals as parameters ----------------------------------------
F = Param("F", lo=0, sample_hi=2, latex="F")  # E[A''(h_bar) z^2]
mu2 = Param("mu_A2", lo=0, sample_hi=1, latex=r"\mu_{d^2A}")  # E[A''(h_bar)]
Fz = Param("F_z", sample_lo=-1, sample_hi=1, latex=r"F_z")  # E[A''(h_bar) z]
G0 = Param("G_0", sample_lo=-1, sample_hi=1, latex="G_0")  # E[l'(h_bar)]
G1 = Param("G_1", sample_lo=-1, sample_hi=1, latex="G_1")  # E[l'(h_bar) z]
G3 = Param("G_3", sample_lo=-3, sample_hi=3, latex="G_3")  # E[l'(h_bar) z^3]
_F, _mu2, _Fz, _G0, _G1, _G3 = F.symbol, mu2.symbol, Fz.symbol, G0.symbol, G1.symbol, G3.symbol

# the population averages of the per-sample terms (linear in A'', l')
zeta_printed = (_rho + 2) / (8 * _M) * _F + _mu2 / (2 * _M)
zeta_corrected = zeta_printed + _kappa / (2 * _M) * _Fz
rf_printed = _g * (_rho + 2) / (4 * _M) * _G1
rf_corrected = _g * ((sp.Rational(3, 8) * (_rho + 2) + sp.Rational(1, 2)) * _G1 + _kappa / 2 * _G0) / _M
rf_real_bn = _g * (sp.Rational(3, 8) * (_rho + 2) * _G1 - _G3 / 2 + _kappa / 2 * _G0) / _M

_gap = "E[l(h_hat) - l(h_bar)]"
_gap_tex = r"\mathbb{E}[\ell(\hat h) - \ell(\bar h)]"

theorem1_printed = ProcessClaim(
    title="Theorem 1 at the PN optimum: expected BN loss = PN loss + zeta gamma^2 + O(1/M^2)",
    quantity=_gap, quantity_tex=_gap_tex, value=_g**2 * zeta_printed, var=M, order=2,
    assumptions=("real BN (sample in its own batch)", "well-specified teacher, student at the PN optimum"),
)
theorem1_corrected = ProcessClaim(
    title="... with the skewness term: zeta' = zeta + kappa/(2M) E[A''(h_bar) z]",
    quantity=_gap, quantity_tex=_gap_tex, value=_g**2 * zeta_corrected, var=M, order=2,
    assumptions=theorem1_printed.assumptions,
)
rf_paper_model_printed = ProcessClaim(
    title="Off the optimum, batch statistics independent of the sample: gap = R_f + zeta gamma^2, "
          "R_f = gamma (rho+2)/(4M) E[l' z]",
    quantity=_gap, quantity_tex=_gap_tex, value=rf_printed + _g**2 * zeta_printed, var=M, order=2,
    assumptions=("batch statistics from an independent batch", "student away from the teacher"),
)
rf_paper_model_corrected = ProcessClaim(
    title="... with R_f = gamma ((3(rho+2)/8 + 1/2) E[l' z] + kappa/2 E[l'])/M and zeta'",
    quantity=_gap, quantity_tex=_gap_tex, value=rf_corrected + _g**2 * zeta_corrected, var=M, order=2,
    assumptions=rf_paper_model_printed.assumptions,
)
rf_real_bn_claim = ProcessClaim(
    title="Off the optimum, real BN: gap = gamma (3(rho+2)/8 E[l' z] - E[l' z^3]/2 + kappa/2 E[l'])/M + zeta' gamma^2",
    quantity=_gap, quantity_tex=_gap_tex, value=rf_real_bn + _g**2 * zeta_corrected, var=M, order=2,
    assumptions=("real BN (sample in its own batch)", "student away from the teacher"),
)

theorem1_stationary_printed = ProcessClaim(
    title="Theorem 1 at a PN-stationary point of a misspecified model: gap = zeta gamma^2 + O(1/M^2)",
    quantity=_gap, quantity_tex=_gap_tex, value=_g**2 * zeta_printed, var=M, order=2,
    assumptions=("real BN (sample in its own batch)",
                 "(gamma, beta) stationary for the PN loss (E[l'] = E[l' z] = 0), but E[y | z] != A'(h_bar)"),
)
theorem1_stationary_corrected = ProcessClaim(
    title="... real BN keeps a first-order term: gap = zeta' gamma^2 - gamma E[l' z^3]/(2M) + O(1/M^2)",
    quantity=_gap, quantity_tex=_gap_tex, value=rf_real_bn + _g**2 * zeta_corrected, var=M, order=2,
    assumptions=theorem1_stationary_printed.assumptions,
)

L2 = Theorem(
    title="Theorem 1: BN = population normalization + gamma decay",
    source=Source("Luo et al., ICLR 2019", "Sec. 2.1, App. C.1-C.2", "Theorem 1"),
    params=(M, rho, kappa, gamma, beta, z, h, lp, A2, a, b, m, u, F, mu2, Fz, G0, G1, G3),
    claims=(
        relu_partition, relu_curvature, taylor_paper,
        first_order_independent, first_order_own_batch,
        Erratum(theorem1_printed, theorem1_corrected,
                "zeta misses kappa/(2M) E[A'' z] because mu_B and sigma_B are not independent for skewed h"),
        Erratum(rf_paper_model_printed, rf_paper_model_corrected,
                "E[sigma_B] < sigma_P makes E[1/sigma_B - 1] = (3(rho+2)/8 + 1/2)/M, not (rho+2)/(4M)"),
        rf_real_bn_claim,
        Erratum(theorem1_stationary_printed, theorem1_stationary_corrected,
                "R_f vanishes at PN-stationary points only when the batch is independent of the sample;"
                " in real BN -gamma E[l' z^3]/(2M) remains unless the model is well specified"),
    ),
    summary="The expected BN loss equals the PN loss plus gamma decay zeta gamma^2, to O(1/M^2).",
)
