"""Bad input never gives a traceback or a partial file: the CLI and the derivation loader under malformed
ids, option values, derivation files and LaTeX (hypothesis and tables), and the one atomic writer.

Every case calls ``bnsym.cli.main`` in process, in an empty working folder (``tmp_path``, so a default
output would land there), and asserts: the exit code is documented (2 for every refusal; 0, 1 or 3 only
where the input is valid), stderr has exactly one ``error:`` line and no traceback, stdout is empty on a
refusal, and the folder holds afterwards exactly what it held before (no output, no temporary file) --
except the annotated ``NAME.bnsym.tex`` copy, which appears exactly when ``bnsym verify NAME.tex`` checked
the file (exit 0, 1 or 3) and never on a refusal.

Cheap by construction: every refused input fails before the heavy work (the options and paths are
checked before anything is loaded, simulated, typeset or proven), and the valid LaTeX of the grammar is
small polynomial and rational algebra, which the prover's first strategies decide at once.
"""

from __future__ import annotations

import functools
import json
import os
import re
import stat
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from bnsym.cli import EXIT_OK, EXIT_REFUTED, EXIT_UNDECIDED, EXIT_USAGE, main
from bnsym.errors import UsageError
from bnsym.files import output_path, staged_folder, umask, write_atomically
from bnsym.numeric import MIN_DPS
from bnsym.texin import ERROR_CONTEXT

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"

# Bounded and reproducible: derandomized, no example database, function-scoped fixtures shared by the
# examples of one test (each example compares the folder before and after itself).
BOUNDED = settings(max_examples=25, deadline=None, derandomize=True, database=None,
                   suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                          HealthCheck.filter_too_much])


# -- helpers ----------------------------------------------------------------------------------------------------

def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """``main(argv)``: its exit code (argparse errors exit through SystemExit), stdout and stderr."""
    capsys.readouterr()
    try:
        code = main(list(argv))
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def listing(folder: Path) -> list[str]:
    """Every file and folder under ``folder``, hidden ones (temporary files) included."""
    out = []
    for root, dirs, files in os.walk(folder):
        rel = Path(root).relative_to(folder)
        out += [str(rel / n) for n in dirs + files]
    return sorted(out)


def one_error_line(err: str) -> str:
    """The one ``error:`` line of stderr (``bnsym: error:``, or argparse's ``bnsym CMD: error:``)."""
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if "error:" in line]
    assert len(lines) == 1, err
    assert re.match(r"bnsym( [a-z]+)?: error: \S", lines[0]), lines[0]
    return lines[0]


def assert_refused(result: tuple[int, str, str], folder: Path, before: list[str], *named: str) -> str:
    """Exit 2, nothing on stdout, one error line (naming ``named``), and the folder as it was."""
    code, out, err = result
    assert code == EXIT_USAGE, (code, err)
    assert out == ""
    line = one_error_line(err)
    for name in named:
        assert name in line, line
    assert listing(folder) == before
    return line


@functools.lru_cache(maxsize=1)
def catalog():
    from bnsym.registry import load_builtin

    return load_builtin(with_checks=True)


@functools.lru_cache(maxsize=1)
def known() -> frozenset[str]:
    """Every id that names something: papers, theorems, claims and figures."""
    cat = catalog()
    ids = set(cat.entries) | {cid for e in cat.entries.values() for cid, _, _ in e.claims()} | set(cat.figures)
    return frozenset(ids | {i.split(".", 1)[0] for i in ids})


def names_something(text: str) -> bool:
    return text in known() or any(k.startswith(text + ".") for k in known())


# -- malformed ids ----------------------------------------------------------------------------------------------

ODD = ["", " ", ".", "..", "...", "luo2019.", ".L1", "luo2019..L1", "luo2019.L1.", "LUO2019.L1", "luo2019.l1",
       "luo2019 .L1", " luo2019.L1", "luo2019.L1 ", "luo2019.L99", "luo2019.L1.nothing", "luo2019.L1.x.y", "\x00",
       "\n", "\t", "é", "σ_B", "\ud800", "\u202e", "a/b", "/", "x.py", "x.tex", "%s%n", "{}", "*", "luo2019.L*",
       "luo2019.fig1.", "luo2019.fig", "-", "-x", "--", "--json", "'; rm -rf /"]


