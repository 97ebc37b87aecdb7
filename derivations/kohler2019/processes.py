"""K3. GDNP and gradient descent as processes: what only a simulation decides (Kohler et al., AISTATS 2019).

* The envelope (Sec. 3.1): GDNP on least squares with eta_t = w'Sw/(2 Lmax |rho(w_t)|) obeys
  rho(w_t) - rho* <= (1 - mu/Lmax)^(2t) (rho(w_0) - rho*) for every problem and every t. Tested on
  random ill-conditioned problems (kappa = Lmax/mu from 10 to 1000, d from 2 to 30) through the
  statistic max_t [log gap_t/gap_0 - log envelope_t] over groups of problems (and the same per step),
  which is negative when the bound holds and near zero where it is tight.
* Halfspaces (Sec. 4): GDNP with T_s bisection steps for the length on the empirical risk of Gaussian
  z converges linearly; checked in the stronger form f(w~_t) - f* <= (1 - mu/Lmax)^(2t) (f(w~_0) - f*)
  (constant 1, mu and Lmax of the sample's second moment; the paper's bound has a constant and a
  2^-T_s bisection term, so this form may fail without refuting the paper; it holds in simulation).
* Stein's lemma by sampling z ~ N(u, C): E[Phi(z.w~) z.v] against the closed form of K2.
* GD against GDNP: iterations to a relative suboptimality of 1e-8 against the learning rate
  (a measurement: the paper's comparison, without a closed form).
* Cross-layer curvature with and without BN (a measurement: exploratory, on a small synthetic network).
"""

import sympy as sp

from bnsym import Param, ProcessClaim, Source, Theorem
from bnsym.claims import Measurement

from . import halfspaces as H

SOURCE = Source("Kohler et al., AISTATS 2019", "Sec. 3.1 and 4")

mu = Param("mu", lo=0, lo_open=True, sample_lo=0.1, sample_hi=10, law="log", latex="\\mu")
lmax = Param("Lmax", lo=0, lo_open=True, sample_lo=0.1, sample_hi=1000, law="log", latex="L")
steps = Param("t", lo=0, integer=True, sample_hi=1000, latex="t")
envelope = (1 - mu.symbol / lmax.symbol) ** (2 * steps.symbol)
"""The printed envelope (1 - mu/Lmax)^(2t); the checks read it through lambdify of its logarithm."""
log_envelope = sp.expand_log(sp.log(envelope), force=True)

_GAP = ("max over a group of {group} random problems and over the steps 1 <= t <= T with gap_t > 1e-9 |rho*| of"
        " {stat}, where gap_t = rho(w_t) - rho* for GDNP with eta_t = w'Sw/(2 Lmax |rho|)")
ls_envelope = ProcessClaim(
    title="GDNP on least squares stays below the envelope: rho(w_t) - rho* <= (1 - mu/Lmax)^(2t) (rho(w_0) - rho*)",
    quantity=_GAP.format(group=16, stat="log(gap_t/gap_0) - log((1 - mu/Lmax)^(2t))"), value=0, op="<", every=True,
    note="a bound on every problem: one problem above the envelope at one step refutes it")
ls_one_step = ProcessClaim(
    title="each GDNP step contracts the gap by at least (1 - mu/Lmax)^2 (the per-step form, d = 2 to 30)",
    quantity=_GAP.format(group=16, stat="log(gap_t/gap_(t-1)) - log((1 - mu/Lmax)^(2t)/(1 - mu/Lmax)^(2(t-1)))"),
    value=0, op="<", every=True,
    note="a bound on every problem and step; the per-step contraction is nearly attained in higher d, so a slightly"
         " faster claimed rate is refuted")
