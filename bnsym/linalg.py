"""Vectors and a symmetric matrix in explicit coordinates, and the dimension that proves an identity for every d.

Claims are scalar SymPy expressions over declared real parameters, so a statement about vectors
in R^d is written in coordinates: ``vector("w", 4)`` is a column of four parameters ``w_1 ... w_4``
and ``spectrum("lambda", 4)`` a diagonal matrix of four positive ones. A vector identity a = b is
claimed as v.(a - b) = 0 for a free test vector v (it holds for every v iff a = b).

Why a fixed dimension can prove a statement for every d (Krylov compression). Let H be a
symmetric d x d matrix, x_1, ..., x_n vectors of R^d and k >= 0; call the vectors H^m x_i
(m <= k) the vector terms. Let F be a rational function of the numbers <a, b> and <a, H b> for
vector terms a, b (a gradient, a directional derivative along a test vector or a Jacobian
bilinear form of such an F is again of this kind; k counts the powers of H that act on a vector
before an inner product is taken: ||H w||^2 = <Hw, Hw> needs k = 1, <v, H w> needs k = 0).
Put D = n (k + 1), the number of vector terms. If F = 0 for every symmetric D x D matrix and
every x_i in R^D, then F = 0 in every dimension d:

* d <= D: pad the vectors with zeros and H with an identity block; every number above is kept.
* d > D: let K = span of the vector terms, of dimension at most D, P the orthogonal projection
  onto K and H' = P H P on K. By induction H'^m x_i = P H H^(m-1) x_i = H^m x_i for m <= k (as
  H^m x_i lies in K), so the vector terms are the same for H', and for a, b in K,
  <a, H' b> = <a, P H b> = <a, H b>: every number is the same for (H', x_i) on K, an
  inner-product space of dimension at most D, then padded as above.

H' is symmetric, positive definite when H is, and its eigenvalues lie in [lambda_min(H),
lambda_max(H)]. An orthogonal change of basis changes none of the numbers either, so H may be
taken diagonal: it suffices to prove F = 0 for H = diag(lambda_1, ..., lambda_D) and arbitrary
x_i in R^D. ``sufficient_dimension(n, k)`` is that D. (The argument needs F to be built from the
x_i and H only through those numbers: no coordinate-wise operation, no H^-1, no norm other than
the square root of one of the numbers.)

>>> import sympy as sp
>>> w, _ = vector("w", 2)
>>> lam, _ = spectrum("lambda", 2)
>>> sp.expand(dot(w, lam * w))
lambda_1*w_1**2 + lambda_2*w_2**2
>>> sufficient_dimension(vectors=2, power=1)
4
"""

from __future__ import annotations

import sympy as sp

from .errors import DefinitionError
from .params import Param

SAMPLE = 3.0  # half-width of the region numeric points of a vector entry are drawn from
SPECTRUM_REGION = (0.1, 10.0)  # eigenvalues are drawn log-uniformly here (condition numbers up to 100)


def sufficient_dimension(vectors: int, power: int = 0) -> int:
    """D = n (k + 1): an identity among the <a, b>, <a, H b> of the vector terms H^m x_i (m <= k) of n vectors
    that holds in R^D holds in every R^d (see the module docstring)."""
    if vectors < 1 or power < 0:
        raise DefinitionError(f"sufficient_dimension needs vectors >= 1 and power >= 0, not {vectors}, {power}")
    return vectors * (power + 1)


def _indexed(base: str, i: int) -> str:
    """LaTeX of entry i of a vector written ``base``; a base with its own subscript is braced (x_1 -> {x_1}_{2})."""
    return f"{{{base}}}_{{{i}}}" if "_" in base else f"{base}_{{{i}}}"


def vector(name: str, d: int, latex: str | None = None) -> tuple[sp.Matrix, tuple[Param, ...]]:
    """A column of ``d`` real parameters ``name_1 .. name_d`` and their declarations."""
    if d < 1:
        raise DefinitionError(f"vector {name}: dimension must be >= 1, not {d}")
    params = tuple(Param(f"{name}_{i}", sample_lo=-SAMPLE, sample_hi=SAMPLE, latex=_indexed(latex or name, i))
                   for i in range(1, d + 1))
    return sp.Matrix([p.symbol for p in params]), params


def spectrum(name: str, d: int, latex: str | None = None) -> tuple[sp.Matrix, tuple[Param, ...]]:
    """A diagonal d x d matrix of positive parameters ``name_1 .. name_d`` (a positive definite H in its eigenbasis)."""
    if d < 1:
        raise DefinitionError(f"spectrum {name}: dimension must be >= 1, not {d}")
    lo, hi = SPECTRUM_REGION
    params = tuple(Param(f"{name}_{i}", lo=0, lo_open=True, sample_lo=lo, sample_hi=hi, law="log",
                         latex=_indexed(latex or name, i)) for i in range(1, d + 1))
    return sp.diag(*[p.symbol for p in params]), params


def dot(a: sp.Matrix, b: sp.Matrix) -> sp.Expr:
    """The inner product a.b of two columns."""
    if a.shape != b.shape or a.shape[1] != 1:
        raise DefinitionError(f"dot needs two columns of one length, not {a.shape} and {b.shape}")
    return (a.T * b)[0, 0]


def gradient(expr: sp.Expr, x: sp.Matrix) -> sp.Matrix:
    """The column of partial derivatives of ``expr`` in the entries of ``x`` (the Euclidean gradient)."""
    return sp.Matrix([sp.diff(expr, xi) for xi in x])
