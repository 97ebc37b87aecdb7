"""L9. Generalization errors of the linear teacher-student model (Luo et al. 2019, Sec. 4).

Inputs x ~ N(0, I/N), teacher y = w*.x + noise of variance sigma^2, ||w*||^2 = N, and
P = alpha N training samples. The generalization error is eps_gen = ||w - w*||^2/N (the
excess test error). With the resolvent of the sample covariance,

    G(alpha, lambda) = (1 - alpha - lambda + sqrt((lambda + (1 + sqrt(alpha))^2)
                                                  (lambda + (1 - sqrt(alpha))^2))) / (2 lambda),

the limit N -> oo of (1/N) tr (X'X + lambda I)^-1 (Marchenko-Pastur), ridge regression with
weight decay lambda on the summed loss has

    eps(alpha, lambda) = sigma^2 d(lambda G)/dlambda - lambda^2 dG/dlambda.

G solves lambda G^2 + (alpha + lambda - 1) G - 1 = 0 (proven). lambda = sigma^2 makes
deps/dlambda vanish for every alpha (proven) and is the minimum (numeric, at random points
(alpha, sigma, lambda')). As lambda -> 0 ridge becomes the pseudo-inverse: eps -> 1 - alpha + alpha
sigma^2/(1 - alpha) for alpha < 1 and sigma^2/(alpha - 1) for alpha > 1 (checked at 50 digits
with lambda = 10^-3 ... 10^-8: the remainder is O(lambda); SymPy's series does not close it).
The printed forms 1 - alpha + sigma^2/(1 - alpha) and sigma^2/(1 - alpha) (the
second negative) are refuted: the first drops the factor alpha of the noise term, the
second has the sign of its denominator reversed.
"""

import sympy as sp

from bnsym import Asymptotic, Erratum, Identity, Inequality, Param, ProcessClaim, Source, Theorem

from .symbols import N

alpha = Param("alpha", lo=0, lo_open=True, sample_lo=0.05, sample_hi=5, latex=r"\alpha")
alpha_lt1 = Param("alpha", lo=0, hi=1, lo_open=True, hi_open=True, sample_lo=0.02, sample_hi=0.98,
                  latex=r"\alpha")
alpha_gt1 = Param("alpha", lo=1, lo_open=True, sample_lo=1.02, sample_hi=8, latex=r"\alpha")
lam = Param("lambda", lo=0, lo_open=True, sample_lo=0.01, sample_hi=10, law="log", latex=r"\lambda")
lam_other = Param("lambda_2", lo=0, lo_open=True, sample_lo=0.001, sample_hi=100, law="log", latex=r"\lambda'")
sigma = Param("sigma", lo=0, lo_open=True, sample_lo=0.05, sample_hi=3, law="log", latex=r"\sigma")
inv_lam = Param("u", lo=0, lo_open=True, sample_lo=1, sample_hi=1e6, law="log", latex=r"1/\lambda")

_a, _l, _s, _u = alpha.symbol, lam.symbol, sigma.symbol, inv_lam.symbol


def resolvent(a: sp.Expr, decay: sp.Expr) -> sp.Expr:
    d = decay
    return (1 - a - d + sp.sqrt((d + (1 + sp.sqrt(a))**2) * (d + (1 - sp.sqrt(a))**2))) / (2 * d)


def ridge_error(a: sp.Expr, decay: sp.Expr, s: sp.Expr) -> sp.Expr:
    """sigma^2 d(lambda G)/dlambda - lambda^2 dG/dlambda at (a, decay)."""
    x = sp.Dummy("x", positive=True)
    g = resolvent(a, x)
    return (s**2 * sp.diff(x * g, x) - x**2 * sp.diff(g, x)).subs(x, decay)


G = resolvent(_a, _l)
eps_ridge = ridge_error(_a, _l, _s)

self_consistency = Identity(title="G solves lambda G^2 + (alpha + lambda - 1) G - 1 = 0",
                            lhs=_l * G**2 + (_a + _l - 1) * G - 1, rhs=0)
large_decay = Asymptotic(title="for a large decay, G = 1/lambda - alpha/lambda^2 + O(lambda^-3)",
                         lhs=G, rhs=1 / _l - _a / _l**2, var=lam, order=3)
