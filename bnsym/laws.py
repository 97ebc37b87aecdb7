"""Standardized laws of a real variable z, defined by their SymPy densities.

Every law here has mean 0 and variance 1 (checked by the tests, not assumed):

* ``gaussian``     N(0, 1):                 p(z) = exp(-z^2/2) / sqrt(2 pi)
* ``laplace``      Laplace, scale b = 1/sqrt(2): p(z) = exp(-sqrt(2) |z|) / sqrt(2)
* ``uniform``      uniform on [-sqrt(3), sqrt(3)]: p(z) = 1 / (2 sqrt(3))
* ``exponential``  Exp(1) shifted by -1:     p(z) = exp(-(z + 1)) on [-1, oo)
* ``student_t7``   z = t sqrt(5/7), t ~ Student t with nu = 7:
                   p(z) = Gamma(4) / (sqrt(5 pi) Gamma(7/2)) (1 + z^2/5)^(-4)

A density is stored as pieces ``(expression in Z, lower, upper)`` so that no piece needs
``Abs`` (the Laplace density is split at 0). Moments ``E[z^k]`` are exact SymPy integrals
over the pieces; skewness ``E z^3`` and excess kurtosis ``E z^4 - 3`` follow from them and
are never written down by hand. ``Law.expect`` integrates any function of z against the
density numerically with mpmath (tanh-sinh quadrature, infinite pieces split at 0).

This module needs SymPy and mpmath only; the torch samplers of the same laws live in
``bnsym.sim.laws``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import mpmath
import sympy as sp

from .errors import DefinitionError, UsageError

Z = sp.Symbol("z", real=True)

Piece = tuple[sp.Expr, sp.Expr, sp.Expr]


@functools.lru_cache(maxsize=None)
def _moment_over_pieces(pieces: tuple[Piece, ...], k: int) -> sp.Expr:
    """Exact ``sum over pieces of integral z**k * density``, simplified."""
    total = sp.Integer(0)
    for density, lower, upper in pieces:
        total += sp.integrate(Z**k * density, (Z, lower, upper))
    return sp.simplify(total)


def _mp_bound(bound: sp.Expr) -> mpmath.mpf:
    """A SymPy interval end as an mpmath number at the current precision."""
    if bound == sp.oo:
        return mpmath.inf
    if bound == -sp.oo:
        return -mpmath.inf
    return sp.lambdify((), bound, "mpmath")()


def _quadrature_points(lower: mpmath.mpf, upper: mpmath.mpf) -> list[mpmath.mpf]:
    """Interval ends for mpmath.quad; an infinite interval containing 0 is split there."""
    infinite = mpmath.isinf(lower) or mpmath.isinf(upper)
    if infinite and lower < 0 < upper:
        return [lower, mpmath.mpf(0), upper]
    return [lower, upper]


@dataclass(frozen=True)
class Law:
    """A standardized law given by its density pieces ``(density in Z, lower, upper)``."""

    name: str
    pieces: tuple[Piece, ...]
    latex: str

    def moment(self, k: int) -> sp.Expr:
        """Exact ``E[z**k]`` (SymPy); may be ``oo`` or ``nan`` where the moment does not exist."""
        if not isinstance(k, int) or isinstance(k, bool) or k < 0:
            raise UsageError(f"moment order k must be a non-negative integer, got {k!r}")
        return _moment_over_pieces(self.pieces, k)

    @property
    def skewness(self) -> sp.Expr:
        """``E z^3`` (the law is standardized, so this is the skewness)."""
        return self.moment(3)

    @property
    def excess_kurtosis(self) -> sp.Expr:
        """``E z^4 - 3``."""
        return sp.simplify(self.moment(4) - 3)

    def expect(self, integrand: sp.Expr, dps: int = 30) -> mpmath.mpf:
        """``E[integrand(z)]`` by mpmath quadrature at ``dps`` digits over each density piece."""
        integrand = sp.sympify(integrand)
        stray = integrand.free_symbols - {Z}
        if stray:
            names = ", ".join(sorted(str(s) for s in stray))
            raise DefinitionError(
                f"Law.expect of {self.name}: integrand {integrand} may depend on bnsym.laws.Z only, "
                f"but also holds {names}"
            )
        total = mpmath.mpf(0)
        with mpmath.workdps(dps):
            for density, lower, upper in self.pieces:
                weighted = sp.lambdify(Z, integrand * density, "mpmath")
                points = _quadrature_points(_mp_bound(lower), _mp_bound(upper))
                total += mpmath.quad(weighted, points)
        return +total


def _gaussian() -> Law:
    density = sp.exp(-Z**2 / 2) / sp.sqrt(2 * sp.pi)
    return Law("gaussian", ((density, -sp.oo, sp.oo),), r"\mathcal{N}(0,1)")


def _laplace() -> Law:
    scale = 1 / sp.sqrt(2)
    left = sp.exp(Z / scale) / (2 * scale)
    right = sp.exp(-Z / scale) / (2 * scale)
    return Law("laplace", ((left, -sp.oo, sp.Integer(0)), (right, sp.Integer(0), sp.oo)),
               r"\mathrm{Laplace}(0,1/\sqrt{2})")


def _uniform() -> Law:
    half_width = sp.sqrt(3)
    density = 1 / (2 * half_width)
    return Law("uniform", ((density, -half_width, half_width),), r"\mathcal{U}[-\sqrt{3},\sqrt{3}]")


def _exponential() -> Law:
    density = sp.exp(-(Z + 1))
    return Law("exponential", ((density, sp.Integer(-1), sp.oo),), r"\mathrm{Exp}(1)-1")


def _student_t(nu: int) -> Law:
    """Student t with ``nu`` degrees of freedom scaled by ``sqrt((nu - 2)/nu)`` to unit variance."""
    t_normaliser = sp.gamma(sp.Rational(nu + 1, 2)) / (sp.sqrt(nu * sp.pi) * sp.gamma(sp.Rational(nu, 2)))
    scale = sp.sqrt(sp.Rational(nu - 2, nu))
    density = t_normaliser / scale * (1 + (Z / scale)**2 / nu)**(-sp.Rational(nu + 1, 2))
    return Law(f"student_t{nu}", ((sp.simplify(density), -sp.oo, sp.oo),),
               rf"t_{{{nu}}}\sqrt{{{nu - 2}/{nu}}}")


LAWS: dict[str, Law] = {law.name: law for law in (_gaussian(), _laplace(), _uniform(), _exponential(), _student_t(7))}


def get_law(name: str) -> Law:
    """The law called ``name``; ``UsageError`` naming the known laws otherwise."""
    try:
        return LAWS[name]
    except (KeyError, TypeError):
        raise UsageError(f"unknown law {name!r}; known: {', '.join(LAWS)}") from None
