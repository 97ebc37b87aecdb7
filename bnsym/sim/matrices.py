"""Products of i.i.d. Gaussian matrices, batched: the random-matrix setting of Bjorck et al. (NeurIPS 2018, Sec. 5).

A product of depth k and size N is A = W_k ... W_1, the W_i i.i.d. N x N with i.i.d. N(0, 1/N) entries
(``torch.randn`` / sqrt(N): the variance-preserving initialization of a linear layer). Everything is
float64 on the generator's device and batched over ``count`` independent products; the factors are
drawn in the order W_1, W_2, ..., W_k, each as one [count, N, N] tensor.

* ``products`` forms A [count, N, N] (A = W_1, then A <- W_i A);
* ``norm_ratios`` gives ||A x||^2/||x||^2 for a fixed x without forming A (y <- W_i y, W_1 first): the same
  draws as ``products`` for the same generator state, at N^2 cost per factor;
* ``trace_moments`` gives tr((A A')^n)/N for the orders asked, from S = A A' (tr(S^n) as the elementwise sum
  of S^a * S^(n-a), S symmetric);
* ``product_statistics`` runs ``products`` in slices of bounded memory and returns per product the
  trace moments, the largest singular value and log10 of the condition number s_max/s_min
  (``torch.linalg.svdvals``).

Bad input (a non-generator, sizes below 1, an empty list of orders for ``trace_moments``, a non-finite x
or A, ``singular`` not a bool) raises ``UsageError``. Nothing here evaluates the Fuss-Catalan law or any
other formula of the theory.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch

from ..errors import UsageError
from .arguments import check_count, check_device

_F64 = torch.float64
SLICE_ELEMENTS = 1 << 21  # matrix entries of one factor slice (16 MB of float64)


def _factor(count: int, size: int, gen: torch.Generator) -> torch.Tensor:
    return torch.randn(count, size, size, generator=gen, device=gen.device, dtype=_F64) / math.sqrt(size)


def _arguments(count: object, depth: object, size: object, gen: object) -> tuple[int, int, int]:
    if not isinstance(gen, torch.Generator):
        raise UsageError(f"generator must be a torch.Generator, got {gen!r}")
    return check_count("count", count, 1), check_count("depth", depth, 1), check_count("size", size, 1)


def products(count: int, depth: int, size: int, gen: torch.Generator) -> torch.Tensor:
    """``count`` products A = W_k ... W_1 of ``depth`` factors of size ``size``: [count, N, N].

    >>> A = products(2, 3, 4, torch.Generator().manual_seed(0))
    >>> tuple(A.shape), A.dtype
    ((2, 4, 4), torch.float64)
    """
    count, depth, size = _arguments(count, depth, size, gen)
    A = _factor(count, size, gen)
    for _ in range(depth - 1):
        A = _factor(count, size, gen) @ A
    return A


def norm_ratios(x: torch.Tensor, count: int, depth: int, gen: torch.Generator) -> torch.Tensor:
    """||A x||^2/||x||^2 for ``count`` products of ``depth`` factors, x [N] fixed, finite and nonzero: [count].

    >>> r = norm_ratios(torch.ones(4, dtype=torch.float64), 3, 2, torch.Generator().manual_seed(0))
    >>> tuple(r.shape), r.dtype
    ((3,), torch.float64)
    """
    if not isinstance(x, torch.Tensor) or x.dim() != 1 or not x.is_floating_point():
        raise UsageError(f"x must be a floating-point vector [N], got {getattr(x, 'shape', type(x).__name__)}")
    count, depth, size = _arguments(count, depth, x.shape[0], gen)
    check_device(gen, x.device)
    if not bool(torch.isfinite(x).all()):
        raise UsageError("x must be finite (no inf or nan entries)")
    norm = (x.to(_F64) ** 2).sum()
    if not bool(norm > 0):
        raise UsageError("x must be nonzero")
    y = x.to(_F64).expand(count, size).unsqueeze(-1)
    for _ in range(depth):
        y = _factor(count, size, gen) @ y
    return (y.squeeze(-1) ** 2).sum(-1) / norm


def _check_orders(orders: Sequence[int], empty: bool = False) -> tuple[int, ...]:
    """The orders as a tuple of integers >= 1; an empty one only where ``empty`` allows it."""
    if isinstance(orders, (str, bytes)) or not isinstance(orders, Sequence) or (not empty and len(orders) == 0):
        raise UsageError(f"orders must be a non-empty sequence of integers >= 1, got {orders!r}")
    return tuple(check_count("order", o, 1) for o in orders)


def trace_moments(A: torch.Tensor, orders: Sequence[int]) -> torch.Tensor:
    """tr((A A')^n)/N for each n of ``orders`` (at least one), A [count, N, N] finite: [count, len(orders)].

    >>> trace_moments(torch.eye(3, dtype=torch.float64).expand(2, 3, 3), (1, 2))
    tensor([[1., 1.],
            [1., 1.]], dtype=torch.float64)
    """
    if not isinstance(A, torch.Tensor) or A.dim() != 3 or A.shape[-1] != A.shape[-2] or not A.is_floating_point():
        raise UsageError(f"A must be a floating-point batch of square matrices [count, N, N], got"
                         f" {getattr(A, 'shape', A)}")
    orders = _check_orders(orders)
    if not bool(torch.isfinite(A).all()):
        raise UsageError("A must be finite (no inf or nan entries)")
    return _trace_moments(A, orders)


def _trace_moments(A: torch.Tensor, orders: tuple[int, ...]) -> torch.Tensor:
    S = A @ A.transpose(-1, -2)
    size = A.shape[-1]
    powers = {1: S}
    for m in range(2, max((o - o // 2 for o in orders), default=1) + 1):  # S^m up to m = ceil(n/2)
        powers[m] = powers[m - 1] @ S
    out = []
    for o in orders:
        if o == 1:
            out.append(torch.diagonal(S, dim1=-2, dim2=-1).sum(-1))
        else:
            a = o // 2
            out.append((powers[a] * powers[o - a]).sum((-1, -2)))
    return torch.stack(out, dim=-1) / size


def product_statistics(count: int, depth: int, size: int, gen: torch.Generator, orders: Sequence[int] = (),
                       singular: bool = False) -> torch.Tensor:
    """Per product: [tr((A A')^n)/N for n in ``orders``] + ([s_max, log10(s_max/s_min)] if ``singular``).

    Returns [count, len(orders) + 2 singular]; the products are drawn in slices of at most SLICE_ELEMENTS
    entries per factor, one after the other from ``gen``.
    """
    count, depth, size = _arguments(count, depth, size, gen)
    orders = _check_orders(orders, empty=True)
    if not isinstance(singular, bool):
        raise UsageError(f"singular must be True or False, got {singular!r}")
    if not orders and not singular:
        raise UsageError("ask for at least one trace moment (orders) or the singular values (singular=True)")
    per_slice = max(1, SLICE_ELEMENTS // (size * size))
    out = []
    for start in range(0, count, per_slice):
        A = products(min(per_slice, count - start), depth, size, gen)
        cols = [_trace_moments(A, orders)] if orders else []
        if singular:
            s = torch.linalg.svdvals(A)
            cols.append(torch.stack([s[:, 0], torch.log10(s[:, 0] / s[:, -1])], dim=-1))
        out.append(torch.cat(cols, dim=-1))
    return torch.cat(out)
