"""Online SGD in the teacher-student model of Luo et al. (ICLR 2019, Sec. 3), run in torch.

The model. An input x ~ N(0, I/N) is drawn fresh at every step. A teacher w* in R^N with
||w*||^2 = N labels it by g(t), t = w*.x, with the activation g

* ``relu``  g(u) = max(0, u),            g'(u) = 1{u > 0},
* ``erf``   g(u) = erf(u / sqrt(2)),     g'(u) = sqrt(2/pi) exp(-u^2 / 2).

Three students (``Student.method``), each trained by exact gradient steps of its
per-sample loss, with delta = g'(s) (g(t) - g(s)):

* ``bn``   normalised student (BN as population normalisation plus a scale gamma):
           s = w~.x, w~ = gamma sqrt(N) w / ||w||, trainable w and gamma,
           l = 1/2 (g(t) - g(s))^2 + 1/2 zeta gamma^2;
           w     <- w + eta delta (gamma sqrt(N) / ||w|| x - s / ||w||^2 w)       (= w - eta dl/dw)
           gamma <- gamma + eta_gamma (delta s / gamma - zeta gamma)             (= gamma - eta_gamma dl/dgamma)
           with eta_gamma = eta / N (``gamma_rate="corrected"``) or eta (``"printed"``);
           delta s / gamma is evaluated as delta sqrt(N) (w.x) / ||w||, its value at any gamma != 0;
* ``wn``   the same with gamma fixed at 1 and no decay (only w is trained);
* ``sgd``  plain student s = w.x, l = 1/2 (g(t) - g(s))^2, w <- w + eta delta x.

Both updates of a step use s, gamma and ||w|| from before the step (simultaneous update).
With ``frozen_length`` (bn and wn only) w is rescaled after every step to its initial norm
L0 sqrt(N): the loss does not depend on the scale of w, so the direction dynamics of each
step are unchanged and the effective learning rate eta / ||w||^2 stays fixed. The rescaling is
folded into the update, w <- r ((1 + c2) w + c1 x) with r = L0 sqrt(N) / ||(1 + c2) w + c1 x||,
the new norm taken from the exact expansion (1 + c2)^2 ||w||^2 + 2 (1 + c2) c1 w.x + c1^2 ||x||^2.

Order parameters, recorded per run: ``bn``/``wn``: (gamma, R, L) with R = w.w* / (||w|| ||w*||)
and L = ||w|| / sqrt(N) (gamma = 1 for ``wn``); ``sgd``: (L, R, L), its scale being ||w|| / sqrt(N).

Initial state. w* = sqrt(N) g / ||g|| and w = L0 sqrt(N) (R0 u* + sqrt(1 - R0^2) v), with
u* = w* / ||w*|| and v the normalised component of a second Gaussian vector orthogonal to u*;
for ``sgd`` L0 is gamma0, so that ||w|| = gamma0 sqrt(N).

Batching and common random numbers. All len(etas) x replicas runs are one tensor of shape
[E, replicas, N], the learning rate a per-row tensor; the only Python loop is over SGD steps.
Replica r sees the same teacher, initial student and input sequence at every learning rate
(common random numbers, as in ``bnsym.sim.batchnorm``): runs of one learning rate are
independent of each other, runs of different learning rates with the same r are not.

Order of draws from the generator, all ``torch.randn`` in the working dtype on ``device``:
1. the teacher directions g, shape [replicas, N];
2. the vectors v is made from, shape [replicas, N];
3. the inputs, sqrt(N) x, in consecutive blocks of shape [K, replicas, N] (step-major), in
   ``draw_dtype`` when one is given (each step's slice is converted to the working dtype, then
   scaled by 1/sqrt(N)), K steps per block, K = min(remaining steps, max(1, 64 MiB // (replicas N
   itemsize))).
The block sizes follow from (replicas, N, dtype, steps), so a seed on a device always gives the
same run; a run of fewer steps is not, in general, a prefix of a longer one's draws. On a CPU
the next block is drawn in a background thread while the steps of the current one run: from the
same generator, one block after the other, so the numbers are those of a serial run.

Divergence. Nothing is clamped and no exception is raised: non-finite values propagate through
the arithmetic. A run is marked diverged at the first step at which ||w||^2, s or gamma is not
finite; all of its records from that step on are nan, as is any record that is not finite.

The reduced chain. ``online_sgd_reduced`` runs the same process as the exact Markov chain of
(w.u*, ||w - (w.u*) u*||, gamma), with u* = w* / ||w*||: by rotation invariance of the Gaussian
input, one step needs two standard normals and one chi^2_{N-2} draw per run instead of N normals,
and the order parameters have exactly the law of the N-dimensional run's (its docstring gives
the argument). ``online_sgd`` is the N-dimensional reference.

Nothing here evaluates a formula of the theory (no Gaussian expectation, no ODE): the functions
only run the stochastic process. ``gaussian_pair_terms`` samples the pair (s, t) directly, for
Monte Carlo estimates of the Gaussian expectations in the theory's ODEs.
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable, Iterator, Sequence, TypeVar

import torch

from ..errors import UsageError
from .arguments import check_count as _check_count
from .arguments import check_device as _check_device
from .arguments import check_real as _check_real

METHODS = ("bn", "wn", "sgd")
ACTIVATIONS = ("relu", "erf")
GAMMA_RATES = ("corrected", "printed")
DTYPES = (torch.float64, torch.float32)
BLOCK_BYTES = 64 * 2**20  # cap on one block of input draws

_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_INV_SQRT_2 = 1.0 / math.sqrt(2.0)

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Student:
    """The student trained by :func:`online_sgd` (see the module docstring).

    ``zeta`` (weight decay on gamma), ``gamma_rate`` and ``frozen_length`` apply to ``bn``;
    ``frozen_length`` also to ``wn``. Setting one where it does not apply is a ``UsageError``
    rather than being silently ignored.
    """

    method: str
    activation: str
    zeta: float = 0.0
    gamma_rate: str = "corrected"
    frozen_length: bool = False

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise UsageError(f"method must be one of {', '.join(METHODS)}, got {self.method!r}")
        _check_activation(self.activation)
        if self.gamma_rate not in GAMMA_RATES:
            raise UsageError(f"gamma_rate must be one of {', '.join(GAMMA_RATES)}, got {self.gamma_rate!r}")
        if not isinstance(self.frozen_length, bool):
            raise UsageError(f"frozen_length must be True or False, got {self.frozen_length!r}")
        zeta = _check_real("zeta", self.zeta, minimum=0.0)
        if self.method != "bn":
            if zeta != 0.0:
                raise UsageError(f"zeta (decay of gamma) applies to method 'bn' only, got zeta={zeta!r} "
                                 f"with method {self.method!r}")
            if self.gamma_rate != "corrected":
                raise UsageError(f"gamma_rate applies to method 'bn' only, got {self.gamma_rate!r} "
                                 f"with method {self.method!r}")
        if self.method == "sgd" and self.frozen_length:
            raise UsageError("frozen_length applies to methods 'bn' and 'wn' only, not 'sgd'")


# --- activations ------------------------------------------------------------------------------------------------


def _check_activation(activation: object) -> None:
    if activation not in ACTIVATIONS:
        raise UsageError(f"activation must be one of {', '.join(ACTIVATIONS)}, got {activation!r}")


def activation_and_slope(activation: str, u: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(g(u), g'(u)) for the activation called ``activation``."""
    _check_activation(activation)
    if activation == "relu":
        return u.clamp_min(0.0), (u > 0).to(u.dtype)
    return torch.erf(u * _INV_SQRT_2), torch.exp(u.square() * -0.5) * _SQRT_2_OVER_PI


