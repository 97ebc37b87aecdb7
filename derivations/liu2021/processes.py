"""S3. The scale invariance of BN and its consequences for SGD, tested on torch networks (Liu et al., 2021: the
abstract's two implicit biases of SGD on BN networks, and weight decay and weight rescaling).

The statements of S1 and S2, for real networks with BN in train mode (``bnsym.sim.bnnet``: an MLP
48-32-32-32-10 with cross-entropy and a conv net 4x6x6 -> conv 5x5 (8 channels) -> conv 3x3 (8 channels)
-> pooling -> 10 outputs with squared error, BN eps = 0, float64), every BN layer, on random data and
weights. Each exact identity becomes a bound on every instance: a statistic that is exactly 0 in exact
arithmetic (a relative deviation) lies below the check's round-off allowance, which is derived from the
float64 machine epsilon 2^-52 (twice the unit roundoff: conservative) and an operation count of the
computation (``checks/liu2021/roundoff.py``), never tuned. One instance beyond it refutes the claim.

* Per unit: L(S W_l) = L(W_l) and grad_u L(S W_l) = grad_u L(W_l)/s_u for S = diag(s_u), each row u of W_l
  scaled by its own s_u, log-uniform on [0.1, 10] per row and instance (S1's per-unit invariance);
  s^2 H(s W_l) v = H(W_l) v (Hessian-vector products by double backward) for one s per instance, the law S1
  proves (with per-row scales the Hessian's blocks scale as 1/(s_u s_u'), a law S1 does not state);
  w.grad L = 0 for every BN row w. The scaling laws reach the checks as the lambdified ``loss_factor``,
  ``grad_factor`` and ``hess_factor`` of ``symbols.py`` (S1 proves the same expressions).
* The gradient of a layer lies in the span of that step's batch inputs to it (FC), or of the unfolded
  patches (conv): ||P_perp grad W_l||/||grad W_l|| = 0.
* Along real SGD runs (mini-batches of a fixed data set, torch.optim.SGD), per BN row:
  ||w_t+1||^2 = ||w_t||^2 + eta^2 ||g_t||^2 (``symbols.norm_next``, proven in S1). For the first layer, whose inputs
  are the data set (16 samples in dimension 48, so 32 directions no input reaches): the component orthogonal to
  the data's span is frozen under SGD and heavy-ball momentum (at BN eps = 0 and at torch's default 1e-5: the
  span argument of S2 holds for every loss), moves under Adam, decays by
  ``symbols.wd_factor`` = (1 - eta lambda)^t under weight decay and shrinks by the product of
  ``symbols.wrs_step_factor`` over the run under weight rescaling, with the measured ||g_s||^2.
* Measured at torch's default eps = 1e-5, where BN is not scale invariant (L(s W) depends on s through
  eps/(s^2 sigma_B^2)), so none of the scale-invariance identities holds exactly: the statistics of
  loss_invariance, grad_orthogonal, grad_scaling and hvp_scaling on both networks, how much of the SGD norm
  growth the identity misses, and how far the rescaling product is off.
"""

import sympy as sp

from bnsym import Measurement, Param, ProcessClaim, Source, Theorem

from .symbols import eta, grad_factor, grad_sq, hess_factor, lam, loss_factor, norm_next, norm_sq, radius, scale, steps

__all__ = ["S3", "grad_factor", "hess_factor", "loss_factor", "norm_next", "norm_sq", "scale"]

SOURCE = Source("Liu et al., 2021 (The Implicit Biases of SGD on Deep Neural Networks with Batch Normalization)",
                "abstract: invariance to weight rescaling, weight norms in discrete time, updates in the input feature"
                " span, weight decay and weight rescaling (WRS)")

count = Param("K", lo=1, integer=True, sample_hi=10**7, law="log", latex="K")
MACHINE_EPSILON = sp.Rational(1, 2**52)
"""float64 machine epsilon 2^-52, twice the unit roundoff 2^-53: the conservative per-operation error of roundoff.py."""

