"""The teacher-student bench family: its numpy baselines run the check's online-SGD process.

The baselines' step is compared with the simulator's own step (exact, up to rounding), their
observations with their definition at time 0, their draws with ``draws_per_unit``, and their
estimates with each other and with the check's simulator within Bonferroni z-thresholds; a
baseline at another learning rate must be told apart when the units make the shift detectable.
The Monte Carlo tests run at N = 50 (50 steps) to stay fast; the process is the same at any N.
The last tests hold the simulator to its documented draws when it draws the next input block
ahead in a background thread.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from bnsym.bench import teacher_student as T
from bnsym.bench.runner import find_point
from bnsym.mc.engine import claimed_values
from bnsym.mc.stats import bonferroni_z, normal_quantile
from bnsym.sim import teacher_student as TS
from bnsym.sim.teacher_student import Student, sgd_step
from checks.luo2019 import dynamics as C
from derivations.luo2019 import dynamics as D
from derivations.luo2019 import learning_rates as LR

pytestmark = pytest.mark.usefixtures("one_torch_thread")

ALPHA = 0.001  # false-alarm rate of each test below
SMALL = {**T.POINT, "N": 50}  # the check's point at N = 50: 50 steps per run
COLUMNS = ("gamma", "R", "L^2", "log gap")


@pytest.fixture(scope="module")
def catalog_check():
    """The check the family benches and its theorem, as the registry names them (module.theorem.claim)."""
    module, theorem, claim = T.CLAIM.split(".")
    assert (module, theorem) == ("luo2019", "L5") and getattr(D, claim) is D.bn_overlap
    assert D.bn_overlap in [c for c, _ in D.L5.all_claims()]
    (check,) = [c for c in C.CHECKS if c.claim is D.bn_overlap]
    return check, D.L5


def _bnsym(check, point: dict, units: int, seed: int) -> np.ndarray:
    obs = check.simulate([point], units, torch.Generator().manual_seed(seed), torch.device("cpu"))
    return obs[0].to(torch.float64).numpy()


def _mean_and_stderr(obs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return obs.mean(axis=0), obs.std(axis=0, ddof=1) / math.sqrt(obs.shape[0])


def test_family_names_one_point_of_the_check(catalog_check):
    check, _ = catalog_check
    point = find_point(T.FAMILY, check)
    assert point == T.POINT
    assert T.FAMILY.claim == T.CLAIM and T.FAMILY.key == "teacher-student"
    assert T.FAMILY.draws_per_unit(point) == 250 * (2 + 250)


def test_baseline_step_is_the_simulators_step():
    """The numpy step (one run and many) against bnsym.sim.teacher_student.sgd_step from the same state."""
    rng = np.random.default_rng(0)
    N, rows, eta, zeta = 30, 5, 1.7, 0.25
    w, x, w_star = rng.standard_normal((3, rows, N)) * np.array([1.3, 1 / math.sqrt(N), 1.0])[:, None, None]
    gamma = 0.5 + rng.random(rows)
    new_w, new_gamma = sgd_step(Student("bn", "relu", zeta=zeta), torch.from_numpy(w), torch.from_numpy(gamma),
                                torch.from_numpy(x), torch.from_numpy(w_star), eta)
    label = np.maximum((w_star * x).sum(axis=-1), 0.0)
    many_w, many_gamma = T._relu_step(w, gamma, x, label, eta, zeta)
    np.testing.assert_allclose(many_w, new_w.numpy(), rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(many_gamma, new_gamma.numpy(), rtol=1e-12, atol=1e-13)
    for r in range(rows):
        one_w, one_gamma = T._relu_step(w[r], float(gamma[r]), x[r], float(label[r]), eta, zeta)
        np.testing.assert_allclose(one_w, many_w[r], rtol=1e-13, atol=1e-14)
        assert one_gamma == pytest.approx(many_gamma[r], rel=1e-13)


@pytest.mark.parametrize("observe", [T.loop, T.vectorized])
def test_shape_and_columns_at_time_zero(observe):
    """No step: (gamma0, R0, L0^2, 0) in every row, from the constructed initial teacher and student."""
    point = {**SMALL, "time": 0.0, "R_init": -0.3, "L_init": 1.4, "gamma_init": 0.7}
    out = observe(point, 6, np.random.default_rng(1))
    assert out.shape == (6, 4) and out.dtype == np.float64
    expected = np.broadcast_to([0.7, -0.3, 1.4**2, 0.0], out.shape)
    np.testing.assert_allclose(out, expected, rtol=0, atol=1e-12)


class _Counting:
    """A numpy generator that counts the standard normals drawn through it."""

    def __init__(self, seed: int) -> None:
        self.rng, self.draws = np.random.default_rng(seed), 0

    def standard_normal(self, size):
        self.draws += int(np.prod(size))
        return self.rng.standard_normal(size)


@pytest.mark.parametrize("observe", [T.loop, T.vectorized])
def test_draws_per_unit_counts_the_baselines_draws(observe):
    rng = _Counting(2)
    units = 3
    out = observe(SMALL, units, rng)  # type: ignore[arg-type]
    assert rng.draws == units * T.draws_per_unit(SMALL)
    assert out.shape == (units, 4) and bool(np.isfinite(out).all())


@pytest.fixture(scope="module")
def estimates(catalog_check):
    """Observations of the three estimators at the small point (seeded; one torch thread, as in the tests)."""
    check, _ = catalog_check
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a module fixture is set up before the tests' one_torch_thread
    try:
        return {"bnsym": _bnsym(check, SMALL, 2048, seed=3),
                "loop": T.loop(SMALL, 256, np.random.default_rng(4)),
                "vectorized": T.vectorized(SMALL, 2048, np.random.default_rng(5))}
    finally:
        torch.set_num_threads(threads)


def test_three_estimators_agree_in_every_column(estimates, catalog_check):
    """Each pair's difference of column means over its combined standard error, all 4 columns, 3 pairs."""
    pairs = [("loop", "bnsym"), ("vectorized", "bnsym"), ("loop", "vectorized")]
    z = bonferroni_z(ALPHA, len(pairs) * len(COLUMNS))
    for a, b in pairs:
        (mean_a, se_a), (mean_b, se_b) = _mean_and_stderr(estimates[a]), _mean_and_stderr(estimates[b])
        gaps = np.abs(mean_a - mean_b) / np.hypot(se_a, se_b)
        assert bool((gaps < z).all()), f"{a} vs {b}: {dict(zip(COLUMNS, gaps.round(2)))} standard errors, z = {z:.2f}"
    check, _ = catalog_check
    mean = torch.from_numpy(estimates["bnsym"].mean(axis=0))
    assert float(check.estimand(mean, SMALL)) == pytest.approx(mean[1].item() - SMALL["R_init"])


