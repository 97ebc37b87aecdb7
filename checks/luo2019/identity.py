"""Monte Carlo checks of L3 (Luo et al., ICLR 2019, App. C.3): the exact BN - PN loss gap.

Each check runs ``bnsym.sim.batchnorm.loss_gap`` with the identity activation and a teacher
equal to the student (gamma* = gamma, beta* = beta, no label noise), on Gaussian batches of
size M, and compares the mean gap per batch with gamma^2 zeta:

* ``include_self=False``: (mu, sigma) from an independent batch -- the paper's model;
  ``center="population"`` drops the mu_B term;
* ``include_self=True``: real BN, the sample normalised with its own batch.

One unit is one batch (its mean gap over the M samples). Points sharing M are simulated in
one call (common random numbers across gamma). beta is a process setting: the gap does not
depend on it for the identity activation, and a beta != 0 would expose a simulator that
mishandles it.
"""

from __future__ import annotations

from typing import Any

import torch

from bnsym.mc.engine import MonteCarloCheck, Simulator
from bnsym.sim.batchnorm import loss_gap
from derivations.luo2019 import identity as L3

LAW = "gaussian"  # the closed forms use the chi-square law of the Gaussian batch variance
BATCH_SIZES = (8, 16, 64)
GAMMAS = (1.0, 1.7)
BETA = 0.5

POINTS = tuple({"M": M, "gamma": gamma, "beta": BETA, "law": LAW} for M in BATCH_SIZES for gamma in GAMMAS)


def identity_loss_gap(*, include_self: bool, center: str) -> Simulator:
    """The engine's simulator for the BN - PN loss gap of the identity model, shape [P, n, 1]."""

    def simulate(points: list[dict[str, Any]], n: int, generator: torch.Generator,
                 device: torch.device) -> torch.Tensor:
        M, law = points[0]["M"], points[0]["law"]  # equal within a call (batch_keys)
        gamma = torch.tensor([float(p["gamma"]) for p in points], dtype=torch.float64, device=device)
        beta = torch.tensor([float(p["beta"]) for p in points], dtype=torch.float64, device=device)
        gap = loss_gap(law, M, n, generator, device, activation="identity", gamma=gamma, beta=beta,
                       gamma_star=gamma, beta_star=beta, include_self=include_self, center=center)
        return gap.unsqueeze(-1)

    return simulate


_independent_batch = identity_loss_gap(include_self=False, center="batch")

gap_half_mu_check = MonteCarloCheck(
    claim=L3.gap_half_mu, simulate=_independent_batch, points=POINTS, batch_keys=("M", "law"),
    process="identity GLM, teacher = student; h_hat normalised by (mu_B, sigma_B) of an independent Gaussian"
            " batch of M; unit = one batch, its mean loss gap",
)
gap_half_printed_check = MonteCarloCheck(
    claim=L3.gap_half_printed, simulate=_independent_batch, points=POINTS, batch_keys=("M", "law"),
    process=gap_half_mu_check.process,
)
gap_half_no_mu_check = MonteCarloCheck(
    claim=L3.gap_half_no_mu, simulate=identity_loss_gap(include_self=False, center="population"), points=POINTS,
    batch_keys=("M", "law"),
    process="identity GLM, teacher = student; h_hat = gamma z/sigma_B + beta, sigma_B of an independent Gaussian"
            " batch of M; unit = one batch, its mean loss gap",
)
gap_real_bn_check = MonteCarloCheck(
    claim=L3.gap_real_bn, simulate=identity_loss_gap(include_self=True, center="batch"), points=POINTS,
    batch_keys=("M", "law"),
    process="identity GLM, teacher = student; real BN: each Gaussian batch of M normalised by its own"
            " (mu_B, sigma_B); unit = one batch, its mean loss gap",
)
