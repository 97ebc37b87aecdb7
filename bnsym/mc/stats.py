"""Statistics behind Monte Carlo verdicts: quantiles, the two tests, and resolution.

*Exact claims* (the process quantity equals the closed form at every point) are tested
point by point with a two-sided z-test: the claim is refuted at a point when
``|estimate - claimed| > z * stderr``. ``z`` comes from a suite-wide false-alarm rate
``alpha`` split over all tests of the run (Bonferroni): ``z = Phi^-1(1 - alpha / (2 K))``.

*Asymptotic claims* (``quantity = value + O(var**-p)``) are tested over a ladder of
``var`` values: the remainders ``r_i = estimate_i - value_i`` are fitted by weighted least
squares with the declared form ``c_p var**-p + c_{p+1} var**-(p+1)``, and the claim is
refuted when the fit's chi-square exceeds its ``1 - alpha/K`` quantile. A wrong leading
term leaves a remainder of lower order that this form cannot absorb. The neglected
terms are ``O(var**-(p+2))``: the declared approximation bound of the test.

*Resolution* is the smallest relative deviation the test catches with probability
``POWER`` (90%): for the z-test ``(z + z_power) * stderr / |claimed|``; for the fit, the
relative deviation ``delta`` of the tested part of the value (for an asymptotic claim the
part that decays, ``value - limit``, when there is one) at which the noncentral
chi-square exceeds the critical value with that probability.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any

import mpmath


@functools.lru_cache(maxsize=4096)
def normal_quantile(p: float) -> float:
    """``Phi^-1(p)`` for the standard normal law (cached: a run asks for a few levels many times)."""
    if not 0.0 < p < 1.0:
        raise ValueError(f"probability must lie in (0, 1), not {p}")
    with mpmath.workdps(30):
        return float(mpmath.sqrt(2) * mpmath.erfinv(2 * mpmath.mpf(p) - 1))


def chi2_sf(x: float, dof: int) -> float:
    """Survival function of the chi-square law with ``dof`` degrees of freedom."""
    if x <= 0:
        return 1.0
    with mpmath.workdps(30):
        return float(mpmath.gammainc(mpmath.mpf(dof) / 2, mpmath.mpf(x) / 2, mpmath.inf, regularized=True))


def chi2_quantile(p: float, dof: int) -> float:
    """``x`` with ``P(chi2_dof <= x) = p``."""
    with mpmath.workdps(30):
        target = 1 - mpmath.mpf(p)
        lo, hi = mpmath.mpf(0), mpmath.mpf(max(10.0, 10.0 * dof))
        while chi2_sf(float(hi), dof) > target:
            hi *= 2
        for _ in range(200):
            mid = (lo + hi) / 2
            if chi2_sf(float(mid), dof) > target:
                lo = mid
            else:
                hi = mid
        return float((lo + hi) / 2)


POWER = 0.9  # detection probability at which resolution is stated
T_EXACT_UNITS = 100_000  # above this many units the t law is the normal law to 4 digits at these levels


@functools.lru_cache(maxsize=4096)
def student_t_quantile(p: float, dof: int) -> float:
    """``t`` with ``P(T_dof <= t) = p`` (p > 1/2): the threshold of a test whose standard error is
    estimated from ``dof + 1`` units. Falls back to the normal quantile for very many units.
    Cached: a run asks for the same few (level, units) pairs at every point and every mutant."""
    z = normal_quantile(p)
    if dof >= T_EXACT_UNITS:
        return z
    if dof < 1:
        return math.inf
    with mpmath.workdps(30):
        tail = 1 - mpmath.mpf(p)

        def upper(t: mpmath.mpf) -> mpmath.mpf:  # P(T > t) for t > 0
            return mpmath.betainc(mpmath.mpf(dof) / 2, mpmath.mpf(1) / 2, 0, dof / (dof + t * t),
                                  regularized=True) / 2

        lo, hi = mpmath.mpf(z), mpmath.mpf(max(2 * z, 1.0))
        while upper(hi) > tail:
            hi *= 2
        for _ in range(64):  # 2^-64 of the bracket: below the float64 spacing of the result
            mid = (lo + hi) / 2
            if upper(mid) > tail:
                lo = mid
            else:
                hi = mid
        return float((lo + hi) / 2)


def ncx2_sf(x: float, dof: int, lam: float) -> float:
    """Survival function of the noncentral chi-square law (Poisson mixture of central ones)."""
    if lam <= 0:
        return chi2_sf(x, dof)
    with mpmath.workdps(30):
        half = mpmath.mpf(lam) / 2
        total, j = mpmath.mpf(0), 0
        weight = mpmath.exp(-half)
        while True:
            total += weight * chi2_sf(x, dof + 2 * j)
            j += 1
            weight *= half / j
            if j > half and weight < mpmath.mpf(10) ** -20:
                return float(total)


def noncentrality_for_power(critical: float, dof: int, power: float = POWER) -> float:
    """The noncentrality at which a chi-square test with this critical value rejects with ``power``."""
    lo, hi = 0.0, 1.0
    while ncx2_sf(critical, dof, hi) < power:
        hi *= 2
    for _ in range(60):
        mid = (lo + hi) / 2
        if ncx2_sf(critical, dof, mid) < power:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def bonferroni_z(alpha: float, tests: int) -> float:
    """Two-sided z threshold holding the suite-wide false-alarm rate at ``alpha``."""
    return normal_quantile(1 - alpha / (2 * max(1, tests)))


@dataclass
class ZTest:
    estimate: float
    stderr: float
    claimed: float
    z_threshold: float

    @property
    def z(self) -> float:
        return (self.estimate - self.claimed) / self.stderr if self.stderr > 0 else math.inf

    @property
    def passed(self) -> bool:
        return abs(self.estimate - self.claimed) <= self.z_threshold * self.stderr

    @property
    def absolute_resolution(self) -> float:
        """The smallest absolute deviation the test catches with probability ``POWER``."""
        return (self.z_threshold + normal_quantile(POWER)) * self.stderr

    @property
    def resolution(self) -> float | None:
        """The smallest relative deviation caught with probability ``POWER`` (None for a claimed zero)."""
        return self.absolute_resolution / abs(self.claimed) if self.claimed else None


@dataclass
class OrderFit:
    """WLS fit of remainders by ``c_p x**-p + c_{p+1} x**-(p+1)`` and its chi-square test.

    ``tested`` is the part of the claimed values whose relative deviation the resolution
    refers to (the claimed values themselves, or their decaying part).
    """

    xs: list[float]
    remainders: list[float]
    stderrs: list[float]
    tested: list[float]
    order: int
    alpha_test: float
    terms: int = 2  # basis c_p x^-p ... c_{p+terms-1} x^-(p+terms-1)
    units: int | None = None  # fewest units behind a standard error of the ladder (None: known exactly)
    coefficients: tuple[float, ...] = ()
    chi2: float = 0.0
    dof: int = 0
    critical: float = 0.0
    resolution: float = math.inf

    def __post_init__(self) -> None:
        k = len(self.xs)
        if k <= self.terms:
            raise ValueError(f"an order fit with {self.terms} terms needs at least {self.terms + 1} ladder points")
        w = [1.0 / (s * s) for s in self.stderrs]
        basis = [[x ** -(self.order + j) for j in range(self.terms)] for x in self.xs]
        c = _wls(basis, self.remainders, w)
        self.coefficients = tuple(c)
        fitted = [sum(bj * cj for bj, cj in zip(b, c)) for b in basis]
        self.chi2 = sum(wi * (r - f) ** 2 for wi, r, f in zip(w, self.remainders, fitted))
        self.dof = k - self.terms
        self.critical = chi2_quantile(1 - self.alpha_test, self.dof)
        if self.units is not None and self.units - 1 < T_EXACT_UNITS:
            # standard errors estimated from few units make each weighted residual t-like rather than
            # normal: the critical value is widened by (t/z)^2 at the test's level (exact for one dof)
            q = 1 - self.alpha_test / 2
            self.critical *= (student_t_quantile(q, self.units - 1) / normal_quantile(q)) ** 2
        # noncentrality of a relative deviation delta of the tested part: delta^2 * |P_perp W^1/2 Y|^2
        cy = _wls(basis, self.tested, w)
        resid_y = [y - sum(bj * cj for bj, cj in zip(b, cy)) for y, b in zip(self.tested, basis)]
        lam1 = sum(wi * r * r for wi, r in zip(w, resid_y))
        needed = noncentrality_for_power(self.critical, self.dof)
        self.resolution = math.sqrt(needed / lam1) if lam1 > 0 else math.inf

    @property
    def passed(self) -> bool:
        return self.chi2 <= self.critical

    @property
    def p_value(self) -> float:
        return chi2_sf(self.chi2, self.dof)


def _wls(basis: list[list[float]], y: list[float], w: list[float]) -> list[float]:
    """Weighted least squares by the normal equations, solved at 30 digits (the powers of 1/M are nearly
    collinear, so double precision would lose most of the coefficients)."""
    n = len(basis[0])
    with mpmath.workdps(30):
        a = mpmath.matrix(n, n)
        r = mpmath.matrix(n, 1)
        for wi, b, yi in zip(w, basis, y):
            for i in range(n):
                r[i] += mpmath.mpf(wi) * b[i] * yi
                for j in range(n):
                    a[i, j] += mpmath.mpf(wi) * b[i] * b[j]
        c = mpmath.lu_solve(a, r)
        return [float(c[i]) for i in range(n)]


def binomial_sf(k: int, n: int, p: float) -> float:
    """P(X >= k) for X ~ Binomial(n, p): the regularized incomplete beta I_p(k, n - k + 1)."""
    if k <= 0:
        return 1.0
    if k > n:
        return 0.0
    with mpmath.workdps(30):
        return float(mpmath.betainc(k, n - k + 1, 0, p, regularized=True))


def clopper_pearson(k: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """The exact (Clopper-Pearson) two-sided interval for a binomial fraction after ``k`` successes in ``n``
    trials: each end leaves ``(1 - confidence) / 2`` on its side."""
    tail = (1 - confidence) / 2
    lo = 0.0 if k == 0 else _bisect(lambda p: binomial_sf(k, n, p) - tail)  # P(X >= k; lo) = tail
    hi = 1.0 if k >= n else _bisect(lambda p: tail - (1 - binomial_sf(k + 1, n, p)))  # P(X <= k; hi) = tail
    return lo, hi


def clopper_pearson_upper(k: int, n: int, confidence: float = 0.95) -> float:
    """The exact one-sided upper bound: the p with P(X <= k; n, p) = 1 - confidence (1 when k = n)."""
    if k >= n:
        return 1.0
    return _bisect(lambda p: (1 - confidence) - (1 - binomial_sf(k + 1, n, p)))


def _bisect(f: Any, steps: int = 60) -> float:
    """The root in (0, 1) of an increasing function ``f`` (negative at 0, positive at 1), by bisection."""
    lo, hi = 0.0, 1.0
    for _ in range(steps):
        mid = (lo + hi) / 2
        if f(mid) < 0:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2
