"""The command line: list, verify and check, their JSON, exit codes and error messages.

Exit codes: 0 every claim holds, 1 a claim was refuted, 2 usage error, 3 undecided or error.
Most cases call ``bnsym.cli.main`` in process; a few run ``python -m bnsym`` to see the real exit
status and that no traceback reaches the user.
"""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from bnsym.cli import EXIT_OK, EXIT_REFUTED, EXIT_UNDECIDED, EXIT_USAGE, main

# -- helpers ----------------------------------------------------------------------------------------


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """``main(argv)`` with its exit code (argparse errors exit through SystemExit), stdout and stderr."""
    try:
        code = main(list(argv))
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def run_subprocess(cwd: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bnsym", *argv], cwd=cwd, capture_output=True, text=True,
                          timeout=120)


def assert_usage_error(code: int, out: str, err: str, *named: str) -> str:
    """Exit 2, nothing on stdout, exactly one ``error:`` line (naming ``named``), no traceback."""
    assert code == EXIT_USAGE, err
    assert out == ""
    assert "Traceback" not in err
    errors = [line for line in err.splitlines() if "error:" in line]
    assert len(errors) == 1, err
    for name in named:
        assert name in errors[0]
    return errors[0]


def write(path: Path, source: str) -> Path:
    path.write_text(textwrap.dedent(source))
    return path


# A user's derivation file, the kind the README shows: one true and one wrong identity.
SUMS = '''\
    """Sums of powers: one identity right, one with the wrong denominator."""
    import sympy as sp

    from bnsym import Identity, Param, Source, Theorem

    n = Param("n", lo=1, integer=True, sample_hi=1000, law="log")
    k = sp.Symbol("k", integer=True, positive=True)

    sum_of_integers = Identity(
        title="1 + 2 + ... + n = n(n+1)/2",
        lhs=sp.summation(k, (k, 1, n.symbol)),
        rhs=n.symbol * (n.symbol + 1) / 2,
    )
    sum_of_squares = Identity(
        title="1 + 4 + ... + n^2 = n(n+1)(2n+1)/3",  # wrong: the denominator is 6
        lhs=sp.summation(k**2, (k, 1, n.symbol)),
        rhs=n.symbol * (n.symbol + 1) * (2 * n.symbol + 1) / 3,
    )

    sums = Theorem("Sums of powers", Source("folklore"), params=(n,), claims=(CLAIMS))
'''


def sums_file(folder: Path, claims: str = "sum_of_integers, sum_of_squares") -> Path:
    return write(folder / "powers.py", SUMS.replace("CLAIMS", claims))


# -- list -------------------------------------------------------------------------------------------

def test_list(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "list")
    assert code == EXIT_OK
    for tid in ("luo2019.L1", "luo2019.L2", "luo2019.L3", "luo2019.L4"):
        assert f"\n{tid}: " in "\n" + out
    assert "luo2019.L3.inv_sigma_sq_printed  identity (printed)" in out
    assert "[monte carlo]" in out


def test_list_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "list", "--json")
    assert code == EXIT_OK
    data = json.loads(out)
    assert data["command"] == "list"
    ids = {t["id"] for t in data["theorems"]}
    assert {"luo2019.L1", "luo2019.L2", "luo2019.L3", "luo2019.L4"} <= ids
    claims = {c["id"]: c for t in data["theorems"] for c in t["claims"]}
    assert claims["luo2019.L4.population_variance_process"]["monte_carlo"] is True
    assert claims["luo2019.L4.population_variance_process"]["kind"] == "process"
    assert claims["luo2019.L3.inv_sigma_sq_printed"]["role"] == "printed"


# -- verify -----------------------------------------------------------------------------------------

def test_verify_theorem_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "verify", "luo2019.L1", "--json")
    assert code == EXIT_OK, out
    data = json.loads(out)
    assert data["command"] == "verify" and data["exit_code"] == EXIT_OK
    [theorem] = data["theorems"]
    assert theorem["id"] == "luo2019.L1"
    statuses = {c["id"]: c["status"] for c in theorem["claims"]}
    assert statuses and all(s in ("PROVEN", "NUMERIC") for s in statuses.values())
    assert sum(data["summary"].values()) == len(statuses)
    assert "luo2019.L1.prior_var_mu" in data["monte_carlo_only"]  # process claims are left to `check`
    assert all(c["method"] and c["kind"] in ("identity", "asymptotic", "derivation") for c in theorem["claims"])
    assert "PROVEN" in err  # progress lines go to stderr, never into the JSON


