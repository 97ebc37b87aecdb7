"""Gradient descent in normalized parameterization (GDNP), batched: Kohler et al., AISTATS 2019.

BN writes a linear unit's weight as w~ = g w/||w||_S, a length g and a direction w, with
||w||_S^2 = w'Sw the variance of the unit's pre-activation. Two problems are simulated.

**Least squares** (Sec. 3). With u = E[-y x] and S = E[x x'], the population loss is
f(w~) = E[y^2] + 2 u.w~ + w~'Sw~. For problems of ``bnsym.sim.quadratic`` (H = S, g = E[x y] = H w*)
u = -g. GDNP sets the length optimally, g*(w) = -u.w/||w||_S, which leaves the Rayleigh quotient
rho(w) = -(u.w)^2/(w'Sw) as the objective of the direction, and steps

    w <- w - c eta_t grad rho(w),   eta_t = w'Sw / (2 Lmax |rho(w)|),   Lmax = lambda_max(S)

(c = 1 is the paper's step; ``scale`` gives other c). The gradient of rho is computed here by hand
(chain rule on the definition) and tested against autograd. Plain gradient descent on f(w~) with a
constant learning rate runs on the same problems for comparison. The optimum rho* is computed
independently of the closed form -u'S^-1 u: as the smallest eigenvalue of the whitened matrix
-L^-1 u u' L^-T (S = L L', Cholesky) by ``torch.linalg.eigvalsh``.

**Gaussian halfspaces** (Sec. 4). z = -y x is Gaussian with mean u and second moment
S = E[z z'] (covariance C = S - u u'); the risk is f(w~) = E[phi(z.w~)] with the smooth convex loss
phi(t) = t Phi(t) + pdf(t) (phi' = Phi, the standard normal cdf; phi'' = pdf). The simulator runs
GDNP on the *empirical* risk of a fixed sample of ``samples`` z's per problem (a finite training
set, deterministic iterations), normalising with the sample's own moments u_n, S_n (the statistics
BN would use on that set). Each iteration:

1. the length g_t by ``bisection_steps`` of bisection on dF/dg, F(g) = f_n(g w/||w||_S): F is
   convex in g, so the sign of its derivative at the midpoint says which half of the bracket
   [-bracket, bracket] holds the minimiser (the paper's Bisection(T_s) routine for g);
2. the direction by w <- w - s_t grad_w f_n(w, g_t) with s_t = w'Sw/(Lmax g_t^2 c2_t),
   c2_t = mean phi''(z.w~): at the optimal length this makes the step the least-squares step
   eta_t grad rho(w) when z is Gaussian (derived in ``derivations/kohler2019/halfspaces.py``,
   claim K2.halfspace_step; the paper's direction step size for halfspaces has this role).

The optimum f_n* is computed independently: Newton's method on the convex f_n(w~) in the original
coordinates (a damped Newton step with backtracking, to machine precision).

Everything is float64 on the given device, one tensor over [settings x problems x d]; there is
no ``.item()`` in an iteration loop, and a diverging run yields inf/nan rather than an exception.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from .arguments import check_count, check_device, check_real
from .quadratic import QuadraticProblems

_F64 = torch.float64


def _mv(A: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    return torch.einsum("...ij,...j->...i", A, x)


def _dot(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return (a * b).sum(-1)


# -- least squares ----------------------------------------------------------------------------------------
def rayleigh(w: torch.Tensor, S: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """rho(w) = -(u.w)^2/(w'Sw), batched over leading dimensions (the objective's definition)."""
    return -_dot(u, w) ** 2 / _dot(w, _mv(S, w))


def rayleigh_grad(w: torch.Tensor, S: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """The gradient of rho by the chain rule: d(u.w)^2 = 2 (u.w) u, d(w'Sw) = 2 S w."""
    a, Sw = _dot(u, w), _mv(S, w)
    q = _dot(w, Sw)
    return -2 * a.unsqueeze(-1) * u / q.unsqueeze(-1) + 2 * (a**2 / q**2).unsqueeze(-1) * Sw


def rayleigh_minimum(S: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """min_w rho(w), as the smallest eigenvalue of the whitened rank-one matrix -L^-1 u u' L^-T (S = L L')."""
    chol = torch.linalg.cholesky(S)
    p = torch.linalg.solve_triangular(chol, u.unsqueeze(-1), upper=False)
    return torch.linalg.eigvalsh(-p @ p.transpose(-1, -2))[..., 0]


def rayleigh_gap(w: torch.Tensor, S: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """rho(w) - min rho without cancellation: in whitened coordinates v = L'w, p = L^-1 u (S = L L') the
    quotient is -|p|^2 cos^2(p, v), so the gap is |p|^2 |v^ - (p^.v^) p^|^2 (v^, p^ unit vectors).

    This uses min rho = -|p|^2 = -u'S^-1 u (proven in ``derivations/kohler2019/least_squares.py`` and
    compared with ``rayleigh_minimum`` in the tests); the difference rho - rho* of two numbers near
    rho* would lose all digits once the gap is below 1e-16 |rho*|, and the envelope check reads
    gaps down to 1e-9 |rho*|.
    """
    chol = torch.linalg.cholesky(S)
    p = torch.linalg.solve_triangular(chol, u.unsqueeze(-1), upper=False).squeeze(-1)
    v = _mv(chol.transpose(-1, -2), w)
    pn = torch.linalg.vector_norm(p, dim=-1, keepdim=True)
    ph, vh = p / pn, v / torch.linalg.vector_norm(v, dim=-1, keepdim=True)
    resid = vh - _dot(ph, vh).unsqueeze(-1) * ph
    return pn.squeeze(-1) ** 2 * _dot(resid, resid)


@dataclass(frozen=True)
class LeastSquaresRuns:
    """Trajectories on least squares: ``gdnp`` [C, B, T + 1] suboptimality rho(w_t) - rho* per step scale,
    ``gd`` [R, B, T + 1] suboptimality f(w~_t) - f* per learning rate, ``rho_star`` [B], ``mu``, ``L`` [B]."""

    gdnp: torch.Tensor
    gd: torch.Tensor
    rho_star: torch.Tensor
    mu: torch.Tensor
    L: torch.Tensor


def least_squares(problems: QuadraticProblems, steps: int, gen: torch.Generator,
                  scales: tuple[float, ...] = (1.0,), learning_rates: tuple[float, ...] = (),
                  ) -> LeastSquaresRuns:
    """GDNP (step scales c times eta_t) and plain GD (learning rates c/(2 Lmax)) from one random start.

    The start w_0 ~ N(0, I) (drawn from ``gen``) is shared: GDNP starts at direction w_0 with the optimal
    length, GD at w~_0 = g*(w_0) w_0/||w_0||_S, so both start at the same loss.
    """
    steps = check_count("steps", steps, 1)
    scales = tuple(check_real("scale", c, minimum=0.0, strict=True) for c in scales)
    rates = tuple(check_real("learning rate", r, minimum=0.0, strict=True) for r in learning_rates)
    S, u = problems.H, -problems.g
    device = check_device(gen, S.device)
    B, d = problems.B, problems.d
    mu, L = problems.eigenvalues[:, 0], problems.eigenvalues[:, -1]
    rho_star = rayleigh_minimum(S, u)
    # the gap below is read as rho(w) + u'S^-1 u (no cancellation), which is rho - rho* only if min rho = -u'S^-1 u:
    # confirmed here, on these problems and in this d, against the independent eigenvalue route (its rounding is at
    # most a few d 2^-52 |rho*|; a failure is an error of the run, never a silent gap)
    p_whitened = torch.linalg.solve_triangular(torch.linalg.cholesky(S), u.unsqueeze(-1), upper=False).squeeze(-1)
    closed = -_dot(p_whitened, p_whitened)
    if not bool(torch.all((closed - rho_star).abs() <= 64 * d * 2.0**-52 * rho_star.abs())):
        raise RuntimeError("min rho differs from -u'S^-1 u beyond rounding on a simulated problem")
    w0 = torch.randn(B, d, generator=gen, device=device, dtype=_F64)
    out_gdnp = torch.empty(len(scales), B, steps + 1, dtype=_F64, device=device)
    if scales:
        c = torch.tensor(scales, dtype=_F64, device=device).view(-1, 1)
        w = w0.expand(len(scales), B, d).clone()
        for t in range(steps + 1):
            out_gdnp[:, :, t] = rayleigh_gap(w, S, u)
            if t == steps:
                break
            eta = _dot(w, _mv(S, w)) / (2 * L * rayleigh(w, S, u).abs())
            w = w - (c * eta).unsqueeze(-1) * rayleigh_grad(w, S, u)
    out_gd = torch.empty(len(rates), B, steps + 1, dtype=_F64, device=device)
    if rates:
        # in units of 1/(2 Lmax), the inverse smoothness constant of f (its Hessian is 2 S): GD is stable below 2
        r = torch.tensor(rates, dtype=_F64, device=device).view(-1, 1) / (2 * L)
        q0 = _dot(w0, _mv(S, w0))
        v = (-_dot(u, w0) / q0).unsqueeze(-1) * w0  # g* w0/||w0||_S with g* = -u.w0/||w0||_S
        v = v.expand(len(rates), B, d).clone()
        # f(w~) - f* = (w~ - w~*)'S(w~ - w~*) with w~* = -S^-1 u, the least-squares solution: read this way the
        # gap has no cancellation (f - f* as a difference of two losses loses its digits below 1e-16 |f*|)
        v_star = -torch.cholesky_solve(u.unsqueeze(-1), torch.linalg.cholesky(S)).squeeze(-1)
        for t in range(steps + 1):
            err = v - v_star
            out_gd[:, :, t] = _dot(err, _mv(S, err))
            if t == steps:
                break
            v = v - r.unsqueeze(-1) * 2 * (u + _mv(S, v))
    return LeastSquaresRuns(gdnp=out_gdnp, gd=out_gd, rho_star=rho_star, mu=mu, L=L)


# -- Gaussian halfspaces ----------------------------------------------------------------------------------
_SQRT2 = math.sqrt(2.0)
_INV_SQRT2PI = 1.0 / math.sqrt(2.0 * math.pi)


def phi(t: torch.Tensor) -> torch.Tensor:
    """The loss phi(t) = t Phi(t) + pdf(t) (smooth, convex, increasing; phi' = Phi, phi'' = pdf)."""
    return t * phi1(t) + phi2(t)


def phi1(t: torch.Tensor) -> torch.Tensor:
    """phi'(t) = Phi(t), the standard normal cdf."""
    return 0.5 * torch.special.erfc(-t / _SQRT2)


def phi2(t: torch.Tensor) -> torch.Tensor:
    """phi''(t) = the standard normal density."""
    return _INV_SQRT2PI * torch.exp(-t * t / 2)


@dataclass(frozen=True)
class HalfspaceProblems:
    """B empirical halfspace risks: samples ``z`` [B, n, d] drawn from N(u, C); their moments ``u`` [B, d],
    ``S`` [B, d, d] (second moment), and ``L`` [B] = lambda_max(S), ``mu`` [B] = lambda_min(S)."""

    z: torch.Tensor
    u: torch.Tensor
    S: torch.Tensor
    mu: torch.Tensor
    L: torch.Tensor


def halfspace_problems(problems: QuadraticProblems, samples: int, mean_norm: float,
                       gen: torch.Generator) -> HalfspaceProblems:
    """Samples z = m + chol(C) xi with C = ``problems.H`` and a mean m of norm ``mean_norm`` along a uniform
    direction; the risk's u and S are the sample mean and sample second moment (the training set's own)."""
    samples = check_count("samples", samples, 2)
    mean_norm = check_real("mean_norm", mean_norm, minimum=0.0)
    C = problems.H
    device = check_device(gen, C.device)
    B, d = problems.B, problems.d
    m = torch.randn(B, d, generator=gen, device=device, dtype=_F64)
    m = mean_norm * m / torch.linalg.vector_norm(m, dim=-1, keepdim=True)
    xi = torch.randn(B, samples, d, generator=gen, device=device, dtype=_F64)
    z = m.unsqueeze(1) + xi @ torch.linalg.cholesky(C).transpose(-1, -2)
    S = z.transpose(-1, -2) @ z / samples
    ev = torch.linalg.eigvalsh(S)
    return HalfspaceProblems(z=z, u=z.mean(1), S=S, mu=ev[:, 0], L=ev[:, -1])


def halfspace_risk(hp: HalfspaceProblems, v: torch.Tensor) -> torch.Tensor:
    """f_n(w~) = mean_i phi(z_i.w~) for w~ of shape [..., B, d]."""
    return phi(torch.einsum("bnd,...bd->...bn", hp.z, v)).mean(-1)


def halfspace_grad(hp: HalfspaceProblems, v: torch.Tensor) -> torch.Tensor:
    """grad f_n(w~) = mean_i phi'(z_i.w~) z_i (by hand; tested against autograd)."""
    s = phi1(torch.einsum("bnd,...bd->...bn", hp.z, v))
    return torch.einsum("...bn,bnd->...bd", s, hp.z) / hp.z.shape[1]


def halfspace_minimum(hp: HalfspaceProblems, iterations: int = 60) -> torch.Tensor:
    """min f_n by damped Newton on the convex f_n(w~) (Hessian mean phi''(z.w~) z z'), halving the step
    until the risk does not increase; the minimum value per problem [B]."""
    B, n, d = hp.z.shape
    v = torch.zeros(B, d, dtype=_F64, device=hp.z.device)
    f = halfspace_risk(hp, v)
    eye = torch.eye(d, dtype=_F64, device=hp.z.device)
    for _ in range(iterations):
        zv = torch.einsum("bnd,bd->bn", hp.z, v)
        grad = torch.einsum("bn,bnd->bd", phi1(zv), hp.z) / n
        hess = torch.einsum("bn,bnd,bne->bde", phi2(zv), hp.z, hp.z) / n + 1e-14 * eye
        step = torch.linalg.solve(hess, grad.unsqueeze(-1)).squeeze(-1)
        t = torch.ones(B, dtype=_F64, device=hp.z.device)
        for _ in range(30):  # backtracking, batched: keep halving where the risk went up
            trial = halfspace_risk(hp, v - t.unsqueeze(-1) * step)
            t = torch.where(trial <= f, t, t / 2)
        v_new = v - t.unsqueeze(-1) * step
        f_new = halfspace_risk(hp, v_new)
        keep = f_new <= f
        v = torch.where(keep.unsqueeze(-1), v_new, v)
        f = torch.where(keep, f_new, f)
    return f


def _bisect_length(hp: HalfspaceProblems, w: torch.Tensor, norm: torch.Tensor, bracket: float,
                   steps: int) -> torch.Tensor:
    """The minimiser over g of F(g) = f_n(g w/||w||_S) by bisection on the sign of F'(g) in [-bracket, bracket].

    F'(g) = mean_i phi'(g a_i) a_i with a_i = z_i.w/||w||_S. If F' has the same sign at both ends the
    minimiser is outside the bracket and the result is nan (reported, never hidden).
    """
    a = torch.einsum("bnd,...bd->...bn", hp.z, w) / norm.unsqueeze(-1)

    def slope(g: torch.Tensor) -> torch.Tensor:
        return (phi1(g.unsqueeze(-1) * a) * a).mean(-1)

    lo = torch.full(w.shape[:-1], -bracket, dtype=_F64, device=w.device)
    hi = -lo
    valid = (slope(lo) < 0) & (slope(hi) > 0)
    for _ in range(steps):
        mid = (lo + hi) / 2
        up = slope(mid) > 0
        hi = torch.where(up, mid, hi)
        lo = torch.where(up, lo, mid)
    g = (lo + hi) / 2
    return torch.where(valid, g, torch.full_like(g, math.nan))


def direction_gradient(hp: HalfspaceProblems, w: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """grad_w f_n(g w/||w||_S) = (g/||w||_S)(I - S w w'/||w||_S^2) grad f_n(w~), the chain rule through the
    normalization (by hand; tested against autograd)."""
    Sw = _mv(hp.S, w)
    q = _dot(w, Sw)
    norm = q.sqrt()
    gv = halfspace_grad(hp, (g / norm).unsqueeze(-1) * w)
    return (g / norm).unsqueeze(-1) * (gv - (_dot(w, gv) / q).unsqueeze(-1) * Sw)


def halfspace_gdnp(hp: HalfspaceProblems, steps: int, gen: torch.Generator, bisection_steps: int = 40,
                   bracket: float = 100.0, scales: tuple[float, ...] = (1.0,)) -> torch.Tensor:
    """GDNP on the empirical halfspace risk; returns f_n(w~_t) [C, B, steps + 1] at the bisected lengths g_t.

    The start direction w_0 ~ N(0, I) is drawn from ``gen``; ``scales`` multiply the direction step s_t.
    """
    steps = check_count("steps", steps, 1)
    bisection_steps = check_count("bisection_steps", bisection_steps, 1)
    bracket = check_real("bracket", bracket, minimum=0.0, strict=True)
    scales = tuple(check_real("scale", c, minimum=0.0, strict=True) for c in scales)
    device = check_device(gen, hp.z.device)
    B, n, d = hp.z.shape
    c = torch.tensor(scales, dtype=_F64, device=device).view(-1, 1)
    w = torch.randn(B, d, generator=gen, device=device, dtype=_F64).expand(len(scales), B, d).clone()
    out = torch.empty(len(scales), B, steps + 1, dtype=_F64, device=device)
    for t in range(steps + 1):
        q = _dot(w, _mv(hp.S, w))
        norm = q.sqrt()
        g = _bisect_length(hp, w, norm, bracket, bisection_steps)
        v = (g / norm).unsqueeze(-1) * w
        out[:, :, t] = halfspace_risk(hp, v)
        if t == steps:
            break
        c2 = phi2(torch.einsum("bnd,...bd->...bn", hp.z, v)).mean(-1)
        grad_w = direction_gradient(hp, w, g)
        s = q / (hp.L * g**2 * c2)
        w = w - (c * s).unsqueeze(-1) * grad_w
    return out
