"""Random population least-squares problems, batched: the setting of Cai et al. and Kohler et al.

A problem is the population of a linear model y = x.w* + sigma xi with E[x] = 0 and
E[x x'] = H (positive definite), xi ~ N(0, 1) independent of x. Everything gradient descent
on the population loss needs is a second moment:

    H = E[x x'],   g = E[x y] = H w*,   c = E[y^2] = w*' H w* + sigma^2.

``random_problems`` draws B problems at once: H = Q diag(lambda) Q' with Q a uniformly random
orthogonal matrix (QR of a Gaussian matrix, signs fixed so that the law is Haar) and the
eigenvalues lambda spaced geometrically from ``lambda_min`` to ``lambda_max`` (condition number
kappa = lambda_max/lambda_min), and a teacher w* of uniform direction with ||w*|| = ``teacher_norm``.
Draws from the generator, all ``torch.randn`` at float64 on the device: 1. the Gaussian matrix
[B, d, d]; 2. the teacher direction [B, d].

Nothing here evaluates a formula of the theory: the module only builds the moments of the
process. (``H``'s eigen-decomposition is kept because it is how the problem was built.)
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .arguments import check_count, check_device, check_real

_FLOAT64 = torch.float64


@dataclass(frozen=True)
class QuadraticProblems:
    """B population least-squares problems of dimension d (float64 tensors on one device).

    ``H`` [B, d, d], ``g`` [B, d], ``c`` [B], ``w_star`` [B, d] (the teacher, H^-1 g),
    ``eigenvalues`` [B, d] ascending and ``basis`` [B, d, d] (columns: eigenvectors of H).
    """

    H: torch.Tensor
    g: torch.Tensor
    c: torch.Tensor
    w_star: torch.Tensor
    eigenvalues: torch.Tensor
    basis: torch.Tensor
    sigma: float

    @property
    def B(self) -> int:
        return self.H.shape[0]

    @property
    def d(self) -> int:
        return self.H.shape[-1]


def random_orthogonal(n: int, d: int, gen: torch.Generator, device: torch.device) -> torch.Tensor:
    """``n`` Haar-random d x d orthogonal matrices (QR of a Gaussian matrix with the signs of R's diagonal fixed)."""
    z = torch.randn(n, d, d, generator=gen, device=device, dtype=_FLOAT64)
    q, r = torch.linalg.qr(z)
    return q * torch.sign(torch.diagonal(r, dim1=-2, dim2=-1)).unsqueeze(-2)


def random_problems(n: int, d: int, lambda_min: float, lambda_max: float, gen: torch.Generator,
                    device: torch.device | str = "cpu", sigma: float = 0.0,
                    teacher_norm: float = 1.0) -> QuadraticProblems:
    """``n`` random problems of dimension ``d`` with the spectrum of H spaced geometrically on [lambda_min, lambda_max].

    >>> p = random_problems(4, 3, 1.0, 100.0, torch.Generator().manual_seed(0))
    >>> tuple(p.H.shape), float(p.eigenvalues[0, -1])
    ((4, 3, 3), 100.0)
    """
    device = check_device(gen, device)
    n, d = check_count("n", n, 1), check_count("d", d, 1)
    lo = check_real("lambda_min", lambda_min, minimum=0.0, strict=True)
    hi = check_real("lambda_max", lambda_max, minimum=lo)
    sigma = check_real("sigma", sigma, minimum=0.0)
    teacher_norm = check_real("teacher_norm", teacher_norm, minimum=0.0, strict=True)
    q = random_orthogonal(n, d, gen, device)
    if d == 1:
        lam = torch.full((1,), lo, dtype=_FLOAT64, device=device)
    else:
        steps = torch.arange(d, dtype=_FLOAT64, device=device) / (d - 1)
        lam = lo * (hi / lo) ** steps
    lam = lam.expand(n, d).clone()
    H = (q * lam.unsqueeze(-2)) @ q.transpose(-1, -2)
    H = (H + H.transpose(-1, -2)) / 2  # exactly symmetric
    w = torch.randn(n, d, generator=gen, device=device, dtype=_FLOAT64)
    w = teacher_norm * w / torch.linalg.vector_norm(w, dim=-1, keepdim=True)
    g = torch.einsum("bij,bj->bi", H, w)
    c = torch.einsum("bi,bi->b", w, g) + sigma**2
    return QuadraticProblems(H=H, g=g, c=c, w_star=w, eigenvalues=lam, basis=q, sigma=sigma)
