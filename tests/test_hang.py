"""Hang-proofing: expressions known to keep SymPy busy for a minute or more come back within their budgets.

The hostile expressions expand ``X**50`` with ``X = a + b + c + d + 1`` (316251 terms), which every
strategy that expands runs into. Timed without a budget on the development machine (SymPy 1.14, one
subprocess at a time on two shared cores): ``simplify`` of ``X**50 - X**48 * expand(X**2)`` took 66 s and
``gammasimp(expand_func(.))`` of it 58 s; ``expand`` and ``cancel(together(expand(.)))`` of it,
``factor(simplify(.))`` of the inequality's difference and the Stirling series of ``(X + 1/M)**50`` each
ran past a 30 s limit (at ``X**40`` simplify and gammasimp finished in 24-27 s, hence the 50th power).
:func:`test_the_expressions_are_hostile` measures it again (30 s each, behind the ``montecarlo``
marker). Numerically the same claims are cheap: mpmath evaluates the unexpanded forms to 50 digits at
24 points in a fraction of a second, so the fallback decides them.

Time bounds are derived from the budgets, never tuned: every budgeted call the prover and the
verifier make is counted with the seconds it was given, and a run must end within the sum of those
seconds plus, per call, :func:`allowance` (fork, pipe and reap, measured once on trivial calls). The
same counts are checked against the bound :class:`~bnsym.verify.Settings` documents
(strategies x budget + numeric budget per claim or link), and against ``claim_budget`` where set.
"""

from __future__ import annotations

import functools
import json
import multiprocessing
import os
import signal
import subprocess
import sys
import textwrap
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator
from unittest import mock

import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from bnsym import (
    Asymptotic,
    Derivation,
    GaussianExpectation,
    Identity,
    Inequality,
    Param,
    Source,
    Theorem,
    budget,
    by,
    prover,
    quadrature,
    verify,
)
from bnsym.budget import run_with_budget
from bnsym.cli import EXIT_OK, EXIT_UNDECIDED, main
from bnsym.errors import DefinitionError
from bnsym.verdict import Status, Verdict
from bnsym.verify import Settings, verify_claim

FORK = "fork" in multiprocessing.get_all_start_methods() and os.environ.get("BNSYM_NO_FORK") != "1"
needs_fork = pytest.mark.skipif(not FORK, reason="budgets can stop a hung call only in a forked child")
linux = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc and PR_SET_PDEATHSIG are Linux's")

PARAMS = tuple(Param(n, lo=0, lo_open=True, sample_lo=0.1, sample_hi=0.5) for n in "abcd")
M = Param("M", lo=2, integer=True, sample_hi=1000, law="log")
X = sum((p.symbol for p in PARAMS), sp.S.One)  # in [1.4, 3]: X**50 below 1e24, well inside 50 digits
P = sp.expand(X**2)  # 15 terms; X**48 * P is X**50 that only an expansion shows equal
MM = M.symbol
gamma = Param("gamma", lo=0, lo_open=True, sample_lo=0.2, sample_hi=3)  # of the Gaussian expectation below
R = Param("R", lo=-1, hi=1, lo_open=True, hi_open=True)
G, RR = gamma.symbol, R.symbol

BUDGET = 0.5  # seconds per strategy: well past the fork (milliseconds), far below the minutes a hang takes
NUMERIC_BUDGET = 5.0  # the fallbacks here take 0.1-0.3 s; the rest is room for a busy machine
HANGING = ("expand-cancel-together", "gammasimp", "simplify")  # the strategies of the ladder that expand
OVERHEAD_FACTOR = 10  # a killed child's reap and two shared cores' scheduling, over a quiet trivial call


@functools.lru_cache(maxsize=None)
def allowance() -> float:
    """Seconds one budgeted call may take beyond its budget: OVERHEAD_FACTOR times the slowest of five
    trivial calls (fork, pipe, reap; a child killed at its budget costs the same kill and reap)."""
    times = []
    for _ in range(5):
        t0 = time.perf_counter()
        assert run_with_budget(int, "0", seconds=60).ok
        times.append(time.perf_counter() - t0)
    return OVERHEAD_FACTOR * max(times)


