"""The batch-normalization processes themselves, run in torch at float64.

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
Gauss-Legendre quadrature (exact for the identity). ``loss_gap`` returns the batch mean
(1/M) sum_i D_i for every batch and every parameter point.

Order of draws from the generator (so that a computation can be reproduced draw by draw):
1. the batch z, shape [n_batches, M];
2. if ``include_self`` is False, the normalising batch, shape [n_batches, M];
3. if ``label_noise`` > 0, the label noise xi ~ N(0, 1), shape [n_batches, M].
All P parameter points share these draws (common random numbers).

Nothing here evaluates a theoretical formula; the functions only run the process.
"""

from __future__ import annotations

import math
import numbers
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import UsageError
from .laws import check_law_name, sample

ACTIVATIONS = ("identity", "softplus")
CENTERS = ("batch", "population")
QUADRATURE_NODES = 12

_FLOAT64 = torch.float64
_LEGENDRE_NODES, _LEGENDRE_WEIGHTS = np.polynomial.legendre.leggauss(QUADRATURE_NODES)

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


def integral_of_activation(activation: str, lo: torch.Tensor, hi: torch.Tensor) -> torch.Tensor:
    """A(hi) - A(lo) = integral of g from lo to hi, by 12-node Gauss-Legendre quadrature (broadcasting)."""
    g = activation_function(activation)
    lo, hi = torch.broadcast_tensors(torch.as_tensor(lo, dtype=_FLOAT64), torch.as_tensor(hi, dtype=_FLOAT64))
    nodes = torch.as_tensor(_LEGENDRE_NODES, dtype=_FLOAT64, device=lo.device)
    weights = torch.as_tensor(_LEGENDRE_WEIGHTS, dtype=_FLOAT64, device=lo.device)
    midpoint = (hi + lo) / 2
    half_length = (hi - lo) / 2
    weighted_sum = torch.zeros_like(midpoint)
    for node, weight in zip(nodes, weights, strict=True):  # a loop over 12 nodes keeps memory at one tensor
        weighted_sum += weight * g(midpoint + half_length * node)
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


def _check_loss_gap_options(activation: str, include_self: object, center: str, label_noise: object) -> float:
    _check_activation(activation)
    if center not in CENTERS:
        raise UsageError(f"center must be one of {', '.join(CENTERS)}, got {center!r}")
    if not isinstance(include_self, bool):
        raise UsageError(f"include_self must be True or False, got {include_self!r}")
    if isinstance(label_noise, bool) or not isinstance(label_noise, numbers.Real) or not math.isfinite(label_noise) \
            or label_noise < 0:
        raise UsageError(f"label_noise must be a finite real >= 0, got {label_noise!r}")
    return float(label_noise)


def _normalising_statistics(z: torch.Tensor, law: str, include_self: bool, center: str,
                            generator: torch.Generator, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """(mu, sigma) of shape [n_batches, 1] that normalise the batch z (draws a second batch if not include_self)."""
    source = z if include_self else sample(law, tuple(z.shape), generator, device)
    batch_mean, batch_std = _mean_and_std(source)
    mu = batch_mean if center == "batch" else torch.zeros_like(batch_mean)
    return mu.unsqueeze(-1), batch_std.unsqueeze(-1)


def loss_gap(law: str, M: int, n_batches: int, generator: torch.Generator, device: torch.device | str, *,
             activation: str, gamma, beta, gamma_star, beta_star, include_self: bool = True,
             center: str = "batch", label_noise: float = 0.0, control_variate: bool = False,
             teacher_cubic: float = 0.0) -> torch.Tensor:
    """Batch means of D_i = l(h_hat_i) - l(h_bar_i), shape [P, n_batches] (see the module docstring).

    With ``control_variate`` the zero-mean term C_i of :func:`first_order_control` is
    subtracted from every D_i: the expectation is unchanged, the O(M^-1/2) fluctuation
    of the first-order Taylor term is removed.
    """
    check_law_name(law)
    M = _check_count("M", M, 2)
    n_batches = _check_count("n_batches", n_batches, 1)
    label_noise = _check_loss_gap_options(activation, include_self, center, label_noise)
    device = torch.device(device)
    points = _parameter_points(device, gamma=gamma, beta=beta, gamma_star=gamma_star, beta_star=beta_star)
    g = activation_function(activation)

    z = sample(law, (n_batches, M), generator, device)
    mu, sigma = _normalising_statistics(z, law, include_self, center, generator, device)
    labels = g(points["gamma_star"] * z + points["beta_star"])
    if teacher_cubic:
        labels = labels + float(teacher_cubic) * (z**3 - 3 * z)
    if label_noise > 0:
        labels = labels + label_noise * sample("gaussian", (n_batches, M), generator, device)

    h_bar = points["gamma"] * z + points["beta"]
    h_hat = points["gamma"] * (z - mu) / sigma + points["beta"]
    per_sample = integral_of_activation(activation, h_bar, h_hat) - labels * (h_hat - h_bar)
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
    u = sigma.square() - 1
    if include_self:
        mean_u = (z.square() + M - 1) * (M - 1) / M**2 - 1
        mean_m = z / M
    else:
        mean_u = torch.full_like(z, -1.0 / M)
        mean_m = torch.zeros_like(z)
    bracket = -z * (u - mean_u) / 2
    if center == "batch":
        bracket = bracket - (mu - mean_m)
    return slope * gamma * bracket