@pytest.mark.parametrize("name, observe, units, eta", [("loop", T.loop, 256, 1.0),
                                                        ("vectorized", T.vectorized, 2048, 1.2)])
def test_a_baseline_at_another_rate_is_told_apart(estimates, catalog_check, name, observe, units, eta):
    """The estimand of a baseline run at ``eta`` against bnsym's at the point's rate.

    The shift is predicted by the ODE of the claim (the N -> oo means; at N = 50 they are off by
    O(1/N), the same at both rates to first order). The test first shows it has power: the predicted
    shift is at least (z_{alpha/2} + z_{0.999}) combined standard errors; then that the observed
    gap exceeds z_{alpha/2} of them."""
    check, theorem = catalog_check
    wrong = {**SMALL, "eta": eta}
    shift = abs(claimed_values(check.claim, theorem, [wrong])[0] - claimed_values(check.claim, theorem, [SMALL])[0])
    other = observe(wrong, units, np.random.default_rng(6))
    value_ours, value_other = estimates["bnsym"][:, 1], other[:, 1]
    se = math.hypot(value_ours.std(ddof=1) / math.sqrt(value_ours.size),
                    value_other.std(ddof=1) / math.sqrt(value_other.size))
    z = bonferroni_z(ALPHA, 1)
    assert shift >= (z + normal_quantile(0.999)) * se, f"{name}: the design cannot detect the shift {shift:.3g}"
    assert abs(value_ours.mean() - value_other.mean()) / se > z


def test_rates_lie_in_the_stable_range():
    etas = T.rates(T.POINT)
    assert len(etas) == T.RATES == 64
    assert etas[0] > 0 and np.mean(etas) == pytest.approx(T.POINT["eta"])
    zeta = T.POINT["zeta"]
    ceiling = min(2 + 4 * zeta, float(LR.eta_max_bn_full.subs(LR._zeta, zeta)))  # effective rate eta gamma0/L0^2
    assert max(etas) * T.POINT["gamma_init"] / T.POINT["L_init"] ** 2 < ceiling


def test_learning_rate_sweep_rows():
    extra = T.learning_rate_sweep({**SMALL, "time": 0.2}, torch.device("cpu"), min_seconds=0.02)
    names = [row.name for row in extra.rows]
    assert names == ["bnsym, 64 rates in one call", "bnsym, loop over the 64 rates",
                     "numpy vectorized, loop over the 64 rates"]
    assert extra.baseline == names[1] and extra.target == 20.0
    assert {row.units for row in extra.rows} == {64 * T.EXTRA_REPLICAS}
    assert all(row.seconds > 0 for row in extra.rows)


# --- the simulator's input blocks, drawn ahead on a CPU -------------------------------------------------------------


def test_blocks_drawn_ahead_are_the_serial_draws():
    sizes, shape = [3, 3, 1], (4, 5)
    ahead = list(TS._input_blocks(sizes, shape, torch.Generator().manual_seed(11), torch.device("cpu"),
                                  torch.float32))
    generator = torch.Generator().manual_seed(11)
    serial = [torch.randn((k, *shape), generator=generator, dtype=torch.float32) for k in sizes]
    assert len(ahead) == len(serial) and all(torch.equal(a, s) for a, s in zip(ahead, serial))


def test_a_run_of_many_blocks_is_the_serial_run(monkeypatch):
    """online_sgd over several input blocks, with the next block drawn ahead and with every block drawn in turn."""
    arguments = dict(N=20, etas=[0.5, 2.0], replicas=3, times=[0.0, 0.35, 1.5], gamma0=1.0, R0=0.2, L0=1.0,
                     device=torch.device("cpu"), draw_dtype=torch.float32)
    student = Student("bn", "relu", zeta=0.25)
    monkeypatch.setattr(TS, "BLOCK_BYTES", 3 * 20 * 8 * 4)  # 4 steps per block: 8 blocks for 30 steps
    ahead = TS.online_sgd(student, generator=torch.Generator().manual_seed(12), **arguments)

    def in_turn(sizes, shape, generator, device, dtype):
        for k in sizes:
            yield torch.randn((k, *shape), generator=generator, device=device, dtype=dtype)

    monkeypatch.setattr(TS, "_input_blocks", in_turn)
    serial = TS.online_sgd(student, generator=torch.Generator().manual_seed(12), **arguments)
    assert torch.equal(ahead, serial)
