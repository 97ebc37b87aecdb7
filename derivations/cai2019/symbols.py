"""Parameters and closed forms shared by the Cai, Li, Shen (ICML 2019) theorems, each declared once.

Setting (Sec. 2 of the paper): y = x.w* + noise with E[x] = 0, H = E[x x'] positive definite,
g = E[x y], c = E[y^2] and u = H^-1 g. Batch normalization of the linear unit x.w at the
population level divides by ||w||_H = sqrt(w'Hw); the model's loss is

    J(a, w) = E[1/2 (y - a x.w/||w||_H)^2] = 1/2 (c - 2 a w.g/||w||_H + a^2),

and BNGD is simultaneous gradient descent on (a, w) with rates (eps_a, eps):

    a+ = a + eps_a (w.g/||w||_H - a),
    w+ = w + eps a/||w||_H (g - (w.g/||w||_H^2) H w).

Plain GD minimises J0(w) = E[1/2 (y - x.w)^2] = 1/2 (c - 2 w.g + w'Hw): w+ = w + eps (g - H w).

Vectors are columns of parameters (:mod:`bnsym.linalg`); g is written as H u (u free), which loses
nothing since H is invertible. A statement proven in the dimension ``sufficient_dimension(n, k)``
holds in every dimension by the Krylov compression of :mod:`bnsym.linalg` when it is built from
the inner products <H^p x_i, H^q x_j> (p, q <= k) of n vectors only; such claims say "every d".
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import sympy as sp

from bnsym import Param
from bnsym.linalg import dot, spectrum, vector

a = Param("a", sample_lo=-3, sample_hi=3, latex="a")
eps = Param("epsilon", lo=0, lo_open=True, sample_lo=0.01, sample_hi=100, law="log", latex=r"\varepsilon")
eps_a = Param("epsilon_a", lo=0, lo_open=True, sample_lo=0.05, sample_hi=2, latex=r"\varepsilon_a")
s = Param("s", lo=0, lo_open=True, sample_lo=0.1, sample_hi=10, law="log", latex="s")
c = Param("c", lo=0, lo_open=True, sample_lo=0.1, sample_hi=20, law="log", latex="c")
t = Param("t", lo=0, lo_open=True, sample_lo=0.1, sample_hi=10, law="log", latex="t")
t_neg = Param("t_neg", hi=0, hi_open=True, sample_lo=-10, sample_hi=-0.1, latex="t")
mu = Param("mu", sample_lo=-20, sample_hi=20, latex=r"\mu")


@dataclass(frozen=True)
class Space:
    """H = diag(lambda_1..lambda_d) (H in its eigenbasis) and the vectors w, u, v, p, q of R^d (v, p, q
    are test vectors), with the parameters that declare their entries."""

    d: int
    H: sp.Matrix
    w: sp.Matrix
    u: sp.Matrix
    v: sp.Matrix
    p: sp.Matrix
    q: sp.Matrix
    params: tuple[Param, ...]


@lru_cache(maxsize=None)
def space(d: int) -> Space:
    """The coordinates of R^d used by the claims proven in dimension d."""
    H, params = spectrum("lambda", d)
    vecs = {}
    for name in ("w", "u", "v", "p", "q"):
        vecs[name], more = vector(name, d)
        params = params + more
    return Space(d=d, H=H, params=params, **vecs)


def h_norm(H: sp.Matrix, w: sp.Matrix) -> sp.Expr:
    """||w||_H = sqrt(w'Hw)."""
    return sp.sqrt(dot(w, H * w))


def loss_bn(H: sp.Matrix, u: sp.Matrix, a_: sp.Expr, w: sp.Matrix, c_: sp.Expr) -> sp.Expr:
    """J(a, w) = 1/2 (c - 2 a w.g/||w||_H + a^2) with g = H u."""
    return (c_ - 2 * a_ * dot(w, H * u) / h_norm(H, w) + a_**2) / 2


def loss_plain(H: sp.Matrix, u: sp.Matrix, w: sp.Matrix, c_: sp.Expr) -> sp.Expr:
    """J0(w) = 1/2 (c - 2 w.g + w'Hw) with g = H u."""
    return (c_ - 2 * dot(w, H * u) + dot(w, H * w)) / 2


def bngd_step(H: sp.Matrix, u: sp.Matrix, a_: sp.Expr, w: sp.Matrix, e: sp.Expr,
              e_a: sp.Expr) -> tuple[sp.Expr, sp.Matrix]:
    """One simultaneous BNGD step as printed: (a+, w+)."""
    g = H * u
    n = h_norm(H, w)
    wg = dot(w, g)
    a_next = a_ + e_a * (wg / n - a_)
    w_next = w + e * a_ / n * (g - wg / n**2 * (H * w))
    return a_next, w_next


def gd_step(H: sp.Matrix, u: sp.Matrix, w: sp.Matrix, e: sp.Expr) -> sp.Matrix:
    """One GD step on J0 as printed: w+ = w + eps (g - H w)."""
    return w + e * (H * u - H * w)


def h_star(H: sp.Matrix, u: sp.Matrix) -> sp.Matrix:
    """H* = H - H u u' H/(u' H u): the curvature of J in w at a minimum, up to the factor eps_hat."""
    return H - (H * u) * (H * u).T / dot(u, H * u)


def eps_hat(e: sp.Expr, u: sp.Matrix, w_min: sp.Matrix) -> sp.Expr:
    """eps_hat = eps ||u||^2/||w||^2, w the minimum's weight vector (a multiple t u of u)."""
    return e * dot(u, u) / dot(w_min, w_min)
