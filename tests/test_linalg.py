"""bnsym.linalg: coordinates for vector claims, and the compression behind ``sufficient_dimension``.

The compression lemma is exercised numerically: for random vectors and a random symmetric
positive definite H in R^d with d larger than D = n (k + 1), the compressed pair (H', x_i) on the
Krylov space K = span{H^m x_i : m <= k}, written in an orthonormal basis of K and padded to R^D,
reproduces every <a, b> and <a, H b> of the vector terms a, b = H^m x_i (m <= k); and an identity
that fails in R^d is caught in R^D.
"""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

from bnsym.errors import DefinitionError
from bnsym.linalg import dot, gradient, spectrum, sufficient_dimension, vector
from bnsym.prover import prove_equal


def _compress(H: np.ndarray, xs: list[np.ndarray], k: int) -> tuple[np.ndarray, list[np.ndarray]]:
    """(H', x_i) in an orthonormal basis of K, padded to D = n (k + 1) with an identity block."""
    krylov = np.stack([np.linalg.matrix_power(H, m) @ x for x in xs for m in range(k + 1)], axis=1)
    basis, _ = np.linalg.qr(krylov)
    D = sufficient_dimension(len(xs), k)
    small = basis.T @ H @ basis
    Hc = np.eye(D)
    Hc[: small.shape[0], : small.shape[0]] = small
    pad = [np.concatenate([basis.T @ x, np.zeros(D - basis.shape[1])]) for x in xs]
    return Hc, pad


@pytest.mark.parametrize("n,k", [(3, 0), (2, 1), (3, 1), (2, 2)])
def test_compression_keeps_every_inner_product(n: int, k: int) -> None:
    rng = np.random.default_rng(n * 10 + k)
    d = 3 * sufficient_dimension(n, k)
    Q, _ = np.linalg.qr(rng.standard_normal((d, d)))
    H = (Q * np.geomspace(0.5, 50.0, d)) @ Q.T
    xs = [rng.standard_normal(d) for _ in range(n)]
    Hc, ys = _compress(H, xs, k)
    assert np.all(np.linalg.eigvalsh(Hc) > 0)  # positive definite, as H
    terms = [(i, m) for i in range(n) for m in range(k + 1)]
    for i, p in terms:
        for j, q in terms:
            for extra in (0, 1):  # <a, b> and <a, H b>
                full = (np.linalg.matrix_power(H, p) @ xs[i]) @ (np.linalg.matrix_power(H, q + extra) @ xs[j])
                small = (np.linalg.matrix_power(Hc, p) @ ys[i]) @ (np.linalg.matrix_power(Hc, q + extra) @ ys[j])
                assert small == pytest.approx(full, rel=1e-9)


def test_a_false_identity_fails_in_the_sufficient_dimension() -> None:
    """<Hx, Hx> <y, y> = <x, H y>^2 is false; its D = 4 form is refuted symbolically."""
    D = sufficient_dimension(2, 1)
    x, _ = vector("x", D)
    y, _ = vector("y", D)
    H, _ = spectrum("lambda", D)
    assert prove_equal(dot(x, H * H * x) * dot(y, y), dot(x, H * y) ** 2).decided is not True


def test_coordinates_and_gradient() -> None:
    w, params = vector("w", 3)
    H, eig = spectrum("lambda", 3)
    assert [p.name for p in params] == ["w_1", "w_2", "w_3"]
    assert all(p.symbol.is_positive for p in eig)
    g = gradient(dot(w, H * w), w)
    assert sp.simplify(g - 2 * H * w) == sp.zeros(3, 1)


@pytest.mark.parametrize("call", [lambda: sufficient_dimension(0, 1), lambda: vector("w", 0),
                                  lambda: spectrum("l", 0), lambda: dot(sp.ones(2, 1), sp.ones(3, 1))])
def test_bad_arguments(call) -> None:
    with pytest.raises(DefinitionError):
        call()