sgd_allowance = count.symbol * MACHINE_EPSILON / (1 - count.symbol * MACHINE_EPSILON)
"""gamma_K = K eps/(1 - K eps), eps = 2^-52: the round-off allowance of a statistic computed through K roundings
(the same gamma_K as ``checks/liu2021/roundoff.py``)."""

_NETS = ("MLP 48-32-32-32-10 (cross-entropy, batch 16) and conv net 4x6x6 -> 8 (5x5) -> 8 (3x3) -> 10"
         " (squared error, batch 8), BN eps = 0, every BN layer")
_NETS_EPS = ("the networks and layers of loss_invariance with BN eps = 1e-5 (torch's default), random weights and"
             " data")
_NOT_INVARIANT = ("with eps > 0 BN is not scale invariant (n_i depends on s through eps/(s^2 sigma_B^2)), so the"
                  " exact statement does not hold; this measures by how much")
_ASSUME = ("BN in train mode with eps = 0; random Gaussian inputs, labels of a random linear teacher, weights"
           " N(0, 1/fan_in)",)
_EVERY = "a bound on every instance: the allowance is derived from 2^-52 and an operation count, not tuned"
_RUN = ("SGD runs on the MLP: 40 steps, mini-batches of 8 drawn from a fixed data set of 16 inputs in dimension 48"
        " per instance (the first layer's rows have a 32-dimensional complement of the data span)")

_PER_ROW = "S = diag(s_u): each row u of W_l scaled by its own s_u, log-uniform on [0.1, 10] per row and instance"
loss_invariance = ProcessClaim(
    title=f"per unit: L(S W_l) = L(W_l), each row of W_l scaled by its own s_u > 0, for every BN layer l ({_NETS})",
    quantity="|L(S W_l) - c L(W_l)|/|c L(W_l)|, c = prod_u loss_factor(s_u) = 1 (L homogeneous of degree 0 in each"
             f" row); {_PER_ROW}",
    value=0, op="<", every=True, assumptions=_ASSUME, note=_EVERY + "; the factor is lambdified from loss_factor")
grad_orthogonal = ProcessClaim(
    title=f"w.grad L = 0 for every BN row w ({_NETS})",
    quantity="max over the rows w of W_l of |w.g_w|/(||w|| ||g_w||), g_w = dL/dw", value=0, op="<", every=True,
    assumptions=_ASSUME, note=_EVERY)
grad_scaling = ProcessClaim(
    title=f"per unit: s_u grad_u L(S W_l) = grad_u L(W_l) for every row u of W_l ({_NETS})",
    quantity="||grad L(S W_l) - C grad L(W_l)||/||C grad L(W_l)||, C = diag(grad_factor(s_u)) = diag(1/s_u) on the"
             f" rows; {_PER_ROW}", value=0, op="<",
    every=True, assumptions=_ASSUME, note=_EVERY + "; the scaling law is lambdified from grad_factor")
hvp_scaling = ProcessClaim(
    title=f"s^2 H(s W_l) v = H(W_l) v for a random direction v, by double backward ({_NETS})",
    quantity="||H(s W_l) v - c(s) H(W_l) v||/||c(s) H(W_l) v||, c = hess_factor = 1/s^2, one s log-uniform on"
             " [0.1, 10] per instance (the whole layer), v ~ N(0, I) in the shape of W_l", value=0, op="<",
    every=True, assumptions=_ASSUME,
    note=_EVERY + "; the scaling law is lambdified from hess_factor. One s for the layer: S1 proves the uniform law;"
                  " with a scale per row the blocks of H scale as 1/(s_u s_u'), which S1 does not state")
span_fc = ProcessClaim(
    title="the gradient of a fully connected BN layer lies in the span of the batch inputs to it (MLP, every layer)",
    quantity="||grad W_l P_perp||/||grad W_l||, P_perp the projection on the complement of the span of the 16"
             " inputs of the batch to layer l (dimension 48 or 32)", value=0, op="<", every=True,
    assumptions=_ASSUME, note=_EVERY)
