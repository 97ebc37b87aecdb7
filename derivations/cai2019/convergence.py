"""C5. What BNGD and GD do on random ill-conditioned problems (Cai, Li, Shen 2019, Sec. 3-4): process claims.

Each is decided by simulating the process itself (``bnsym.sim.bngd``, checks in ``checks/cai2019``).

* Convergence for every eps when 0 < eps_a <= 1. Per problem, y = log10(gap_N/gap_0)/N, where gap = J - J*
  and N is the first iteration with gap_N <= tol gap_0; when no such N <= T exists, N is the last
  iteration with a finite gap. A run reaches tol within T iff y < log10(tol)/T (for N <= T,
  log10(gap_N/gap_0) <= log10(tol) < 0), so the claim is E[y] < log10(tol)/T; a run that stalls has
  y near 0 and one that diverges y > 0.
* GD's threshold: on a grid eps = f 2/lambda_max, the growth z = log10(gap_T/gap_0)/T is negative for
  f < 1 and positive for f > 1; the claim is sign(f - 1) z > 0 at every grid point.
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
    title="BNGD converges for every eps > 0 when 0 < eps_a <= 1, on average over random problems (eps over four"
          " decades, eps_a = 1 and 0.5)",
    quantity="y = log10(gap_N/gap_0)/N, N the first iteration with gap_N <= tol gap_0 (else the last finite one)",
    value=sp.log(tol.symbol, 10) / T_max.symbol, op="<",
    assumptions=("random problems: d = 10, spectrum geometric on [0.01, 1] (kappa = 100), uniform teacher"
                 " direction, ||w_0|| = 1, a_0 ~ N(0, 1)",),
    note="Per run, y < log10(tol)/T iff the run reaches tol within T iterations; the test is on the mean, since the"
         " claim is asymptotic (convergence, at any speed) and a finite T cannot decide it run by run: at large eps a"
         " few runs are slow, not divergent, and converged_fraction reports how many reach tol within T.")
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