def test_verify_in_parallel_gives_the_same_verdicts_in_the_same_order(capsys: pytest.CaptureFixture[str]) -> None:
    def verdicts(jobs: str) -> list[tuple[str, str, str]]:
        code, out, _ = run(capsys, "verify", "luo2019.L1", "--json", "--quiet", "--jobs", jobs)
        assert code == EXIT_OK, out
        return [(c["id"], c["status"], c["summary"]) for t in json.loads(out)["theorems"] for c in t["claims"]]

    serial, parallel = verdicts("1"), verdicts("2")
    assert len(serial) > 2 and serial == parallel


def test_verify_claim_ids_with_an_erratum(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "verify", "luo2019.L3.inv_sigma_sq_printed", "luo2019.L3.inv_sigma_sq_mean",
                       "--quiet")
    assert code == EXIT_OK  # the refuted printed form is the expected finding
    lines = out.splitlines()
    printed = next(line for line in lines if "luo2019.L3.inv_sigma_sq_printed" in line)
    corrected = next(line for line in lines if "luo2019.L3.inv_sigma_sq_mean" in line)
    assert "REFUTED" in printed and "printed:" in printed
    assert "PROVEN" in corrected and "corrected:" in corrected
    assert "counterexample: M=" in out
    assert "2 claims:" in out


