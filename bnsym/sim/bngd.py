"""Gradient descent with and without batch normalization on population least squares (Cai, Li, Shen 2019).

The process is run on batched :class:`~bnsym.sim.quadratic.QuadraticProblems` (B problems with
moments H, g = H w*, c), over a grid of L learning rates at once: every state is one float64
tensor of shape [L, B, d] (or [L, B]) on the problems' device, and nothing leaves the device
inside the iteration loop. Both methods are the paper's Sec. 2 updates on the population loss:

* GD on J0(w) = E[1/2 (y - x.w)^2] = 1/2 (c - 2 w.g + w'Hw):   w+ = w + eps (g - H w);
* BNGD on J(a, w) = E[1/2 (y - a x.w/||w||_H)^2] = 1/2 (c - 2 a w.g/||w||_H + a^2), simultaneous:

      a+ = a + eps_a (w.g/||w||_H - a),   w+ = w + eps a/||w||_H (g - (w.g/||w||_H^2) H w).

The population losses are the expectations over the model's law written with its second moments
(E[y^2] = c, E[x y] = g, E[x x'] = H). The minimum J* = (c - g.w*)/2 is read off the problem's own
moments: w* = H^-1 g is how the problem was built (the teacher), so J* is the value of J0 there.
That this is also BN's infimum is a result of the theory (``cai2019.C3``, proven for every d), used
here to read BNGD's gap; the C5 checks do not test it. The simulator records J - J* ("the gap"), the first iteration at
which the gap falls to ``tol`` times its start, the last finite gap, snapshots of the state, and the
final state. A diverging run overflows to inf or nan and is recorded as such, never raised. Nothing
here evaluates a formula of the theory about the dynamics (no H*, no effective rate, no threshold).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Sequence

import torch

from ..errors import UsageError
from .arguments import check_count, check_device, check_real
from .quadratic import QuadraticProblems, random_orthogonal

_FLOAT64 = torch.float64


@dataclass(frozen=True)
class Run:
    """What one batched run recorded; L learning rates by B problems.

    ``gap0`` [L, B] the start's J - J*; ``gap`` [S, L, B] J - J* at ``steps`` (when recorded);
    ``hit`` [L, B] the first iteration k with gap_k <= tol gap_0 (inf if none, or no tol);
    ``gap_at_hit`` [L, B] the gap there (nan if none); ``last_k``/``last_gap`` [L, B] the last
    iteration with a finite gap and that gap; ``a`` [L, B] (BNGD only) and ``w`` [L, B, d] the final
    state; ``snapshots`` maps an iteration to the state (a or None, w) after it.
    """

    gap0: torch.Tensor
    hit: torch.Tensor
    gap_at_hit: torch.Tensor
    last_k: torch.Tensor
    last_gap: torch.Tensor
    w: torch.Tensor
    a: torch.Tensor | None = None
    gap: torch.Tensor | None = None
    steps: torch.Tensor | None = None
    snapshots: dict[int, tuple[torch.Tensor | None, torch.Tensor]] = field(default_factory=dict)


def minimum_value(problems: QuadraticProblems) -> torch.Tensor:
    """J* = (c - g.w*)/2 per problem [B]: J0 at the teacher w* = H^-1 g, which is how the problem is built."""
    return (problems.c - torch.einsum("bi,bi->b", problems.g, problems.w_star)) / 2


def loss_plain(problems: QuadraticProblems, w: torch.Tensor) -> torch.Tensor:
    """J0(w) = 1/2 (c - 2 w.g + w'Hw) for w [..., B, d]."""
    Hw = _apply(problems.H, w)
    return (problems.c - 2 * (w * problems.g).sum(-1) + (w * Hw).sum(-1)) / 2


def loss_bn(problems: QuadraticProblems, a: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """J(a, w) = 1/2 (c - 2 a w.g/||w||_H + a^2) for a [..., B], w [..., B, d]."""
    n = torch.sqrt((w * _apply(problems.H, w)).sum(-1))
    return (problems.c - 2 * a * (w * problems.g).sum(-1) / n + a**2) / 2


def rotated_problems(n: int, eigenvalues: Sequence[float], teacher: Sequence[float], gen: torch.Generator,
                     device: torch.device | str = "cpu") -> QuadraticProblems:
    """``n`` noiseless problems with H = Q diag(eigenvalues) Q' and teacher w* = Q ``teacher``, Q Haar-random.

    The spectrum and the teacher's coordinates in H's eigenbasis are given; only the basis is random
    (one draw: the Gaussian matrix [n, d, d] behind Q). g = H w*, c = w*'H w* (sigma = 0).
    """
    device = check_device(gen, device)
    n = check_count("n", n, 1)
    lam = [check_real(f"eigenvalues[{i}]", v, minimum=0.0, strict=True) for i, v in enumerate(eigenvalues)]
    coords = [check_real(f"teacher[{i}]", v) for i, v in enumerate(teacher)]
    if not lam or len(coords) != len(lam):
        raise UsageError(f"give one teacher coordinate per eigenvalue ({len(lam)}), got {len(coords)}")
    if not any(coords):
        raise UsageError("the teacher must be nonzero")
    d = len(lam)
    q = random_orthogonal(n, d, gen, device)
    spectrum = torch.tensor(lam, dtype=_FLOAT64, device=device).expand(n, d).clone()
    H = (q * spectrum.unsqueeze(-2)) @ q.transpose(-1, -2)
    H = (H + H.transpose(-1, -2)) / 2
    w = torch.einsum("bij,j->bi", q, torch.tensor(coords, dtype=_FLOAT64, device=device))
    g = torch.einsum("bij,bj->bi", H, w)
    c = torch.einsum("bi,bi->b", w, g)
    order = torch.argsort(spectrum, dim=-1)
    return QuadraticProblems(H=H, g=g, c=c, w_star=w, eigenvalues=torch.gather(spectrum, -1, order),
                             basis=torch.gather(q, -1, order.unsqueeze(-2).expand(n, d, d)), sigma=0.0)


def random_start(problems: QuadraticProblems, gen: torch.Generator, w_norm: float = 1.0,
                 a_scale: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    """A start per problem: w_0 of uniform direction with ||w_0|| = ``w_norm``, a_0 ~ N(0, a_scale^2).

    Draws, at float64 on the problems' device: 1. w_0's direction [B, d]; 2. a_0 [B].
    """
    device = check_device(gen, problems.H.device)
    w_norm = check_real("w_norm", w_norm, minimum=0.0, strict=True)
    a_scale = check_real("a_scale", a_scale, minimum=0.0)
    w = torch.randn(problems.B, problems.d, generator=gen, device=device, dtype=_FLOAT64)
    w = w_norm * w / torch.linalg.vector_norm(w, dim=-1, keepdim=True)
    a = a_scale * torch.randn(problems.B, generator=gen, device=device, dtype=_FLOAT64)
    return a, w


def gd(problems: QuadraticProblems, eps: Sequence[float] | torch.Tensor, w0: torch.Tensor, iterations: int,
       tol: float | None = None, record_every: int = 0, snapshots: Sequence[int] = ()) -> Run:
    """GD on J0 at every learning rate of ``eps`` (L rates) from ``w0`` [B, d] (the same start for every rate)."""
    rates = _rates("eps", eps, problems)
    w = _start_w(problems, w0).expand(rates.shape[0], -1, -1).clone()
    g = problems.g
    e = rates.view(-1, 1, 1)

    def step(state: tuple[torch.Tensor | None, torch.Tensor]) -> tuple[torch.Tensor | None, torch.Tensor]:
        w = state[1]
        return None, w + e * (g - _apply(problems.H, w))

    return _iterate(problems, (None, w), step, lambda s: loss_plain(problems, s[1]), iterations, tol, record_every,
                    snapshots)


def bngd(problems: QuadraticProblems, eps: Sequence[float] | torch.Tensor,
         eps_a: float | Sequence[float] | torch.Tensor, a0: torch.Tensor, w0: torch.Tensor, iterations: int,
         tol: float | None = None, record_every: int = 0, snapshots: Sequence[int] = ()) -> Run:
    """Simultaneous BNGD at every pair (eps[l], eps_a[l]) (``eps_a`` a number is used for every rate)
    from (``a0`` [B], ``w0`` [B, d]), the same start for every rate."""
    rates = _rates("eps", eps, problems)
    if isinstance(eps_a, (Sequence, torch.Tensor)):
        rates_a = _rates("eps_a", eps_a, problems)
    else:
        rates_a = torch.full_like(rates, check_real("eps_a", eps_a, minimum=0.0, strict=True))
    if rates_a.shape != rates.shape:
        raise UsageError(f"eps_a must be a number or give one rate per eps ({rates.shape[0]}), got {rates_a.shape[0]}")
    L = rates.shape[0]
    w = _start_w(problems, w0).expand(L, -1, -1).clone()
    a0 = _check_state("a0", a0, (problems.B,), problems)
    a = a0.expand(L, -1).clone()
    g = problems.g
    e, e_a = rates.view(-1, 1), rates_a.view(-1, 1)

    def step(state: tuple[torch.Tensor | None, torch.Tensor]) -> tuple[torch.Tensor | None, torch.Tensor]:
        a, w = state
        assert a is not None
        Hw = _apply(problems.H, w)
        q = (w * Hw).sum(-1)  # ||w||_H^2
        n = torch.sqrt(q)
        wg = (w * g).sum(-1)
        a_next = a + e_a * (wg / n - a)
        w_next = w + (e * a / n).unsqueeze(-1) * (g - (wg / q).unsqueeze(-1) * Hw)
        return a_next, w_next

    def loss(state: tuple[torch.Tensor | None, torch.Tensor]) -> torch.Tensor:
        assert state[0] is not None
        return loss_bn(problems, state[0], state[1])

    return _iterate(problems, (a, w), step, loss, iterations, tol, record_every, snapshots)


# -- internals -----------------------------------------------------------------------------------------

def _apply(H: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """H w for H [B, d, d] and w [..., B, d] (batched over problems)."""
    return torch.einsum("bij,...bj->...bi", H, w)


def _rates(name: str, values: Sequence[float] | torch.Tensor, problems: QuadraticProblems) -> torch.Tensor:
    if isinstance(values, torch.Tensor):
        values = values.detach().cpu().reshape(-1).tolist()
    if isinstance(values, (int, float, str, bytes)) or not isinstance(values, Sequence) or len(values) == 0:
        raise UsageError(f"{name} must be a non-empty sequence of learning rates, got {values!r}")
    checked = [check_real(f"{name}[{i}]", v, minimum=0.0, strict=True) for i, v in enumerate(values)]
    return torch.tensor(checked, dtype=_FLOAT64, device=problems.H.device)


def _check_state(name: str, x: object, shape: tuple[int, ...], problems: QuadraticProblems) -> torch.Tensor:
    if not isinstance(x, torch.Tensor) or x.is_complex():
        raise UsageError(f"{name} must be a real tensor of shape {list(shape)}, got {type(x).__name__}"
                         f"{' (complex)' if isinstance(x, torch.Tensor) else ''}")
    if tuple(x.shape) != shape:
        raise UsageError(f"{name} must have shape {list(shape)} (one per problem), got {list(x.shape)}")
    if x.device != problems.H.device:
        raise UsageError(f"{name} is on {x.device}, the problems on {problems.H.device}")
    if not bool(torch.isfinite(x).all()):
        raise UsageError(f"{name} must be finite")
    return x.detach().to(_FLOAT64)


def _start_w(problems: QuadraticProblems, w0: object) -> torch.Tensor:
    w = _check_state("w0", w0, (problems.B, problems.d), problems)
    if not bool((torch.linalg.vector_norm(w, dim=-1) > 0).all()):
        raise UsageError("w0 must be nonzero for every problem")
    return w


State = tuple[torch.Tensor | None, torch.Tensor]


def _iterate(problems: QuadraticProblems, state: State, step: object, loss: object, iterations: int,
             tol: float | None, record_every: int, snapshots: Sequence[int]) -> Run:
    iterations = check_count("iterations", iterations, 1)
    record_every = check_count("record_every", record_every, 0)
    if tol is not None:
        tol = check_real("tol", tol, minimum=0.0, strict=True)
        if tol >= 1:
            raise UsageError(f"tol must lie in (0, 1) (a fraction of the starting gap), got {tol!r}")
    if isinstance(snapshots, (str, bytes)) or not isinstance(snapshots, Sequence):
        raise UsageError(f"snapshots must be a sequence of iteration counts, got {snapshots!r}")
    wanted = sorted({check_count("snapshot", k, 0, iterations) for k in snapshots})
    assert callable(step) and callable(loss)
    j_star = minimum_value(problems)
    gap0 = loss(state) - j_star
    shape = gap0.shape
    device = gap0.device
    inf = torch.full(shape, math.inf, dtype=_FLOAT64, device=device)
    hit, gap_at_hit = inf.clone(), torch.full(shape, math.nan, dtype=_FLOAT64, device=device)
    last_k, last_gap = torch.zeros(shape, dtype=_FLOAT64, device=device), gap0.clone()
    threshold = gap0 * tol if tol is not None else None
    recorded, steps = ([gap0], [0]) if record_every else ([], [])
    saved: dict[int, tuple[torch.Tensor | None, torch.Tensor]] = {}
    if 0 in wanted:
        saved[0] = (None if state[0] is None else state[0].clone(), state[1].clone())
    for k in range(1, iterations + 1):
        state = step(state)
        gap = loss(state) - j_star
        finite = torch.isfinite(gap)
        last_k = torch.where(finite, torch.full_like(last_k, float(k)), last_k)
        last_gap = torch.where(finite, gap, last_gap)
        if threshold is not None:
            new = torch.isinf(hit) & finite & (gap <= threshold)
            hit = torch.where(new, torch.full_like(hit, float(k)), hit)
            gap_at_hit = torch.where(new, gap, gap_at_hit)
        if record_every and k % record_every == 0:
            recorded.append(gap)
            steps.append(k)
        if k in saved or k in wanted:
            saved[k] = (None if state[0] is None else state[0].clone(), state[1].clone())
    return Run(gap0=gap0, hit=hit, gap_at_hit=gap_at_hit, last_k=last_k, last_gap=last_gap, w=state[1], a=state[0],
               gap=torch.stack(recorded) if recorded else None,
               steps=torch.tensor(steps, device=device) if steps else None, snapshots=saved)
