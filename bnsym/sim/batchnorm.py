"""The batch-normalization processes themselves, run in torch at float64 (the loss gap's
quadrature nodes optionally at float32, with the error bound of :func:`loss_gap`).

Batch statistics. A batch is M i.i.d. standardized draws z_1..z_M of a law; BN computes

    mu_B = (1/M) sum_i z_i,        sigma_B = sqrt((1/M) sum_i (z_i - mu_B)^2).

Loss gap. A generalized linear model with activation g = A' and per-sample loss
l(h) = A(h) - y h (identity: g(h) = h, A(h) = h^2/2; softplus: g(h) = log(1 + e^h)).
The teacher labels a sample by y = g(gamma* z + beta*) + c (z^3 - 3 z) + label_noise * xi,
xi ~ N(0, 1), with c = ``teacher_cubic`` (default 0). The cubic Hermite term makes the
model misspecified while, for Gaussian z, keeping (gamma*, beta*) a stationary point of
the PN loss (z^3 - 3z is orthogonal to 1 and z). With label_noise = 0 the label is
exactly its conditional mean given z.
For a batch, the population-normalised (PN) and batch-normalised (BN) pre-activations are

    h_bar_i = gamma z_i + beta,        h_hat_i = gamma (z_i - mu) / sigma + beta,

with sigma the batch std (1/M normalisation, around the batch mean) and mu the batch mean
(``center="batch"``) or the population mean 0 (``center="population"``). With
``include_self=True`` (mu, sigma) come from the batch the z_i belong to (BN in training
mode); with ``include_self=False`` from a second, independent batch of M fresh draws.
The per-sample loss difference is

    D_i = l(h_hat_i) - l(h_bar_i) = [A(h_hat_i) - A(h_bar_i)] - y_i (h_hat_i - h_bar_i),

where A(h_hat) - A(h_bar) = integral of g from h_bar to h_hat is computed by 12-node
Gauss-Legendre quadrature, h sum_k w_k g(m + x_k h) with nodes x_k and weights w_k on [-1, 1],
midpoint m = (h_bar + h_hat)/2 and half-length h = (h_hat - h_bar)/2 (exact for the identity).
``loss_gap`` returns the batch mean (1/M) sum_i D_i for every batch and every parameter point.

Order of draws from the generator (so that a computation can be reproduced draw by draw):
1. the batch z, shape [n_batches, M];
2. if ``include_self`` is False, the normalising batch, shape [n_batches, M];
3. if ``label_noise`` > 0, the label noise xi ~ N(0, 1), shape [n_batches, M].
All P parameter points share these draws (common random numbers).

Nothing here evaluates a theoretical formula; the functions only run the process.
"""

from __future__ import annotations

import contextlib
import math
import numbers
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import UsageError
from ..mc.threads import one_thread
from .laws import check_law_name, sample

ACTIVATIONS = ("identity", "softplus")
QUADRATURE_DTYPES = (torch.float64, torch.float32)
CENTERS = ("batch", "population")
QUADRATURE_NODES = 12

_FLOAT64 = torch.float64
_NODES, _WEIGHTS = (rule.tolist() for rule in np.polynomial.legendre.leggauss(QUADRATURE_NODES))
BLOCK_ELEMENTS = 1 << 16
"""Per-sample values in one block of the arithmetic on a CPU: every intermediate tensor of a block
(512 KiB at float64) stays in the core's cache, where a whole chunk of batches would stream each
of them through memory. Blocks are whole batches; the draws are all made before the first block.
The blocks run on one intra-op thread each (``bnsym.mc.threads``), as many blocks at a time as there
are CPUs, in Python threads (torch releases the GIL inside an operation): some sixty small operations
per block would otherwise each wait on torch's workers, many times slower on shared cores."""

Activation = Callable[[torch.Tensor], torch.Tensor]


def _identity(h: torch.Tensor) -> torch.Tensor:
    return h


_ACTIVATION_FUNCTIONS: dict[str, Activation] = {"identity": _identity, "softplus": F.softplus}


def _check_activation(activation: str) -> None:
    if activation not in ACTIVATIONS:
        raise UsageError(f"activation must be one of {', '.join(ACTIVATIONS)}, got {activation!r}")


