"""Mini-batch SGD of a batch-normalised linear neuron on a linear teacher (Luo et al., ICLR 2019, Sec. 4).

The problems (``sample_problems``). Each of B independent problems has dimension N,
P = round(alpha N) training inputs x_mu ~ N(0, I/N), a teacher w* = sqrt(N) g / ||g|| with g
standard Gaussian (so ||w*||^2 = N and its direction is uniform) and labels
y_mu = w*.x_mu + sigma xi_mu, xi_mu ~ N(0, 1). Order of draws from the generator, all
``torch.randn`` at float64 on ``device``: 1. g, shape [B, N]; 2. sqrt(N) x, shape [B, P, N];
3. xi, shape [B, P].

The network. A linear neuron h = w.x followed by a normalisation layer with a trainable scale
gamma and offset beta: for a mini-batch of M training pairs (x_i, y_i),

    o_i = gamma (h_i - mu) / s + beta,        s = sqrt(var + EPS),  EPS = 1e-12,

the per-batch loss is  (1/M) sum_i 1/2 (y_i - o_i)^2 + zeta gamma^2  (zeta >= 0, the decay of
gamma; note: zeta gamma^2, not zeta gamma^2 / 2), and (mu, var) are

* ``normalization="batch"`` (BN in training mode): the statistics of the batch itself,
  mu = (1/M) sum_i h_i, var = (1/M) sum_i (h_i - mu)^2, functions of w through the batch;
* ``normalization="population"`` (PN): the statistics of all P training inputs, recomputed
  from the current w at every step, mu = xbar.w and var = w' C w with xbar = (1/P) sum_mu x_mu
  and C = (1/P) sum_mu (x_mu - xbar)(x_mu - xbar)' (the same numbers as the mean and 1/P
  variance of w.x_mu over the training set), functions of w as well.

EPS only keeps s away from 0; it is 1e-12 against var ~ ||w||^2 / N (1 at the start).

Training (``train``, alias ``train_bn``). Trainable: w (N-vector), gamma, beta. Start: w =
sqrt(N) u / ||u||, u standard Gaussian, gamma = 1, beta = 0. Each epoch draws a fresh uniformly
random permutation of the P training pairs per problem (the ascending argsort of i.i.d.
``torch.rand`` keys, shape [B, P]) and cuts it into floor(P/M) consecutive batches of M,
dropping the remaining P mod M pairs. Each batch is one simultaneous gradient step

    w <- w - eta_t dL/dw,    gamma <- gamma - eta'_t dL/dgamma,    beta <- beta - eta'_t dL/dbeta,

with the exact gradients of the per-batch loss L above, written out by hand (backpropagation
through the normalisation; the tests check them against torch.autograd). Schedule: with
T = epochs floor(P/M) steps t = 0..T-1 and T0 = floor(epochs/2) floor(P/M), eta_t = eta for
t < T0 and eta_t = eta (T - t) / (T - T0) after (linear decay, reaching 0 one step past the
end); eta'_t = eta_t eta_affine / eta (``eta_affine`` defaults to eta). Since the loss does
not depend on the length of w, w's direction moves at the rate eta / ||w||^2 (about eta / N at
the start) while gamma and beta move at the rate eta_affine: ``eta_affine = eta / N`` makes
the two comparable.

Draws of ``train`` from its generator: 1. u, shape [B, N], ``torch.randn``; 2. per epoch the
keys, shape [B, P], ``torch.rand``; all float64 on ``device``. Every setting (every zeta, when
``zeta`` is a sequence) and both normalisations use the same draws for the same generator
state: with equal seeds BN and PN start from the same w and see the same batches in the same
order (common random numbers); so do problems with equal seeds in ``sample_problems``.

The test predictor (what BN's running averages converge to): after training, the population
statistics mu_P, sigma_P = sqrt(var_P + EPS) of h_mu = w.x_mu over the P training inputs (1/P
variance) give f(x) = gamma (w.x - mu_P) / sigma_P + beta = v.x + b, v = gamma w / sigma_P,
b = beta - gamma mu_P / sigma_P. For a fresh x ~ N(0, I/N) and label w*.x + sigma xi its
expected squared error exceeds the noise sigma^2 by exactly

    eps_gen = ||v - w*||^2 / N + b^2       (``excess_error``; no test sampling).

Comparisons on the same problems: ``least_squares_weights`` (minimum-norm least squares, with
or without an intercept, by batched pseudo-inverse) and ``ridge_weights`` ((X'X + lam I)^-1 X'y).

Batching. All B problems (and all zetas) run as one tensor; the only Python loops are over
epochs and the batches of an epoch. Nothing is clamped: a diverging run gives inf/nan without
an exception. Nothing here evaluates a formula of the theory: the functions only run the
process and the estimators it is compared with.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Sequence

import torch

from ..errors import UsageError
from .arguments import check_count as _check_count
from .arguments import check_device as _check_device
from .arguments import check_real as _check_real

EPS = 1e-12
NORMALIZATIONS = ("batch", "population")
_FLOAT64 = torch.float64


# --- argument checks --------------------------------------------------------------------------------------------


def _zetas(zeta: object) -> tuple[list[float], bool]:
    """The decay values as a list, and whether ``zeta`` was a sequence (results get a leading axis)."""
    if isinstance(zeta, numbers.Real) and not isinstance(zeta, bool):
        return [_check_real("zeta", zeta, minimum=0.0)], False
    try:
        tensor = torch.as_tensor(zeta, dtype=_FLOAT64).cpu()
    except (TypeError, ValueError, RuntimeError) as error:
        raise UsageError(f"zeta must be a real number or a sequence of them, got {zeta!r}") from error
    if tensor.dim() != 1 or tensor.numel() == 0:
        raise UsageError(f"zeta must be a number or a non-empty 1-D sequence, got shape {tuple(tensor.shape)}")
    values = tensor.tolist()
    for value in values:
        _check_real("zeta", value, minimum=0.0)
    return values, True


# --- the problems -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Problems:
    """B sampled regression problems: inputs X [B, P, N], labels y [B, P], teachers w_star [B, N] (float64)."""

    X: torch.Tensor
    y: torch.Tensor
    w_star: torch.Tensor

    def __post_init__(self) -> None:
        for name in ("X", "y", "w_star"):
            value = getattr(self, name)
            if not isinstance(value, torch.Tensor) or value.dtype != _FLOAT64:
                raise UsageError(f"Problems.{name} must be a float64 tensor, got {value!r}")
        if self.X.dim() != 3 or self.y.shape != self.X.shape[:2] or self.w_star.shape != (self.X.shape[0],
                                                                                             self.X.shape[2]):
            raise UsageError(f"Problems need X [B, P, N], y [B, P] and w_star [B, N], got {tuple(self.X.shape)}, "
                             f"{tuple(self.y.shape)} and {tuple(self.w_star.shape)}")
        if self.X.shape[1] < 2:
            raise UsageError(f"Problems need P >= 2 training inputs, got {self.X.shape[1]}")
        if not (self.X.device == self.y.device == self.w_star.device):
            raise UsageError("Problems.X, y and w_star must be on one device")

    @property
    def B(self) -> int:
        return self.X.shape[0]

    @property
    def P(self) -> int:
        return self.X.shape[1]

    @property
    def N(self) -> int:
        return self.X.shape[2]


def sample_problems(B: int, N: int, alpha: float, sigma: float, generator: torch.Generator,
                    device: torch.device | str) -> Problems:
    """B problems of dimension N with P = round(alpha N) >= 2 samples and label noise sigma (module docstring)."""
    B = _check_count("B", B, 1)
    N = _check_count("N", N, 1)
    alpha = _check_real("alpha", alpha, minimum=0.0, strict=True)
    sigma = _check_real("sigma", sigma, minimum=0.0)
    device = _check_device(generator, device)
    P = round(alpha * N)
    if P < 2:
        raise UsageError(f"P = round(alpha N) must be >= 2, got {P} (alpha={alpha!r}, N={N})")
    g = torch.randn((B, N), generator=generator, device=device, dtype=_FLOAT64)
    w_star = g * (math.sqrt(N) / torch.linalg.vector_norm(g, dim=-1, keepdim=True))
    X = torch.randn((B, P, N), generator=generator, device=device, dtype=_FLOAT64).mul_(1.0 / math.sqrt(N))
    xi = torch.randn((B, P), generator=generator, device=device, dtype=_FLOAT64)
    y = (X @ w_star.unsqueeze(-1)).squeeze(-1) + sigma * xi
    return Problems(X=X, y=y, w_star=w_star)


# --- the network ------------------------------------------------------------------------------------------------


def _population_stats(inputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(xbar [..., N], C [..., N, N]): the mean and the 1/P covariance of the rows of ``inputs`` [..., P, N]."""
    xbar = inputs.mean(dim=-2)
    centred = inputs - xbar.unsqueeze(-2)
    return xbar, centred.transpose(-1, -2) @ centred / inputs.shape[-2]


