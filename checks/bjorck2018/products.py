"""Monte Carlo checks of B2: products of i.i.d. Gaussian matrices (``bnsym.sim.matrices``).

A unit is one product A = W_k ... W_1 of N x N matrices with i.i.d. N(0, 1/N) entries, drawn with the
engine's generator on its device.

* ``norm_check``: the observation ||A x||^2/||x||^2 for a fixed x (x_j evenly spaced on [-1, 2], not a unit
  vector), at k = 1, 3, 5 and N = 8, 32; z-test against 1 (each unit draws k N^2 entries).
* ``moment2_check``, ``moment3_check``: tr((A A')^2)/N and tr((A A')^3)/N of the same products (one
  simulation, two estimands) at (k, N) = (1, 4), (1, 16), (3, 16), (3, 32), (5, 32), z-tested against the
  exact finite-N closed forms of the derivation. Small N keep the products cheap; k = 5 starts at N = 32
  because at smaller N tr((A A')^3)/N of a depth-5 product is heavy-tailed: its sample standard deviation
  changes widely from seed to seed, so neither the pilot's sample size nor the normal approximation of the
  z-test can be trusted there.
* ``fc_check``: tr((A A')^n)/N over the ladder N = 4, 8, 16, 32 against FC_k(n), an order fit in N with the
  engine's two terms c1/N + c2/N^2. The exact remainder (derivation: degree k in 1/N for n = 2, degree 2k
  for n = 3) is a polynomial of degree <= 2 only at (k, n) = (1, 2), (2, 2), (1, 3): there the fit has no
  neglected term at any N, so these are the ladders; deeper products are tested exactly at finite N above.
* ``smax_check``, ``condition_check``: the largest singular value and log10(s_max/s_min) at k = 1, 3, 5
  and N = 16, 64, 256, measured (24 products per point); the digest sets s_max beside the N -> oo edge
  sqrt((k+1)^(k+1)/k^k), lambdified from the derivation, and reports N^(2/3) (s_max - sqrt(edge)), the
  soft-edge scale (see the claim's note for what is known of it for real products).
"""

from __future__ import annotations

from typing import Any

import sympy as sp
import torch

from bnsym.mc.engine import MonteCarloCheck
from bnsym.sim.matrices import norm_ratios, product_statistics
from derivations.bjorck2018 import products as B

from .noise import one_thread

NORM_POINTS = [{"k": k, "N": N} for k in (1, 3, 5) for N in (8, 32)]
MOMENT_POINTS = [{"k": 1, "N": 4}, {"k": 1, "N": 16}, {"k": 3, "N": 16}, {"k": 3, "N": 32}, {"k": 5, "N": 32}]
LADDER = (4, 8, 16, 32)
FC_SETTINGS = ((1, 2), (2, 2), (1, 3))
"""(k, n) where the exact remainder is a polynomial of degree <= 2 in 1/N (module docstring)."""
FC_POINTS = [{"k": k, "n": n, "N": N} for k, n in FC_SETTINGS for N in LADDER]
SINGULAR_POINTS = [{"k": k, "N": N} for k in (1, 3, 5) for N in (16, 64, 256)]
PROCESS = "products A = W_k ... W_1 of i.i.d. N x N matrices with i.i.d. N(0, 1/N) entries, float64"


def fixed_vector(size: int, device: torch.device) -> torch.Tensor:
    """The point's x: N evenly spaced values on [-1, 2]."""
    return torch.linspace(-1.0, 2.0, size, dtype=torch.float64, device=device)


def simulate_norm(points: list[dict[str, Any]], n: int, gen: torch.Generator, device: torch.device) -> torch.Tensor:
    """Observations [P, n, 1]: ||A x||^2/||x||^2."""
    with one_thread():
        return torch.stack([norm_ratios(fixed_vector(int(p["N"]), device), n, int(p["k"]), gen)
                            for p in points]).unsqueeze(-1)


def simulate_moments(points: list[dict[str, Any]], n: int, gen: torch.Generator, device: torch.device) -> torch.Tensor:
    """Observations [P, n, 3]: tr((A A')^m)/N for m = 1, 2, 3."""
    with one_thread():
        return torch.stack([product_statistics(n, int(p["k"]), int(p["N"]), gen, orders=(1, 2, 3)) for p in points])


def simulate_fc(points: list[dict[str, Any]], n: int, gen: torch.Generator, device: torch.device) -> torch.Tensor:
    """Observations [P, n, 1]: tr((A A')^n)/N at the point's order n."""
    with one_thread():
        return torch.stack([product_statistics(n, int(p["k"]), int(p["N"]), gen, orders=(int(p["n"]),))
                            for p in points])


def simulate_singular(points: list[dict[str, Any]], n: int, gen: torch.Generator,
                      device: torch.device) -> torch.Tensor:
    """Observations [P, n, 2]: s_max(A) and log10(s_max/s_min)."""
    with one_thread():
        return torch.stack([product_statistics(n, int(p["k"]), int(p["N"]), gen, singular=True) for p in points])


_sqrt_edge = sp.lambdify(B.k.symbol, sp.sqrt(B.edge(B.k.symbol)), modules="mpmath")


def edge_digest(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Per depth: s_max at each N beside sqrt(edge), and N^(2/3) (s_max - sqrt(edge))."""
    out: dict[str, Any] = {}
    texts = []
    for k in sorted({int(r["k"]) for r in rows}):
        target = float(_sqrt_edge(k))
        rs = sorted((r for r in rows if int(r["k"]) == k), key=lambda r: r["N"])
        out[f"k={k}"] = {"sqrt_edge": target, "scaled_gap": {int(r["N"]): r["N"] ** (2 / 3) * (r["estimate"] - target)
                                                             for r in rs}}
        texts.append(f"k={k}: " + ", ".join(f"{r['estimate']:.4f} (N={r['N']})" for r in rs) + f" -> {target:.4f}")
    out["summary"] = "s_max against sqrt(edge): " + "; ".join(texts)
    return out


norm_check = MonteCarloCheck(claim=B.norm_process, simulate=simulate_norm, points=NORM_POINTS, process=PROCESS,
                             unit_size="N", pilot_units=4_000, max_units=400_000)
_moments = dict(simulate=simulate_moments, points=MOMENT_POINTS, process=PROCESS, unit_size="N", pilot_units=2_000,
                max_units=60_000)
moment2_check = MonteCarloCheck(claim=B.moment2_process, estimand=lambda m, p: m[1], **_moments)
moment3_check = MonteCarloCheck(claim=B.moment3_process, estimand=lambda m, p: m[2], **_moments)
fc_check = MonteCarloCheck(claim=B.fc_process, simulate=simulate_fc, points=FC_POINTS, process=PROCESS,
                           unit_size="N", pilot_units=4_000, max_units=100_000)
_singular = dict(simulate=simulate_singular, points=SINGULAR_POINTS, process=PROCESS, unit_size="N", pilot_units=24,
                 max_units=24, min_chunk=8)
smax_check = MonteCarloCheck(claim=B.largest_singular_value, estimand=lambda m, p: m[0], digest=edge_digest,
                             **_singular)
condition_check = MonteCarloCheck(claim=B.condition_number, estimand=lambda m, p: m[1], **_singular)

CHECKS = [norm_check, moment2_check, moment3_check, fc_check, smax_check, condition_check]
