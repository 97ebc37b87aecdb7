"""LaTeX out (``bnsym latex``) and its round trip (printer -> SymPy's LaTeX parser -> proven equal).

No TeX engine is assumed: the output is tested for structure (balanced braces, every ``\\begin``
matched, only the standard packages, specials escaped in text), and every formula is parsed back and
proven equal to the expression it came from. A planted printer bug (dropped parentheses) is caught.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import sympy as sp

from bnsym import Derivation, Erratum, Identity, Param, Source, Theorem, by
from bnsym.cli import main
from bnsym.latex import PACKAGES, TexPrinter, document, escape, expr_tex, theorem_latex
from bnsym.registry import Entry
from bnsym.roundtrip import FAILED, OK, UNPARSED, bridge, roundtrip, theorem_roundtrip

M = Param("M", lo=2, integer=True, sample_hi=100, law="log", latex="M")
sP = Param("sigma_P", lo=0, lo_open=True, sample_lo=0.1, sample_hi=10, latex=r"\sigma_{\mathcal{P}}")
m, s = M.symbol, sP.symbol

PAPERS = ("bjorck2018", "cai2019", "kohler2019", "liu2021", "luo2019")


def structure_problems(tex: str) -> list[str]:
    """What would stop ``tex`` from compiling, as far as structure tells: braces, environments, packages."""
    problems = []
    plain = re.sub(r"\\[{}%&#$_\\]", "", tex)  # escaped specials and line breaks
    depth = 0
    for ch in plain:
        depth += {"{": 1, "}": -1}.get(ch, 0)
        if depth < 0:
            problems.append("a } closes nothing")
            depth = 0
    if depth:
        problems.append(f"{depth} unclosed braces")
    stack: list[str] = []
    for kind, name in re.findall(r"\\(begin|end)\{([^}]*)\}", tex):
        if kind == "begin":
            stack.append(name)
        elif not stack or stack.pop() != name:
            problems.append(f"\\end{{{name}}} does not match")
    problems += [f"\\begin{{{n}}} never ended" for n in stack]
    for pkg in re.findall(r"\\usepackage(?:\[[^]]*\])?\{([^}]*)\}", tex):
        if pkg not in PACKAGES:
            problems.append(f"package {pkg} is not standard")
    for line in plain.splitlines():  # unescaped specials: % comments out the rest of a line, # and & break it
        if "%" in line or "#" in line:
            problems.append(f"unescaped special in {line[:80]!r}")
    return problems


def _entry(title: str = "Moments_of 50% & #1 $x$") -> Entry:
    first = Identity(title="E[1/sigma_B^2] ~ 100% of M/(M-3) & more", lhs=m / (m - 1), rhs=1 + 1 / (m - 1),
                     note="a note with _ and ^ and {braces}", assumptions=("h ~ N(0, 1) & M > 3",))
    wrong = Identity(title="printed_form", lhs=m / (m - 1), rhs=1 / (m - 1))
    right = Identity(title="corrected_form", lhs=m / (m - 1), rhs=(m - 1 + 1) / (m - 1))
    chain = Derivation(title="chain #2", chain=[s**2 * (m + 1) / m, (s**2 + s**2 / m, by.algebra),
                                                  (s**2 * (1 + 1 / m), by.because("50% of the time & always"))])
    th = Theorem(title=title, source=Source("Paper_A", "Sec. 2 & 3"), params=(M, sP),
                 claims=(first, Erratum(wrong, right, note="drops the 1 & more"), chain))
    ids = {id(first): "t.T.first", id(wrong): "t.T.wrong", id(right): "t.T.right", id(chain): "t.T.chain"}
    return Entry("t.T", th, ids, "test")


# -- printing and escaping ---------------------------------------------------------------------------

def test_escape_makes_specials_safe() -> None:
    assert escape("a_b 50% & #1 $x$ {y} ^ ~ \\") == (
        r"a\_b 50\% \& \#1 \$x\$ \{y\} \textasciicircum{} \textasciitilde{} \textbackslash{}")
    assert escape("≤ σ") == r"$\leq$ $\sigma$"
    assert structure_problems(escape("50% & #1 { } $")) == []


def test_symbols_print_the_way_the_papers_write_them() -> None:
    assert expr_tex(s / sp.sqrt(m), {s: sP.latex}) == r"\frac{\sigma_{\mathcal{P}}}{\sqrt{M}}"
    assert expr_tex(sp.asin(m)) == r"\arcsin{\left(M \right)}"


def test_titles_notes_and_justifications_are_escaped() -> None:
    tex = theorem_latex(_entry(), snippet=True)
    assert r"\section*{Moments\_of 50\% \& \#1 \$x\$}" in tex
    assert r"50\% of the time \& always" in tex and r"Sec. 2 \& 3" in tex
    assert structure_problems(tex) == []


def test_snippet_and_standalone_document() -> None:
    snippet = theorem_latex(_entry(), snippet=True)
    assert r"\documentclass" not in snippet and r"\begin{document}" not in snippet
    full = theorem_latex(_entry())
    assert full.count(r"\documentclass") == 1 and full.count(r"\begin{document}") == 1
    assert full.rstrip().endswith(r"\end{document}")
    assert structure_problems(full) == []
    assert structure_problems(document("x", "A_title & more")) == []


def test_derivation_has_one_justification_and_mark_per_step(tmp_path: Path) -> None:
    from bnsym.verify import Settings, verify_claim

    entry = _entry()
    verdicts = {cid: verify_claim(entry.theorem, c, cid, role, Settings(points=4)) for cid, c, role in entry.claims()}
    tex = theorem_latex(entry, verdicts, snippet=True)
    align = tex[tex.index(r"\begin{align*}"):tex.index(r"\end{align*}")]
    assert align.count("&= ") == 2 and align.count(r"\boldsymbol{\checkmark}") == 2
    assert "algebra" in align and r"argument: 50\% of the time" in align
    # the erratum: printed and corrected side by side, refuted and proven
    assert r"\textbf{Printed}" in tex and r"\textbf{Corrected}" in tex
    assert r"\textsc{refuted}" in tex and r"\textsc{proven}" in tex


# -- the round trip ---------------------------------------------------------------------------------

CASES = [
    (m + 1) * s, s / (m - 1), (m - 1) ** -s, sp.sqrt(m / 2) * sp.gamma((m - 2) / 2) / sp.gamma((m - 1) / 2),
    sp.gamma(m) ** 2 / sp.gamma(m + s), -m / (s + 1), sp.exp(-m**2 / 2) / sp.sqrt(2 * sp.pi), sp.log(1 + m) ** 2,
    sp.asin(s / (1 + s)), sp.erf(m / sp.sqrt(2)), sp.Max(m, s) - sp.Abs(m - s),
    sp.binomial(m, 2) * s**sp.Rational(3, 2),
    (1 - 2 / m) ** (m / 2), 1 / (1 / m + 1 / s),
]


@pytest.mark.parametrize("expr", CASES, ids=[str(c) for c in CASES])
def test_expressions_round_trip(expr: sp.Expr) -> None:
    r = roundtrip(expr, [M, sP])
    assert r.status == OK, (r.detail, r.tex)


def test_a_printer_that_drops_parentheses_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_parentheses(self, expr, first=False, last=False):  # the planted bug: a factor never bracketed
        return False

    monkeypatch.setattr(TexPrinter, "_needs_mul_brackets", no_parentheses)
    r = roundtrip((m + 1) * s, [M, sP])
    assert r.status == FAILED and "differs" in r.detail, r
    report = theorem_roundtrip(_entry())
    assert report.count(FAILED) >= 1 and "t.T.chain[0]" in [w for w, _ in report.failures]


def test_a_printer_that_moves_an_exponent_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    original = TexPrinter._print_Pow

    def wrong_power(self, expr):  # prints x^(p) as (x)^p with the base's parentheses lost
        if expr.exp == 2 and expr.base.is_Add:
            return self._print(expr.base) + "^{2}"
        return original(self, expr)

    monkeypatch.setattr(TexPrinter, "_print_Pow", wrong_power)
    assert roundtrip((m + s) ** 2, [M, sP]).status == FAILED
    assert roundtrip(m**2, [M, sP]).status == OK


def test_what_the_parser_cannot_read_is_reported_not_passed() -> None:
    f = sp.Function("f")
    k = sp.Symbol("k", integer=True)
    for expr in (f(m), sp.Derivative(f(m), m), sp.Sum(f(k), (k, 1, m)), sp.Heaviside(m - 1),
                 sp.Piecewise((m, m > 3), (1, True)), sp.polylog(2, m)):
        r = roundtrip(expr, [M])
        assert r.status == UNPARSED and r.detail, expr


def test_bridge_renames_tokens_only() -> None:
    assert bridge(r"\Gamma^{2}\left(\frac{M}{2}\right) \pi") == r"(F_{Gamma}(\frac{M}{2}))^{2} \mathit{pi}"
    assert bridge(r"\operatorname{erf}{\left(x \right)}") == r"F_{erf}(x )"


# -- the command ------------------------------------------------------------------------------------

def test_every_builtin_theorem_typesets_and_round_trips(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """Every built-in theorem: typeset without error, structurally sound, formulas of up to 150 characters
    parsed back (the full round trip of every formula takes minutes: see the montecarlo-marked test)."""
    out = tmp_path / "all.tex"
    started = time.perf_counter()
    code = main(["latex", *PAPERS, "--no-verify", "--max-chars", "150", "--jobs", "2", "--json", "--quiet",
                 "-o", str(out)])
    report = json.loads(capsys.readouterr().out)
    assert code == 0, report["theorems"]
    assert report["roundtrip"]["failed"] == 0
    assert report["roundtrip"]["round-tripped"] >= 300
    assert len(report["theorems"]) >= 20
    tex = out.read_text()
    assert structure_problems(tex) == []
    assert tex.count(r"\begin{document}") == 1
    compile_tex(out)
    print("round trip (<= 150 chars):", report["roundtrip"], f"{time.perf_counter() - started:.1f} s")


@pytest.mark.montecarlo
def test_every_builtin_formula_round_trips(capsys: pytest.CaptureFixture) -> None:
    """The full round trip of every built-in formula, no length cap (minutes)."""
    code = main(["latex", *PAPERS, "--no-verify", "--snippet", "--json", "--quiet"])
    report = json.loads(capsys.readouterr().out)
    assert code == 0 and report["roundtrip"]["failed"] == 0, report["theorems"]


def compile_tex(path: Path) -> None:
    """Compile ``path`` with pdflatex (halting on the first error); skipped where no TeX engine is installed,
    unless BNSYM_REQUIRE_TEX is set (CI installs the engine and sets it, so the compile path is tested)."""
    engine = shutil.which("pdflatex")
    if engine is None:
        if os.environ.get("BNSYM_REQUIRE_TEX"):
            pytest.fail("BNSYM_REQUIRE_TEX is set but pdflatex is not installed")
        pytest.skip("no pdflatex installed")
    run = subprocess.run([engine, "-interaction=nonstopmode", "-halt-on-error", path.name], cwd=path.parent,
                         capture_output=True, text=True, timeout=300)
    errors = [line for line in run.stdout.splitlines() if line.startswith("!")]
    assert run.returncode == 0, errors or run.stdout[-2000:]
    assert path.with_suffix(".pdf").stat().st_size > 0


def test_verified_theorem_compiles(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """A standalone document with verdict marks and an erratum's side-by-side table compiles."""
    out = tmp_path / "l3.tex"
    assert main(["latex", "luo2019.L3", "--quiet", "-o", str(out)]) == 0
    compile_tex(out)