span_conv = ProcessClaim(
    title="the gradient of a conv kernel lies in the span of the unfolded patches of its input (conv net, both"
          " layers)",
    quantity="||grad K_l P_perp||/||grad K_l||, P_perp the projection on the complement of the span of the 32"
             " patches (8 images x 4 positions) in dimension C_in k^2 = 100 and 72", value=0, op="<", every=True,
    assumptions=_ASSUME, note=_EVERY)
sgd_norm = ProcessClaim(
    title="plain SGD: ||w_t+1||^2 = ||w_t||^2 + eta^2 ||g_t||^2 for every BN row and step (MLP and conv net)",
    quantity="max over steps and rows of |  ||w_t+1||^2 - norm_next(||w_t||^2, eta, ||g_t||^2) |/||w_t+1||^2",
    value=0, op="<", every=True, assumptions=_ASSUME + (_RUN + "; the conv net: data sets of 16 images",),
    note=_EVERY + "; norm_next is lambdified")
frozen = ProcessClaim(
    title="SGD and heavy-ball momentum leave the first layer's component orthogonal to the data span unchanged"
          " (BN eps = 0 and 1e-5)",
    quantity="max over steps t and rows w of W_1 of ||P_perp (w_t - w_0)||/max_s ||w_s||, P_perp the projection"
             " on the complement of the span of the data set's inputs to the first layer (the MLP's 16 inputs in"
             " dimension 48; the conv net's 64 patches of 16 images in dimension 100)",
    value=0, op="<", every=True,
    assumptions=_ASSUME + (_RUN + "; torch.optim.SGD lr 0.1, or momentum 0.9 with lr 0.02; plain SGD on the MLP also"
                           " with BN eps = 1e-5",),
    note=_EVERY + "; the span argument (S2) holds for every loss, so BN's eps plays no part: the eps = 1e-5 point"
                  " tests that")
adam_moves = ProcessClaim(
    title="Adam moves the first layer's component orthogonal to the data span (beyond SGD's round-off allowance)",
    quantity="the statistic of `frozen` along torch.optim.Adam runs (lr 0.01, default betas; MLP and conv net)",
    value=sgd_allowance, op=">", every=True, assumptions=_ASSUME + (_RUN,),
    note="a bound on every instance, from below: K is the operation count of the same statistic along plain SGD"
         " on the same net (roundoff.frozen_count without momentum), so gamma_K is what round-off alone could"
         " leave there; the frozen check's allowance is the largest over its points, momentum's included, and"
         " may exceed it. Adam's per-coordinate scaling takes its steps out of the span. A claim rather than a"
         " measurement: the paper states it, and a frozen component refutes it. How far Adam moves it is in the"
         " estimate column")
wd_decay = ProcessClaim(
    title="SGD with weight decay: ||P_perp w_t||/||P_perp w_0|| = (1 - eta lambda)^t for every first-layer row",
    quantity="max over steps and rows of |log(||P_perp w_t||/||P_perp w_0||) - log wd_factor(eta, lambda, t)|,"
             " read where ||P_perp w_t|| and ||P_perp w_0|| are >= 0.1 max_s ||w_s||", value=0, op="<", every=True,
    assumptions=_ASSUME + (_RUN + "; torch.optim.SGD with weight_decay lambda (on every parameter)",),
    note=_EVERY + "; wd_factor is lambdified from derivations/liu2021/symbols.py")
wrs_shrink = ProcessClaim(
    title="weight rescaling: ||P_perp w_t||/||P_perp w_0|| = prod_s (1 + eta^2 ||g_s||^2/r^2)^(-1/2) for every"
          " first-layer row",
    quantity="max over steps and rows of |log(||P_perp w_t||/||P_perp w_0||) - sum_s<t log"
             " wrs_step_factor(eta, ||g_s||^2, r)|, read where ||P_perp w_t|| and ||P_perp w_0|| are >= 0.1"
             " max_s ||w_s||",
    value=0, op="<", every=True,
    assumptions=_ASSUME + (_RUN + "; every BN row rescaled to norm r after each step, ||w_0|| = r;"
                           " ||g_s||^2 the measured squared gradient norm of the row",),
    note=_EVERY + "; wrs_step_factor is lambdified from derivations/liu2021/symbols.py")
