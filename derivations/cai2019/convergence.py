"""C5. What BNGD and GD do on random ill-conditioned problems (Cai, Li, Shen 2019, Sec. 3-4): process claims.

Each is decided by simulating the process itself (``bnsym.sim.bngd``, checks in ``checks/cai2019``).

* No divergence for any eps when 0 < eps_a <= 1. Convergence itself, at any speed, is asymptotic and
  cannot be refuted by a finite run (at large eps BNGD first inflates ||w|| and then converges slowly),
  but its failure mode can: per problem, z = log10(gap_N/gap_0) with gap = J - J* and N the first
  iteration with gap_N <= tol gap_0, or N = T when no such N <= T exists (z = +oo when the gap
  overflowed). A run reaching tol has z <= log10(tol) < 0, a slow one that still made progress z < 0,
  one that stalls at its start or diverges z >= 0. The claim is z < 0 on every problem (``every``);
  the fraction reaching tol within T is measured (``converged_fraction``).
* GD's threshold: on a grid eps = f 2/lambda_max, the growth z = log10(gap_T/gap_0)/T is negative for
  f < 1 and positive for f > 1; the claim is sign(f - 1) z > 0 on every problem at every grid point,
  for problems with lambda_max = 1/4, 1 and 4 (so a threshold not proportional to 1/lambda_max fails).
* Local rate near a minimum (C4): from a minimum plus a small perturbation across the ray of minima,
  (1/K) log(||e_K||/||e_0||) = log rho + O(1/K), e the error of a and of w off the ray, and rho the
  spectral radius of the Jacobian there (``jacobian.RATE``, d = 3 in H's eigenbasis).
* Measurements (no claimed value): iterations to tolerance against eps for both methods, the fraction
  of problems that reach it, and the effect of the dimension ("higher dimension is better").
"""

import sympy as sp

from bnsym import Measurement, Param, ProcessClaim, Source, Theorem

from .jacobian import RATE, gap_b, gap_c, l1, u_e
from .symbols import eps, eps_a, t

tol = Param("tol", lo=0, hi=1, lo_open=True, hi_open=True, sample_lo=1e-8, sample_hi=0.1, law="log", latex="tol")
T_max = Param("T", lo=1, integer=True, sample_hi=10**6, law="log", latex="T")
K = Param("K", lo=1, integer=True, sample_hi=10**4, law="log", latex="K")

bngd_converges = ProcessClaim(
    title="BNGD does not diverge for any eps when 0 < eps_a <= 1: on every problem the gap ends below its start"
          " (eps lambda_max over five decades, eps_a = 1 and 0.5)",
    quantity="z = log10(gap_N/gap_0), N the first iteration with gap_N <= tol gap_0, else T (+oo if the gap"
             " overflowed)", value=0, op="<", every=True,
    assumptions=("random problems: d = 10, spectrum geometric on [0.01, 1] (kappa = 100), uniform teacher"
                 " direction, ||w_0|| = 1, a_0 ~ N(0, 1)",),
    note="The paper's claim is convergence for every eps; a finite run can refute only its failure mode (a stall"
         " or a divergence), which this tests on every problem. How many runs reach tol within T is measured"
         " (converged_fraction): at large eps some are slow, not divergent.")
gd_threshold = ProcessClaim(
    title="GD converges for eps < 2/lambda_max and diverges above: sign(f - 1) log10(gap_T/gap_0)/T > 0 at f = eps"
          " lambda_max/2",
    quantity="sign(f - 1) log10(gap_T/gap_0)/T on every problem", value=0, op=">", every=True,
    assumptions=("the same random problems; eps = f 2/lambda_max over a grid of f around 1",))
local_rate = ProcessClaim(
    title="near a minimum BNGD contracts at rho = max(|1 - eps_a|, |1 - eps_hat mu_-|, |1 - eps_hat mu_+|)"
          " (d = 3, eps_hat = eps/t^2)",
    quantity="(1/K) log(||e_K||/||e_0||), e = (a - ||u||_H, w - (w.u/u.u) u)",
    value=sp.log(RATE), var=K, order=1,
    assumptions=("H = Q diag(l1, l1 + b, l1 + b + c) Q' with Q Haar-random, teacher Q u, start at (||u||_H, t u)"
                 " plus a perturbation of relative size 1e-3 off the ray of minima",))
iterations_vs_eps = Measurement(
    title="iterations to reach tol gap_0 against eps, GD and BNGD (capped at T)",
    quantity="min(N, T), N the first iteration with gap_N <= tol gap_0",
    setting="d = 10, kappa = 100, tol = 1e-4, T = 20000, eps_a = 1; eps lambda_max from 1e-2 to 1e3")
converged_fraction = Measurement(
    title="fraction of problems reaching tol gap_0 within T, GD and BNGD",
    quantity="1{N <= T}",
    setting="the same runs as iterations_vs_eps")
dimension_effect = Measurement(
    title="higher dimension is better? iterations to reach tol gap_0 against d at fixed eps",
    quantity="min(N, T)",
    setting="kappa = 100 (spectrum geometric on [0.01, 1]) at d = 10, 30, 100; tol = 1e-4, T = 10000, eps_a = 1;"
            " BNGD at eps = 1, 10 and GD at eps = 1")

C5 = Theorem(
    title="Simulated BNGD and GD: convergence for every eps, GD's threshold 2/lambda_max, the local rate",
    source=Source("Cai, Li, Shen, ICML 2019", "Sec. 3-4", "convergence, rate, robustness"),
    params=(eps, eps_a, t, l1, gap_b, gap_c) + u_e + (tol, T_max, K),
    claims=(bngd_converges, gd_threshold, local_rate, iterations_vs_eps, converged_fraction, dimension_effect),
    summary="Process claims on random ill-conditioned least-squares problems; measurements for the qualitative ones.")