@contextmanager
def counted_budgets() -> Iterator[list[float]]:
    """The seconds given to every budgeted call of the prover and the verifier while open."""
    calls: list[float] = []

    def counting(fn: Any, *args: Any, seconds: float) -> budget.Outcome:
        calls.append(seconds)
        return run_with_budget(fn, *args, seconds=seconds)

    with mock.patch.object(prover, "run_with_budget", counting), mock.patch.object(verify, "run_with_budget", counting):
        yield calls


def bound(calls: list[float]) -> float:
    """The time a run may take: every call's budget, plus the allowance per call."""
    return sum(max(c, 0.0) for c in calls) + len(calls) * allowance()


def _theorem(claim: Any) -> Theorem:
    return Theorem("hostile expressions", Source("tests"), PARAMS + (M, gamma, R), (claim,))


def _verify(claim: Any, settings_: Settings) -> Verdict:
    v = verify_claim(_theorem(claim), claim, "hang." + claim.title.replace(" ", "_"), "claim", settings_)
    assert v is not None
    return v


def _timed(claim: Any, settings_: Settings) -> tuple[Verdict, float, list[float]]:
    allowance()  # measured before the clock starts
    with counted_budgets() as calls:
        t0 = time.perf_counter()
        v = _verify(claim, settings_)
        elapsed = time.perf_counter() - t0
    return v, elapsed, calls


def _spent(note: str, names: tuple[str, ...], seconds: float) -> list[str]:
    return [n for n in names if f"{n}: budget of {seconds:g} s spent" in note]


SETTINGS = Settings(budget=BUDGET, numeric_budget=NUMERIC_BUDGET)


# -- one claim of each kind ------------------------------------------------------------------------

@needs_fork
@pytest.mark.parametrize("rhs,expected", [
    (X**48 * P, Status.NUMERIC),
    (X**48 * (P + sp.Rational(1, 10**20)), Status.REFUTED),  # off by 1e-20: only 50 digits see it
], ids=["true", "false"])
def test_identity_that_hangs_every_expanding_strategy(rhs: sp.Expr, expected: Status) -> None:
    v, elapsed, calls = _timed(Identity(title="X^50 two ways", lhs=X**50, rhs=rhs), SETTINGS)
    assert v.status is expected, v.summary
    assert v.method == "mpmath"  # decided by the fallback, not by a strategy
    assert _spent(v.evidence["prover_note"], HANGING, BUDGET) == list(HANGING), v.evidence["prover_note"]
    assert v.evidence["strategies_tried"] == [name for name, _ in prover.EQUALITY_LADDER]
    assert len(calls) == len(prover.EQUALITY_LADDER) + 1  # the strategies, then the numeric check
    assert sum(calls) <= len(prover.EQUALITY_LADDER) * SETTINGS.budget + SETTINGS.numeric_budget
    assert len(HANGING) * BUDGET <= elapsed < bound(calls)


@needs_fork
def test_inequality_whose_sign_query_hangs() -> None:
    claim = Inequality(title="X^48 P below X^50 + 1", lhs=X**48 * P, op="<", rhs=X**50 + 1)
    v, elapsed, calls = _timed(claim, SETTINGS)
    assert v.status is Status.NUMERIC, v.summary
    assert _spent(v.evidence["prover_note"], ("assumptions",), BUDGET) == ["assumptions"]
    assert len(calls) == 2 and sum(calls) <= SETTINGS.budget + SETTINGS.numeric_budget
    assert BUDGET <= elapsed < bound(calls)


BINOMIAL = X**50 + 50 * X**49 / MM + 1225 * X**48 / MM**2  # (X + 1/M)**50 to O(M^-3)