def _activation(activation: str, u: torch.Tensor) -> torch.Tensor:
    if activation == "relu":
        return u.clamp_min(0.0)
    return torch.erf(u * _INV_SQRT_2)


# --- argument checks --------------------------------------------------------------------------------------------


def _as_vector(name: str, values: object) -> list[float]:
    """A non-empty 1-D sequence or tensor of finite reals as a list of floats."""
    try:
        tensor = torch.as_tensor(values, dtype=torch.float64).cpu()
    except (TypeError, ValueError, RuntimeError) as error:
        raise UsageError(f"{name} must be a sequence or 1-D tensor of real numbers, got {values!r}") from error
    if tensor.dim() != 1 or tensor.numel() == 0:
        raise UsageError(f"{name} must be a non-empty sequence or 1-D tensor, got shape {tuple(tensor.shape)}")
    if not bool(torch.isfinite(tensor).all()):
        raise UsageError(f"{name} must be finite, got {values!r}")
    return tensor.tolist()


def _check_dtype(dtype: object) -> torch.dtype:
    if dtype not in DTYPES:
        raise UsageError(f"dtype must be torch.float64 or torch.float32, got {dtype!r}")
    assert isinstance(dtype, torch.dtype)
    return dtype


def _record_steps(times: object, N: int) -> list[int]:
    """Step index round(t N) of each time t >= 0."""
    values = _as_vector("times", times)
    if any(t < 0 for t in values):
        raise UsageError(f"times must be >= 0, got {values!r}")
    return [round(t * N) for t in values]