def near_misses(real: str) -> st.SearchStrategy[str]:
    """Ids one edit away from a real one: a case change, a dropped, doubled or replaced character, an
    empty segment, an extra segment, spaces."""
    k = st.integers(min_value=0, max_value=max(len(real) - 1, 0))
    return st.one_of(
        st.just(real.swapcase()), st.just(real + "."), st.just("." + real), st.just(real.replace(".", "..", 1)),
        st.just(real + ".nothing"), st.just(f" {real}"), st.just(real.replace(".", " ", 1)),
        k.map(lambda i: real[:i] + real[i + 1:]), k.map(lambda i: real[:i] + real[i] + real[i:]),
        st.tuples(k, st.characters(codec="utf-8")).map(lambda t: real[:t[0]] + t[1] + real[t[0] + 1:]),
    )


REAL = ["luo2019", "luo2019.L1", "luo2019.L3", "luo2019.L3.inv_sigma_sq_mean", "luo2019.L4", "kohler2019.K1",
        "luo2019.fig1"]
IDS = st.one_of(st.sampled_from(ODD), st.text(max_size=16),
                st.lists(st.text(alphabet="abL19._", max_size=5), min_size=1, max_size=4).map(".".join),
                st.sampled_from(REAL).flatmap(near_misses))


def _id_argv(command: str, name: str, folder: Path) -> list[str]:
    """The command line refusing ``name``; an id that looks like an option goes after ``--``, as a user
    would have to write it."""
    extra = {"list": [], "verify": ["--quiet"], "check": ["--quiet", "--device", "cpu"], "latex": ["--quiet"],
             "report": ["--quiet", "--no-figures", "-o", str(folder / "r.pdf")], "figure": ["--quiet"]}[command]
    return [command, *extra, "--", name] if name.startswith("-") else [command, name, *extra]


@pytest.mark.parametrize("command", ["list", "verify", "check", "latex", "report", "figure"])
@BOUNDED
@given(name=IDS)
def test_malformed_ids_are_refused(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                   monkeypatch: pytest.MonkeyPatch, command: str, name: str) -> None:
    monkeypatch.chdir(tmp_path)
    assume(not names_something(name))
    if command == "figure":
        assume(name not in catalog().figures)
    before = listing(tmp_path)
    line = assert_refused(run(capsys, *_id_argv(command, name, tmp_path)), tmp_path, before)
    if name.strip(" .") and "\x00" not in name and command != "figure":
        assert "unknown id" in line or "no such file" in line or "cannot read" in line or "folder" in line, line


def test_a_claim_id_is_refused_by_latex_and_report_with_its_theorem(capsys: pytest.CaptureFixture[str],
                                                                    tmp_path: Path) -> None:
    before = listing(tmp_path)
    for argv in (["latex", "luo2019.L3.inv_sigma_sq_mean"],
                 ["report", "luo2019.L3.inv_sigma_sq_mean", "-o", str(tmp_path / "r.pdf")]):
        assert_refused(run(capsys, *argv), tmp_path, before, "is a claim", "luo2019.L3")