optimal_decay = Identity(title="deps/dlambda = 0 at lambda = sigma^2, for every alpha",
                         lhs=sp.diff(eps_ridge, _l).subs(_l, _s**2), rhs=0)
optimal_is_minimum = Inequality(title="lambda = sigma^2 beats every other lambda: eps(lambda') >= eps(sigma^2)",
                                lhs=ridge_error(_a, lam_other.symbol, _s), op=">=", rhs=eps_ridge.subs(_l, _s**2))

# the pseudo-inverse: lambda -> 0, written as u = 1/lambda -> oo
_a1, _a2 = alpha_lt1.symbol, alpha_gt1.symbol
pinv_below_printed = Asymptotic(
    title="alpha < 1, printed: the pseudo-inverse error is 1 - alpha + sigma^2/(1 - alpha)",
    lhs=ridge_error(_a1, 1 / _u, _s), rhs=1 - _a1 + _s**2 / (1 - _a1), var=inv_lam, order=1, where=(alpha_lt1,))
pinv_below = Asymptotic(
    title="alpha < 1: as lambda -> 0 the ridge error tends to 1 - alpha + alpha sigma^2/(1 - alpha)",
    lhs=ridge_error(_a1, 1 / _u, _s), rhs=1 - _a1 + _a1 * _s**2 / (1 - _a1), var=inv_lam, order=1,
    where=(alpha_lt1,))
pinv_above_printed = Asymptotic(
    title="alpha > 1, printed: the pseudo-inverse error is sigma^2/(1 - alpha)",
    lhs=ridge_error(_a2, 1 / _u, _s), rhs=_s**2 / (1 - _a2), var=inv_lam, order=1, where=(alpha_gt1,))
pinv_above = Asymptotic(
    title="alpha > 1: as lambda -> 0 the ridge error tends to sigma^2/(alpha - 1)",
    lhs=ridge_error(_a2, 1 / _u, _s), rhs=_s**2 / (_a2 - 1), var=inv_lam, order=1, where=(alpha_gt1,))
pinv_below_erratum = Erratum(printed=pinv_below_printed, corrected=pinv_below,
                             note="the noise term of the pseudo-inverse error carries a factor alpha")
pinv_above_erratum = Erratum(printed=pinv_above_printed, corrected=pinv_above,
                             note="the printed denominator 1 - alpha makes the error negative for alpha > 1")
pinv_minimum = Identity(title="Fig. 1: the pseudo-inverse curve (alpha < 1) is stationary at alpha = 1 - sigma",
                        lhs=sp.diff(1 - _a1 + _a1 * _s**2 / (1 - _a1), _a1).subs(_a1, 1 - _s), rhs=0,
                        where=(alpha_lt1,))

# -- the same limits against random problems at finite N ---------------------------------------------------
_EPS = "||w - w*||^2/N over random problems (x ~ N(0, I/N), P = alpha N, noise sigma)"


def _solved(title: str, value: sp.Expr, solver: str, where: tuple[Param, ...] = ()) -> ProcessClaim:
    return ProcessClaim(title=title, quantity=f"{_EPS}, {solver}", quantity_tex=r"\varepsilon_{\rm gen}",
                        value=value, var=N, order=1, where=where)


ridge_process = _solved("ridge: the mean generalization error is eps(alpha, lambda) + O(1/N)", eps_ridge,
                        "ridge solution with decay lambda on the summed loss")
pinv_below_process_printed = _solved("alpha < 1, printed: the pseudo-inverse error is 1 - alpha + sigma^2/(1 - alpha)",
                                     1 - _a1 + _s**2 / (1 - _a1), "minimum-norm least squares", (alpha_lt1,))
pinv_below_process = _solved("alpha < 1: the pseudo-inverse error is 1 - alpha + alpha sigma^2/(1 - alpha) + O(1/N)",
                             1 - _a1 + _a1 * _s**2 / (1 - _a1), "minimum-norm least squares", (alpha_lt1,))
pinv_above_process_printed = _solved("alpha > 1, printed: the pseudo-inverse error is sigma^2/(1 - alpha)",
                                     _s**2 / (1 - _a2), "minimum-norm least squares", (alpha_gt1,))