@needs_fork
@pytest.mark.parametrize("rhs,expected", [
    (BINOMIAL, Status.NUMERIC),
    (BINOMIAL + X**48 / MM**2, Status.REFUTED),  # 1226 for C(50, 2): the remainder is of order M^-2
], ids=["true", "false"])
def test_asymptotic_claim_whose_series_hangs(rhs: sp.Expr, expected: Status) -> None:
    claim = Asymptotic(title="binomial series", lhs=(X + 1 / MM) ** 50, rhs=rhs, var=M, order=3)
    v, elapsed, calls = _timed(claim, SETTINGS)
    assert v.status is expected, v.summary
    assert v.method == "mpmath"
    assert _spent(v.evidence["prover_note"], ("series comparison",), BUDGET) == ["series comparison"]
    assert len(calls) == 2 and sum(calls) <= SETTINGS.budget + SETTINGS.numeric_budget
    assert BUDGET <= elapsed < bound(calls)


def test_numeric_fallback_of_a_high_order_expansion_is_not_refuted_by_round_off() -> None:
    """Where the series hangs, the numeric test decides alone: at order 10 it scales the remainder by
    up to 1e80, which its working precision must cover (at 66 digits round-off refuted this true claim)."""
    head = sum(MM**-k for k in range(1, 10))  # 1/(M-1) = sum_{k>=1} M^-k
    fast = Settings(symbolic=False)
    true = Asymptotic(title="geometric", lhs=1 / (MM - 1), rhs=head, var=M, order=10)
    false = Asymptotic(title="geometric, short", lhs=1 / (MM - 1), rhs=head - MM**-9, var=M, order=10)
    assert _verify(true, fast).status is Status.NUMERIC
    v = _verify(false, fast)
    assert v.status is Status.REFUTED and "grows" in v.summary


# -- derivations: per link, and capped per claim ------------------------------------------------------

@needs_fork
def test_derivation_with_a_hanging_link_and_a_hanging_map() -> None:
    settings_ = Settings(budget=BUDGET, numeric_budget=2.0)  # the map hangs for its whole numeric budget
    chain = Derivation(title="X^50 expanded", chain=[
        X**50,
        (X**48 * P, by.algebra),
        (X**50, by.truncation("expanded", sp.expand)),
    ])
    v, elapsed, calls = _timed(chain, settings_)
    assert [link.status for link in v.links] == [Status.NUMERIC, Status.UNDECIDED]
    assert v.status is Status.UNDECIDED
    assert v.links[1].summary == "could not apply truncated expansion: numeric budget of 2 s spent"
    assert v.summary.startswith("link 2 UNDECIDED: could not apply")
    ladder = len(prover.EQUALITY_LADDER)
    assert len(calls) == (ladder + 1) + 1  # link 1: strategies and numeric; link 2: the map only
    assert sum(calls) <= 2 * (ladder * settings_.budget + settings_.numeric_budget) + settings_.numeric_budget
    assert elapsed < bound(calls)


HANGING_CHAIN = Derivation(title="X^50 three ways", chain=[
    X**50,
    (X**48 * P, by.algebra),
    (X**46 * P**2, by.algebra),
    (X**50, by.algebra),
])


@needs_fork
@settings(max_examples=4, deadline=None, derandomize=True, database=None)
@given(claim_budget=st.floats(min_value=0.2, max_value=1.5))
def test_claim_budget_caps_a_chain_of_hanging_links(claim_budget: float) -> None:
    """Each link alone may take 3 x 0.5 s of hanging strategies and the numeric check; the claim ends by
    its budget, the links it did not reach UNDECIDED and named so."""
    settings_ = Settings(budget=BUDGET, numeric_budget=NUMERIC_BUDGET, claim_budget=claim_budget)
    v, elapsed, calls = _timed(HANGING_CHAIN, settings_)
    assert v.status is Status.UNDECIDED, v.summary
    note = f"claim budget of {claim_budget:g} s spent"
    assert note in v.summary
    assert [link.status for link in v.links] == [Status.UNDECIDED] * 3
    assert all(link.summary == f"not checked: {note}" for link in v.links[1:])
    assert max(calls) <= claim_budget  # every call was clipped to the time the claim had left
    assert elapsed < claim_budget + len(calls) * allowance()