def test_an_empty_id_gets_no_meaningless_suggestion(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    line = assert_refused(run(capsys, "verify", "", "--quiet"), tmp_path, listing(tmp_path), "unknown id ''")
    assert "did you mean" not in line


# -- malformed option values ------------------------------------------------------------------------------------

NO_CUDA = pytest.mark.skipif("__import__('torch').cuda.is_available()", reason="this machine has a GPU")

BAD_OPTIONS = [  # (command line after the command, what the error line names)
    (["verify", "luo2019.L4", "--seed", "x"], "--seed"),
    (["verify", "luo2019.L4", "--budget", "inf"], "--budget"),
    (["verify", "luo2019.L4", "--budget", "nan"], "--budget"),
    (["verify", "luo2019.L4", "--budget", "1e999"], "--budget"),
    (["verify", "luo2019.L4", "--budget", "-1"], "--budget"),
    (["verify", "luo2019.L4", "--dps", "3"], "--dps"),
    (["verify", "luo2019.L4", "--points", "0"], "--points"),
    (["verify", "luo2019.L4", "--points", "2.5"], "--points"),
    (["check", "luo2019.L4", "--samples", "5"], "--samples"),
    (["check", "luo2019.L4", "--alpha", "2"], "--alpha"),
    (["check", "luo2019.L4", "--alpha", "nan"], "--alpha"),
    (["check", "luo2019.L4", "--resolution", "nan"], "--resolution"),
    (["check", "luo2019.L4", "--resolution", "inf"], "--resolution"),
    (["check", "luo2019.L4", "--seed", "1.5"], "--seed"),
    (["check", "luo2019.L4", "--device", "tpu"], "'tpu'"),
    (["check", "luo2019.L4", "--device", "cuda:x"], "'cuda:x'"),
    pytest.param(["check", "luo2019.L4", "--device", "cuda"], "cuda", marks=NO_CUDA, id="check-cuda-absent"),
    pytest.param(["figure", "luo2019.fig1", "--device", "cuda"], "cuda", marks=NO_CUDA, id="figure-cuda-absent"),
    pytest.param(["report", "luo2019.L4", "-o", "r.pdf", "--device", "cuda"], "cuda", marks=NO_CUDA,
                 id="report-cuda-absent"),
    pytest.param(["latex", "luo2019.L4", "--check", "--device", "cuda"], "cuda", marks=NO_CUDA,
                 id="latex-check-cuda-absent"),
    (["figure", "luo2019.fig1", "--device", "tpu"], "'tpu'"),
    (["latex", "luo2019.L4", "--check", "--device", "tpu"], "'tpu'"),
    (["latex", "luo2019.L4", "--device", "tpu"], "'tpu'"),
    (["figure", "--device", "tpu"], "'tpu'"),
    (["latex", "luo2019.L4", "--max-chars", "0"], "--max-chars"),
    (["latex", "luo2019.L4", "--jobs", "-2"], "--jobs"),
    (["report", "luo2019.L4", "-o", "r.pdf", "--max-chars", "x"], "--max-chars"),
    (["latex", "luo2019.L4", "-o", "out.pdf"], "must end in .tex"),
    (["latex", "luo2019.L4", "-o", "missing/out.tex"], "not a writable folder"),
    (["latex", "luo2019.L4", "-o", "adir.tex"], "it is a folder"),
    (["latex", "luo2019.L4", "-o", ".tex"], "must end in .tex"),
    (["latex", "luo2019.L4", "-o", "a\x00.tex"], "NUL"),
    (["report", "luo2019.L4", "-o", "r.tex"], "must end in .pdf"),
    (["report", "luo2019.L4", "-o", "missing/r.pdf"], "not a writable folder"),
    (["report", "luo2019.L4", "-o", "adir.pdf"], "it is a folder"),
    (["report", "luo2019.L4", "-o", "a b.pdf"], "may hold only"),
    (["figure", "luo2019.fig1", "-o", "fig.txt"], "must end in .png, .pdf, .svg"),
    (["figure", "luo2019.fig1", "-o", "missing/fig.png"], "not a writable folder"),
    (["figure", "luo2019.fig1", "-o", "adir.png"], "it is a folder"),
    (["figure", "-o", "fig.png"], "needs a figure NAME"),
    (["verify", "x.tex", "--budget", "inf"], "--budget"),
]


@pytest.mark.parametrize("argv,named", BAD_OPTIONS, ids=lambda a: " ".join(a) if isinstance(a, list) else None)
def test_bad_option_values_are_refused_before_any_work(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch, argv: list[str],
                                                       named: str) -> None:
    monkeypatch.chdir(tmp_path)
    for d in ("adir.tex", "adir.pdf", "adir.png"):
        (tmp_path / d).mkdir()
    before = listing(tmp_path)
    assert_refused(run(capsys, *argv), tmp_path, before, named)


def _unparsable(parse, text: str) -> bool:
    """Whether ``parse`` (int or float, as the CLI's option types use them) refuses ``text``."""
    try:
        parse(text)
    except (ValueError, OverflowError):
        return True
    return False


NOT_INT = st.text(max_size=8).filter(lambda t: _unparsable(int, t))
finite = functools.partial(st.floats, allow_nan=False, allow_infinity=False)
NUMBERS = {  # option -> (command, invalid values)
    "--seed": ("verify", NOT_INT),
    "--points": ("verify", st.one_of(NOT_INT, st.integers(max_value=0).map(str))),
    "--dps": ("verify", st.one_of(NOT_INT, st.integers(max_value=MIN_DPS - 1).map(str))),
    "--budget": ("verify", st.one_of(st.sampled_from(["inf", "-inf", "Infinity", "nan", "NaN", "1e400", "0", "-0"]),
                                     finite(max_value=0).map(repr), st.text(max_size=6).filter(
                                         lambda t: _unparsable(float, t)))),
    "--samples": ("check", st.one_of(NOT_INT, st.integers(max_value=99).map(str))),
    "--alpha": ("check", st.one_of(st.sampled_from(["nan", "inf", "1", "0"]), finite(min_value=1).map(repr),
                                   finite(max_value=0).map(repr))),
    "--resolution": ("check", st.one_of(st.sampled_from(["nan", "-inf", "1"]), finite(min_value=1).map(repr),
                                        st.text(max_size=6).filter(lambda t: _unparsable(float, t)))),
}


@pytest.mark.parametrize("option", list(NUMBERS))
@BOUNDED
@given(data=st.data())
def test_random_invalid_numbers_are_refused(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch, option: str, data: st.DataObject) -> None:
    monkeypatch.chdir(tmp_path)
    command, values = NUMBERS[option]
    value = data.draw(values)
    before = listing(tmp_path)
    # --option=VALUE: a value starting with '-' is still the option's value
    assert_refused(run(capsys, command, "luo2019.L4", f"{option}={value}", "--quiet"), tmp_path, before, option)


@BOUNDED
@given(device=st.text(max_size=10))
def test_random_devices_are_refused(capsys: pytest.CaptureFixture[str], tmp_path: Path, device: str) -> None:
    from bnsym.errors import DeviceError
    from bnsym.mc.device import resolve_device

    try:
        resolve_device(device)
        assume(False)  # a device this machine has (cpu, auto, ...)
    except DeviceError:
        pass
    before = listing(tmp_path)
    assert_refused(run(capsys, "check", "luo2019.L4", f"--device={device}", "--quiet"), tmp_path, before)


# -- malformed derivation files ---------------------------------------------------------------------------------

GOOD_HEAD = "import sympy as sp\nfrom bnsym import Identity, Param, Source, Theorem\n"
BROKEN_FILES: dict[str, tuple[str | bytes | None, str]] = {  # name -> (content, what the error line says)
    "raises.py": ("raise RuntimeError('broken on purpose')\n", "broken on purpose"),
    "syntax.py": ("def (:\n", "SyntaxError"),
    "exits.py": ("import sys\nsys.exit(4)\n", "SystemExit"),
    "multiline.py": ("raise ValueError('line one\\nline two')\n", "line one\\nline two"),
    "outside.py": (GOOD_HEAD + "M = Param('M', lo=2, integer=True, sample_lo=0, sample_hi=10)\n",
                   "not inside its domain"),
    "emptydomain.py": (GOOD_HEAD + "n = Param('n', lo=0.2, hi=0.8, integer=True)\n", "no point of its domain"),
    "undeclared.py": (GOOD_HEAD + "x = Param('x', sample_lo=0, sample_hi=1)\ny = sp.Symbol('y')\n"
                      "c = Identity(title='t', lhs=x.symbol + y, rhs=y + x.symbol)\n"
                      "T = Theorem('T', Source('s'), params=(x,), claims=(c,))\n", "no declared domain"),
    "undefined.py": (GOOD_HEAD + "x = Param('x', sample_lo=0, sample_hi=1)\n"
                     "c = Identity(title='t', lhs=x.symbol / 0, rhs=x.symbol)\n"
                     "T = Theorem('T', Source('s'), params=(x,), claims=(c,))\n", "undefined as written"),
    "notheorem.py": ("x = 1\n", "holds no theorems"),
    "empty.py": ("", "holds no theorems"),
    "binary.py": (b"\x00\xff\xfe\x89PNG\r\n", "does not import"),
    "latin1.py": ("s = 'caf\xe9'\n".encode("latin-1"), "does not import"),
    "notes.txt": ("some notes\n", "Python file"),
    "missing.py": (None, "no such file"),
    "folder.py": (None, "is a folder"),
}


@pytest.mark.parametrize("name", list(BROKEN_FILES))
@pytest.mark.parametrize("command", ["verify", "list", "check"])
def test_derivation_files_that_do_not_load(capsys: pytest.CaptureFixture[str], tmp_path: Path, name: str,
                                           command: str) -> None:
    content, what = BROKEN_FILES[name]
    path = tmp_path / name
    if name == "folder.py":
        path.mkdir()
    elif isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content)
    before = listing(tmp_path)
    extra = ["--device", "cpu"] if command == "check" else []
    assert_refused(run(capsys, command, str(path), *extra), tmp_path, before, str(path), what)


