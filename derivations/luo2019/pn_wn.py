"""L4. Population normalization equals weight normalization under whitened input (Luo et al., Eq. 4).

For a neuron h = w.x with input mean E[x] = m and covariance C, PN normalises with the population
statistics mu_P = w.m and sigma_P = sqrt(w^T C w):

    PN(x) = gamma (w.x - w.m) / sigma_P + beta.

Whitened input, C = I: sigma_P = ||w||, so PN is a weight-normalised neuron (WN)

    PN(x) = gamma' w.x / ||w|| + b,    gamma' = gamma,   b = beta - gamma w.m / ||w||      (Eq. 4).

Scaled input, C = I/N (the teacher-student setting of Sec. 3): sigma_P^2 = ||w||^2 / N, so the
gain picks up a factor sqrt(N):

    PN(x) = gamma sqrt(N) w.x / ||w|| + (beta - gamma sqrt(N) w.m / ||w||).

The identities are stated with explicit vectors of dimension 3 (any dimension behaves alike).
The process claim checks the population variance Var(w.x) = ||w||^2 / N by sampling
x ~ N(m, I/N) in dimension N.
"""

import sympy as sp

from bnsym import Identity, Param, ProcessClaim, Source, Theorem
from derivations.luo2019.symbols import N, beta, gamma

DIM = 3

w1, w2, w3 = (Param(f"w{i}", sample_lo=-3, sample_hi=3, latex=f"w_{i}") for i in range(1, DIM + 1))
x1, x2, x3 = (Param(f"x{i}", sample_lo=-5, sample_hi=5, latex=f"x_{i}") for i in range(1, DIM + 1))
m1, m2, m3 = (Param(f"m{i}", sample_lo=-3, sample_hi=3, latex=f"m_{i}") for i in range(1, DIM + 1))
w_norm_sq = Param("w_norm_sq", lo=0, lo_open=True, sample_lo=1e-2, sample_hi=1e4, law="log",
                  latex=r"\|w\|^2")

w = sp.Matrix([p.symbol for p in (w1, w2, w3)])
x = sp.Matrix([p.symbol for p in (x1, x2, x3)])
m = sp.Matrix([p.symbol for p in (m1, m2, m3)])
g, b, n = gamma.symbol, beta.symbol, N.symbol

norm_w = sp.sqrt(w.dot(w))
whitened = sp.eye(DIM)  # Cov(x) = I
scaled = sp.eye(DIM) / n  # Cov(x) = I/N

population_variance = w_norm_sq.symbol / n  # sigma_P^2 of h = w.x when Cov(x) = I/N


def population_std(cov: sp.Matrix) -> sp.Expr:
    """sigma_P = sqrt(w^T C w), the population std of h = w.x."""
    return sp.sqrt((w.T * cov * w)[0, 0])


def population_normalised(cov: sp.Matrix) -> sp.Expr:
    """PN output gamma (w.x - w.m) / sigma_P + beta."""
    return g * (w.dot(x) - w.dot(m)) / population_std(cov) + b


def weight_normalised(gain: sp.Expr, bias: sp.Expr) -> sp.Expr:
    """WN output gain * w.x / ||w|| + bias."""
    return gain * w.dot(x) / norm_w + bias


gain_whitened = g
gain_scaled = g * sp.sqrt(n)

pn_equals_wn = Identity(
    title="PN equals WN for whitened input (Eq. 4)",
    lhs=population_normalised(whitened),
    rhs=weight_normalised(gain_whitened, b - gain_whitened * w.dot(m) / norm_w),
    assumptions=("E[x] = m", "Cov(x) = I"),
)

pn_equals_wn_scaled = Identity(
    title="PN equals WN with gain gamma sqrt(N) for input covariance I/N",
    lhs=population_normalised(scaled),
    rhs=weight_normalised(gain_scaled, b - gain_scaled * w.dot(m) / norm_w),
    assumptions=("E[x] = m", "Cov(x) = I/N"),
    note="Sec. 3 uses this form: the student is Eq. 4 with gain sqrt(N) gamma.",
)

population_variance_scaled = Identity(
    title="sigma_P^2 = w^T (I/N) w = ||w||^2 / N",
    lhs=population_std(scaled) ** 2,
    rhs=population_variance.subs(w_norm_sq.symbol, w.dot(w)),
    assumptions=("Cov(x) = I/N",),
)

population_variance_process = ProcessClaim(
    title="Population variance of h = w.x for x ~ N(m, I/N)",
    quantity="Var(w.x), x ~ N(m, I/N)",
    value=population_variance,
    assumptions=("x Gaussian with mean m and covariance I/N, in dimension N", "w fixed"),
)

L4 = Theorem(
    title="PN equals WN under whitened input",
    source=Source("Luo et al., ICLR 2019", "Sec. 2", "4"),
    params=(gamma, beta, N, w1, w2, w3, x1, x2, x3, m1, m2, m3, w_norm_sq),
    claims=(pn_equals_wn, pn_equals_wn_scaled, population_variance_scaled, population_variance_process),
    summary="Eq. 4 holds for Cov(x) = I; for Cov(x) = I/N the WN gain is gamma sqrt(N).",
)