hs_envelope = Measurement(
    title="exploratory: GDNP with bisection on a finite-sample halfspace risk against the least-squares envelope",
    quantity="max over a group of 8 random empirical halfspace risks (phi(t) = t Phi(t) + pdf(t), z ~ N(u, C),"
             " n_train samples) and over steps 1 <= t <= T with gap_t > 1e-10 |f*| of log(gap_t/gap_0) -"
             " log((1 - mu/Lmax)^(2t)); gap_t = f_n(w~_t) - min f_n, mu and Lmax of the sample second moment;"
             " negative: every run converged linearly at least at the least-squares rate",
    setting="d = 4 (kappa = 10) and d = 8 (kappa = 100), 40 bisection steps per length, 12 groups per point",
    note="the reduction of the halfspace step to the least-squares one (K2.halfspace_step) uses Stein's lemma, which"
         " holds for the population Gaussian risk, not for a finite-sample risk: here the envelope is a reference"
         " line, not a derived bound, so the run is measured, not tested")
stein_sampled = ProcessClaim(
    title="Stein's lemma by sampling: E[Phi(z.w~) z.v] = (u.v) Phi(m/r) + (w~'Cv) pdf(m/r)/r, r = sqrt(1 + w~'Cw~)",
    quantity="mean of Phi(z.w~) (z.v) over z ~ N(u, C) (d = 4)", value=H.stein_value(H.mean.symbol, H.var_x.symbol,
                                                                                      H.b.symbol, H.cov_xy.symbol))
gd_vs_gdnp = Measurement(
    title="iterations to a relative suboptimality of 1e-8: GD with learning rate c/(2 Lmax) against GDNP with step"
          " c eta_t",
    quantity="iterations until f - f* <= 1e-8 u'S^-1 u (GD) or rho - rho* <= 1e-8 |rho*| (GDNP), capped at T: a run"
             " not there by then, slow or diverged, counts as T",
    setting="random least-squares problems, d = 10, kappa = 100, w_0 ~ N(0, I) with the optimal length; GD on"
            " w~ = g w/||w||_S from the same start; c on a grid from 0.1 to 3",
    note="the paper's comparison of GD and GDNP; c = 1 is the classical 1/smoothness step of GD (f has Hessian 2S) and"
         " the paper's eta_t of GDNP; GD diverges for c >= 2")

cross_layer_curvature = Measurement(
    title="exploratory: cross-layer curvature log ||d^2 f/dW4 dWi||_F with BN minus without BN (i = 1, 2, 3)",
    quantity="log ||d^2 f/dW4 dWi||_F of the BN network minus that of the same network without BN, same data,"
             " teacher and initial weights",
    setting="tanh network 10-12-12-12-12-1 at initialization, x ~ N(0, I), labels of a random tanh teacher, mean"
            " squared error over a batch of 128, BN with batch statistics (no affine) after each hidden linear map",
    note="the paper reports smaller cross-layer second derivatives with BN in a trained deep network; this is a"
         " small synthetic stand-in at initialization, not the paper's experiment")

cross_layer_coupling = Measurement(
    title="exploratory: cross-layer coupling ||H_4i||_F/sqrt(||H_44||_F ||H_ii||_F), log, with BN minus without",
    quantity="log of ||H_4i||_F/sqrt(||H_44||_F ||H_ii||_F), H_ij = d^2 f/dWi dWj, of the BN network minus that of"
             " the same network without BN (same data, teacher, initial weights)",
    setting=cross_layer_curvature.setting,
    note="the scale-free form of the cross-layer curvature: the raw norm also moves with the overall scale of the"
         " loss, which BN changes")

K3 = Theorem(
    title="GDNP as a process: the envelope on least squares, halfspaces with bisection, Stein by sampling",
    source=SOURCE,
    params=(mu, lmax, steps, H.mean, H.var_x, H.b, H.cov_xy),
    claims=(ls_envelope, ls_one_step, hs_envelope, stein_sampled, gd_vs_gdnp, cross_layer_curvature,
            cross_layer_coupling),
    summary="Simulated GDNP against the (1 - mu/Lmax)^(2t) envelope on least squares and halfspaces; Stein's"
            " lemma against sampled z; GD against GDNP over learning rates (measured).",
)