@BOUNDED
@given(content=st.one_of(st.binary(max_size=64), st.text(max_size=64)))
def test_random_file_content_is_refused(capsys: pytest.CaptureFixture[str], tmp_path: Path, content) -> None:
    """Whatever else it holds, a file with no bnsym.Theorem does not load: exit 2, never a traceback."""
    path = tmp_path / "random_content.py"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8", errors="surrogateescape")
    before = listing(tmp_path)
    assert_refused(run(capsys, "list", str(path)), tmp_path, before, str(path))


THEOREM = GOOD_HEAD + """x = Param("x", sample_lo=0, sample_hi=1)
same = Identity(title="x + x = 2 x", lhs=x.symbol + x.symbol, rhs=2 * x.symbol)
T = Theorem("T", Source("tests"), params=(x,), claims=(same,))
"""


def test_two_files_defining_one_theorem_id_are_refused(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """Two files named ``t.py`` in two folders both define ``t.T``: the second must not replace the first."""
    for sub in ("a", "b"):
        (tmp_path / sub).mkdir()
        (tmp_path / sub / "t.py").write_text(THEOREM)
    before = listing(tmp_path)
    assert_refused(run(capsys, "verify", str(tmp_path / "a" / "t.py"), str(tmp_path / "b" / "t.py"), "--quiet"),
                   tmp_path, before, "both define the theorem t.T")


def test_a_file_named_twice_is_loaded_once(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "t.py").write_text(THEOREM)
    code, out, err = run(capsys, "verify", "t.py", "./t.py", "--quiet", "--json")
    assert code == EXIT_OK, err
    assert [c["id"] for t in json.loads(out)["theorems"] for c in t["claims"]] == ["t.T.same"]


CHECK_FILE = """import torch
from pathlib import Path
from bnsym import Param, ProcessClaim, Source, Theorem
from bnsym.mc.engine import MonteCarloCheck

M = Param("M", lo=2, integer=True, sample_hi=64, law="log")
mean = ProcessClaim(title="E[x] = 1/M", quantity="E[x]", value=1 / M.symbol)
T = Theorem("Two checks, the second outside the domain", Source("tests"), params=(M,), claims=(mean,))

def simulate(points, n, gen, device):
    Path(__file__).with_name("simulated").write_text("the simulator ran")
    return torch.full((len(points), n, 1), 1.0 / points[0]["M"], dtype=torch.float64)

good = MonteCarloCheck(claim=mean, simulate=simulate, points=[{"M": 8}], process="good")
bad = MonteCarloCheck(claim=mean, simulate=simulate, points=[{"M": 8}, {"M": 1}], process="bad")
"""


def test_a_check_point_outside_its_domain_is_refused_before_any_simulation(capsys: pytest.CaptureFixture[str],
                                                                           tmp_path: Path) -> None:
    path = tmp_path / "twochecks.py"
    path.write_text(CHECK_FILE)
    before = listing(tmp_path)
    # the simulator would leave the file "simulated" beside it: the folder must stay as it was
    assert_refused(run(capsys, "check", str(path), "--samples", "100", "--device", "cpu", "--quiet"), tmp_path,
                   before, "M=1", "outside its domain")


# -- malformed LaTeX for bnsym verify FILE.tex ------------------------------------------------------------------

ATOMS = ["x", "M", "y", "2", "0.5", "\\sigma_{B}", "\\mu_B", "\\hat{x}", "\\pi", "\\frac{x}{M}", "\\frac12",
         "(x + 1)", "\\left(M - 1\\right)", "|x|", "x^2", "M^{-1}", "\\sqrt{M}", "\\binom{4}{2}", "3!"]
OPS = [" + ", " - ", " \\cdot ", " ", " / "]
RELS = [" = ", " = ", " \\le ", " < ", " \\geq "]
BROKEN = ["{", "}", "(", "]", "\\foo", "\\sum_i", "\\int", "\\approx", "&&", "^", "_", "\\", "\\frac{", "1/0",
          "\\infty - \\infty", "\\Gamma(0)", "10^{10^{10}}", "\\begin{foo}", "\\end{align}", "$", "#", "\x00", "é",
          "\\text{", ":=", "\\\\"]
DECLARATIONS = ["% bnsym: M integer >= 2 sample [2, 1000] log", "% bnsym: \\sigma_{B} > 0",
                "% bnsym: x real in [-3, 3]", "% bnsym: skip", "% bnsym: M in [0 1]", "% bnsym: whatever",
                "% bnsym: x > 1e999", "% bnsym: x in (1, 1)", "% bnsym: n integer in [0.2, 0.8]",
                "% bnsym: x y > 0", "% bnsym: x in [0, 1] sample [0, 2]", "% bnsym: M >= 2 maybe",
                "% bnsym: M >= 2\n% bnsym: M <= 3", "% bnsym: x log"]

side = st.lists(st.sampled_from(ATOMS), min_size=1, max_size=3).flatmap(
    lambda atoms: st.lists(st.sampled_from(OPS), min_size=len(atoms) - 1, max_size=len(atoms) - 1).map(
        lambda ops: "".join(a + o for a, o in zip(atoms, ops + [""]))))
chain = st.lists(side, min_size=2, max_size=3).flatmap(
    lambda sides: st.lists(st.sampled_from(RELS), min_size=len(sides) - 1, max_size=len(sides) - 1).map(
        lambda rels: "".join(s + r for s, r in zip(sides, rels + [""]))))
garbled = st.tuples(chain, st.integers(min_value=0, max_value=60),
                    st.one_of(st.sampled_from(BROKEN), st.text(max_size=4))).map(
    lambda t: t[0][:t[1]] + t[2] + t[0][t[1]:])
display = st.one_of(chain, garbled).flatmap(lambda body: st.sampled_from([
    f"\\[ {body} \\]", f"\\begin{{equation}}\n  {body}\n\\end{{equation}}", f"\\begin{{align*}}\n  {body} \\\\\n"
    "\\end{align*}", f"\\[ {body}", f"\\begin{{align}} {body} \\end{{equation}}", f"${body}$"]))
document = st.lists(st.one_of(display, st.sampled_from(DECLARATIONS), st.text(max_size=20)), max_size=4).map(
    lambda parts: "\n".join(parts) + "\n")


def _verify_tex(capsys: pytest.CaptureFixture[str], folder: Path, text: str | bytes, name: str = "doc.tex",
                ) -> tuple[int, str, str, list[str], list[str]]:
    path = folder / name
    for old in folder.iterdir():
        old.unlink()
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8", errors="surrogateescape")
    before = listing(folder)
    # the budgets of a quick check: the grammar's valid algebra is closed by the first strategies
    code, out, err = run(capsys, "verify", str(path), "--budget", "2", "--points", "4", "--dps", str(MIN_DPS),
                         "--quiet")
    return code, out, err, before, listing(folder)


def _assert_tex_outcome(code: int, out: str, err: str, before: list[str], after: list[str], name: str) -> None:
    """A refusal writes nothing; a checked file (0, 1 or 3) gets exactly its annotated copy."""
    if code == EXIT_USAGE:
        assert out == "" and after == before, (err, after)
        one_error_line(err)
    else:
        assert code in (EXIT_OK, EXIT_REFUTED, EXIT_UNDECIDED), (code, err)
        assert "Traceback" not in err and "error:" not in err, err
        assert after == sorted(before + [name.replace(".tex", ".bnsym.tex")]), after


@settings(BOUNDED, max_examples=40)
@given(text=document)
def test_generated_latex_is_checked_or_refused_cleanly(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                                       text: str) -> None:
    code, out, err, before, after = _verify_tex(capsys, tmp_path, text)
    _assert_tex_outcome(code, out, err, before, after, "doc.tex")


@BOUNDED
@given(text=st.one_of(st.text(max_size=80), st.binary(max_size=80)))
def test_random_text_as_latex_is_refused(capsys: pytest.CaptureFixture[str], tmp_path: Path, text) -> None:
    """Random text holds no display (or a broken one): refused, as is anything that is not UTF-8."""
    code, out, err, before, after = _verify_tex(capsys, tmp_path, text)
    _assert_tex_outcome(code, out, err, before, after, "doc.tex")


TEX_CASES = {  # name -> (content, what the error line says)
    "empty": ("", "no chain of relations"),
    "only_text": ("Some prose with $a = b$ inline.\n", "no chain of relations"),
    "unbalanced_open": ("\\[ \\frac{a}{b = 1 \\]\n", "unclosed"),
    "unbalanced_close": ("\\[ \\frac{a}{b}} = 1 \\]\n", "unexpected text"),
    "never_closed": ("\\begin{align}\n a &= b\n", "never closed"),
    "unknown_macro": ("\\[ \\foo{x} = x \\]\n", "unsupported LaTeX command \\foo"),
    "sum": ("\\[ \\sum_i x_i = 0 \\]\n", "unsupported LaTeX command \\sum"),
    "bad_declaration": ("% bnsym: M >= 2 maybe\n\\[ M = M \\]\n", "unknown declaration syntax"),
    "infinite_bound": ("% bnsym: x > 1e999\n\\[ x = x \\]\n", "finite"),
    "empty_domain": ("% bnsym: x in (1, 1)\n\\[ x = x \\]\n", "no point of its domain"),
    "sample_outside": ("% bnsym: x in [0, 1] sample [0, 2]\n\\[ x = x \\]\n", "not inside its domain"),
    "division_by_zero": ("\\[ \\frac{1}{0} = 1 \\]\n", "undefined as written"),
    "infinity_minus_infinity": ("\\[ x + \\infty = \\infty - \\infty \\]\n", "undefined as written"),
    "zeroth_root": ("\\[ \\sqrt[0]{x} = x \\]\n", "undefined as written"),
    "long_literal": ("\\[ " + "7" * 5000 + " = 1 \\]\n", "digits"),
    "huge_power": ("\\[ 10^{10^{10}} = 1 \\]\n", "digits"),
    "huge_factorial": ("\\[ 100000! = 1 \\]\n", "digits"),
    "huge_gamma": ("\\[ \\Gamma(1000000) = 1 \\]\n", "digits"),
    "deep_braces": ("\\[ " + "{" * 2000 + "x" + "}" * 2000 + " = x \\]\n", "nested too deeply"),
    "deep_roots": ("\\[ " + "\\sqrt" * 2000 + " x = x \\]\n", "nested too deeply"),
    "huge_declaration": ("% bnsym: M >= 2 " + "maybe " * 100_000 + "\n\\[ M = M \\]\n", "unknown declaration"),
    "huge_line": ("\\[ x = \\foo " + "x + " * 100_000 + "x \\]\n", "unsupported LaTeX command \\foo"),
    "control_character": ("\\[ x = \x1b[31m \\]\n", "\\x1b"),
    "not_utf8": (b"\\[ x = \xff \\]\n", "not UTF-8"),
    "binary": (bytes(range(256)) * 4, "not UTF-8"),
}


@pytest.mark.parametrize("case", list(TEX_CASES))
def test_malformed_latex_files(capsys: pytest.CaptureFixture[str], tmp_path: Path, case: str) -> None:
    content, what = TEX_CASES[case]
    code, out, err, before, after = _verify_tex(capsys, tmp_path, content)
    line = assert_refused((code, out, err), tmp_path, before, what)
    assert after == before
    # the offending line is shown cut to ERROR_CONTEXT characters each side of the text at the position,
    # itself cut to ERROR_CONTEXT and shown once more as "at '...'": with the file's name and the
    # message's own words (under 200 characters) the error line is bounded however long the input line is
    bound = len(str(tmp_path / "doc.tex")) + 4 * ERROR_CONTEXT + 200
    assert len(line) < bound, line


def test_one_bad_file_among_several_writes_no_annotated_copy(capsys: pytest.CaptureFixture[str],
                                                             tmp_path: Path) -> None:
    """Every file is parsed before any is checked: no report and no copy for the good one either."""
    good, bad = tmp_path / "good.tex", tmp_path / "bad.tex"
    good.write_text((EXAMPLES / "chain_ok.tex").read_text())
    bad.write_text("\\[ x = \\sum_i x \\]\n")
    before = listing(tmp_path)
    assert_refused(run(capsys, "verify", str(good), str(bad), "--quiet"), tmp_path, before, "bad.tex:1:")
    assert_refused(run(capsys, "verify", str(good), str(tmp_path / "good.bnsym.tex"), "--quiet"), tmp_path,
                   before)  # one file's copy would replace another input
    assert_refused(run(capsys, "verify", str(good), str(good), "--quiet"), tmp_path, before, "more than once")


def test_an_unwritable_annotated_copy_is_refused_before_checking(capsys: pytest.CaptureFixture[str],
                                                                 tmp_path: Path) -> None:
    (tmp_path / "doc.tex").write_text("\\[ x = x \\]\n")
    (tmp_path / "doc.bnsym.tex").mkdir()  # the copy's name is taken by a folder
    before = listing(tmp_path)
    assert_refused(run(capsys, "verify", str(tmp_path / "doc.tex")), tmp_path, before, "it is a folder")


def test_a_checked_file_gets_its_copy_with_integers_printed_as_integers(capsys: pytest.CaptureFixture[str],
                                                                        tmp_path: Path) -> None:
    code, out, err, before, after = _verify_tex(capsys, tmp_path, (EXAMPLES / "chain_wrong.tex").read_text())
    _assert_tex_outcome(code, out, err, before, after, "doc.tex")
    assert code == EXIT_REFUTED
    copy = (tmp_path / "doc.bnsym.tex").read_text()
    for text in (out, copy):  # M is declared integer: M=380, never M=380.0
        assert re.search(r"\bat M=\d+, ", text) and not re.search(r"\bM=\d+\.\d", text), text
    assert stat.S_IMODE((tmp_path / "doc.bnsym.tex").stat().st_mode) == 0o666 & ~umask()


def test_a_builtin_counterexample_prints_integers_as_integers(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "verify", "luo2019.L3.inv_sigma_sq_printed", "luo2019.L3.inv_sigma_sq_mean",
                         "--quiet")
    assert code == EXIT_OK, err
    assert re.search(r"counterexample: M=\d+(,|$)", out, re.MULTILINE), out


def test_figure_list_as_json_is_json_only(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "figure", "--json")
    assert code == EXIT_OK, err
    assert "luo2019.fig1" in json.loads(out)["figures"]


# -- the one atomic writer --------------------------------------------------------------------------------------

def test_write_atomically_writes_whole_files_with_an_ordinary_mode(tmp_path: Path) -> None:
    mode = 0o666 & ~umask()
    text, data = tmp_path / "a.tex", tmp_path / "b.bin"
    assert write_atomically(text, "é\n") == text and text.read_text(encoding="utf-8") == "é\n"
    write_atomically(data, b"\x00\x01")
    write_atomically(tmp_path / "c.png", lambda fh: fh.write(b"\x89PNG"))
    assert data.read_bytes() == b"\x00\x01" and (tmp_path / "c.png").read_bytes() == b"\x89PNG"
    for p in (text, data, tmp_path / "c.png"):
        assert stat.S_IMODE(p.stat().st_mode) == mode, oct(p.stat().st_mode)  # not mkstemp's 0o600
    text.chmod(0o640)
    write_atomically(text, "again\n")  # replacing a file keeps its mode, as open(path, "w") would
    assert stat.S_IMODE(text.stat().st_mode) == 0o640 and text.read_text() == "again\n"
    (tmp_path / "link.tex").symlink_to(text.name)
    write_atomically(tmp_path / "link.tex", "through the link\n")
    assert (tmp_path / "link.tex").is_symlink() and text.read_text() == "through the link\n"
    assert listing(tmp_path) == ["a.tex", "b.bin", "c.png", "link.tex"]


@pytest.mark.parametrize("failure", [OSError(28, "No space left on device"), KeyboardInterrupt(), RuntimeError("x")])
def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path: Path, failure: BaseException) -> None:
    path = tmp_path / "out.tex"
    path.write_text("old\n")

    def half_then_fail(fh) -> None:
        fh.write(b"half of the new")
        raise failure

    expected = UsageError if isinstance(failure, OSError) else type(failure)
    with pytest.raises(expected) as info:
        write_atomically(path, half_then_fail)
    if expected is UsageError:
        assert str(info.value) == f"cannot write {path}: No space left on device"
    assert path.read_text() == "old\n" and listing(tmp_path) == ["out.tex"]