def _initial_scales(method: str, gamma0: object, R0: object, L0: object) -> tuple[float, float, float]:
    gamma = _check_real("gamma0", gamma0, minimum=0.0, strict=True)
    R = _check_real("R0", R0)
    if not -1.0 < R <= 1.0:
        raise UsageError(f"R0 must lie in (-1, 1], got {R!r}")
    if method == "wn" and gamma != 1.0:
        raise UsageError(f"method 'wn' fixes gamma = 1, got gamma0={gamma!r}")
    if method == "sgd":
        if L0 is not None and _check_real("L0", L0) != gamma:
            raise UsageError(f"method 'sgd' takes L0 = gamma0 (||w|| = gamma0 sqrt(N)): leave L0 unset, "
                             f"got L0={L0!r} and gamma0={gamma!r}")
        return gamma, R, gamma
    length = 1.0 if L0 is None else _check_real("L0", L0, minimum=0.0, strict=True)
    return gamma, R, length


# --- the step ---------------------------------------------------------------------------------------------------


def _vecdot(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return torch.linalg.vecdot(a, b)


def _step(student: Student, w: torch.Tensor, gamma: torch.Tensor, x: torch.Tensor, g_t: torch.Tensor,
          eta: torch.Tensor, eta_gamma: torch.Tensor, target_norm: float | None) -> tuple[torch.Tensor, torch.Tensor]:
    """One SGD step: updates ``w`` [..., N] in place and returns (new gamma, s + ||w||^2 + gamma).

    ``g_t`` is the teacher's label g(w*.x); ``eta`` and ``eta_gamma`` broadcast against gamma.
    The second value serves only to detect divergence (finite iff all three are, barring overflow).
    """
    N = w.shape[-1]
    wx = _vecdot(w, x)
    if student.method == "sgd":
        g_s, slope = activation_and_slope(student.activation, wx)
        step = eta * slope * (g_t - g_s)
        w.addcmul_(x, step.unsqueeze(-1))
        return gamma, wx + gamma
    squared_norm = _vecdot(w, w)
    inverse_norm = torch.rsqrt(squared_norm)
    field = wx * inverse_norm * math.sqrt(N)  # ds/dgamma = sqrt(N) w.x / ||w||
    s = gamma * field
    g_s, slope = activation_and_slope(student.activation, s)
    delta = slope * (g_t - g_s)
    eta_delta = eta * delta
    along_x = eta_delta * gamma * inverse_norm * math.sqrt(N)  # c1
    keep_w = 1.0 - eta_delta * s * inverse_norm.square()  # 1 + c2
    if student.method == "bn":
        new_gamma = gamma + eta_gamma * (delta * field - student.zeta * gamma)
    else:
        new_gamma = gamma
    if target_norm is not None:
        new_squared_norm = keep_w.square() * squared_norm + 2.0 * keep_w * along_x * wx \
            + along_x.square() * _vecdot(x, x)
        rescale = target_norm * torch.rsqrt(new_squared_norm)
        keep_w = keep_w * rescale
        along_x = along_x * rescale
    w.mul_(keep_w.unsqueeze(-1)).addcmul_(x, along_x.unsqueeze(-1))
    return new_gamma, s + squared_norm + new_gamma


def sgd_step(student: Student, w: torch.Tensor, gamma: torch.Tensor | float, x: torch.Tensor,
             w_star: torch.Tensor, eta: torch.Tensor | float,
             target_norm: float | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The step :func:`online_sgd` takes, from an explicit state: returns (new w, new gamma).

    ``w``, ``x`` and ``w_star`` have shape [..., N] (N = w.shape[-1], which sets sqrt(N) and the
    ``corrected`` gamma rate eta / N); ``gamma`` and ``eta`` broadcast against [...]. ``gamma``
    is the BN scale: ``wn`` uses it as given (1 in ``online_sgd``), ``sgd`` ignores it; both
    return it unchanged. With ``target_norm`` the new w is rescaled to that norm (``frozen_length``).
    The inputs are not modified.
    """
    if not isinstance(student, Student):
        raise UsageError(f"student must be a Student, got {student!r}")
    if w.shape != x.shape or w.shape != w_star.shape or w.dim() < 1:
        raise UsageError(f"w, x and w_star must share one shape [..., N], got {tuple(w.shape)}, "
                         f"{tuple(x.shape)} and {tuple(w_star.shape)}")
    N = w.shape[-1]
    batch_shape = w.shape[:-1]
    gamma_t = torch.as_tensor(gamma, dtype=w.dtype, device=w.device).expand(batch_shape).clone()
    eta_t = torch.as_tensor(eta, dtype=w.dtype, device=w.device).expand(batch_shape)
    eta_gamma = eta_t / N if student.gamma_rate == "corrected" else eta_t
    new_w = w.clone()
    g_t = _activation(student.activation, _vecdot(w_star, x))
    new_gamma, _ = _step(student, new_w, gamma_t, x, g_t, eta_t, eta_gamma, target_norm)
    return new_w, new_gamma


# --- the run ----------------------------------------------------------------------------------------------------


def _unit_rows(v: torch.Tensor) -> torch.Tensor:
    return v / torch.linalg.vector_norm(v, dim=-1, keepdim=True)


def _initial_state(replicas: int, N: int, R0: float, L0: float, generator: torch.Generator,
                   device: torch.device, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """(w_star, w), each [replicas, N], drawn as documented in the module docstring."""
    teacher_direction = _unit_rows(torch.randn((replicas, N), generator=generator, device=device, dtype=dtype))
    other = torch.randn((replicas, N), generator=generator, device=device, dtype=dtype)
    for _ in range(2):  # Gram-Schmidt twice, so that v.u* is at rounding level
        other = other - _vecdot(other, teacher_direction).unsqueeze(-1) * teacher_direction
    other = _unit_rows(other)
    w_star = teacher_direction * math.sqrt(N)
    w = (teacher_direction * R0 + other * math.sqrt(max(0.0, 1.0 - R0 * R0))) * (L0 * math.sqrt(N))
    return w_star, w


def _run_arguments(student: object, N: object, etas: object, replicas: object, times: object, gamma0: object,
                   R0: object, L0: object, generator: object, device: torch.device | str, dtype: object,
                   draw_dtype: object, progress: object) -> tuple[int, int, list[float], list[int], float, float,
                                                                   float, torch.device, torch.dtype, torch.dtype]:
    """The checked arguments of a run: (N, replicas, etas, record steps, gamma0, R0, L0, device, dtype, draw dtype)."""
    if not isinstance(student, Student):
        raise UsageError(f"student must be a Student, got {student!r}")
    N = _check_count("N", N, 2)
    replicas = _check_count("replicas", replicas, 1)
    eta_values = _as_vector("etas", etas)
    if any(eta < 0 for eta in eta_values):
        raise UsageError(f"etas must be >= 0, got {eta_values!r}")
    record_steps = _record_steps(times, N)
    gamma0, R0, L0 = _initial_scales(student.method, gamma0, R0, L0)
    device = _check_device(generator, device)
    dtype = _check_dtype(dtype)
    draw_dtype = dtype if draw_dtype is None else _check_dtype(draw_dtype)
    if progress is not None and not callable(progress):
        raise UsageError(f"progress must be callable as progress(steps_done, total_steps), got {progress!r}")
    return N, replicas, eta_values, record_steps, gamma0, R0, L0, device, dtype, draw_dtype


def online_sgd(student: Student, N: int, etas: Sequence[float] | torch.Tensor, replicas: int,
               times: Sequence[float] | torch.Tensor, *, gamma0: float, R0: float, L0: float | None = None,
               generator: torch.Generator, device: torch.device | str, dtype: torch.dtype = torch.float64,
               draw_dtype: torch.dtype | None = None, progress: Progress | None = None) -> torch.Tensor:
    """Order parameters of online SGD at the given times t (t = steps / N: time t is round(t N) steps).

    Returns a tensor of shape [len(etas), replicas, len(times), 3] in ``dtype`` on ``device``,
    the columns (gamma, R, L) as defined in the module docstring; ``times`` may come in any order
    and repeat. The initial state is (gamma0, R0, L0); ``L0`` defaults to 1 for ``bn``/``wn``,
    must be left unset (or equal gamma0) for ``sgd``, and ``wn`` needs gamma0 = 1. ``progress``,
    if given, is called as progress(steps_done, total_steps) after every block of draws.
    Diverged runs give nan records (module docstring).

    ``draw_dtype`` (default: ``dtype``) is the dtype the inputs are drawn in before they are
    converted to ``dtype``: ``torch.float32`` draws cost about a quarter of float64 draws on a
    CPU, and they only round each input coordinate to 24 bits (a relative change of 6e-8 in
    the law of x), while every step is still computed in ``dtype``.
    """
    N, replicas, eta_values, record_steps, gamma0, R0, L0, device, dtype, draw_dtype = _run_arguments(
        student, N, etas, replicas, times, gamma0, R0, L0, generator, device, dtype, draw_dtype, progress)
    n_etas = len(eta_values)
    eta = torch.tensor(eta_values, dtype=dtype, device=device).unsqueeze(-1)  # [E, 1]
    eta_gamma = eta / N if student.gamma_rate == "corrected" else eta
    w_star, w_start = _initial_state(replicas, N, R0, L0, generator, device, dtype)
    w = w_start.unsqueeze(0).repeat(n_etas, 1, 1)  # [E, replicas, N], common random numbers across etas
    gamma = torch.full((n_etas, replicas), gamma0, dtype=dtype, device=device)
    target_norm = L0 * math.sqrt(N) if student.frozen_length else None
    teacher_norm = torch.linalg.vector_norm(w_star, dim=-1)  # sqrt(N) up to rounding
    finite = torch.ones((n_etas, replicas), dtype=torch.bool, device=device)

    columns: dict[int, list[int]] = {}
    for column, step in enumerate(record_steps):
        columns.setdefault(step, []).append(column)
    records = torch.empty((n_etas, replicas, len(record_steps), 3), dtype=dtype, device=device)

    def record(step: int) -> None:
        norm = torch.linalg.vector_norm(w, dim=-1)
        length = norm / math.sqrt(N)
        overlap = _vecdot(w, w_star) / (norm * teacher_norm)
        scale = length if student.method == "sgd" else gamma
        values = torch.stack((scale, overlap, length), dim=-1)
        values = values.masked_fill(~(finite & torch.isfinite(values).all(dim=-1)).unsqueeze(-1), math.nan)
        for column in columns[step]:
            records[:, :, column, :] = values

    total = max(record_steps)
    block = max(1, BLOCK_BYTES // (replicas * N * torch.empty((), dtype=dtype).element_size()))
    sizes = [min(block, total - start) for start in range(0, total, block)]
    inverse_sqrt_n = 1.0 / math.sqrt(N)
    x = torch.empty((replicas, N), dtype=dtype, device=device)
    done = 0
    if done in columns:
        record(done)
    for inputs in _input_blocks(sizes, (replicas, N), generator, device, draw_dtype):
        for k in range(inputs.shape[0]):
            x.copy_(inputs[k]).mul_(inverse_sqrt_n)  # x ~ N(0, I/N), in the working dtype
            label = _activation(student.activation, _vecdot(x, w_star))
            gamma, check = _step(student, w, gamma, x, label, eta, eta_gamma, target_norm)
            finite &= torch.isfinite(check)
            done += 1
            if done in columns:
                record(done)
        if progress is not None:
            progress(done, total)
    return records


def _input_blocks(sizes: list[int], shape: tuple[int, int], generator: torch.Generator, device: torch.device,
                  dtype: torch.dtype) -> Iterator[torch.Tensor]:
    """The blocks of input draws, randn((K, *shape)) for each K of ``sizes`` in turn, from ``generator``.

    On a CPU the next block is drawn in a background thread while the caller steps through the
    current one (randn runs on one core, the step's arithmetic on the others); the blocks are drawn
    one after the other from the same generator, so they are the numbers a serial loop would draw.
    """
    def draw(steps: int) -> torch.Tensor:
        return torch.randn((steps, *shape), generator=generator, device=device, dtype=dtype)

    return _drawn_ahead(draw, sizes, device)


Drawn = TypeVar("Drawn")


def _drawn_ahead(draw: Callable[[int], Drawn], sizes: list[int], device: torch.device) -> Iterator[Drawn]:
    """draw(K) for each K of ``sizes`` in turn; on a CPU each is drawn in a background thread while the
    caller works through the one before (one draw at a time, in order, so the numbers are the serial ones)."""
    if device.type != "cpu" or len(sizes) < 2:
        for steps in sizes:
            yield draw(steps)
        return
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = pool.submit(draw, sizes[0])
        for following in [*sizes[1:], None]:
            current = pending.result()
            if following is not None:
                pending = pool.submit(draw, following)
            yield current


# --- the reduced chain ------------------------------------------------------------------------------------------

REDUCED_BLOCK_BYTES = 4 * 2**20  # cap on one block of coordinate draws (small, so that drawing ahead overlaps)


def chi_square(dof: int, shape: tuple[int, ...], generator: torch.Generator, device: torch.device | str,
               dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """Independent chi-square draws with ``dof`` degrees of freedom: 2 Gamma(dof / 2), exactly.

    The gamma variates come from ``torch._standard_gamma`` driven by ``generator`` (Marsaglia and
    Tsang's rejection method, exact in law); ``dof = 0`` gives zeros (the law of an empty sum of squares).
    """
    dof = _check_count("dof", dof, 0)
    device = _check_device(generator, device)
    dtype = _check_dtype(dtype)
    if dof == 0:
        return torch.zeros(shape, dtype=dtype, device=device)
    shape_parameter = torch.full(shape, dof / 2.0, dtype=dtype, device=device)
    return torch._standard_gamma(shape_parameter, generator=generator).mul_(2.0)


def _reduced_step(student: Student, root_n: float, parallel: torch.Tensor, perpendicular: torch.Tensor,
                  gamma: torch.Tensor, z1: torch.Tensor, z2: torch.Tensor, rest: torch.Tensor, eta: torch.Tensor,
                  eta_gamma: torch.Tensor,
                  target_norm: float | None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """One SGD step of the reduced state: (new parallel, new perpendicular, new gamma, divergence probe).

    The state is p = w.u*, q = ||w - p u*|| >= 0 and gamma; the input enters through
    sqrt(N) x = z1 u* + z2 e + y with e = (w - p u*) / q and y orthogonal to both, rest = ||y||^2.
    Then w*.x = z1, w.x = (p z1 + q z2) / sqrt(N), and the update w <- (1 + c2) w + c1 x gives
    p <- (1 + c2) p + c1 z1 / sqrt(N) and q^2 <- ((1 + c2) q + c1 z2 / sqrt(N))^2 + c1^2 rest / N,
    with c1, c2 those of :func:`_step`. The probe is finite iff the run has not diverged (as in _step).
    """
    label = _activation(student.activation, z1)
    projection = parallel * z1 + perpendicular * z2  # sqrt(N) w.x
    if student.method == "sgd":
        wx = projection / root_n
        g_s, slope = activation_and_slope(student.activation, wx)
        along_x = eta * slope * (label - g_s) / root_n  # c1 / sqrt(N)
        new_parallel = parallel + along_x * z1
        new_perpendicular = torch.sqrt((perpendicular + along_x * z2).square() + along_x.square() * rest)
        return new_parallel, new_perpendicular, gamma, wx + gamma
    squared_norm = parallel.square() + perpendicular.square()
    inverse_norm = torch.rsqrt(squared_norm)
    field = projection * inverse_norm  # ds/dgamma = sqrt(N) w.x / ||w||
    s = gamma * field
    g_s, slope = activation_and_slope(student.activation, s)
    delta = slope * (label - g_s)
    eta_delta = eta * delta
    along_x = eta_delta * gamma * inverse_norm  # c1 / sqrt(N)
    keep_w = 1.0 - eta_delta * s * inverse_norm.square()  # 1 + c2
    if student.method == "bn":
        new_gamma = gamma + eta_gamma * (delta * field - student.zeta * gamma)
    else:
        new_gamma = gamma
    new_parallel = keep_w * parallel + along_x * z1
    new_perpendicular = torch.sqrt((keep_w * perpendicular + along_x * z2).square() + along_x.square() * rest)
    if target_norm is not None:
        rescale = target_norm * torch.rsqrt(new_parallel.square() + new_perpendicular.square())
        new_parallel = new_parallel * rescale
        new_perpendicular = new_perpendicular * rescale
    return new_parallel, new_perpendicular, new_gamma, s + squared_norm + new_gamma


def reduced_sgd_step(student: Student, N: int, parallel: torch.Tensor, perpendicular: torch.Tensor,
                     gamma: torch.Tensor | float, coordinates: torch.Tensor, rest: torch.Tensor,
                     eta: torch.Tensor | float,
                     target_norm: float | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The step :func:`online_sgd_reduced` takes: returns (new parallel, new perpendicular, new gamma).

    ``parallel`` = w.u* and ``perpendicular`` = ||w - (w.u*) u*|| (u* = w* / ||w*||, ||w*|| = sqrt(N))
    have shape [...]; ``coordinates`` [..., 2] are (z1, z2) and ``rest`` [...] is ||y||^2 of the input
    sqrt(N) x = z1 u* + z2 e + y (e the unit vector along w - (w.u*) u*, y orthogonal to u* and e).
    ``gamma``, ``eta`` and ``target_norm`` are as in :func:`sgd_step`. The inputs are not modified.
    """
    if not isinstance(student, Student):
        raise UsageError(f"student must be a Student, got {student!r}")
    N = _check_count("N", N, 2)
    if parallel.shape != perpendicular.shape or parallel.shape != rest.shape \
            or coordinates.shape != (*parallel.shape, 2):
        raise UsageError(f"parallel, perpendicular and rest must share one shape [...], coordinates [..., 2], got "
                         f"{tuple(parallel.shape)}, {tuple(perpendicular.shape)}, {tuple(rest.shape)} and "
                         f"{tuple(coordinates.shape)}")
    gamma_t = torch.as_tensor(gamma, dtype=parallel.dtype, device=parallel.device).expand(parallel.shape)
    eta_t = torch.as_tensor(eta, dtype=parallel.dtype, device=parallel.device).expand(parallel.shape)
    eta_gamma = eta_t / N if student.gamma_rate == "corrected" else eta_t
    new_parallel, new_perpendicular, new_gamma, _ = _reduced_step(
        student, math.sqrt(N), parallel, perpendicular, gamma_t, coordinates[..., 0], coordinates[..., 1], rest,
        eta_t, eta_gamma, target_norm)
    return new_parallel, new_perpendicular, new_gamma.clone()


def online_sgd_reduced(student: Student, N: int, etas: Sequence[float] | torch.Tensor, replicas: int,
                       times: Sequence[float] | torch.Tensor, *, gamma0: float, R0: float, L0: float | None = None,
                       generator: torch.Generator, device: torch.device | str, dtype: torch.dtype = torch.float64,
                       draw_dtype: torch.dtype | None = None, progress: Progress | None = None) -> torch.Tensor:
    """The order parameters of :func:`online_sgd`, run as the exact Markov chain of a reduced state.

    Same arguments, checks, output ([len(etas), replicas, len(times), 3], columns (gamma, R, L), or
    (L, R, L) for ``sgd``), records, divergence marking and ``progress`` calls as :func:`online_sgd`;
    what differs is how a step is drawn: three random numbers per run instead of N.

    The reduction. Take u* = w* / ||w*||, ||w*|| = sqrt(N), and write the student as
    w = p u* + q e with p = w.u*, q = ||w - p u*|| >= 0 and e the unit vector along w - p u*.
    A step uses the input only through w*.x, w.x and ||x||^2 (module docstring: both updates of
    w are w <- (1 + c2) w + c1 x, with c1, c2 functions of w.x, w*.x, ||w|| and gamma; the
    gamma step uses s and delta only), and the new (p, q) follow from them exactly: with
    sqrt(N) x = z1 u* + z2 e + y, y orthogonal to u* and e,
    p' = (1 + c2) p + c1 z1 / sqrt(N) and q'^2 = ((1 + c2) q + c1 z2 / sqrt(N))^2 + c1^2 ||y||^2 / N.
    For x ~ N(0, I/N) and any state, rotation invariance of the standard Gaussian sqrt(N) x gives
    z1, z2 i.i.d. N(0, 1) and ||y||^2 ~ chi^2_{N-2}, the three independent of each other and of
    the past (the past enters only through the basis (u*, e), which the law of a fresh x does
    not see). So (p, q, gamma) is a Markov chain whose transition law is that of the
    N-dimensional process: its records have exactly the law of :func:`online_sgd`'s, at every
    learning rate. When w lies along w* (q = 0, e undefined) the step sees z1 and ||x_perp||^2 =
    z2^2 + ||y||^2 ~ chi^2_{N-1}, which is the law of the complement of u* alone, so the same
    formulas hold there too. The initial state is p = R0 L0 sqrt(N), q = sqrt(1 - R0^2) L0 sqrt(N),
    gamma = gamma0 (L0 is gamma0 for ``sgd``); R = p / ||w||, L = ||w|| / sqrt(N), ||w||^2 = p^2 + q^2.
    This is a fact about the Gaussian input law only; nothing of the theory's ODE is used.

    Common random numbers. The runs of replica r at all learning rates take the same (z1, z2, ||y||^2)
    at each step, each in the basis of its own state. Every learning rate's runs have the exact
    law; the coupling across learning rates is one of shared coordinates, not of one shared input
    vector x, so the joint law of two learning rates' runs differs from :func:`online_sgd`'s.

    Order of draws from the generator, per block of K steps (step-major), in ``draw_dtype`` (default
    ``dtype``) on ``device``, then converted to ``dtype``: first ``torch.randn((K, 2, replicas))``, the
    (z1, z2) of each step and replica; then :func:`chi_square` with N - 2 degrees of freedom of shape
    (K, replicas), the ||y||^2. K = min(remaining steps, max(1, 4 MiB // (3 replicas itemsize))).
    Nothing is drawn for the initial state. On a CPU the next block is drawn in a background thread
    while the steps of the current one run (one block after the other, so the numbers are the serial ones).
    """
    N, replicas, eta_values, record_steps, gamma0, R0, L0, device, dtype, draw_dtype = _run_arguments(
        student, N, etas, replicas, times, gamma0, R0, L0, generator, device, dtype, draw_dtype, progress)
    n_etas = len(eta_values)
    root_n = math.sqrt(N)
    eta = torch.tensor(eta_values, dtype=dtype, device=device).unsqueeze(-1)  # [E, 1]
    eta_gamma = eta / N if student.gamma_rate == "corrected" else eta
    shape = (n_etas, replicas)
    parallel = torch.full(shape, R0 * L0 * root_n, dtype=dtype, device=device)
    perpendicular = torch.full(shape, math.sqrt(max(0.0, 1.0 - R0 * R0)) * L0 * root_n, dtype=dtype, device=device)
    gamma = torch.full(shape, gamma0, dtype=dtype, device=device)
    target_norm = L0 * root_n if student.frozen_length else None
    finite = torch.ones(shape, dtype=torch.bool, device=device)

    columns: dict[int, list[int]] = {}
    for column, step in enumerate(record_steps):
        columns.setdefault(step, []).append(column)
    records = torch.empty((n_etas, replicas, len(record_steps), 3), dtype=dtype, device=device)

    def record(step: int) -> None:
        norm = torch.hypot(parallel, perpendicular)
        length = norm / root_n
        scale = length if student.method == "sgd" else gamma
        values = torch.stack((scale, parallel / norm, length), dim=-1)
        values = values.masked_fill(~(finite & torch.isfinite(values).all(dim=-1)).unsqueeze(-1), math.nan)
        for column in columns[step]:
            records[:, :, column, :] = values

    def draw(steps: int) -> tuple[torch.Tensor, torch.Tensor]:
        z = torch.randn((steps, 2, replicas), generator=generator, device=device, dtype=draw_dtype)
        rest = chi_square(N - 2, (steps, replicas), generator, device, draw_dtype)
        return z.to(dtype), rest.to(dtype)

    total = max(record_steps)
    block = max(1, REDUCED_BLOCK_BYTES // (3 * replicas * torch.empty((), dtype=dtype).element_size()))
    sizes = [min(block, total - start) for start in range(0, total, block)]
    done = 0
    if done in columns:
        record(done)
    for z, rest in _drawn_ahead(draw, sizes, device):
        for k in range(z.shape[0]):
            parallel, perpendicular, gamma, check = _reduced_step(
                student, root_n, parallel, perpendicular, gamma, z[k, 0], z[k, 1], rest[k], eta, eta_gamma,
                target_norm)
            finite &= torch.isfinite(check)
            done += 1
            if done in columns:
                record(done)
        if progress is not None:
            progress(done, total)
    return records


# --- the Gaussian pair ------------------------------------------------------------------------------------------


def gaussian_pair_terms(activation: str, gamma: float, R: float, n: int, generator: torch.Generator,
                        device: torch.device | str) -> torch.Tensor:
    """[n, 3] float64 columns (delta s, delta^2, delta t) for n i.i.d. jointly Gaussian pairs (s, t).

    Var s = gamma^2, Var t = 1, Cov(s, t) = gamma R, and delta = g'(s) (g(t) - g(s)):
    s = gamma z1, t = R z1 + sqrt(1 - R^2) z2, with (z1, z2) the rows of one
    randn((2, n)) draw. For Monte Carlo estimates of the expectations in the theory's ODEs.
    """
    _check_activation(activation)
    gamma = _check_real("gamma", gamma)
    R = _check_real("R", R)
    if not -1.0 <= R <= 1.0:
        raise UsageError(f"R must lie in [-1, 1], got {R!r}")
    n = _check_count("n", n, 1)
    device = _check_device(generator, device)
    z = torch.randn((2, n), generator=generator, device=device, dtype=torch.float64)
    s = gamma * z[0]
    t = R * z[0] + math.sqrt(max(0.0, 1.0 - R * R)) * z[1]
    g_s, slope = activation_and_slope(activation, s)
    delta = slope * (_activation(activation, t) - g_s)
    return torch.stack((delta * s, delta.square(), delta * t), dim=-1)
