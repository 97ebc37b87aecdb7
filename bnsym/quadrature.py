"""Expectations over a centred bivariate Gaussian, by high-precision quadrature.

``E[f(s, t)]`` for ``(s, t) ~ N(0, C)`` is computed by whitening (Cholesky: ``s = a z1``,
``t = b z1 + c z2``) and polar coordinates ``z = r (cos th, sin th)``::

    E f = 1/(2 pi) int_0^{2 pi} dth int_0^oo f(r a cos th, r (b cos th + c sin th)) r e^{-r^2/2} dr

The integrand may be non-smooth where a linear form ``p s + q t`` changes sign: arguments of
``Heaviside``, ``sign`` and ``Abs``, differences of the arguments of ``Max`` and ``Min``, and the
relations in ``Piecewise`` conditions. Such a form vanishes on a line through the origin, i.e. at
two angles; the angle range is split there. Along every ray the integrand is then a single
smooth branch, and on every angular piece the ray integral is a smooth function of the angle.
Any other non-smooth piece (a kink not through the origin, ``Heaviside(s - 1)``) cannot be split
this way and is refused with a :class:`~bnsym.errors.DefinitionError`.

A Gaussian factor ``exp(-x'Ax/2)`` of the integrand (the homogeneous quadratic part of the
exponent of an ``exp`` factor, such as ``g'(s) = sqrt(2/pi) exp(-s^2/2)`` of an erf activation) is
absorbed into the law first (:class:`Integrator`), so the rules below see only the slowly varying rest.

The rules, both Gaussian (exponential convergence for the smooth pieces):

* radial: the ``n``-point Gauss rule of the weight ``r e^{-r^2/2}`` on ``[0, oo)`` (the Rayleigh
  law), built from its moments ``2^{k/2} Gamma(k/2 + 1)`` by the Chebyshev algorithm at raised
  precision and polished by Newton's method. A ray integrand that is a polynomial of degree
  below ``2n`` in ``r`` (every product of ReLUs) is integrated exactly;
* angular: Gauss-Legendre on each piece between split angles, or the periodic trapezoid rule on
  the whole circle when nothing is split (spectral for a smooth periodic integrand).

Error estimate (what :func:`gaussian_expectation` returns beside the value): the radial rule is
run with ``n`` and ``2n`` nodes at every angle, and the ``L1`` norm of the difference (the error
of the ``n``-node rule, conservative for the ``2n``-node value used) is the radial part; the
angular rule is run at three or more levels of doubled nodes and its part is ``d1^2 / d0`` from
the last two differences (see :func:`_angular_error`). Both rules are doubled until each part
is below ``10**-(dps - GUARD_DIGITS)`` of ``E|f|``, the natural scale of the round-off in the
sums, and the sum of the parts is returned. On the Luo et al. integrals at 30 digits the
estimate is 1e-16 .. 1e-31 where the actual error (against the closed forms, or the same
quadrature at 45 digits) is 1e-24 .. 1e-32.

Why not ``mpmath.quad`` in two dimensions (the first design): measured on this machine (mpmath
1.3, pure-Python backend, gamma = 1.3, R = 0.4), nested tanh-sinh at 30 digits costs 10 s
(ReLU I1, 3e5 evaluations) and 40 s (erf I1, 6e5 evaluations) for a single point. The rules
above need 5e3 evaluations (0.1 s) and 6e3-2e4 (0.2-1.3 s) for the same points; mpmath.quad's
adaptive error control also works to the full ``10**-dps``, far below the check's tolerance.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Callable, Sequence

import mpmath
import sympy as sp
from sympy.core.relational import Relational

from .budget import run_with_budget
from .errors import DefinitionError
from .numeric import GUARD_DIGITS, MIN_DPS, NumericResult, _region, compile_mpmath
from .params import Param
from .prover import DEFAULT_BUDGET

if TYPE_CHECKING:  # pragma: no cover
    from .claims import GaussianExpectation

# Defaults of the claim check, measured on this machine (mpmath 1.3, pure-Python backend, one core):
# at 30 digits a point costs ~0.08 s for the ReLU integrals I1, I2, I3 and 0.26 / 0.60 / 0.43 s on
# average (at most 0.5 / 1.3 / 0.7 s) for the erf ones, over gamma in [0.2, 3], R in (-1, 1); so
# 8 points take ~1 s (ReLU) and 2-5 s (erf) per claim, plus ~0.4 s once for the rules. At 30 digits
# the acceptance tolerance is 10**-15 relative, far below any slip in a closed form; the identity
# default of 50 digits would cost 5-20x more (measured: erf I1 1.3-6 s a point at 45, 8-13 s at 60).
# A failing point is recomputed at dps + GUARD_DIGITS (not 2 dps, as check_equal does) for that cost.
DEFAULT_DPS = MIN_DPS
DEFAULT_POINTS = 8
ERROR_FACTOR = 4  # tolerance: ERROR_FACTOR times the quadrature's error estimate, at least the round-off floor

RADIAL_START = 8  # radial rule: n and 2n nodes, n = 8, 16, ... up to RADIAL_MAX
RADIAL_MAX = 128
PIECE_START = 8  # Gauss-Legendre nodes per angular piece at the first level
TRAPEZOID_START = 16  # trapezoid nodes on the circle at the first level
ANGULAR_LEVELS = 6  # doublings of the angular rule at most

_UNSUPPORTED = (sp.floor, sp.ceiling, sp.frac, sp.Mod, sp.DiracDelta, sp.KroneckerDelta)


# -- the non-smooth pieces ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Kink:
    """A linear form ``p*s + q*t`` whose sign switches a piece of the integrand.

    ``jumps``: the integrand may jump there (Heaviside, sign, Piecewise), not only bend (Max, Min, Abs).
    """

    p: sp.Expr
    q: sp.Expr
    jumps: bool
    origin: str  # the piece of the integrand it comes from, for messages


def kinks(integrand: sp.Expr, variables: Sequence[sp.Symbol], what: str = "gaussian expectation") -> list[Kink]:
    """The linear forms where the integrand's non-smooth pieces switch.

    Raises :class:`DefinitionError` for a non-smooth piece that does not switch on a line through
    the origin (a form that is not ``p*s + q*t`` with ``p``, ``q`` free of ``s`` and ``t``).
    """
    s, t = variables
    bound = {s, t}
    out: list[Kink] = []
    seen: set[tuple[sp.Expr, sp.Expr, bool]] = set()

    def add(form: sp.Expr, jumps: bool, origin: sp.Basic) -> None:
        form = sp.sympify(form)
        if not (form.free_symbols & bound):
            return  # constant over the integration: no kink in (s, t)
        p, q = _linear_coefficients(form, s, t, what, origin)
        key = (p, q, jumps)
        if key not in seen:
            seen.add(key)
            out.append(Kink(p, q, jumps, str(origin)))

    for node in sp.preorder_traversal(sp.sympify(integrand)):
        if not isinstance(node, sp.Basic) or not (node.free_symbols & bound):
            continue
        if isinstance(node, _UNSUPPORTED):
            raise DefinitionError(f"{what}: the integrand is not supported: {node} is non-smooth off the lines"
                                  " through the origin, so the polar quadrature cannot split it")
        if isinstance(node, (sp.Heaviside, sp.sign)):
            add(node.args[0], True, node)
        elif isinstance(node, sp.Abs):
            add(node.args[0], False, node)
        elif isinstance(node, (sp.Max, sp.Min)):
            for i, x in enumerate(node.args):
                for y in node.args[i + 1:]:
                    add(x - y, False, node)
        elif isinstance(node, sp.Piecewise):
            for _, cond in node.args:
                rels = cond.atoms(Relational) if isinstance(cond, sp.Basic) else set()
                rest = cond.xreplace({r: sp.true for r in rels}) if rels else cond
                if isinstance(rest, sp.Basic) and rest.free_symbols & bound:
                    raise DefinitionError(f"{what}: the integrand is not supported: the condition {cond} is not"
                                          " made of relations between linear forms")
                for r in rels:
                    add(r.lhs - r.rhs, True, node)
    return out


KINK_BUDGET = DEFAULT_BUDGET  # seconds to reduce one non-smooth piece's switching form to p*s + q*t


def _linear_coefficients(form: sp.Expr, s: sp.Symbol, t: sp.Symbol, what: str, origin: sp.Basic
                         ) -> tuple[sp.Expr, sp.Expr]:
    """``(p, q)`` with ``form = p*s + q*t``, or :class:`DefinitionError`.

    It runs when a claim is declared (a derivation file's import), where no verification budget
    applies: a form that is already ``p*s + q*t`` with number coefficients is read off here, any
    other is reduced (expand, simplify) in a child under :data:`KINK_BUDGET` seconds, so a hostile
    form is refused with a message instead of hanging the import.
    """
    plain = _plain_linear(form, s, t)
    if plain is not None:
        return plain
    out = run_with_budget(_linear_parts, form, s, t, seconds=KINK_BUDGET)
    if out.ok and out.value is not None:
        return out.value
    why = (f"SymPy did not reduce it within {KINK_BUDGET:g} s" if out.timed_out
           else out.error if not out.ok else "")
    raise DefinitionError(
        f"{what}: the integrand is not supported: {origin} switches where {form} = 0, which is not"
        + (" shown to be" if why else "") + f" a single line through the origin (a linear form p*{s} + q*{t})"
        + (f": {why}" if why else "") + "; the polar quadrature splits only such lines")


def _plain_linear(form: sp.Expr, s: sp.Symbol, t: sp.Symbol) -> tuple[sp.Expr, sp.Expr] | None:
    """``(p, q)`` when ``form`` is written as ``p*s + q*t`` with rational numbers ``p``, ``q``; else None."""
    coefficients = {s: sp.S.Zero, t: sp.S.Zero}
    for term in sp.Add.make_args(form):
        c, rest = term.as_coeff_Mul()
        if rest not in coefficients or not c.is_Rational:
            return None
        coefficients[rest] += c
    return coefficients[s], coefficients[t]


def _linear_parts(form: sp.Expr, s: sp.Symbol, t: sp.Symbol) -> tuple[sp.Expr, sp.Expr] | None:
    """``(p, q)`` with ``form = p*s + q*t`` after expand and simplify; None when it is not such a form."""
    expanded = sp.expand(form)
    p, q = sp.diff(expanded, s), sp.diff(expanded, t)
    linear = not (p.has(s) or p.has(t) or q.has(s) or q.has(t))
    rest = sp.expand(expanded - p * s - q * t) if linear else sp.S.Zero
    if linear and rest.is_zero is not True and rest.free_symbols.isdisjoint({s, t}):
        rest = sp.simplify(rest)
    if not linear or rest != 0:
        return None
    return sp.simplify(p), sp.simplify(q)


# -- Gauss rules ------------------------------------------------------------------------------------

def _rayleigh_recurrence(n: int, work: int) -> tuple[list[Any], list[Any]]:
    """Recurrence coefficients of the weight ``r e^{-r^2/2}`` on ``[0, oo)`` (Chebyshev algorithm).

    The moment map is ill-conditioned (about ``1.1 n`` digits are lost); the caller's ``work``
    precision covers that.
    """
    with mpmath.workdps(work):
        mu = [mpmath.mpf(2) ** (mpmath.mpf(k) / 2) * mpmath.gamma(mpmath.mpf(k) / 2 + 1) for k in range(2 * n)]
        alpha, beta = [mu[1] / mu[0]], [mu[0]]
        prev, cur = [mpmath.mpf(0)] * (2 * n), list(mu)
        for k in range(1, n):
            nxt = [mpmath.mpf(0)] * (2 * n)
            for j in range(k, 2 * n - k):
                nxt[j] = cur[j + 1] - alpha[k - 1] * cur[j] - beta[k - 1] * prev[j]
            alpha.append(nxt[k + 1] / nxt[k] - cur[k] / cur[k - 1])
            beta.append(nxt[k] / cur[k - 1])
            prev, cur = cur, nxt
        return alpha, beta


@lru_cache(maxsize=None)
def gauss_rule(kind: str, n: int, dps: int) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
    """The ``n``-point Gauss rule (nodes, weights) at ``dps`` digits.

    ``kind`` is ``"legendre"`` (weight 1 on ``[-1, 1]``) or ``"rayleigh"`` (weight ``r e^{-r^2/2}``
    on ``[0, oo)``, total mass 1). Nodes are the zeros of the ``n``-th orthogonal polynomial: float
    eigenvalues of the Jacobi matrix, polished by Newton's method on the three-term recurrence.
    """
    import numpy as np  # float eigenvalues as Newton's starting points

    work = dps + 20  # Newton's method on the (stable) recurrence
    if kind == "legendre":
        with mpmath.workdps(work):
            alpha = [mpmath.mpf(0)] * n
            beta = [mpmath.mpf(2)] + [mpmath.mpf(k * k) / (4 * k * k - 1) for k in range(1, n)]
    elif kind == "rayleigh":
        alpha, beta = _rayleigh_recurrence(n, work + n + n // 4 + 10)
    else:
        raise ValueError(f"unknown rule {kind!r}")
    with mpmath.workdps(work):
        alpha = [+a for a in alpha]
        root = [mpmath.sqrt(b) for b in beta]
        jacobi = (np.diag([float(a) for a in alpha]) + np.diag([float(b) for b in root[1:]], 1)
                  + np.diag([float(b) for b in root[1:]], -1))
        nodes, weights = [], []
        # quadratic convergence: once a step is below 10**-(dps/2 + 10) the node is good to dps + 20 digits
        enough = mpmath.mpf(10) ** (-(dps // 2 + 10))
        for guess in np.linalg.eigvalsh(jacobi):
            x = mpmath.mpf(float(guess))
            for _ in range(100):
                p, dp, _ = _orthonormal(x, alpha, root, n)
                step = p / dp
                x -= step
                if abs(step) <= abs(x) * enough:
                    break
            else:  # pragma: no cover - Newton from the float eigenvalue always converges
                raise ArithmeticError(f"{kind} rule of {n} nodes: Newton did not converge")
            _, _, norm = _orthonormal(x, alpha, root, n)
            nodes.append(x)
            weights.append(1 / norm)
    with mpmath.workdps(dps):
        return tuple(+x for x in nodes), tuple(+w for w in weights)


def warm(dps: int) -> None:
    """Build the rules most expectations need at ``dps`` digits (kept for later calls and forked children)."""
    for k in range(4):
        gauss_rule("rayleigh", RADIAL_START * 2**k, dps)
    for k in range(3):
        gauss_rule("legendre", PIECE_START * 2**k, dps)


def _orthonormal(x: Any, alpha: list[Any], root: list[Any], n: int) -> tuple[Any, Any, Any]:
    """``(P_n(x), P_n'(x), sum_{k<n} p_k(x)^2)`` with ``p_k`` orthonormal and ``P_n`` the monic-scaled last."""
    p0, p1 = mpmath.mpf(0), 1 / root[0]
    d0, d1 = mpmath.mpf(0), mpmath.mpf(0)
    norm = p1 * p1
    for k in range(n):
        back = root[k] if k > 0 else 0
        scale = root[k + 1] if k + 1 < n else 1
        p2 = ((x - alpha[k]) * p1 - back * p0) / scale
        d2 = (p1 + (x - alpha[k]) * d1 - back * d0) / scale
        if k + 1 < n:
            norm += p2 * p2
        p0, p1, d0, d1 = p1, p2, d1, d2
    return p1, d1, norm


# -- the integral -----------------------------------------------------------------------------------

@dataclass
class Estimate:
    """A quadrature result: the expectation, its error estimate, ``E|f|`` (the scale) and the cost."""

    value: Any
    error: Any
    mass: Any
    evaluations: int
    radial_nodes: int
    angular_nodes: int


def whiten(c11: Any, c12: Any, c22: Any) -> tuple[Any, Any, Any]:
    """``(a, b, c)`` with ``s = a z1``, ``t = b z1 + c z2`` for ``z`` standard normal (Cholesky).

    A singular covariance (``c = 0``, correlation +-1; or a zero variance) is allowed; one that is not
    positive semidefinite raises ``ValueError``.
    """
    slack = mpmath.mpf(10) ** (-(mpmath.mp.dps - GUARD_DIGITS)) * max(abs(c11), abs(c22), abs(c12))
    if c11 < -slack or c22 < -slack:
        raise ValueError(f"covariance is not positive semidefinite: variances {mpmath.nstr(c11, 8)},"
                         f" {mpmath.nstr(c22, 8)}")
    c11, c22 = max(c11, 0), max(c22, 0)
    det = c11 * c22 - c12 * c12
    if det < -slack * max(c11, c22, 1):
        raise ValueError(f"covariance is not positive semidefinite: determinant {mpmath.nstr(det, 8)}")
    a = mpmath.sqrt(c11)
    if a == 0:
        return a, mpmath.mpf(0), mpmath.sqrt(c22)
    return a, c12 / a, mpmath.sqrt(max(det, 0) / c11)


class Integrator:
    """A compiled expectation ``E[integrand]`` over ``variables ~ N(0, covariance)``, as a function of
    the parameters ``symbols`` (positional mpmath numbers).

    A Gaussian factor ``exp(-x'Ax/2)`` of the integrand (``x = (s, t)``, the homogeneous quadratic part
    of the exponent of any ``exp`` factor) is absorbed into the law: with ``M = I + C A``,
    ``E_C[h exp(-x'Ax/2)] = E_{C'}[h] / sqrt(det M)``, ``C' = M^-1 C``. The rest ``h`` is then free of
    the Gaussian decay that a fixed radial rule resolves badly (the erf-activation integrands carry
    ``g'(s) = sqrt(2/pi) exp(-s^2/2)``).
    """

    def __init__(self, integrand: Any, variables: Sequence[sp.Symbol], covariance: Sequence[Sequence[Any]],
                 symbols: Sequence[sp.Symbol], what: str = "gaussian expectation"):
        if len(variables) != 2:
            raise DefinitionError(f"{what}: a bivariate expectation needs two variables, not {len(variables)}")
        s, t = variables
        self.what = what
        base, quadratic = _gaussian_factor(sp.sympify(integrand), s, t)
        self.kinks = kinks(base, (s, t), what)
        symbols = list(symbols)
        base, constants = _hoist_constants(base)
        self.constants = [compile_mpmath(c, []) for c in constants.values()]
        self.f = compile_mpmath(base, [s, t, *symbols, *constants])
        if isinstance(covariance, sp.MatrixBase):
            covariance = covariance.tolist()
        (c11, c12), (c21, c22) = covariance
        if sp.expand(sp.sympify(c12) - c21) != 0 and sp.simplify(sp.sympify(c12) - c21) != 0:
            raise DefinitionError(f"{what}: covariance is not symmetric: {c12} != {c21}")
        self.cov = [compile_mpmath(e, symbols) for e in (c11, c12, c22)]
        self.quadratic = [compile_mpmath(e, symbols) for e in quadratic] if quadratic else None
        self.forms = [(compile_mpmath(k.p, symbols), compile_mpmath(k.q, symbols), k) for k in self.kinks]

    # -- one point ------------------------------------------------------------------------------
    def expect(self, values: Sequence[Any], dps: int) -> Estimate:
        """``E[f]`` at the parameter values ``values``, to about ``dps - GUARD_DIGITS`` digits of ``E|f|``."""
        with mpmath.workdps(dps):
            vals = [mpmath.mpf(v) for v in values]
            c11, c12, c22 = [_number(fn(*vals), "covariance") for fn in self.cov]
            factor = mpmath.mpf(1)
            if self.quadratic is not None:
                a11, a12, a22 = [_number(fn(*vals), "Gaussian factor") for fn in self.quadratic]
                m11, m12, m21, m22 = 1 + c11 * a11 + c12 * a12, c11 * a12 + c12 * a22, \
                    c12 * a11 + c22 * a12, 1 + c12 * a12 + c22 * a22
                det = m11 * m22 - m12 * m21
                if not det > 0:
                    raise ValueError("the expectation diverges: the integrand's Gaussian factor grows faster"
                                     " than the density decays")
                # C' = M^-1 C, symmetric in exact arithmetic
                c11, c12, c22 = ((m22 * c11 - m12 * c12) / det, (m22 * c12 - m12 * c22 + m11 * c12 - m21 * c11)
                                 / (2 * det), (m11 * c22 - m21 * c12) / det)
                factor = 1 / mpmath.sqrt(det)
            try:
                a, b, c = whiten(c11, c12, c22)
            except ValueError:
                if self.quadratic is not None:
                    raise ValueError("the expectation diverges: the integrand's Gaussian factor grows faster"
                                     " than the density decays") from None
                raise
            cuts = self._angles(vals, a, b, c)
            consts = [_number(fn(), "constant") for fn in self.constants]
            est = self._integrate(vals + consts, a, b, c, cuts, dps)
            est.value, est.error, est.mass = est.value * factor, est.error * factor, est.mass * factor
            return est

    def _angles(self, vals: list[Any], a: Any, b: Any, c: Any) -> list[Any]:
        two_pi = 2 * mpmath.pi
        tiny = mpmath.mpf(10) ** (-(mpmath.mp.dps - GUARD_DIGITS))
        cuts: list[Any] = []
        for fp, fq, kink in self.forms:
            p, q = _number(fp(*vals), "kink coefficient"), _number(fq(*vals), "kink coefficient")
            alpha, beta = p * a + q * b, q * c  # p s + q t = alpha z1 + beta z2
            size = abs(p) * a + abs(q) * (abs(b) + c)
            if abs(alpha) + abs(beta) <= tiny * size or (alpha == 0 and beta == 0):
                if kink.jumps:
                    raise ValueError(f"{kink.origin} switches on a line that holds with probability one at this"
                                     " covariance (singular in its direction): the expectation is not determined")
                continue  # a bend on a null set of directions: nothing to split
            phi = mpmath.atan2(-alpha, beta) % two_pi
            cuts += [phi, (phi + mpmath.pi) % two_pi]
        cuts.sort()
        merged: list[Any] = []
        for x in cuts:
            if not merged or x - merged[-1] > tiny:
                merged.append(x)
        if len(merged) > 1 and merged[0] + two_pi - merged[-1] <= tiny:
            merged.pop()
        return merged

    def _angular_nodes(self, cuts: list[Any], level: int) -> list[tuple[Any, Any]]:
        """Angles and weights (summing to 1) of the angular rule at ``level``."""
        two_pi = 2 * mpmath.pi
        if not cuts:
            n = TRAPEZOID_START * 2 ** level
            w = mpmath.mpf(1) / n
            return [(two_pi * (j + mpmath.mpf(1) / 2) / n, w) for j in range(n)]
        m = PIECE_START * 2 ** level
        xs, ws = gauss_rule("legendre", m, mpmath.mp.dps)
        out = []
        ends = cuts + [cuts[0] + two_pi]
        for lo, hi in zip(ends[:-1], ends[1:]):
            half = (hi - lo) / 2
            mid = lo + half
            out += [(mid + half * x, w * half / two_pi) for x, w in zip(xs, ws)]
        return out

    def _integrate(self, args: list[Any], a: Any, b: Any, c: Any, cuts: list[Any], dps: int) -> Estimate:
        target = mpmath.mpf(10) ** (-(dps - GUARD_DIGITS))
        f = self.f
        count = 0
        cache: dict[tuple[Any, int], tuple[Any, Any, Any]] = {}

        def ray(theta: Any, n: int) -> tuple[Any, Any, Any]:
            """Ray integrals with the n- and 2n-node radial rules, and of |f| with the 2n-node rule."""
            nonlocal count
            key = (theta, n)
            if key in cache:
                return cache[key]
            u, v = a * mpmath.cos(theta), b * mpmath.cos(theta) + c * mpmath.sin(theta)
            sums = []
            absolute = mpmath.mpf(0)
            for size in (n, 2 * n):
                xs, ws = gauss_rule("rayleigh", size, dps)
                total = mpmath.mpf(0)
                for x, w in zip(xs, ws):
                    y = _value(f(x * u, x * v, *args), x * u, x * v)
                    total += w * y
                    if size == 2 * n:
                        absolute += w * abs(y)
                count += size
                sums.append(total)
            cache[key] = (sums[0], sums[1], absolute)
            return cache[key]

        n, level = RADIAL_START, 0
        history: list[Any] = []  # angular levels computed with the current radial rule
        while True:
            nodes = self._angular_nodes(cuts, level)
            value, mass, radial = mpmath.mpf(0), mpmath.mpf(0), mpmath.mpf(0)
            for theta, w in nodes:
                lo, hi, absolute = ray(theta, n)
                value += w * hi
                mass += w * absolute
                radial += w * abs(hi - lo)
            scale = mass if mass > 0 else mpmath.mpf(1)
            if radial > target * scale and n < RADIAL_MAX:
                n *= 2
                history = []
                continue
            history.append(value)
            angular = _angular_error(history)
            if angular <= target * scale or level >= ANGULAR_LEVELS:
                return Estimate(value, angular + radial, mass, count, 2 * n, len(nodes))
            level += 1


def _angular_error(history: list[Any]) -> Any:
    """Error estimate of the last of a sequence of angular rules, each with twice the nodes.

    ``d1 = |I_k - I_k-1|`` bounds the error of ``I_k-1``; while the differences shrink the error
    of ``I_k`` is estimated as ``d1^2 / d0`` (for geometric convergence it is smaller still,
    ``~ d1^3 / d0^2``). Three levels at least, so two rules cannot agree by accident.
    """
    if len(history) < 3:
        return mpmath.inf
    d0, d1 = abs(history[-2] - history[-3]), abs(history[-1] - history[-2])
    if d1 == 0:
        return d1
    return d1 * d1 / d0 if d1 < d0 else d1


def _gaussian_factor(expr: sp.Expr, s: sp.Symbol, t: sp.Symbol) -> tuple[sp.Expr, tuple[sp.Expr, ...] | None]:
    """``(h, (A11, A12, A22))`` with ``expr = h * exp(-(A11 s^2 + 2 A12 s t + A22 t^2)/2)``, or ``(expr, None)``.

    The homogeneous quadratic part of the exponent of every ``exp`` factor is taken out (after
    ``factor_terms``, so a common factor of a sum counts); the rest of the exponent stays in ``h``.
    """
    if isinstance(expr, sp.Add):
        expr = sp.factor_terms(expr)
    quad = sp.S.Zero
    rest = []
    for factor in sp.Mul.make_args(expr):
        if isinstance(factor, sp.exp) and factor.args[0].has(s, t):
            arg = sp.expand(factor.args[0])
            try:
                poly = sp.Poly(arg, s, t)
            except sp.PolynomialError:
                rest.append(factor)
                continue
            q = sum((c * s**i * t**j for (i, j), c in poly.terms() if i + j == 2), sp.S.Zero)
            if q == 0:
                rest.append(factor)
                continue
            quad += q
            rest.append(sp.exp(arg - q))
        else:
            rest.append(factor)
    if quad == 0:
        return expr, None
    a11 = -sp.diff(quad, s, 2)
    a12 = -sp.diff(quad, s, t)
    a22 = -sp.diff(quad, t, 2)
    return sp.Mul(*rest), (a11, a12, a22)


def _hoist_constants(expr: sp.Expr) -> tuple[sp.Expr, dict[sp.Symbol, sp.Expr]]:
    """``expr`` with its constant subexpressions (``sqrt(2)``, ``1/pi``, ``1/2``) replaced by symbols,
    so the compiled integrand evaluates them once per point, not at every node."""
    found: dict[sp.Expr, sp.Symbol] = {}

    def visit(e: sp.Basic) -> None:
        if isinstance(e, sp.Expr) and e.is_number and not isinstance(e, sp.Integer):
            if e.is_finite and e not in found and not e.has(sp.I):
                found[e] = sp.Dummy(f"const{len(found)}")
            return
        for arg in e.args:
            visit(arg)

    visit(expr)
    return expr.xreplace(found), {d: c for c, d in found.items()}


def _number(v: Any, what: str) -> Any:
    if isinstance(v, mpmath.mpc):
        if v.imag != 0:
            raise ValueError(f"{what} is complex: {v}")
        v = v.real
    v = mpmath.mpmathify(v)
    if not mpmath.isfinite(v):
        raise ValueError(f"{what} is not finite: {v}")
    return v


def _closed_form(v: Any) -> Any:
    """The claimed value as a number; a complex one is kept (it differs from any real expectation)."""
    v = mpmath.mpmathify(v)
    if isinstance(v, mpmath.mpc):
        if abs(v.imag) <= abs(v.real) * mpmath.mpf(10) ** (-(mpmath.mp.dps - GUARD_DIGITS)):
            v = v.real
        elif not (mpmath.isfinite(v.real) and mpmath.isfinite(v.imag)):
            raise ValueError(f"closed form is not finite: {v}")
        else:
            return v
    if not mpmath.isfinite(v):
        raise ValueError(f"closed form is not finite: {v}")
    return v


def _value(y: Any, s: Any, t: Any) -> Any:
    if isinstance(y, mpmath.mpf):
        if mpmath.isfinite(y):
            return y
    elif isinstance(y, (int, float)) and math.isfinite(y):
        return y
    elif isinstance(y, mpmath.mpc) and y.imag == 0:
        return y.real
    elif not isinstance(y, mpmath.mpc):
        return _value(mpmath.mpmathify(y), s, t)
    raise ValueError(f"integrand is {mpmath.nstr(y, 8)} at s={mpmath.nstr(s, 8)}, t={mpmath.nstr(t, 8)}:"
                     " not a finite real number")


def gaussian_expectation(integrand: Any, variables: Sequence[sp.Symbol], covariance: Sequence[Sequence[Any]],
                         point: dict[sp.Symbol, Any], dps: int = DEFAULT_DPS) -> tuple[Any, Any]:
    """``(E[integrand], error estimate)`` for ``variables ~ N(0, covariance)`` at the parameter values
    ``point`` (symbol -> number), computed at ``dps`` digits.

    >>> s, t = sp.symbols("s t", real=True)
    >>> value, error = gaussian_expectation(sp.Max(0, s) * sp.Max(0, t), (s, t), ((1, 0), (0, 1)), {})
    >>> mpmath.nstr(value * 2 * mpmath.pi, 25), error < 1e-25  # E[relu(s)] E[relu(t)] = 1/(2 pi)
    ('1.0', True)
    """
    symbols = sorted(point, key=lambda x: x.name)
    integrator = Integrator(integrand, variables, covariance, symbols)
    est = integrator.expect([point[x] for x in symbols], dps)
    return est.value, est.error


# -- the claim check --------------------------------------------------------------------------------

def check_gaussian_expectation(claim: GaussianExpectation, params: list[Param], points: int = DEFAULT_POINTS,
                               dps: int = DEFAULT_DPS, seed: int = 0) -> NumericResult:
    """Compare the quadrature of ``claim.integrand`` with ``claim.value`` at ``points`` random points.

    Same conventions as :func:`bnsym.numeric.check_equal`. At a point the claim is accepted when
    ``|quadrature - value| <= max(ERROR_FACTOR * error estimate, scale * 10**-(dps - GUARD_DIGITS))``
    with ``scale = max(|quadrature|, |value|, E|f|)``; a quadrature whose own error estimate exceeds
    that floor has not converged and leaves the point undecided. A point that fails is recomputed at
    ``dps + GUARD_DIGITS`` digits (a tolerance 10**15 times finer, finer rules) before it is reported
    as a counterexample. Defaults (``DEFAULT_DPS = 30``, ``DEFAULT_POINTS = 8``) cost about 1 s (ReLU)
    and 2-5 s (erf) per claim here; see the note at ``DEFAULT_DPS``.
    """
    if dps < MIN_DPS:
        raise ValueError(f"dps must be at least {MIN_DPS}, not {dps}")
    symbols = [p.symbol for p in params]
    what = claim.title or "gaussian expectation"
    integrator = Integrator(claim.integrand, claim.variables, claim.covariance, symbols, what)
    value_fn = compile_mpmath(claim.value, symbols)
    rng = random.Random(seed)
    worst = 0.0
    evaluated = 0
    evaluations = 0
    failures: list[str] = []
    region = _region(params)
    for _ in range(points):
        point = [p.random(rng, dps) for p in params]
        try:
            quad, claimed, dev, tol, est = _compare(integrator, value_fn, point, dps)
        except (ValueError, ZeroDivisionError, TypeError, OverflowError, ArithmeticError) as exc:
            failures.append(str(exc))
            continue
        evaluations += est.evaluations
        scale = max(abs(quad), abs(claimed), est.mass)
        rel = float(dev / scale) if scale else float(dev)
        if dev > tol:
            hi = dps + GUARD_DIGITS
            try:
                quad, claimed, dev, tol, est = _compare(integrator, value_fn, point, hi)
            except (ValueError, ZeroDivisionError, TypeError, OverflowError, ArithmeticError) as exc:
                failures.append(f"at {hi} digits: {exc}")
                continue
            if dev > tol:
                cx = {p.name: mpmath.nstr(v, 20) for p, v in zip(params, point)}
                cx.update(quadrature=mpmath.nstr(quad, 20), claimed=mpmath.nstr(claimed, 20),
                          deviation=mpmath.nstr(dev, 10), error_estimate=mpmath.nstr(est.error, 5))
                return NumericResult(False, evaluated + 1, dps, max(worst, rel), cx,
                                     f"quadrature differs from the closed form by {mpmath.nstr(dev, 5)}"
                                     f" (error estimate {mpmath.nstr(est.error, 3)}, stable at {hi} digits)",
                                     region)
        evaluated += 1
        worst = max(worst, rel)
    cover = (f"2-D Gauss quadrature at {dps} digits, {evaluated} of {points} points"
             f" ({evaluations} integrand evaluations), tolerance max({ERROR_FACTOR} x error estimate,"
             f" 1e-{dps - GUARD_DIGITS} relative)")
    if failures:
        return NumericResult(None, evaluated, dps, worst,
                             detail=f"could not integrate at {len(failures)} of {points} points: "
                             + "; ".join(sorted(set(failures))[:3]) + f"; {cover}", region=region)
    return NumericResult(True, evaluated, dps, worst,
                         detail=f"largest relative deviation {worst:.2e}; {cover}", region=region)


def _compare(integrator: Integrator, value_fn: Callable[..., Any], point: list[Any], dps: int
             ) -> tuple[Any, Any, Any, Any, Estimate]:
    """Quadrature, claimed value, deviation and tolerance at ``point`` (``ValueError`` if unconverged)."""
    est = integrator.expect(point, dps)
    with mpmath.workdps(dps):
        claimed = _closed_form(value_fn(*[mpmath.mpf(x) for x in point]))
        scale = max(abs(est.value), abs(claimed), est.mass)
        floor = scale * mpmath.mpf(10) ** (-(dps - GUARD_DIGITS))
        if not est.error <= floor:
            raise ValueError(f"quadrature did not converge: error estimate {mpmath.nstr(est.error, 3)}"
                             f" above {mpmath.nstr(floor, 3)} with {est.radial_nodes} radial and"
                             f" {est.angular_nodes} angular nodes")
        return est.value, claimed, abs(est.value - claimed), max(ERROR_FACTOR * est.error, floor), est