def activation_function(activation: str) -> Activation:
    """The activation g = A' called ``activation`` as a function of a tensor."""
    _check_activation(activation)
    return _ACTIVATION_FUNCTIONS[activation]


def integral_of_activation(activation: str, lo: torch.Tensor, hi: torch.Tensor,
                           dtype: torch.dtype = _FLOAT64) -> torch.Tensor:
    """A(hi) - A(lo) = integral of g from lo to hi, by 12-node Gauss-Legendre quadrature (broadcasting).

    Midpoint m and half-length h are formed at float64. ``dtype`` is the precision of the
    rest: the nodes' arguments m + x_k h, g there and the weighted sum (float64 by default;
    float32 has the error bound given in :func:`loss_gap`). The sum is multiplied by the
    float64 h, and the result is float64.
    """
    g = activation_function(activation)
    lo, hi = torch.broadcast_tensors(torch.as_tensor(lo, dtype=_FLOAT64), torch.as_tensor(hi, dtype=_FLOAT64))
    half_length = (hi - lo) / 2
    midpoint, half = ((hi + lo) / 2).to(dtype), half_length.to(dtype)
    weighted_sum = torch.zeros_like(midpoint)
    for node, weight in zip(_NODES, _WEIGHTS, strict=True):  # a loop over 12 nodes keeps memory at one tensor
        weighted_sum.add_(g(torch.add(midpoint, half, alpha=node)), alpha=weight)
    return half_length * weighted_sum


