"""Monte Carlo checks of L9: ridge regression and the pseudo-inverse on random problems.

Each unit is one random problem: a teacher w* (uniform direction, ||w*||^2 = N), P = alpha N
inputs x ~ N(0, I/N) (the rows of the design X), labels y = w*.x + sigma xi; the student is the
ridge solution w = (X'X + lambda I)^-1 X'y, or the minimum-norm least-squares solution when the
point has no lambda (the pseudo-inverse; X has full rank with probability 1), scaled by 1/(1 + c)
when the point gives a shrinkage c (the minimiser of PN + gamma decay).

The observation of a unit is E[||w - w*||^2/N | X]: the error averaged exactly over the teacher
and the label noise of the problem, for its sampled design. Only X is drawn (``torch.randn``,
float64, one [n, P, N] block per batched call). With s_i the eigenvalues of X'X (those of the
smaller Gram matrix X'X or X X', m = min(P, N) of them; the other N - m eigenvalues of X'X are 0)
the solution in the eigenbasis is w_i = r_i a_i + sigma r_i e_i / sqrt(s_i), a = the teacher's
coordinates, e ~ N(0, I) the noise's, r_i = s_i / ((s_i + lambda)(1 + c)) (1/(1 + c) for the
pseudo-inverse, 0 on the null space of X). Since E[w* w*'] = I (uniform direction, squared norm
N) and E[xi xi'] = I, independent of X and of each other,

    E[||w - w*||^2/N | X] = ((N - m) + sum_i ((r_i - 1)^2 + sigma^2 r_i^2 / s_i)) / N.

By the tower rule its mean over designs is the mean error of random problems: the estimator is
unbiased for the same quantity as the plain error ||w - w*||^2/N of one sampled (w*, X, xi), and
its variance is smaller by the whole share of the teacher and the noise (by far the larger one).
It uses only the definition of the fit and the law of the teacher and the noise: the spectrum is
that of the sampled X itself, never the Marchenko-Pastur law (or any expected inverse) on which
the closed forms rest. The bench's numpy baselines (``bnsym.bench.least_squares``) sample the
teacher and the noise and fit each problem, and agree with it.

The closed forms are the N -> oo limits, so the mean error at finite N differs from them by
O(1/N) (the spectrum of X'X/N converges to the Marchenko-Pastur law with 1/N corrections to
its moments); each check runs a ladder N = 32, 64, 128, 256 and order-fits the remainder
by c1/N + c2/N^2. Near alpha = 1 the pseudo-inverse error diverges and the corrections grow,
so its points stay at alpha = 0.5 and 2.
"""

from __future__ import annotations

from typing import Any

import torch

from bnsym.mc.engine import MonteCarloCheck
from bnsym.mc.threads import one_thread
from derivations.luo2019 import generalization as G

LADDER = (32, 64, 128, 256)
SIGMA = 0.5
MAX_ELEMENTS = 1 << 21  # draws of X per batched call (16 MB)
PROCESS = ("random least-squares problems: x ~ N(0, I/N), P = alpha N, y = w*.x + sigma xi, ||w*||^2 = N;"
           " ridge or minimum-norm solution; ||w - w*||^2/N averaged exactly over w* and xi given the sampled X")


