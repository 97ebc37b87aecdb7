"""Symbols and closed forms shared by the Liu et al. derivations and their checks.

One definition of each formula: the claims of ``scale.py`` and ``span.py`` prove them, the process
claims of ``processes.py`` test them on torch networks through lambdify.
"""

import sympy as sp

from bnsym import Param

eta = Param("eta", lo=0, lo_open=True, sample_lo=1e-3, sample_hi=1, law="log", latex="\\eta")
lam = Param("lambda", lo=0, lo_open=True, sample_lo=1e-4, sample_hi=1e-1, law="log", latex="\\lambda")
radius = Param("r", lo=0, lo_open=True, sample_lo=0.1, sample_hi=10, law="log", latex="r")
steps = Param("t", lo=0, integer=True, sample_hi=1000, latex="t")
grad_sq = Param("G", lo=0, sample_lo=0, sample_hi=10, latex="\\|g_s\\|^2")

wd_factor = (1 - eta.symbol * lam.symbol) ** steps.symbol
"""Weight decay: the component of w orthogonal to the inputs' span after t SGD steps, over its start."""
wrs_step_factor = (1 + eta.symbol**2 * grad_sq.symbol / radius.symbol**2) ** sp.Rational(-1, 2)
"""Weight rescaling to radius r: one step's factor on the orthogonal component, G = ||g_s||^2."""
scale = Param("s", lo=0, lo_open=True, sample_lo=0.1, sample_hi=10, law="log", latex="s")
norm_sq = Param("N", lo=0, lo_open=True, sample_lo=0.1, sample_hi=10, law="log", latex="\\|w_t\\|^2")

loss_factor = sp.Integer(1)
"""L(s W) = loss_factor L(W) for a weight feeding BN (eps = 0): homogeneity of degree 0."""
grad_factor = 1 / scale.symbol
"""grad L(s W) = grad_factor grad L(W) for a weight feeding BN (eps = 0): homogeneity of degree -1."""
hess_factor = 1 / scale.symbol**2
"""H(s W) = hess_factor H(W): homogeneity of degree -2."""
norm_next = norm_sq.symbol + eta.symbol**2 * grad_sq.symbol
"""||w_t+1||^2 after the SGD step w_t+1 = w_t - eta g_t with w_t.g_t = 0 (N = ||w_t||^2, G = ||g_t||^2)."""