def _matvec(matrix: torch.Tensor, vector: torch.Tensor) -> torch.Tensor:
    """matrix [..., K, N] times vector [..., N], leading axes broadcast (einsum: far faster than broadcast @)."""
    return torch.einsum("...kn,...n->...k", matrix, vector)


def _vecmat(vector: torch.Tensor, matrix: torch.Tensor) -> torch.Tensor:
    """vector [..., K] times matrix [..., K, N], leading axes broadcast."""
    return torch.einsum("...k,...kn->...n", vector, matrix)


def _forward(w: torch.Tensor, gamma: torch.Tensor, beta: torch.Tensor, x: torch.Tensor,
             stats: tuple[torch.Tensor, torch.Tensor] | None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor,
                                                                      torch.Tensor | None]:
    """(o [..., M], z [..., M], s [...], C w or None) for the batch x [..., M, N] (stats=None: batch statistics)."""
    h = _matvec(x, w)
    if stats is None:
        mu = h.mean(dim=-1, keepdim=True)
        var = (h - mu).square().mean(dim=-1)
        cw = None
    else:
        xbar, cov = stats
        mu = torch.linalg.vecdot(xbar, w).unsqueeze(-1)
        cw = _matvec(cov, w)
        var = torch.linalg.vecdot(w, cw)
    s = torch.sqrt(var + EPS)
    z = (h - mu) / s.unsqueeze(-1)
    return gamma.unsqueeze(-1) * z + beta.unsqueeze(-1), z, s, cw