pinv_above_process = _solved("alpha > 1: the pseudo-inverse error is sigma^2/(alpha - 1) + O(1/N)",
                             _s**2 / (_a2 - 1), "minimum-norm least squares", (alpha_gt1,))
pinv_below_simulated = Erratum(printed=pinv_below_process_printed, corrected=pinv_below_process,
                               note="random problems at alpha = 0.5 follow the corrected form")
pinv_above_simulated = Erratum(printed=pinv_above_process_printed, corrected=pinv_above_process,
                               note="random problems at alpha = 2 follow the corrected form")

# -- what gamma decay does in this model (one eigendirection of S = X'X/P, eigenvalue s) ----------------------
# With the mean loss (1/P) sum 1/2 (y - v.x)^2 the objective in an eigendirection of S is 1/2 s v^2 - b v,
# b = (X'y/P) along it, and the least-squares solution is v_LS = b/s. The output gamma (w.x - mu)/sd has
# effective weight v = gamma w/sd; what gamma^2 is in terms of v depends on the normalisation:
#   WN (sd = ||w||/sqrt(N)):            gamma^2 = ||v||^2/N        -> a ridge penalty
#   PN on the training set (sd^2 = w'Sw): gamma^2 = v'Sv           -> a penalty proportional to the loss curvature
eig = Param("s", lo=0, lo_open=True, sample_lo=0.01, sample_hi=10, law="log", latex="s")
proj = Param("b", sample_lo=-3, sample_hi=3, latex="b")
zeta_gen = Param("zeta", lo=0, sample_lo=0, sample_hi=1, latex=r"\zeta")
_e, _b, _z, _n = eig.symbol, proj.symbol, zeta_gen.symbol, N.symbol
_v = sp.Symbol("v", real=True)


def _argmin(objective: sp.Expr) -> sp.Expr:
    (root,) = sp.solve(sp.diff(objective, _v), _v)
    return root


wn_decay_is_ridge = Identity(
    title="WN + gamma decay (mean loss, decay zeta gamma^2) is ridge regression with lambda = 2 alpha zeta on the"
          " summed loss",
    lhs=_argmin(_e * _v**2 / 2 - _b * _v + _z * _v**2 / _n),
    rhs=_b / (_e + 2 * _a * _z / (_a * _n)),  # ridge (X'X + lambda) v = X'y with X'X = alpha N s, X'y = alpha N b
    note="equal to the printed lambda = 1/(2M) only when 2 alpha zeta = 1/(2M)")
pn_decay_is_shrinkage = Identity(
    title="PN (training-set statistics) + gamma decay is least squares shrunk by 1/(1 + 2 zeta), not ridge",
    lhs=_argmin(_e * _v**2 / 2 - _b * _v + _z * _e * _v**2), rhs=(_b / _e) / (1 + 2 * _z))
shrink = Param("c", lo=0, sample_lo=0, sample_hi=1, latex="c")
eps_shrunk_above = (_s**2 / (_a2 - 1) + shrink.symbol**2) / (1 + shrink.symbol)**2
eps_shrunk_below = ((1 - _a1 + _a1 * _s**2 / (1 - _a1)) + shrink.symbol**2 + 2 * shrink.symbol * (1 - _a1)) \
    / (1 + shrink.symbol)**2
shrunk_process_above = _solved("alpha > 1: least squares shrunk by 1/(1 + c) has error (sigma^2/(alpha - 1) + c^2)/"
                               "(1 + c)^2 + O(1/N)", eps_shrunk_above, "least squares scaled by 1/(1 + c)",
                               (alpha_gt1, shrink))
shrunk_process_below = _solved("alpha < 1: minimum-norm least squares shrunk by 1/(1 + c) has error (1 - alpha + alpha"
                               " sigma^2/(1 - alpha) + c^2 + 2c(1 - alpha))/(1 + c)^2 + O(1/N)", eps_shrunk_below,
                               "minimum-norm least squares scaled by 1/(1 + c)", (alpha_lt1, shrink))

