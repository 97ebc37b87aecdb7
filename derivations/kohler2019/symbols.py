"""Symbols shared by the Kohler et al. derivations.

Scalar summaries, valid in any dimension d: a = u.w, q = w'Sw (> 0), c = E[y^2], the length g.

Explicit vectors are written in the eigenbasis of S (an orthogonal change of coordinates leaves
every claim unchanged, so a diagonal S loses no generality), in two spaces of :mod:`bnsym.linalg`:

* ``S, u, w, v`` in dimension D = ``sufficient_dimension(3)`` = 3: a claim built from the numbers
  <x, y> and <x, S y> of u, w and a test vector v only (a gradient projected on v, a Jacobian
  applied to v) holds, proven in D, in every dimension d by the Krylov compression; such claims
  say "every d". Claims written in coordinates or with S^-1 (the expectation over the entries of
  x, the Lagrange identity, the minimum) are not covered and say "d = 3".
* ``S4, u4, w4`` in dimension ``sufficient_dimension(2, 1)`` = 4: claims that also take the
  squared length of S w (the norm growth of a step), with vector terms u, w, S u, S w.
"""

import sympy as sp

from bnsym import Param
from bnsym.linalg import dot, spectrum, sufficient_dimension, vector

a = Param("a", sample_lo=-3, sample_hi=3, latex="u^\\top w")
q = Param("q", lo=0, lo_open=True, sample_lo=0.05, sample_hi=20, law="log", latex="w^\\top S w")
c = Param("c", lo=0, sample_lo=0.1, sample_hi=10, latex="E[y^2]")
g = Param("g", sample_lo=-5, sample_hi=5, latex="g")
k = Param("k", lo=0, lo_open=True, sample_lo=0.1, sample_hi=10, law="log", latex="k")
b = Param("b", sample_lo=-3, sample_hi=3, latex="u^\\top v")
e = Param("e", sample_lo=-3, sample_hi=3, latex="v^\\top S w")

D = sufficient_dimension(vectors=3)  # u, w, v
S, eigs = spectrum("lambda", D)
u, u_p = vector("u", D)
w, w_p = vector("w", D)
v, v_p = vector("v", D)
D4 = sufficient_dimension(vectors=2, power=1)  # u, w and S u, S w
S4, _eig4 = spectrum("sigma", D4)
u4, _u4 = vector("r", D4)
w4, _w4 = vector("x", D4)
VECTOR_PARAMS = eigs + u_p + w_p + v_p + _eig4 + _u4 + _w4


def quad(x: sp.Matrix, matrix: sp.Matrix = S) -> sp.Expr:
    """x'Sx (S of dimension 3 unless another matrix is given)."""
    return dot(x, matrix * x)
