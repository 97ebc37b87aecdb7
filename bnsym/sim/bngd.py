"""Gradient descent with and without batch normalization on population least squares (Cai, Li, Shen 2019).

The process is run on batched :class:`~bnsym.sim.quadratic.QuadraticProblems` (B problems with
moments H, g = H w*, c), over a grid of L learning rates at once: the L B runs (rate, problem) are
the columns of float64 tensors on the problems' device, and nothing leaves the device inside the
iteration loop but a count of finished runs. Both methods are the paper's Sec. 2 updates on the
population loss:

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

Coordinates. The runs are iterated in H's eigenbasis, the orthogonal Q the problem was built with
(``problems.basis``, H = Q diag(lambda) Q'): with v = Q'w and Q'g, H w is Q (lambda v), and w.g,
||w||_H, the losses and both updates are the same expressions in v, since Q is orthogonal. A step
costs O(d) per run instead of the O(d^2) of H w; snapshots and the final state are rotated back to
w = Q v. The iterates are those of the original coordinates in exact arithmetic; in floating point
the two differ by the round-off of a step (a few float64 ulps) carried along the run, so a hitting
iteration can differ only when gap_N lies within that round-off of tol gap_0. Each iteration's gap
is computed from the pieces of the next step (H w, ||w||_H, w.g): one pass per iteration.

Early stop. With ``stop_at_hit``, a run that has reached tol leaves the tensors (every RETIRE_EVERY
iterations, once such runs are at least 1/RETIRE_SHARE of those still stepping), so that the work
follows the iterations each run needs, not the slowest run's. Its ``hit`` and ``gap_at_hit`` are
final at the hit; ``last_k``, ``last_gap`` and the final state are those of the iteration it left at,
at or after its hit. Runs that do not reach tol step to the end, as without it (up to round-off: the
runs left in the tensors are reduced in a different layout).
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
    state; ``snapshots`` maps an iteration to the state (a or None, w) after it. With ``stop_at_hit``
    a run that reached tol ended some iterations after its hit: ``last_k``, ``last_gap``, ``a`` and ``w``
    are those of its end.
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
       tol: float | None = None, record_every: int = 0, snapshots: Sequence[int] = (),
       stop_at_hit: bool = False) -> Run:
    """GD on J0 at every learning rate of ``eps`` (L rates) from ``w0`` [B, d] (the same start for every rate).

    ``stop_at_hit`` (with ``tol``, no recording, no snapshots): runs that reached tol stop (module text)."""
    rates = _rates("eps", eps, problems)
    w = _start_w(problems, w0)
    return _iterate(problems, rates, None, None, w, iterations, tol, record_every, snapshots, stop_at_hit)


def bngd(problems: QuadraticProblems, eps: Sequence[float] | torch.Tensor,
         eps_a: float | Sequence[float] | torch.Tensor, a0: torch.Tensor, w0: torch.Tensor, iterations: int,
         tol: float | None = None, record_every: int = 0, snapshots: Sequence[int] = (),
         stop_at_hit: bool = False) -> Run:
    """Simultaneous BNGD at every pair (eps[l], eps_a[l]) (``eps_a`` a number is used for every rate)
    from (``a0`` [B], ``w0`` [B, d]), the same start for every rate; ``stop_at_hit`` as for :func:`gd`."""
    rates = _rates("eps", eps, problems)
    if isinstance(eps_a, (Sequence, torch.Tensor)):
        rates_a = _rates("eps_a", eps_a, problems)
    else:
        rates_a = torch.full_like(rates, check_real("eps_a", eps_a, minimum=0.0, strict=True))
    if rates_a.shape != rates.shape:
        raise UsageError(f"eps_a must be a number or give one rate per eps ({rates.shape[0]}), got {rates_a.shape[0]}")
    w = _start_w(problems, w0)
    a = _check_state("a0", a0, (problems.B,), problems)
    return _iterate(problems, rates, rates_a, a, w, iterations, tol, record_every, snapshots, stop_at_hit)


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


Runs = dict[str, torch.Tensor]
"""The runs still stepping, in H's eigenbasis: one per (rate l, problem b), at index l B + b of the last axis.