def _gradients(w: torch.Tensor, gamma: torch.Tensor, beta: torch.Tensor, x: torch.Tensor, y: torch.Tensor,
               zeta: torch.Tensor | float, stats: tuple[torch.Tensor, torch.Tensor] | None
               ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """(L, dL/dw, dL/dgamma, dL/dbeta) of the per-batch loss, by hand (see ``minibatch_gradients``)."""
    M = x.shape[-2]
    o, z, s, cw = _forward(w, gamma, beta, x, stats)
    r = o - y
    loss = 0.5 * r.square().mean(dim=-1) + zeta * gamma.square()
    d_beta = r.mean(dim=-1)
    rz = (r * z).mean(dim=-1)
    d_gamma = rz + 2.0 * zeta * gamma
    if stats is None:
        # dL/dh_k = (1/s) (g_k - mean(g) - z_k mean(g z)), g_k = dL/dz_k = gamma r_k / M
        g = r * (gamma / M).unsqueeze(-1)
        d_h = (g - g.mean(dim=-1, keepdim=True) - z * (g * z).mean(dim=-1, keepdim=True)) / s.unsqueeze(-1)
        d_w = _vecmat(d_h, x)
    else:
        # do_i/dw = (gamma / s) ((x_i - xbar) - z_i C w / s)
        assert cw is not None
        xbar = stats[0]
        sum_rx = _vecmat(r, x)
        inner = sum_rx - r.sum(dim=-1, keepdim=True) * xbar - (M * rz / s).unsqueeze(-1) * cw
        d_w = inner * (gamma / (M * s)).unsqueeze(-1)
    return loss, d_w, d_gamma, d_beta


def _check_network(w: torch.Tensor, gamma: torch.Tensor, beta: torch.Tensor, x: torch.Tensor,
                   population_inputs: torch.Tensor | None) -> None:
    tensors = {"w": w, "gamma": gamma, "beta": beta, "x": x}
    if population_inputs is not None:
        tensors["population_inputs"] = population_inputs
    for name, value in tensors.items():
        if not isinstance(value, torch.Tensor):
            raise UsageError(f"{name} must be a tensor, got {value!r}")
    if w.dim() < 1 or x.dim() < 2 or x.shape[-1] != w.shape[-1] or x.shape[-2] < 2:
        raise UsageError(f"w must have shape [..., N] and x [..., M, N] with M >= 2, got {tuple(w.shape)} "
                         f"and {tuple(x.shape)}")
    if population_inputs is not None and (population_inputs.dim() < 2 or population_inputs.shape[-1] != w.shape[-1]):
        raise UsageError(f"population_inputs must have shape [..., P, N], got {tuple(population_inputs.shape)}")


def normalized_output(w: torch.Tensor, gamma: torch.Tensor, beta: torch.Tensor, x: torch.Tensor,
                      population_inputs: torch.Tensor | None = None) -> torch.Tensor:
    """The outputs o [..., M] of the network on the batch x [..., M, N] (module docstring).

    ``w`` [..., N], ``gamma`` and ``beta`` [...]; all broadcast. With ``population_inputs``
    [..., P, N] the statistics are those of w.x over them (PN), else those of the batch (BN).
    Differentiable by torch.autograd.
    """
    _check_network(w, gamma, beta, x, population_inputs)
    stats = None if population_inputs is None else _population_stats(population_inputs)
    return _forward(w, gamma, beta, x, stats)[0]


def minibatch_loss(w: torch.Tensor, gamma: torch.Tensor, beta: torch.Tensor, x: torch.Tensor, y: torch.Tensor,
                   zeta: torch.Tensor | float = 0.0, population_inputs: torch.Tensor | None = None) -> torch.Tensor:
    """The per-batch loss (1/M) sum_i 1/2 (y_i - o_i)^2 + zeta gamma^2, shape [...], from ``normalized_output``.

    PN statistics are computed here as the mean and 1/P variance of h = w.x over the population,
    directly from their definition (not through xbar and C), so that autograd of this function is
    an independent check of ``minibatch_gradients``.
    """
    _check_network(w, gamma, beta, x, population_inputs)
    h = _matvec(x, w)
    if population_inputs is None:
        mu = h.mean(dim=-1, keepdim=True)
        var = (h - mu).square().mean(dim=-1)
    else:
        h_all = _matvec(population_inputs, w)
        mu = h_all.mean(dim=-1, keepdim=True)
        var = (h_all - mu).square().mean(dim=-1)
    o = gamma.unsqueeze(-1) * (h - mu) / torch.sqrt(var + EPS).unsqueeze(-1) + beta.unsqueeze(-1)
    return 0.5 * (y - o).square().mean(dim=-1) + zeta * gamma.square()


def minibatch_gradients(w: torch.Tensor, gamma: torch.Tensor, beta: torch.Tensor, x: torch.Tensor, y: torch.Tensor,
                        zeta: torch.Tensor | float = 0.0, population_inputs: torch.Tensor | None = None
                        ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """(L, dL/dw, dL/dgamma, dL/dbeta) of ``minibatch_loss``, written out by hand: the step ``train`` takes."""
    _check_network(w, gamma, beta, x, population_inputs)
    stats = None if population_inputs is None else _population_stats(population_inputs)
    return _gradients(w, gamma, beta, x, y, zeta, stats)


# --- the predictor and its error --------------------------------------------------------------------------------


def excess_error(problems: Problems, v: torch.Tensor, b: torch.Tensor | float = 0.0) -> torch.Tensor:
    """eps_gen = ||v - w*||^2 / N + b^2 of the predictor f(x) = v.x + b, shape [...] for v [..., B, N]."""
    _check_problems(problems)
    N = problems.N
    return (v - problems.w_star).square().sum(dim=-1) / N + torch.as_tensor(b, dtype=_FLOAT64).square()


def _predictor(problems: Problems, w: torch.Tensor, gamma: torch.Tensor,
               beta: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(v, b, training loss): the test predictor from the training set's statistics of w.x (module docstring)."""
    h = _matvec(problems.X, w)  # [..., B, P]
    mu = h.mean(dim=-1)
    sigma = torch.sqrt((h - mu.unsqueeze(-1)).square().mean(dim=-1) + EPS)
    scale = gamma / sigma
    v = w * scale.unsqueeze(-1)
    b = beta - scale * mu
    prediction = scale.unsqueeze(-1) * (h - mu.unsqueeze(-1)) + beta.unsqueeze(-1)
    train_loss = 0.5 * (problems.y - prediction).square().mean(dim=-1)
    return v, b, train_loss


# --- training ---------------------------------------------------------------------------------------------------


def _check_problems(problems: object) -> None:
    if not isinstance(problems, Problems):
        raise UsageError(f"problems must be Problems (from sample_problems), got {problems!r}")


def learning_rate_schedule(eta: float, epochs: int, batches_per_epoch: int) -> torch.Tensor:
    """eta_t for t = 0..T-1 (T = epochs batches_per_epoch): constant, then linear decay (module docstring)."""
    total = epochs * batches_per_epoch
    constant = (epochs // 2) * batches_per_epoch
    t = torch.arange(total, dtype=_FLOAT64)
    decay = (total - t) / (total - constant)
    return eta * torch.where(t < constant, torch.ones_like(t), decay)


def train(problems: Problems, M: int, epochs: int, eta: float, generator: torch.Generator,
          device: torch.device | str, normalization: str = "batch", zeta: float | Sequence[float] = 0.0,
          eta_affine: float | None = None) -> dict[str, torch.Tensor]:
    """Train the network on every problem by mini-batch SGD (module docstring); return the final state.

    ``normalization`` is ``"batch"`` (BN) or ``"population"`` (PN). ``zeta`` is one decay or a
    sequence of Z of them, run together on the same draws. Returns float64 tensors of shape [B]
    (or [Z, B] when ``zeta`` is a sequence): ``eps_gen`` = ``weight_error`` + ``offset_sq``,
    ``weight_error`` = ||v - w*||^2 / N, ``offset_sq`` = b^2, ``gamma``, ``beta``, ``train_loss``
    (mean over the P training pairs of 1/2 (y - f(x))^2 with the test predictor f, no decay
    term), ``offset`` = b, ``w_norm`` = ||w||, and ``v`` of shape [B, N] (or [Z, B, N]).
    """
    _check_problems(problems)
    M = _check_count("M", M, 2)
    if M > problems.P:
        raise UsageError(f"M must be <= P = {problems.P} (the number of training pairs), got {M}")
    epochs = _check_count("epochs", epochs, 1)
    eta = _check_real("eta", eta, minimum=0.0, strict=True)
    eta_affine = eta if eta_affine is None else _check_real("eta_affine", eta_affine, minimum=0.0, strict=True)
    if normalization not in NORMALIZATIONS:
        raise UsageError(f"normalization must be one of {', '.join(NORMALIZATIONS)}, got {normalization!r}")
    zeta_values, several = _zetas(zeta)
    device = _check_device(generator, device)
    if problems.X.device.type != device.type:
        raise UsageError(f"problems are on {problems.X.device}, the run on {device}")

    B, P, N = problems.B, problems.P, problems.N
    Z = len(zeta_values)
    n_batches = P // M
    zetas = torch.tensor(zeta_values, dtype=_FLOAT64, device=device).unsqueeze(-1)  # [Z, 1]
    u = torch.randn((B, N), generator=generator, device=device, dtype=_FLOAT64)
    w = (u * (math.sqrt(N) / torch.linalg.vector_norm(u, dim=-1, keepdim=True))).expand(Z, B, N).clone()
    gamma = torch.ones((Z, B), dtype=_FLOAT64, device=device)
    beta = torch.zeros((Z, B), dtype=_FLOAT64, device=device)
    stats = _population_stats(problems.X) if normalization == "population" else None
    rates = learning_rate_schedule(eta, epochs, n_batches).tolist()
    affine_ratio = eta_affine / eta
    rows = torch.arange(B, device=device).unsqueeze(-1)

    step = 0
    for _ in range(epochs):
        keys = torch.rand((B, P), generator=generator, device=device, dtype=_FLOAT64)
        order = torch.argsort(keys, dim=-1, stable=True)[:, : n_batches * M]
        x_epoch = problems.X[rows, order].view(B, n_batches, M, N)
        y_epoch = problems.y[rows, order].view(B, n_batches, M)
        for k in range(n_batches):
            _, d_w, d_gamma, d_beta = _gradients(w, gamma, beta, x_epoch[:, k], y_epoch[:, k], zetas, stats)
            rate = rates[step]
            w.add_(d_w, alpha=-rate)
            gamma.add_(d_gamma, alpha=-rate * affine_ratio)
            beta.add_(d_beta, alpha=-rate * affine_ratio)
            step += 1

    v, b, train_loss = _predictor(problems, w, gamma, beta)
    weight_error = (v - problems.w_star).square().sum(dim=-1) / N
    offset_sq = b.square()
    result = {"eps_gen": weight_error + offset_sq, "weight_error": weight_error, "offset_sq": offset_sq,
              "gamma": gamma, "beta": beta, "train_loss": train_loss, "offset": b,
              "w_norm": torch.linalg.vector_norm(w, dim=-1), "v": v}
    if not several:
        result = {name: value[0] for name, value in result.items()}
    return result


def train_bn(problems: Problems, M: int, epochs: int, eta: float, generator: torch.Generator,
             device: torch.device | str, normalization: str = "batch", zeta: float | Sequence[float] = 0.0,
             eta_affine: float | None = None) -> dict[str, torch.Tensor]:
    """Alias of :func:`train` (BN by default; ``normalization="population"`` for PN)."""
    return train(problems, M, epochs, eta, generator, device, normalization=normalization, zeta=zeta,
                 eta_affine=eta_affine)


# --- estimators on the same problems ----------------------------------------------------------------------------


def least_squares_weights(problems: Problems, intercept: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """(v [B, N], b [B]): the minimum-norm least-squares fit of y by v.x (+ b with ``intercept``).

    v = pinv(X) y, by batched SVD (minimum norm when P < N). With ``intercept`` X and y are
    centred on their training means first and b = ybar - xbar.v (b is not penalised); else b = 0.
    """
    _check_problems(problems)
    if not isinstance(intercept, bool):
        raise UsageError(f"intercept must be True or False, got {intercept!r}")
    X, y = problems.X, problems.y
    if intercept:
        xbar, ybar = X.mean(dim=-2), y.mean(dim=-1)
        v = _matvec(torch.linalg.pinv(X - xbar.unsqueeze(-2)), y - ybar.unsqueeze(-1))
        return v, ybar - torch.linalg.vecdot(xbar, v)
    return _matvec(torch.linalg.pinv(X), y), torch.zeros_like(y[:, 0])


def least_squares_error(problems: Problems, intercept: bool = False) -> torch.Tensor:
    """eps_gen [B] of the least-squares predictor of ``least_squares_weights``."""
    v, b = least_squares_weights(problems, intercept=intercept)
    return excess_error(problems, v, b)


def ridge_weights(problems: Problems, lam: float, intercept: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """(v [B, N], b [B]): ridge regression v = (X'X + lam I)^-1 X'y, decay lam on the summed loss.

    With ``intercept`` X and y are centred on their training means first and b = ybar - xbar.v
    (b is not penalised); else b = 0.
    """
    _check_problems(problems)
    lam = _check_real("lam", lam, minimum=0.0, strict=True)
    if not isinstance(intercept, bool):
        raise UsageError(f"intercept must be True or False, got {intercept!r}")
    X, y = problems.X, problems.y
    if intercept:
        xbar, ybar = X.mean(dim=-2), y.mean(dim=-1)
        X, y = X - xbar.unsqueeze(-2), y - ybar.unsqueeze(-1)
    gram = X.transpose(-1, -2) @ X + lam * torch.eye(problems.N, dtype=_FLOAT64, device=X.device)
    v = torch.linalg.solve(gram, _vecmat(y, X))
    if intercept:
        return v, ybar - torch.linalg.vecdot(xbar, v)
    return v, torch.zeros_like(y[:, 0])