@needs_fork
def test_a_map_that_names_an_undeclared_symbol_is_an_error_of_its_link() -> None:
    chain = Derivation(title="adds a symbol", chain=[
        X, (X, by.algebra), (X, by.truncation("adds y", lambda e: e + sp.Symbol("y"))),
    ])
    v, _, _ = _timed(chain, SETTINGS)
    assert [link.status for link in v.links] == [Status.PROVEN, Status.ERROR]
    assert "no declared parameter domain" in v.links[1].summary


# -- Gaussian expectations ----------------------------------------------------------------------------

s_, t_ = sp.symbols("s t", real=True)


@needs_fork
def test_gaussian_expectation_ends_by_its_claim_budget() -> None:
    """I1 of an erf student (Luo et al.), a quadrature of seconds, stopped by a claim budget of 0.2 s."""
    erf_prime = sp.sqrt(2 / sp.pi) * sp.exp(-(s_**2) / 2)
    claim = GaussianExpectation(
        title="erf I1", integrand=erf_prime * (sp.erf(t_ / sp.sqrt(2)) - sp.erf(s_ / sp.sqrt(2))) * s_,
        variables=(s_, t_), covariance=((G**2, G * RR), (G * RR, 1)),
        value=2 / (sp.pi * (1 + G**2)) * (G * RR / sp.sqrt(2 + 2 * G**2 - G**2 * RR**2) - G**2 / sp.sqrt(1 + 2 * G**2)))
    quadrature.warm(quadrature.DEFAULT_DPS)  # the rules, built in the parent, before the clock starts
    v, elapsed, calls = _timed(claim, Settings(claim_budget=0.2))
    assert v.status is Status.UNDECIDED
    assert v.summary == "claim budget of 0.2 s spent"
    assert elapsed < 0.2 + len(calls) * allowance()


@needs_fork
def test_a_kink_sympy_cannot_reduce_is_refused_when_declared(monkeypatch: pytest.MonkeyPatch) -> None:
    """The switching line of ``Max(0, s * (X**50 - X**48 P) + t)`` is t = 0 only after the hanging
    expansion; declaring the claim (a derivation file's import, outside any verification budget) refuses it
    within the kink budget instead of hanging."""
    monkeypatch.setattr(quadrature, "KINK_BUDGET", BUDGET)
    allowance()
    t0 = time.perf_counter()
    with pytest.raises(DefinitionError, match=f"did not reduce it within {BUDGET:g} s"):
        GaussianExpectation(title="hostile kink", integrand=sp.Max(0, s_ * (X**50 - X**48 * P) + t_),
                            variables=(s_, t_), covariance=((1, 0), (0, 1)), value=0)
    assert time.perf_counter() - t0 < BUDGET + allowance()


# -- through the command line ---------------------------------------------------------------------------

USER_FILE = '''\
import sympy as sp
from bnsym import Identity, Inequality, Param, Source, Theorem

params = tuple(Param(n, lo=0, lo_open=True, sample_lo=0.1, sample_hi=0.5) for n in "abcd")
x = sum((p.symbol for p in params), sp.S.One)


class Opaque(sp.Function):
    """SymPy carries it along; mpmath cannot evaluate it anywhere."""

    @staticmethod
    def _imp_(v):
        raise ValueError("no numeric value")


{claims}
hostile = Theorem(title="hostile", source=Source("tests"), params=params, claims=({names}))
'''

CLAIMS = {
    "holds": ('two_ways = Identity(title="X^50 two ways", lhs=x**50, rhs=x**48 * sp.expand(x**2))\n'
              'below = Inequality(title="below", lhs=x**48 * sp.expand(x**2), op="<", rhs=x**50 + 1)\n',
              "two_ways, below"),
    "undecided": ('opaque = Identity(title="X^50 two ways, opaque", lhs=x**50 + Opaque(x),'
                  ' rhs=x**48 * sp.expand(x**2) + Opaque(x))\n', "opaque,"),
}