wgrad_default_eps = Measurement(
    title="at torch's default BN eps = 1e-5: how far w.grad L is from 0",
    quantity="mean over the rows w of W_l of |w.g_w|/(||w|| ||g_w||)",
    setting=_NETS_EPS + ", at initialization", note=_NOT_INVARIANT)
loss_default_eps = Measurement(
    title="at torch's default BN eps = 1e-5: how far L(S W_l) is from L(W_l)",
    quantity="the statistic of loss_invariance, |L(S W_l) - L(W_l)|/|L(W_l)|, per row scales s_u log-uniform on"
             " [0.1, 10]", setting=_NETS_EPS, note=_NOT_INVARIANT)
grad_default_eps = Measurement(
    title="at torch's default BN eps = 1e-5: how far s_u grad_u L(S W_l) is from grad_u L(W_l)",
    quantity="the statistic of grad_scaling, ||grad L(S W_l) - C grad L(W_l)||/||C grad L(W_l)||, C = diag(1/s_u)",
    setting=_NETS_EPS, note=_NOT_INVARIANT)
hvp_default_eps = Measurement(
    title="at torch's default BN eps = 1e-5: how far s^2 H(s W_l) v is from H(W_l) v",
    quantity="the statistic of hvp_scaling, ||H(s W_l) v - H(W_l) v/s^2||/||H(W_l) v/s^2||, one s per instance",
    setting=_NETS_EPS, note=_NOT_INVARIANT)
norm_default_eps = Measurement(
    title="at torch's default BN eps = 1e-5: the part of the SGD norm growth the identity misses",
    quantity="sum over steps and rows of |  ||w_t+1||^2 - ||w_t||^2 - eta^2 ||g_t||^2 | over the sum of"
             " eta^2 ||g_t||^2 (per BN layer)",
    setting="the SGD runs of sgd_norm (MLP, lr 0.1, 40 steps) with eps = 1e-5",
    note="-2 eta w.g_t is no longer 0; reported as a fraction of the growth eta^2 ||g||^2 it would be compared to")
wrs_default_eps = Measurement(
    title="at torch's default BN eps = 1e-5: how far the weight-rescaling product is off",
    quantity="the statistic of wrs_shrink, max over steps and rows of |log(||P_perp w_t||/||P_perp w_0||) - sum_s<t"
             " log wrs_step_factor(eta, ||g_s||^2, r)|",
    setting="the rescaling runs of wrs_shrink (MLP, 40 steps) at eta = 0.1, r = 1 with eps = 1e-5",
    note="the factor rests on w_t.g_t = 0 (S1), which eps > 0 breaks")

S3 = Theorem(
    title="Scale invariance, weight norms and the input span on torch networks with BN",
    source=SOURCE,
    params=(eta, lam, radius, steps, grad_sq, scale, norm_sq, count),
    claims=(loss_invariance, grad_orthogonal, grad_scaling, hvp_scaling, span_fc, span_conv, sgd_norm, frozen,
            adam_moves, wd_decay, wrs_shrink, wgrad_default_eps, loss_default_eps, grad_default_eps, hvp_default_eps,
            norm_default_eps, wrs_default_eps),
    summary="Real torch MLPs and conv nets with BN (eps = 0): every scale-invariance identity (per unit for the"
            " loss and the gradient), the gradient in the inputs' span, the SGD norm identity, the frozen"
            " orthogonal component (SGD, momentum, also at eps = 1e-5; not Adam), its decay under weight decay and"
            " rescaling, each on every instance to a derived round-off allowance; the deviations of the"
            " scale-invariance statistics, the norm identity and the rescaling product at eps = 1e-5 measured.",
)