def test_latex_of_a_theorem_with_verification(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "l3.tex"
    code = main(["latex", "luo2019.L3", "--snippet", "--json", "--quiet", "-o", str(out)])
    report = json.loads(capsys.readouterr().out)
    assert code == 0 and report["file"] == str(out)
    assert report["roundtrip"] == {"round-tripped": 33, "not parsed back": 0, "failed": 0}
    tex = out.read_text()
    assert r"\documentclass" not in tex and structure_problems(tex) == []
    assert r"\sigma_{\mathcal{P}}" in tex and r"\textsc{refuted}" in tex and r"\textsc{proven}" in tex
    assert r"\textit{not run}" in tex and "--check" in tex  # process claims without --check
    assert not list(tmp_path.glob("*.part"))


def test_round_trip_failure_exits_1_and_names_the_expression(monkeypatch: pytest.MonkeyPatch,
                                                             capsys: pytest.CaptureFixture) -> None:
    monkeypatch.setattr(TexPrinter, "_needs_mul_brackets", lambda self, expr, first=False, last=False: False)
    code = main(["latex", "luo2019.L4", "--no-verify", "--jobs", "1", "--json", "--snippet"])
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert code == 1 and report["roundtrip"]["failed"] >= 1
    assert "round trip FAILED luo2019.L4." in captured.err


@pytest.mark.parametrize("argv, message", [
    (["latex", "luo2019.l3"], "did you mean luo2019.L3"),
    (["latex", "nopaper"], "unknown id"),
    (["latex", "luo2019.L4", "-o", "{tmp}/out.pdf"], "must end in .tex"),
    (["latex", "luo2019.L4", "-o", "{tmp}/missing/out.tex"], "not a writable folder"),
])
def test_cli_errors_exit_2_without_a_file(argv: list[str], message: str, tmp_path: Path,
                                          capsys: pytest.CaptureFixture) -> None:
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    assert main(argv) == 2
    assert message in capsys.readouterr().err
    assert list(tmp_path.rglob("*")) == []


def test_unwritable_output_exits_2_without_a_file(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        if (locked / "probe").exists() or _writable(locked):
            pytest.skip("running with permissions that ignore the folder mode")
        assert main(["latex", "luo2019.L4", "--no-verify", "-o", str(locked / "out.tex")]) == 2
        assert "cannot write" in capsys.readouterr().err
        assert list(locked.iterdir()) == []
    finally:
        locked.chmod(0o700)


def _writable(folder: Path) -> bool:
    try:
        (folder / ".probe").write_text("")
    except OSError:
        return False
    (folder / ".probe").unlink()
    return True