def simulate_regression(points: list[dict[str, Any]], n: int, gen: torch.Generator,
                        device: torch.device) -> torch.Tensor:
    """Observations ``[P, n, 1]``: the generalization error of each of ``n`` random designs per point, averaged
    exactly over the teacher and the label noise (module docstring)."""
    out = []
    for p in points:
        N = int(p["N"])
        P = max(1, round(float(p["alpha"]) * N))
        batch = max(1, MAX_ELEMENTS // (P * N))  # problems per call: bounds the memory of X
        with one_thread():  # batched eigenvalues of matrices up to 256 x 256: a second thread only spins
            errors = [_errors(min(batch, n - done), N, P, float(p["sigma"]), float(p.get("lambda", 0.0)),
                              float(p.get("c", 0.0)), gen, device)
                      for done in range(0, n, batch)]
        out.append(torch.cat(errors).unsqueeze(-1))
    return torch.stack(out)


def _errors(n: int, N: int, P: int, sigma: float, lam: float, shrink: float, gen: torch.Generator,
            device: torch.device) -> torch.Tensor:
    """E[||w - w*||^2/N | X] of ``n`` sampled designs X [n, P, N], from the eigenvalues of their Gram matrices."""
    Z = torch.randn(n, P, N, generator=gen, device=device, dtype=torch.float64)  # X = Z / sqrt(N)
    gram = Z.transpose(1, 2) @ Z if P >= N else Z @ Z.transpose(1, 2)  # the m = min(P, N) nonzero eigenvalues
    s = torch.linalg.eigvalsh(gram) / N  # those of X'X: the scale is applied to m numbers, not to P N draws
    r = s / ((s + lam) * (1 + shrink))  # w_i / a_i on eigendirection i, the pseudo-inverse when lam = 0
    return ((N - s.shape[-1]) + ((r - 1) ** 2 + sigma**2 * r**2 / s).sum(dim=-1)) / N


def _ladder(**settings: float) -> list[dict[str, Any]]:
    return [{**settings, "N": n} for n in LADDER]


def _check(claim: Any, points: list[dict[str, Any]]) -> MonteCarloCheck:
    return MonteCarloCheck(claim=claim, simulate=simulate_regression, points=points, process=PROCESS,
                           unit_size="N", min_chunk=16, pilot_units=400, max_units=40_000)


RIDGE_POINTS = [pt for a in (0.5, 2.0) for lam in (0.05, SIGMA**2, 1.0)
                for pt in _ladder(alpha=a, **{"lambda": lam}, sigma=SIGMA)]

CHECKS = [
    _check(G.ridge_process, RIDGE_POINTS),
    _check(G.pinv_below_process_printed, _ladder(alpha=0.5, sigma=SIGMA)),
    _check(G.pinv_below_process, _ladder(alpha=0.5, sigma=SIGMA)),
    _check(G.pinv_above_process_printed, _ladder(alpha=2.0, sigma=SIGMA)),
    _check(G.pinv_above_process, _ladder(alpha=2.0, sigma=SIGMA)),
    _check(G.shrunk_process_above, _ladder(alpha=2.0, sigma=SIGMA, c=0.3)),
    _check(G.shrunk_process_below, _ladder(alpha=0.5, sigma=SIGMA, c=0.3)),
]


# -- what trained BN does: the shrinkage profile of its solution ---------------------------------------------
BN_M, BN_N, BN_EPOCHS = 32, 64, 800
BN_ZETA_PN = 1 / (4 * BN_M)  # any decay gives the same (flat) profile
BN_PROCESS = (f"BN training: a linear neuron with a real BN layer (batch statistics, M = 16 and {BN_M}) trained by"
              f" mini-batch SGD for {BN_EPOCHS} epochs on each random problem (N = {BN_N}, sigma = {SIGMA});"
              f" beside it, on the same problems, initial weights and batches, PN + gamma decay (zeta = 1/(4M))"
              f" and the ridge fit with lambda = 1/(2M); profiles against the least-squares fit with intercept")
Q_BN, Q_PN, Q_RIDGE, GAMMA_RATIO = range(4)


def shrinkage_profile(X: torch.Tensor, v: torch.Tensor, v_ls: torch.Tensor) -> torch.Tensor:
    """r_low - r_high per problem: the slope of v on v_ls within the lowest and the highest quarter of the
    eigendirections of the centred X'X. A uniform shrinkage of least squares gives 0; ridge shrinks the
    low-eigenvalue directions more and gives a negative value."""
    Xc = X - X.mean(dim=-2, keepdim=True)
    _, U = torch.linalg.eigh(Xc.transpose(-1, -2) @ Xc)  # ascending eigenvalues
    a = torch.einsum("bnk,bn->bk", U, v)
    c = torch.einsum("bnk,bn->bk", U, v_ls)
    q = X.shape[-1] // 4
    low = (a[:, :q] * c[:, :q]).sum(-1) / (c[:, :q] ** 2).sum(-1)
    high = (a[:, -q:] * c[:, -q:]).sum(-1) / (c[:, -q:] ** 2).sum(-1)
    return low - high


def simulate_bn_training(points: list[dict[str, Any]], n: int, gen: torch.Generator,
                         device: torch.device) -> torch.Tensor:
    """Observations ``[P, n, 4]``: profiles of BN, PN + decay and ridge, and gamma_BN / gamma_PN(zeta = 0)."""
    from bnsym.sim.regression import least_squares_weights, ridge_weights, sample_problems, train

    out = []
    for p in points:
        M, N = int(p["M"]), int(p["N"])
        problems = sample_problems(n, N, float(p["alpha"]), float(p["sigma"]), gen, device)
        seed = int(torch.randint(0, 2**62, (1,), generator=gen, device=device).item())
        runs = {}
        for norm, zetas in (("batch", [0.0]), ("population", [0.0, BN_ZETA_PN])):
            sub = torch.Generator(device=device)
            sub.manual_seed(seed)  # the same initial w and the same batches for BN and PN
            with one_thread():  # thousands of SGD steps on [B, M, N] tensors: a second thread only spins
                runs[norm] = train(problems, M, int(p["epochs"]), 0.1 * N, sub, device, normalization=norm,
                                   zeta=zetas, eta_affine=0.1)
        v_ls, _ = least_squares_weights(problems, intercept=True)
        v_ridge, _ = ridge_weights(problems, 1 / (2 * M), intercept=True)
        bn_v, pn_v = runs["batch"]["v"][0], runs["population"]["v"][1]
        ratio = runs["batch"]["gamma"][0] / runs["population"]["gamma"][0]
        out.append(torch.stack([shrinkage_profile(problems.X, bn_v, v_ls), shrinkage_profile(problems.X, pn_v, v_ls),
                                shrinkage_profile(problems.X, v_ridge, v_ls), ratio], dim=-1))
    return torch.stack(out)


BN_POINTS = [{"alpha": a, "sigma": SIGMA, "M": m, "N": BN_N, "epochs": BN_EPOCHS}
             for m in (16, BN_M) for a in (2.0, 4.0)]


def _bn_check(claim: Any, other: int) -> MonteCarloCheck:
    return MonteCarloCheck(claim=claim, simulate=simulate_bn_training, points=BN_POINTS,
                           estimand=lambda m, p: m[Q_BN] - m[other], process=BN_PROCESS, unit_size="N",
                           min_chunk=32, pilot_units=64, max_units=256)


CHECKS += [_bn_check(G.bn_profile_printed, Q_RIDGE), _bn_check(G.bn_profile, Q_PN)]


# -- L10: the strength of BN's regularization against the batch size -------------------------------------------
M_LADDER = (8, 16, 32, 64)
L10_POINTS = [{"alpha": 4.0, "sigma": SIGMA, "M": m, "N": BN_N, "epochs": BN_EPOCHS} for m in M_LADDER]


def _shrinkage(mean: torch.Tensor, p: dict[str, Any]) -> torch.Tensor:
    return 1 - mean[GAMMA_RATIO]


def _shrinkage_per_fpc(mean: torch.Tensor, p: dict[str, Any]) -> torch.Tensor:
    """The shrinkage divided by the finite-population factor 1 - M/P of batches drawn from P pairs."""
    P = round(float(p["alpha"]) * int(p["N"]))
    return (1 - mean[GAMMA_RATIO]) / (1 - int(p["M"]) / P)


def _l10_check(claim: Any, estimand: Any = _shrinkage) -> MonteCarloCheck:
    return MonteCarloCheck(claim=claim, simulate=simulate_bn_training, points=L10_POINTS, estimand=estimand,
                           process=BN_PROCESS.replace("M = 16 and 32", "M = 8, 16, 32, 64"), unit_size="N",
                           min_chunk=32, pilot_units=64, max_units=512)


CHECKS += [_l10_check(G.bn_strength_printed), _l10_check(G.bn_strength, _shrinkage_per_fpc),
           _l10_check(G.bn_strength_positive)]


def simulate_bn_batch_sizes(points: list[dict[str, Any]], n: int, gen: torch.Generator,
                            device: torch.device) -> torch.Tensor:
    """Observations ``[P, n, 1]``: eps_gen of BN trained with batches of M_small minus that with M_large,
    on the same problems and from the same initial weights."""
    from bnsym.sim.regression import sample_problems, train

    out = []
    for p in points:
        N = int(p["N"])
        problems = sample_problems(n, N, float(p["alpha"]), float(p["sigma"]), gen, device)
        seed = int(torch.randint(0, 2**62, (1,), generator=gen, device=device).item())
        eps = []
        for m in (int(p["M_small"]), int(p["M_large"])):
            sub = torch.Generator(device=device)
            sub.manual_seed(seed)
            with one_thread():
                eps.append(train(problems, m, int(p["epochs"]), 0.1 * N, sub, device, normalization="batch",
                                 eta_affine=0.1)["eps_gen"])
        out.append((eps[0] - eps[1]).unsqueeze(-1))
    return torch.stack(out)


CHECKS += [MonteCarloCheck(
    claim=G.bn_small_batch_generalizes, simulate=simulate_bn_batch_sizes,
    points=[{"alpha": 2.0, "sigma": SIGMA, "M_small": 8, "M_large": 64, "N": BN_N, "epochs": BN_EPOCHS}],
    process=f"BN trained by mini-batch SGD with M = 8 and with M = 64 on the same random problems (N = {BN_N},"
            f" alpha = 2, sigma = {SIGMA}); eps_gen with population statistics of the training set",
    unit_size="N", min_chunk=32, pilot_units=64, max_units=256)]