# -- what trained BN does ---------------------------------------------------------------------------------------
_PROFILE = ("r_low - r_high of the trained BN network minus that of {other}, on the same problems: r is the slope of"
            " the effective weight on the least-squares fit within the lowest (highest) quarter of the eigendirections"
            " of X'X")
bn_profile_printed = ProcessClaim(
    title="printed (Fig. 1): BN trained with batch statistics is ridge regression with lambda = 1/(2M)",
    quantity=_PROFILE.format(other="the ridge fit with lambda = 1/(2M)"), value=0,
    note="a ridge fit shrinks the small-eigenvalue directions more than the large ones; the profile difference"
         " tests the shape of the solution, which the generalization error alone cannot resolve at this N")
bn_profile = ProcessClaim(
    title="BN trained with batch statistics is least squares shrunk uniformly, as PN + gamma decay predicts",
    quantity=_PROFILE.format(other="PN + gamma decay (training-set statistics)"), value=0)
bn_shape = Erratum(printed=bn_profile_printed, corrected=bn_profile,
                   note="BN's solution is a uniform shrinkage of least squares (PN + gamma decay), not ridge")

# -- L10: regularization strength against the batch size ------------------------------------------------------
M_batch = Param("M", lo=2, integer=True, sample_hi=1024, law="log", latex="M")
_SHRINK = ("1 - gamma_BN/gamma_PN: how much trained BN's gamma falls below that of PN without decay on the same"
           " problems, initial weights and batches (the uniform shrinkage of least squares that BN applies)")
bn_strength_printed = ProcessClaim(
    title="L10, as stated: BN's regularization strength is proportional to 1/M (the shrinkage is O(1/M))",
    quantity=_SHRINK + ", on a training set of P = alpha N pairs", value=0, var=M_batch, order=1)
bn_strength = ProcessClaim(
    title="L10: on a training set of P pairs BN's regularization strength is proportional to 1/M - 1/P",
    quantity=_SHRINK + ", divided by 1 - M/P (batches drawn without replacement from P pairs: the finite-"
             "population factor of the batch statistics)", value=0, var=M_batch, order=1)
bn_strength_erratum = Erratum(
    printed=bn_strength_printed, corrected=bn_strength,
    note="batches are drawn without replacement from the P training pairs, so the noise of the batch statistics,"
         " and with it the shrinkage, carries the factor 1 - M/P: M (1 - gamma_BN/gamma_PN) falls from 0.74 at"
         " M = 8 to 0.57 at M = 64 (P = 256), while divided by 1 - M/P it stays at 0.75-0.77")
bn_strength_positive = ProcessClaim(
    title="L10: BN shrinks gamma below PN's at every batch size, so gamma grows towards it as M grows",
    quantity=_SHRINK, value=0, op=">")
bn_small_batch_generalizes = ProcessClaim(
    title="L10: on the noisy linear teacher BN with small batches generalizes better than with large ones",
    quantity="eps_gen of BN trained with M = 8 minus that with M = 64, on the same problems and initial weights",
    value=0, op="<",
    note="with label noise, some shrinkage of least squares lowers the error (the optimum of (sigma^2/(alpha - 1)"
         " + c^2)/(1 + c)^2 is c = sigma^2/(alpha - 1)), and smaller batches shrink more")

L9 = Theorem(
    title="Generalization errors: resolvent, ridge regression and the pseudo-inverse",
    source=Source("Luo et al., ICLR 2019", "Sec. 4, Fig. 1"),
    params=(alpha, lam, sigma, inv_lam, lam_other, N, eig, proj, zeta_gen, shrink),
    claims=(self_consistency, large_decay, optimal_decay, optimal_is_minimum, pinv_below_erratum, pinv_above_erratum,
            pinv_minimum, ridge_process, pinv_below_simulated, pinv_above_simulated,
            wn_decay_is_ridge, pn_decay_is_shrinkage, shrunk_process_above, shrunk_process_below, bn_shape,
            bn_strength_erratum, bn_strength_positive, bn_small_batch_generalizes),
    summary="The resolvent, the ridge error and its optimum lambda = sigma^2 are proven; the pseudo-inverse"
            " limits are proven in the corrected form (alpha sigma^2/(1 - alpha) below alpha = 1, sigma^2/(alpha - 1)"
            " above) and the printed ones refuted.",
)