@needs_fork
@pytest.mark.parametrize("kind,code,statuses", [
    ("holds", EXIT_OK, {"NUMERIC"}),  # the fallback decides both claims, and NUMERIC holds
    ("undecided", EXIT_UNDECIDED, {"UNDECIDED"}),  # mpmath cannot evaluate Opaque: nothing decides it
])
def test_cli_verify_of_a_hanging_file_returns_within_its_budgets(
        kind: str, code: int, statuses: set[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    claims, names = CLAIMS[kind]
    path = tmp_path / f"hostile_{kind}.py"
    path.write_text(USER_FILE.format(claims=claims, names=names))
    allowance()
    t0 = time.perf_counter()
    assert main(["list", str(path), "--json"]) == EXIT_OK  # parsing and loading the file, timed for the bound
    load = time.perf_counter() - t0
    capsys.readouterr()
    with counted_budgets() as calls:
        t0 = time.perf_counter()
        # one job: the budgets are counted in this process (workers of --jobs N would spend them unseen)
        exit_code = main(["verify", str(path), "--budget", "0.5", "--quiet", "--json", "--jobs", "1"])
        elapsed = time.perf_counter() - t0
    out, err = capsys.readouterr()
    report = json.loads(out)
    assert exit_code == code == report["exit_code"], out
    claims_out = [c for th in report["theorems"] for c in th["claims"]]
    assert {c["status"] for c in claims_out} == statuses
    assert all(_spent(c["evidence"]["prover_note"], HANGING + ("assumptions",), 0.5) for c in claims_out)
    defaults = Settings()  # the CLI sets --budget only; the numeric budget is the default
    per_claim = {"identity": len(prover.EQUALITY_LADDER) * 0.5, "inequality": 0.5}
    assert sum(calls) <= sum(per_claim[c["kind"]] + defaults.numeric_budget for c in claims_out)
    assert elapsed < load + bound(calls)  # the parent's own work: loading the file, as `bnsym list` took
    assert err == ""


# -- without fork, and the processes a budget leaves behind ---------------------------------------------------

def test_without_fork_budgets_are_not_enforced_and_say_so(monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("BNSYM_NO_FORK", "1")
    out = run_with_budget(time.sleep, 0.3, seconds=0.05)  # runs here, past its budget
    assert out.ok and not out.enforced and out.seconds >= 0.3
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("bnsym: warning: a computation has run past its budget of 0.05 s")
    assert "BNSYM_NO_FORK=1 is set" in err and "Ctrl-C" in err
    assert run_with_budget(time.sleep, 0.01, seconds=5).ok and capsys.readouterr().err == ""  # within: silent
    claim = Identity(title="plain", lhs=X**2, rhs=P)
    v = _verify(claim, Settings(symbolic=False, points=2))
    assert v.status is Status.NUMERIC
    assert v.evidence["budgets"].startswith("budgets are not enforced (BNSYM_NO_FORK=1 is set)")
    monkeypatch.delenv("BNSYM_NO_FORK")
    monkeypatch.delattr(os, "fork")
    assert budget.unenforced_reason().startswith("budgets are not enforced (this platform has no fork)")
    proof = prover.prove_equal(X**2, P, BUDGET)
    assert proof.decided is True and "this platform has no fork" in proof.detail


@needs_fork
def test_budgets_nest_and_work_in_pool_workers() -> None:
    """A budget inside a budgeted child (a derivation's map calling the prover) and inside a process pool's
    worker (the round trip of ``bnsym latex --jobs``) is enforced like any other."""
    nested = run_with_budget(functools.partial(run_with_budget, time.sleep, 3600, seconds=0.2), seconds=30)
    assert nested.ok and nested.value.timed_out
    with multiprocessing.get_context("fork").Pool(2) as pool:
        outs = pool.map(functools.partial(run_with_budget, sum, seconds=30), [[1, 2], [3, 4]])
    assert [o.value for o in outs] == [3, 7]


CHILD_SCRIPT = '''\
import os, subprocess, sys, time
from bnsym.budget import run_with_budget

def write(path, text):
    with open(path + ".tmp", "w") as fh:
        fh.write(text)
    os.replace(path + ".tmp", path)

def inner(path):
    sleeper = subprocess.Popen(["sleep", "3600"])
    write(path, f"{os.getppid()} {os.getpid()} {sleeper.pid}")
    time.sleep(3600)

def outer(path):
    run_with_budget(inner, path, seconds=3600)

print(run_with_budget(outer, sys.argv[1], seconds=float(sys.argv[2])).timed_out, flush=True)
'''


def _alive(pid: int) -> bool:
    """Running (a zombie waiting for a parent that never reaps it counts as dead)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _wait(predicate: Any, seconds: float) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


@needs_fork
@linux
@pytest.mark.parametrize("ending", ["budget spent", "bnsym killed"])
def test_nothing_a_computation_started_outlives_it(ending: str, tmp_path: Path) -> None:
    """A child, the budgeted child nested in it and a program it started all die when its budget is spent
    (its process group is killed); when bnsym itself is killed the children die with it (a program they
    started is then orphaned: nothing is left to kill its group)."""
    pids = tmp_path / "pids"
    seconds = "3" if ending == "budget spent" else "3600"  # time enough to start the program first
    proc = subprocess.Popen([sys.executable, "-c", CHILD_SCRIPT, str(pids), seconds], stdout=subprocess.PIPE,
                            text=True, cwd=Path(__file__).resolve().parent.parent)
    try:
        assert _wait(pids.exists, 30), "the children never started"
        child, grandchild, sleeper = (int(p) for p in pids.read_text().split())
        if ending == "bnsym killed":
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
            gone = [child, grandchild]
        else:
            assert proc.communicate(timeout=30)[0].strip() == "True"
            gone = [child, grandchild, sleeper]
        # SIGKILL takes effect at once; the wait only covers the kernel's and the scheduler's delay
        assert _wait(lambda: not any(_alive(pid) for pid in gone), 5.0), [pid for pid in gone if _alive(pid)]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if pids.exists():
            try:
                os.kill(int(pids.read_text().split()[2]), signal.SIGKILL)
            except ProcessLookupError:
                pass


# -- the expressions really hang (heavy: minutes) ---------------------------------------------------------

HOSTILE = {
    "expand": "sp.expand(D)",
    "expand-cancel-together": "sp.cancel(sp.together(sp.expand(D)))",
    "gammasimp": "sp.cancel(sp.gammasimp(sp.expand_func(D)))",
    "simplify": "sp.simplify(D)",
    "assumptions": "sp.factor(sp.simplify(-D - 1))",
    "series comparison": "stirling_series((x + 1 / M)**50 - x**50 - 50 * x**49 / M, M, 3)",
}


@pytest.mark.montecarlo
@pytest.mark.parametrize("name", list(HOSTILE))
def test_the_expressions_are_hostile(name: str) -> None:
    """Without a budget each computation runs past 30 s (60 budgets of 0.5 s): the fast tests above measure
    budgets, not SymPy being quick."""
    code = textwrap.dedent(f"""
        import sympy as sp
        from bnsym.prover import stirling_series
        a, b, c, d = sp.symbols("a b c d", positive=True)
        M = sp.Symbol("M", positive=True, integer=True)
        x = a + b + c + d + 1
        D = x**50 - x**48 * sp.expand(x**2)
        {HOSTILE[name]}
    """)
    with pytest.raises(subprocess.TimeoutExpired):
        subprocess.run([sys.executable, "-c", code], timeout=30, cwd=Path(__file__).resolve().parent.parent)
