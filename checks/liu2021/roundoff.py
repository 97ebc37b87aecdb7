"""Round-off allowances of the S3 checks, derived from the float64 unit roundoff and operation counts.

Every S3 statistic is exactly 0 in exact arithmetic; what a float64 computation leaves is round-off, and a
check refutes its claim only when an instance exceeds the allowance derived here. The error model:

1. every float64 operation rounds with relative error at most U = 2^-52 (machine epsilon, twice the unit
   roundoff of round-to-nearest: a conservative choice);
2. a result computed through a chain of K dependent roundings has an error at most gamma_K = K U/(1 - K U)
   times the scale of the terms entering it (the forward error of sums and products, Higham, *Accuracy and
   Stability of Numerical Algorithms*, Ch. 3); Householder QR of an n x d matrix gives a basis accurate to
   gamma_(d n) (ibid., Thm. 19.4, constant absorbed);
3. the computations are well conditioned: the scale of the terms is that of the result (BN standardises every
   pre-activation, the networks are at or near a random initialisation, the data are Gaussian). This is an
   assumption, not a theorem: the tests require the largest deviation of each small run of the true form to
   stay below 1/100 of its allowance.

K for one forward and backward pass is ``bnsym.sim.bnnet`` ``roundings(batch)`` (K_pass: the dot products over
fan-in and fan-out, BN's batch means, the weight gradient's sum over the batch, the loss and about 16
elementwise operations per layer). From it, per statistic (d the row's fan-in, n the number of inputs or
patches whose span is taken, M the mini-batch, T the steps):

* loss, gradient, Hessian-vector product at W and at s W: two computations of passes x K_pass + 1 roundings
  (the scaling s W rounds once; the double backward is a second pass over the first): 2 gamma_(p K_pass + 1),
  p = 1, 1, 2;
* w.grad: the gradient's error in any direction, gamma_K_pass, and the dot product with w, gamma_d:
  gamma_(K_pass + d);
* the gradient's span: whatever the back-propagated errors, fl(sum_n dz_n x_n) leaves the inputs' span only
  through this last sum (gamma_(n + 1)); the complement basis (gamma_(d n)), the product with it and the
  norms (gamma_2d): gamma_(n + 1 + d n + 2 d);
* the SGD norm identity, relative to ||w_t+1||^2: three squared norms of nonnegative terms (3 (d + 1)), the
  closed form's three operations, the update's roundings (U ||w_t+1|| + 2 U eta ||g|| <= 3 U ||w_t+1|| on the
  vector, 6 U on its square) and the computed w.g (2 eta |w.g| <= 2 ||w_t+1||^2 gamma_(K_pass + d)):
  gamma_(3 d + 12 + 2 (K_pass + d));
* the orthogonal component along a run, relative to the row's largest norm W* = max_t ||w_t|| (including the
  norm right after each step): an update fl(w - fl(eta g)) rounds by at most U (||w|| + 2 eta ||g||) <= 5 U W*,
  since eta g = w_t - w_t+1 has norm at most 2 W*; the gradient leaves the data span only through its last sum
  over the M batch inputs, by gamma_(M + 1) eta ||g|| <= 2 gamma_(M + 1) W*; heavy-ball momentum adds the
  buffer's two roundings (<= 4 U W* per step, since eta ||b_t|| = ||w_t - w_t+1||) and carries every error of
  the buffer into the later steps with total weight 1/(1 - mu); weight decay adds the rounding of g + lambda w
  (2 U W*) and eta ||g|| <= 3 W*; weight rescaling adds the row's norm, a square root, a division and a product
  (gamma_(d + 4)). The final projection, (w_t - w_0) Q with Q the complement basis and its norm, adds
  2 (1 + 2 d + d P) (P the data set's inputs): K = T (per-step count) + 2 (1 + 2 d + d P);
* the log-ratio statistics (weight decay, rescaling), read where ||P_perp w_t|| and ||P_perp w_0|| are at
  least FLOOR W* (FLOOR = 0.1 is a choice of where to read; the allowance follows from it): both norms of the
  ratio carry the error K U W*, so the log ratio is off by at most 2 K U/FLOOR. The closed form adds its own
  evaluation: (1 - eta lambda)^t rounds 1 - eta lambda by 2 U, which the power multiplies by t, and the log
  (gamma_(2 T + 2)); each rescaling factor (1 + eta^2 G/r^2)^(-1/2) takes 7 operations and a sum, and the
  measured G = ||g_s||^2 (gamma_d) enters through the exponent -1/2 (d/2), so T (8 + d/2) over the run; and for
  rescaling, the computed w.g in the norm after each step (T gamma_(K_pass + d)).
"""

from __future__ import annotations

from bnsym.sim.bnnet import BNNet

U = 2.0**-52
FLOOR = 0.1  # the log-ratio statistics are read where ||P_perp w_t|| >= FLOOR max_s ||w_s||


def gamma(k: float) -> float:
    """gamma_k = k U/(1 - k U), the error bound of a chain of k roundings."""
    return k * U / (1 - k * U)


def max_fan_in(net: BNNet) -> int:
    return max(net.fan_in(layer) for layer in range(1, net.depth + 1))


def scaling(net: BNNet, batch: int, passes: int) -> float:
    """A quantity of ``passes`` forward-backward passes computed at W and at s W."""
    return 2 * gamma(passes * net.roundings(batch) + 1)


def orthogonality(net: BNNet, batch: int) -> float:
    """|w.g|/(||w|| ||g||) for every row of every layer."""
    return gamma(net.roundings(batch) + max_fan_in(net))


def span(fan_in: int, inputs: int) -> float:
    """||P_perp grad||/||grad|| for a layer of ``fan_in`` seeing ``inputs`` inputs (or patches)."""
    return gamma(inputs + 1 + fan_in * inputs + 2 * fan_in)


def norm_identity(net: BNNet, batch: int) -> float:
    """|  ||w_t+1||^2 - ||w_t||^2 - eta^2 ||g_t||^2 |/||w_t+1||^2 for every row of every layer."""
    d = max_fan_in(net)
    return gamma(3 * d + 12 + 2 * (net.roundings(batch) + d))


def step_count(batch: int, momentum: float = 0.0, weight_decay: bool = False) -> float:
    """Roundings per SGD step on the orthogonal component, in units of U W*."""
    if momentum:
        return 5 + (4 + 4 * (batch + 1)) / (1 - momentum)
    if weight_decay:
        return 5 + 2 + 3 * (batch + 1)
    return 5 + 2 * (batch + 1)


def frozen_count(fan_in: int, data: int, batch: int, steps: int, momentum: float = 0.0) -> int:
    """K of the frozen component's statistic (its allowance is gamma_K); ``data`` inputs (or patches) span."""
    return int(steps * step_count(batch, momentum) + 2 * (1 + 2 * fan_in + fan_in * data)) + 1


def decay(fan_in: int, data: int, batch: int, steps: int) -> float:
    """|log ratio - log (1 - eta lambda)^t| under weight decay."""
    k = steps * step_count(batch, weight_decay=True) + 2 * (1 + 2 * fan_in + fan_in * data)
    return 2 * gamma(k) / FLOOR + gamma(2 * steps + 2)


def rescaling(net: BNNet, data: int, batch: int, steps: int) -> float:
    """|log ratio - sum log wrs_step_factor| under weight rescaling (first layer)."""
    d = net.fan_in(1)
    k = steps * (step_count(batch) + d + 4) + 2 * (1 + 2 * d + d * data)
    return 2 * gamma(k) / FLOOR + gamma(steps * (8 + d / 2)) + steps * gamma(net.roundings(batch) + d)