def _check_count(name: str, value: object, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise UsageError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _mean_and_std(z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and 1/M-normalised std over the last dimension."""
    mean = z.mean(dim=-1)
    std = torch.sqrt((z - mean.unsqueeze(-1)).square().mean(dim=-1))
    return mean, std


def batch_statistics(law: str, M: int, n_batches: int, generator: torch.Generator,
                     device: torch.device | str) -> tuple[torch.Tensor, torch.Tensor]:
    """(mu_B, sigma_B) of ``n_batches`` batches of M draws of ``law``, each of shape [n_batches]."""
    check_law_name(law)
    M = _check_count("M", M, 2)
    n_batches = _check_count("n_batches", n_batches, 1)
    z = sample(law, (n_batches, M), generator, device)
    return _mean_and_std(z)


def _as_parameter(name: str, value: object, device: torch.device) -> torch.Tensor:
    try:
        tensor = torch.as_tensor(value, dtype=_FLOAT64, device=device)
    except (TypeError, ValueError, RuntimeError) as error:
        raise UsageError(f"{name} must be a real number or a 1-D tensor of reals, got {value!r}") from error
    if tensor.dim() > 1:
        raise UsageError(f"{name} must be a real number or a 1-D tensor, got shape {tuple(tensor.shape)}")
    if not bool(torch.isfinite(tensor).all()):
        raise UsageError(f"{name} must be finite, got {value!r}")
    return tensor


def _parameter_points(device: torch.device, **named: object) -> dict[str, torch.Tensor]:
    """Each named parameter as a tensor of shape [P, 1, 1]; scalars are broadcast to the common length P."""
    tensors = {name: _as_parameter(name, value, device) for name, value in named.items()}
    lengths = {name: t.numel() for name, t in tensors.items() if t.dim() == 1}
    distinct = set(lengths.values())
    if len(distinct) > 1:
        listed = ", ".join(f"{name} has {n}" for name, n in lengths.items())
        raise UsageError(f"parameter tensors must have a common length P: {listed}")
    n_points = distinct.pop() if distinct else 1
    if n_points == 0:
        raise UsageError("parameter tensors must hold at least one point, got length 0")
    return {name: t.expand(n_points).reshape(n_points, 1, 1) for name, t in tensors.items()}


def _check_loss_gap_options(activation: str, include_self: object, center: str, label_noise: object,
                            quadrature_dtype: object) -> float:
    _check_activation(activation)
    if quadrature_dtype not in QUADRATURE_DTYPES:
        raise UsageError(f"quadrature_dtype must be torch.float64 or torch.float32, got {quadrature_dtype!r}")
    if center not in CENTERS:
        raise UsageError(f"center must be one of {', '.join(CENTERS)}, got {center!r}")
    if not isinstance(include_self, bool):
        raise UsageError(f"include_self must be True or False, got {include_self!r}")
    if isinstance(label_noise, bool) or not isinstance(label_noise, numbers.Real) or not math.isfinite(label_noise) \
            or label_noise < 0:
        raise UsageError(f"label_noise must be a finite real >= 0, got {label_noise!r}")
    return float(label_noise)


def _normalising_statistics(source: torch.Tensor, center: str) -> tuple[torch.Tensor, torch.Tensor]:
    """(mu, sigma) of shape [n_batches, 1] of the normalising batches ``source`` [n_batches, M]."""
    batch_mean, batch_std = _mean_and_std(source)
    mu = batch_mean if center == "batch" else torch.zeros_like(batch_mean)
    return mu.unsqueeze(-1), batch_std.unsqueeze(-1)


def loss_gap(law: str, M: int, n_batches: int, generator: torch.Generator, device: torch.device | str, *,
             activation: str, gamma, beta, gamma_star, beta_star, include_self: bool = True,
             center: str = "batch", label_noise: float = 0.0, control_variate: bool = False,
             teacher_cubic: float = 0.0, quadrature_dtype: torch.dtype = _FLOAT64) -> torch.Tensor:
    """Batch means of D_i = l(h_hat_i) - l(h_bar_i), shape [P, n_batches] (see the module docstring).

    With ``control_variate`` the zero-mean term C_i of :func:`first_order_control` is
    subtracted from every D_i: the expectation is unchanged, the O(M^-1/2) fluctuation
    of the first-order Taylor term is removed.

    ``quadrature_dtype=torch.float32`` evaluates the 12 nodes of A(h_hat) - A(h_bar) in
    float32 (:func:`integral_of_activation`); everything else stays float64. Error bound
    for softplus, to first order in the float32 unit round-off u = 2^-24, with m and h the
    float64 midpoint and half-length: rounding m, h and x_k and forming m + x_k h move each
    argument by at most 4u (|m| + |h|), which moves g by no more (0 < g' < 1); g is
    evaluated to 3u (1 + g) (exp and log1p to an ulp each); the weighted sum of 12 terms
    (weights rounded, sum_k w_k = 2) adds at most 14u sum_k w_k g; and g <= 1 + |m| + |h|
    on the interval. So the sum is off by at most 42u (1 + |m| + |h|) and

        |D_i(float32) - D_i(float64)| <= B_i = 42 u |h_i| (1 + |m_i| + |h_i|),

    which bounds the bias of every batch mean, hence of the estimate, by E[B_i]. B_i is
    first order in h while the gap is second order: for the Theorem 1 checks E[B_i] is
    about 1e-4 of the gap at its smallest (M = 128, gamma = 0.8), two orders of magnitude
    below a 1% resolution, and the rounding errors, of both signs, average far below the
    bound (``tests/test_bench_batch_statistics.py`` checks B_i on every sample drawn and
    E[B_i] at every point of the real-BN check). On a CPU float32 evaluates the nodes about
    twice as fast.

    All draws are made first, in the documented order; the arithmetic then runs over
    blocks of whole batches (about ``BLOCK_ELEMENTS`` per-sample values each on a CPU, all
    batches at once on other devices). Each batch's value depends on its own draws only,
    so the blocks change the speed, not the result.
    """
    check_law_name(law)
    M = _check_count("M", M, 2)
    n_batches = _check_count("n_batches", n_batches, 1)
    label_noise = _check_loss_gap_options(activation, include_self, center, label_noise, quadrature_dtype)
    device = torch.device(device)
    points = _parameter_points(device, gamma=gamma, beta=beta, gamma_star=gamma_star, beta_star=beta_star)

    z = sample(law, (n_batches, M), generator, device)
    source = z if include_self else sample(law, (n_batches, M), generator, device)
    noise = label_noise * sample("gaussian", (n_batches, M), generator, device) if label_noise > 0 else None

    n_points = points["gamma"].shape[0]
    on_cpu = device.type == "cpu"
    rows = max(1, BLOCK_ELEMENTS // (n_points * M)) if on_cpu else n_batches
    gap = torch.empty((n_points, n_batches), dtype=_FLOAT64, device=device)
    def run_block(start: int) -> None:
        block = slice(start, start + rows)
        gap[:, block] = _block_gap(z[block], source[block], None if noise is None else noise[block], points,
                                   activation, include_self, center, control_variate, float(teacher_cubic),
                                   quadrature_dtype)

    starts = range(0, n_batches, rows)
    workers = min(len(starts), os.cpu_count() or 1) if on_cpu else 1
    with one_thread() if on_cpu else contextlib.nullcontext():
        if workers > 1:  # torch releases the GIL inside an operation: blocks run on the cores side by side
            with ThreadPoolExecutor(workers) as pool:
                list(pool.map(run_block, starts))
        else:
            for start in starts:
                run_block(start)
    return gap


def _block_gap(z: torch.Tensor, source: torch.Tensor, noise: torch.Tensor | None, points: dict[str, torch.Tensor],
               activation: str, include_self: bool, center: str, control_variate: bool,
               teacher_cubic: float, quadrature_dtype: torch.dtype) -> torch.Tensor:
    """Batch means of D_i (less C_i with ``control_variate``) for the batches z [rows, M], shape [P, rows]."""
    g = activation_function(activation)
    mu, sigma = _normalising_statistics(source, center)
    labels = g(torch.addcmul(points["beta_star"], points["gamma_star"], z))
    if teacher_cubic:
        labels = labels + teacher_cubic * (z**3 - 3 * z)
    if noise is not None:
        labels = labels + noise
    h_bar = torch.addcmul(points["beta"], points["gamma"], z)
    h_hat = torch.addcmul(points["beta"], points["gamma"], (z - mu) / sigma)
    integral = integral_of_activation(activation, h_bar, h_hat, quadrature_dtype)
    per_sample = torch.addcmul(integral, labels, h_hat - h_bar, value=-1)
    if control_variate:
        slope = g(h_bar) - labels  # l'(h_bar_i)
        per_sample = per_sample - first_order_control(z, mu, sigma, slope, points["gamma"], include_self, center)
    return per_sample.mean(dim=-1)


def first_order_control(z: torch.Tensor, mu: torch.Tensor, sigma: torch.Tensor, slope: torch.Tensor,
                        gamma: torch.Tensor, include_self: bool, center: str) -> torch.Tensor:
    """A control variate with mean exactly zero for the first-order term of D_i.

    To first order in m = mu and u = sigma^2 - 1 (standardized z), h_hat - h_bar is
    gamma (-z u / 2 - m) (no m when centring with the population mean). The control is

        C_i = l'(h_bar_i) gamma [ -z_i (u - E[u | z_i]) / 2 - (m - E[m | z_i]) ],

    whose conditional mean given z_i (and the label) is zero, so E[C_i] = 0 exactly. The
    conditional moments are sampling facts of a standardized law, not the formula under
    test: with an independent normalising batch E[u] = -1/M and E[m] = 0; with the
    sample in its own batch E[m | z_i] = z_i / M and
    E[sigma^2 | z_i] = (z_i^2 + M - 1)(M - 1)/M^2. They are anchored by simulation, not
    by the derivations: ``tests/test_sim.py`` checks that E[C_i] = 0 within its standard
    error for every law and both processes. (Fitting the conditional means inside the run
    instead would share the fitted coefficients across the units of a chunk and make the
    units dependent, which the standard error does not see.)
    """
    M = z.shape[-1]
    # The bracket is computed as z_i q - m, q = -(u - E[u | z_i]) / 2 (+ 1/M from E[m | z_i] = z_i / M),
    # with the per-batch parts of q formed first so that few operations touch every sample:
    # with the sample in its own batch u - E[u | z_i] = sigma^2 - (M - 1)^2/M^2 - z_i^2 (M - 1)/M^2,
    # with an independent batch u - E[u] = sigma^2 - 1 + 1/M.
    if include_self:
        per_batch = (((M - 1) / M) ** 2 - sigma.square()) / 2 + (1 / M if center == "batch" else 0.0)
        q = torch.add(per_batch, z.square(), alpha=(M - 1) / (2 * M**2))
    else:
        q = (1 - 1 / M - sigma.square()) / 2
    bracket = torch.addcmul(-mu, z, q) if center == "batch" else z * q
    return slope * gamma * bracket