def test_write_atomically_into_a_missing_folder_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="cannot write .*missing.*No such file"):
        write_atomically(tmp_path / "missing" / "out.tex", "x")
    assert listing(tmp_path) == []


def test_output_path_checks(tmp_path: Path) -> None:
    (tmp_path / "adir.tex").mkdir()
    assert output_path(tmp_path / "ok.TEX", (".tex",)) == tmp_path / "ok.TEX"
    for name, what in [("a.pdf", "must end in .tex"), ("adir.tex", "it is a folder"),
                       ("missing/a.tex", "not a writable folder"), ("a\x00.tex", "NUL"), (".tex", "must end in")]:
        with pytest.raises(UsageError, match=re.escape(what)):
            output_path(str(tmp_path / name), (".tex",))


def test_staged_folder_swaps_in_whole_or_not_at_all(tmp_path: Path) -> None:
    target = tmp_path / "r_files"
    with pytest.raises(RuntimeError):
        with staged_folder(target) as staging:
            (staging / "half.tex").write_text("half")
            raise RuntimeError("failed halfway")
    assert listing(tmp_path) == []  # no staging folder left, no target
    with staged_folder(target) as staging:
        (staging / "r.tex").write_text("first")
    assert stat.S_IMODE(target.stat().st_mode) == 0o777 & ~umask()  # not mkdtemp's 0o700
    with pytest.raises(KeyboardInterrupt):
        with staged_folder(target) as staging:
            (staging / "r.tex").write_text("second, interrupted")
            raise KeyboardInterrupt
    assert (target / "r.tex").read_text() == "first"  # the previous folder is untouched
    with staged_folder(target) as staging:
        (staging / "r.tex").write_text("third")
    assert (target / "r.tex").read_text() == "third" and listing(tmp_path) == ["r_files", "r_files/r.tex"]


def test_figure_files_get_an_ordinary_mode(tmp_path: Path) -> None:
    """The bjorck2018 figures were written with mkstemp's mode 0o600; every figure now gets a plain file's."""
    from bnsym.figures import Figure, FigureOptions, render

    line = Figure("a line", lambda fig, options: (fig.add_subplot(1, 1, 1).plot([0, 1]), {"lines": []})[1])
    for suffix in (".png", ".pdf", ".svg"):
        out = tmp_path / f"line{suffix}"
        render(line, out, FigureOptions())
        assert stat.S_IMODE(out.stat().st_mode) == 0o666 & ~umask()
    assert listing(tmp_path) == ["line.pdf", "line.png", "line.svg"]
    with pytest.raises(UsageError, match="must end in"):
        render(line, tmp_path / "line.txt", FigureOptions())