def test_verify_user_file_with_a_wrong_identity(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = sums_file(tmp_path)
    code, out, _ = run(capsys, "verify", str(path), "--quiet")
    assert code == EXIT_REFUTED
    right = next(line for line in out.splitlines() if "powers.sums.sum_of_integers" in line)
    wrong = next(line for line in out.splitlines() if "powers.sums.sum_of_squares" in line)
    assert "PROVEN" in right
    assert "REFUTED" in wrong
    assert "counterexample: n=" in out


def test_verify_user_file_that_holds(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = sums_file(tmp_path, claims="sum_of_integers,")
    code, out, _ = run(capsys, "verify", str(path), "--quiet", "--json")
    assert code == EXIT_OK
    data = json.loads(out)
    [claim] = data["theorems"][0]["claims"]
    assert claim["id"] == "powers.sums.sum_of_integers"
    assert claim["status"] == "PROVEN"


def test_verify_undecided_claim_exits_3(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = write(tmp_path / "opaque.py", '''\
        import sympy as sp
        from bnsym import Identity, Param, Source, Theorem

        x = Param("x", sample_lo=0, sample_hi=1)
        f = sp.Function("f")  # undefined: no numeric value anywhere
        shift = Identity(title="f(x + 1) = f(x)", lhs=f(x.symbol + 1), rhs=f(x.symbol))
        opaque = Theorem("Undefined function", Source("tests"), params=(x,), claims=(shift,))
    ''')
    code, out, _ = run(capsys, "verify", str(path), "--quiet", "--budget", "2")
    assert code == EXIT_UNDECIDED
    assert "UNDECIDED" in out


# -- check ------------------------------------------------------------------------------------------

def test_check_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "check", "luo2019.L4", "--samples", "2000", "--json", "--device", "cpu",
                       "--quiet")
    assert code == EXIT_OK
    data = json.loads(out)
    assert data["command"] == "check" and data["seed"] == 0 and data["device"] == "cpu"
    [chk] = data["checks"]
    assert chk["id"] == "luo2019.L4.population_variance_process"
    assert chk["status"] == "CONSISTENT"
    ev = chk["evidence"]
    assert ev["seed"] == 0 and ev["device"] == "cpu"
    assert 0 < ev["resolution"] < 1
    assert ev["samples"] == 2000 * len(ev["rows"])
    for row in ev["rows"]:
        for key in ("estimate", "stderr", "claimed", "samples", "resolution"):
            assert key in row
        assert row["samples"] == 2000
        assert row["stderr"] > 0


def test_check_of_a_claim_without_monte_carlo(capsys: pytest.CaptureFixture[str]) -> None:
    assert_usage_error(*run(capsys, "check", "luo2019.L1.delta_method", "--samples", "100"), "no Monte Carlo")


# -- bad input --------------------------------------------------------------------------------------

@pytest.mark.parametrize("command", ["verify", "check", "list"])
def test_unknown_id(capsys: pytest.CaptureFixture[str], command: str) -> None:
    assert_usage_error(*run(capsys, command, "luo2019.L9.nothing", "--json"), "luo2019.L9.nothing")


def test_cuda_on_a_machine_without_gpu(capsys: pytest.CaptureFixture[str]) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    assert_usage_error(*run(capsys, "check", "luo2019.L4", "--device", "cuda", "--json"), "cuda")


BAD_CHECK_OPTIONS = [  # (options, what the error line names)
    (("--samples", "0"), "--samples"), (("--samples", "abc"), "--samples"), (("--samples", "-5"), "--samples"),
    (("--samples", "99"), "--samples"),
    (("--resolution", "2"), "--resolution"), (("--resolution", "0"), "--resolution"),
    (("--alpha", "0"), "--alpha"), (("--alpha", "1"), "--alpha"), (("--device", "tpu"), "'tpu'"),
    (("--samples", "200", "--resolution", "0.1"), "not allowed with"),
]


@pytest.mark.parametrize("option,named", [pytest.param(o, n, id=" ".join(o)) for o, n in BAD_CHECK_OPTIONS])
def test_bad_check_options(capsys: pytest.CaptureFixture[str], option: tuple[str, ...], named: str) -> None:
    assert_usage_error(*run(capsys, "check", "luo2019.L4", "--json", *option), named)


@pytest.mark.parametrize("option", [("--budget", "0"), ("--points", "x"), ("--dps", "-1")], ids=lambda o: o[0])
def test_bad_verify_options(capsys: pytest.CaptureFixture[str], option: tuple[str, ...]) -> None:
    assert_usage_error(*run(capsys, "verify", "luo2019.L1", "--json", *option), option[0])


BROKEN_FILES = {
    "missing.py": None,
    "notes.txt": "some notes\n",
    "raises.py": "raise RuntimeError('broken on purpose')\n",
    "syntax.py": "def (:\n",
    "empty.py": "x = 1\n",
}


@pytest.mark.parametrize("name", list(BROKEN_FILES))
@pytest.mark.parametrize("command", ["verify", "list"])
def test_derivation_file_that_does_not_load(capsys: pytest.CaptureFixture[str], tmp_path: Path, name: str,
                                            command: str) -> None:
    path = tmp_path / name
    if BROKEN_FILES[name] is not None:
        path.write_text(BROKEN_FILES[name])
    line = assert_usage_error(*run(capsys, command, str(path), "--json"), str(path))
    if name == "raises.py":
        assert "broken on purpose" in line


def test_check_point_outside_its_domain(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = write(tmp_path / "outside.py", '''\
        import torch
        from bnsym import Param, ProcessClaim, Source, Theorem
        from bnsym.mc.engine import MonteCarloCheck

        M = Param("M", lo=2, integer=True, sample_hi=64, law="log")
        mean = ProcessClaim(title="E[x] = 1/M", quantity="E[x]", value=1 / M.symbol)
        outside = Theorem("A check outside the domain", Source("tests"), params=(M,), claims=(mean,))

        def simulate(points, n, gen, device):
            return torch.zeros(len(points), n, 1, dtype=torch.float64)

        check = MonteCarloCheck(claim=mean, simulate=simulate, points=[{"M": 8}, {"M": 1}])
    ''')
    line = assert_usage_error(*run(capsys, "check", str(path), "--samples", "100", "--json", "--device", "cpu"),
                              "M=1")
    assert "domain" in line


# -- real exit codes, no traceback ------------------------------------------------------------------

def test_subprocess_unknown_id(tmp_path: Path) -> None:
    proc = run_subprocess(tmp_path, "verify", "no.such.claim", "--json")
    assert proc.returncode == EXIT_USAGE
    assert proc.stdout == ""
    assert "Traceback" not in proc.stderr
    assert "'no.such.claim'" in proc.stderr


def test_subprocess_bad_samples(tmp_path: Path) -> None:
    proc = run_subprocess(tmp_path, "check", "luo2019.L4", "--samples", "abc")
    assert proc.returncode == EXIT_USAGE
    assert "Traceback" not in proc.stderr
    assert "--samples" in proc.stderr


def test_subprocess_user_file(tmp_path: Path) -> None:
    path = sums_file(tmp_path)
    proc = run_subprocess(tmp_path, "verify", path.name, "--quiet")  # a relative path, outside the repository
    assert proc.returncode == EXIT_REFUTED, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "PROVEN" in proc.stdout and "REFUTED" in proc.stdout


# -- random ids -------------------------------------------------------------------------------------

ODD_IDS = ["", " ", ".", "..", "luo2019.", "luo2019..L1", "LUO2019.L1", "L1", "luo2019.L1.", "luo2019.L5",
           "luo2019.L1.nothing", "\x00", "\n", "\t", "é", "\ud800", "a/b", "x.py", "-", "--", "-x", "--json",
           "' OR 1=1", "%s%s%n", "{}", "luo2019 L1", "*", "luo2019.L*"]


def _known_ids() -> set[str]:
    from bnsym.registry import load_builtin

    catalog = load_builtin()
    return set(catalog.entries) | {cid for e in catalog.entries.values() for cid, _, _ in e.claims()}


KNOWN = _known_ids()


@settings(max_examples=30, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.text(max_size=24), st.sampled_from(ODD_IDS)))
def test_random_ids_are_usage_errors(name: str) -> None:
    assume(name not in KNOWN and not any(k.startswith(name + ".") for k in KNOWN))
    # an id that looks like an option is passed after "--", as a user would have to
    argv = ["verify", name, "--quiet"] if not name.startswith("-") else ["verify", "--quiet", "--", name]
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as exc:
            code = exc.code
    assert code == EXIT_USAGE, err.getvalue()
    assert out.getvalue() == ""
    assert "error:" in err.getvalue()


def test_verify_of_process_claims_only_points_to_check(capsys: pytest.CaptureFixture[str]) -> None:
    assert_usage_error(*run(capsys, "verify", "luo2019.L1.prior_var_mu", "--json"), "bnsym check")


def test_dps_below_the_guard_digits_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert_usage_error(*run(capsys, "verify", "luo2019.L4", "--dps", "5"), "--dps")


def test_output_into_a_closed_pipe_ends_quietly() -> None:
    proc = subprocess.run(f"{sys.executable} -m bnsym list --json | head -c 10", shell=True, capture_output=True,
                          text=True, timeout=120)
    assert "Traceback" not in proc.stderr


# -- figures ---------------------------------------------------------------------------------------


def test_figure_lists_and_draws(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["figure"]) == 0
    assert "luo2019.fig1" in capsys.readouterr().out
    out = tmp_path / "fig1.png"
    assert main(["figure", "luo2019.fig1", "--quick", "--quiet", "-o", str(out), "--device", "cpu"]) == 0
    assert out.stat().st_size > 10_000 and out.read_bytes()[:4] == b"\x89PNG"
    assert "wrote" in capsys.readouterr().out
    assert main(["figure", "luo2019.fig1", "--quick", "--quiet", "--json", "-o", str(tmp_path / "f.pdf"),
                 "--device", "cpu"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["figure"] == "luo2019.fig1" and len(report["points"]) == 21 + 2  # 3 curves x 7, BN at 2 alphas


def test_figure_bad_input_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["figure", "luo2019.fig9"]) == 2
    assert "unknown figure" in capsys.readouterr().err
    assert main(["figure", "luo2019.fig1", "-o", str(tmp_path / "fig.txt")]) == 2
    assert main(["figure", "luo2019.fig1", "-o", str(tmp_path / "missing" / "fig.png")]) == 2
    assert list(tmp_path.iterdir()) == []  # nothing partial left behind