Per run (shape [R], or [d, R] for vectors): ``lam`` (H's eigenvalues), ``gam`` (g's coordinates), ``half_c``
(c/2 - J*), ``eps`` (and ``eps_a``); the state ``v`` (w's coordinates) and ``a``; the pieces of the last loss
that the next step reuses (``Hv``; for BNGD ``q`` = ||w||_H^2, ``n`` = ||w||_H and ``rho`` = w.g/||w||_H);
the record ``hit``, ``gap_at_hit``, ``last_k``, ``last_gap``, ``threshold``; and ``row``, the run's index in
the full [L B] result."""


def _gd_gap(r: Runs) -> torch.Tensor:
    """J0 - J* = (c/2 - J*) + w'Hw/2 - w.g."""
    r["Hv"] = r["lam"] * r["v"]
    return r["half_c"] + (0.5 * (r["v"] * r["Hv"]).sum(0) - (r["v"] * r["gam"]).sum(0))


def _gd_step(r: Runs) -> None:
    """w + eps (g - H w)."""
    r["v"] = torch.addcmul(r["v"], r["eps"], r["gam"] - r["Hv"])


def _bn_gap(r: Runs) -> torch.Tensor:
    """J - J* = (c/2 - J*) + a (a/2 - w.g/||w||_H)."""
    r["Hv"] = r["lam"] * r["v"]
    r["q"] = (r["v"] * r["Hv"]).sum(0)
    r["n"] = torch.sqrt(r["q"])
    r["rho"] = (r["v"] * r["gam"]).sum(0) / r["n"]
    return r["half_c"] + r["a"] * (0.5 * r["a"] - r["rho"])


def _bn_step(r: Runs) -> None:
    """a + eps_a (w.g/||w||_H - a) and w + (eps a/||w||_H) (g - (w.g/||w||_H^2) H w), simultaneous."""
    a, n, rho = r["a"], r["n"], r["rho"]
    r["a"] = a + r["eps_a"] * (rho - a)
    r["v"] = torch.addcmul(r["v"], r["eps"] * a / n, torch.addcmul(r["gam"], rho / n, r["Hv"], value=-1.0))


RETIRE_EVERY = 8  # stop_at_hit: iterations between counts of the runs that have reached tol ...
RETIRE_SHARE = 8  # ... which leave the tensors once they are 1/RETIRE_SHARE of the runs or more

_RESULTS = ("hit", "gap_at_hit", "last_k", "last_gap", "v", "a")


def _iterate(problems: QuadraticProblems, rates: torch.Tensor, rates_a: torch.Tensor | None,
             a0: torch.Tensor | None, w0: torch.Tensor, iterations: int, tol: float | None, record_every: int,
             snapshots: Sequence[int], stop_at_hit: bool) -> Run:
    """GD (``rates_a`` None) or BNGD: every (rate, problem) one run, all runs in one set of tensors (:data:`Runs`).

    Each iteration steps every run, computes the new gap (keeping the pieces the next step reuses) and
    updates the record. With ``stop_at_hit``, every RETIRE_EVERY iterations the runs that have reached tol
    are counted, and leave the tensors (their record and state copied to the result) once they are at least
    1/RETIRE_SHARE of them; the loop ends when no run is left or at ``iterations``.
    """
    iterations = check_count("iterations", iterations, 1)
    record_every = check_count("record_every", record_every, 0)
    if tol is not None:
        tol = check_real("tol", tol, minimum=0.0, strict=True)
        if tol >= 1:
            raise UsageError(f"tol must lie in (0, 1) (a fraction of the starting gap), got {tol!r}")
    if isinstance(snapshots, (str, bytes)) or not isinstance(snapshots, Sequence):
        raise UsageError(f"snapshots must be a sequence of iteration counts, got {snapshots!r}")
    wanted = sorted({check_count("snapshot", k, 0, iterations) for k in snapshots})
    if not isinstance(stop_at_hit, bool):
        raise UsageError(f"stop_at_hit must be True or False, got {stop_at_hit!r}")
    if stop_at_hit and (tol is None or record_every or wanted):
        raise UsageError("stop_at_hit needs a tol, and neither record_every nor snapshots (runs leave the loop)")
    L, B, d = rates.shape[0], problems.B, problems.d
    basis = problems.basis

    def to_eigen(x: torch.Tensor) -> torch.Tensor:  # [B, d] -> [d, L B]
        return torch.einsum("bji,bj->ib", basis, x).repeat(1, L)

    def from_eigen(v: torch.Tensor) -> torch.Tensor:  # [d, L B] -> [L, B, d]
        return torch.einsum("bij,jlb->lbi", basis, v.reshape(d, L, B))

    half_c = problems.c / 2 - minimum_value(problems)
    r: Runs = {"lam": problems.eigenvalues.to(_FLOAT64).T.repeat(1, L), "gam": to_eigen(problems.g),
               "half_c": half_c.repeat(L), "eps": rates.repeat_interleave(B), "v": to_eigen(w0)}
    gap_of, step = _gd_gap, _gd_step
    if rates_a is not None:
        assert a0 is not None
        r.update(eps_a=rates_a.repeat_interleave(B), a=a0.repeat(L))
        gap_of, step = _bn_gap, _bn_step
    gap0 = gap_of(r)
    r.update(hit=torch.full_like(gap0, math.inf), gap_at_hit=torch.full_like(gap0, math.nan),
             last_k=torch.zeros_like(gap0), last_gap=gap0.clone(), row=torch.arange(L * B, device=gap0.device))
    if tol is not None:
        r["threshold"] = gap0 * tol
    recorded, steps = ([gap0.view(L, B)], [0]) if record_every else ([], [])
    saved: dict[int, tuple[torch.Tensor | None, torch.Tensor]] = {}
    if 0 in wanted:
        saved[0] = (None if a0 is None else a0.expand(L, -1).clone(), w0.expand(L, -1, -1).clone())
    out = {key: torch.empty_like(r[key]) for key in _RESULTS if key in r}
    for k in range(1, iterations + 1):
        step(r)
        gap = gap_of(r)
        finite = torch.isfinite(gap)
        r["last_k"].masked_fill_(finite, float(k))
        r["last_gap"] = torch.where(finite, gap, r["last_gap"])
        if tol is not None:
            new = torch.isinf(r["hit"]) & finite & (gap <= r["threshold"])
            r["hit"].masked_fill_(new, float(k))
            r["gap_at_hit"] = torch.where(new, gap, r["gap_at_hit"])
        if record_every and k % record_every == 0:
            recorded.append(gap.view(L, B))
            steps.append(k)
        if k in wanted:
            saved[k] = (None if a0 is None else r["a"].view(L, B).clone(), from_eigen(r["v"]))
        if stop_at_hit and k % RETIRE_EVERY == 0:
            done = torch.isfinite(r["hit"])
            count = int(done.sum())
            if count == done.numel():
                break
            if count * RETIRE_SHARE >= done.numel():
                _retire(r, done, out)
                r = {key: value[..., ~done] for key, value in r.items()}
    _retire(r, None, out)
    shape = (L, B)
    return Run(gap0=gap0.view(shape), hit=out["hit"].view(shape), gap_at_hit=out["gap_at_hit"].view(shape),
               last_k=out["last_k"].view(shape), last_gap=out["last_gap"].view(shape), w=from_eigen(out["v"]),
               a=out["a"].view(shape) if "a" in out else None,
               gap=torch.stack(recorded) if recorded else None,
               steps=torch.tensor(steps, device=gap0.device) if steps else None, snapshots=saved)


def _retire(r: Runs, runs: torch.Tensor | None, out: dict[str, torch.Tensor]) -> None:
    """Copy the record and state of the runs ``runs`` (a mask; None: all) to their places in ``out``."""
    where = r["row"] if runs is None else r["row"][runs]
    for key, full in out.items():
        full[..., where] = r[key] if runs is None else r[key][..., runs]
