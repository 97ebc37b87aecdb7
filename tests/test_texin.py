"""LaTeX in: chains of relations read from a user's ``.tex`` file (``bnsym.texin``).

The planted wrong step of ``examples/chain_wrong.tex`` is refuted at exactly that step with a counterexample
that is checked here independently; the correct ``examples/chain_ok.tex`` holds; declared domains change
the verdict; bad input is a UsageError naming file:line:column; the annotated copy has one mark per step.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import sympy as sp

from bnsym.errors import UsageError
from bnsym.texin import MARK, TexInputError, parse_expression, parse_tex, verify_tex
from bnsym.verdict import Status

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
STEP_MARK = re.compile(r"^\s*% bnsym-result: chain \d+ step \d+ ", re.MULTILINE)


def _write(tmp_path: Path, text: str, name: str = "doc.tex") -> str:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return str(p)


def _statuses(result) -> list[list[Status]]:
    return [[link.status for link in v.links] for v in result.verdicts]


def test_planted_wrong_step_is_refuted_at_that_step(tmp_path: Path) -> None:
    result = verify_tex(str(EXAMPLES / "chain_wrong.tex"), annotate_to=str(tmp_path / "out.tex"))
    assert _statuses(result) == [[Status.PROVEN, Status.REFUTED, Status.PROVEN]]
    assert result.verdicts[0].status is Status.REFUTED
    first = result.first_failure
    assert first is not None and first[:2] == (1, 2)
    link = first[2]
    assert link.evidence["line"] == 10 and link.evidence["note"] == "cancel $M$"
    cx = link.evidence["counterexample"]
    m, s = float(cx["M"]), float(cx["sigma_B"])
    assert m == int(m) and m >= 2 and s > 0  # the point lies in the declared domains
    # the two sides, evaluated here from the printed step, differ at the counterexample
    assert float(cx["lhs"]) == pytest.approx(s**2 / m, rel=1e-12)
    assert float(cx["rhs"]) == pytest.approx(s**2 / m**0.5, rel=1e-12)
    assert "step 2 (line 10) REFUTED" in result.verdicts[0].summary


def test_correct_chain_holds(tmp_path: Path) -> None:
    result = verify_tex(str(EXAMPLES / "chain_ok.tex"), annotate_to=str(tmp_path / "ok.tex"))
    assert [len(v.links) for v in result.verdicts] == [3, 2, 1]
    assert all(v.status.holds for v in result.verdicts)
    assert result.first_failure is None
    assert result.verdicts[0].links[2].evidence["relation"] == "<="
    assert set(result.doc.undeclared) == {"x"}  # reported as undeclared, sampled in the default region


def test_numeric_fallback_decides_without_the_prover(tmp_path: Path) -> None:
    path = _write(tmp_path, "% bnsym: x > 0\n\\[ \\Gamma(x + 1) = x \\Gamma(x) = x \\Gamma(x) + 10^{-30} \\]\n")
    result = verify_tex(path, symbolic=False, annotate=False)
    assert _statuses(result) == [[Status.NUMERIC, Status.REFUTED]]  # 1e-30 is caught at 50 digits
    assert result.annotated_path is None


@pytest.mark.parametrize("declaration, expected", [
    ("% bnsym: M integer >= 2\n", Status.PROVEN),  # |M - 2| = M - 2 holds exactly for M >= 2
    ("", Status.REFUTED),  # undeclared: real in [-5, 5]
    ("% bnsym: M in [-3, 3]\n", Status.REFUTED),
])
def test_domains_are_respected(tmp_path: Path, declaration: str, expected: Status) -> None:
    path = _write(tmp_path, declaration + "\\begin{equation}\n  |M - 2| = M - 2\n\\end{equation}\n")
    result = verify_tex(path, annotate=False)
    assert result.verdicts[0].status in ({Status.PROVEN, Status.NUMERIC} if expected.holds else {expected})
    if expected is Status.REFUTED:
        assert float(result.verdicts[0].links[0].evidence["counterexample"]["M"]) < 2


def test_inequality_steps(tmp_path: Path) -> None:
    path = _write(tmp_path, "% bnsym: M integer >= 2\n% bnsym: \\sigma > 0\n"
                  "\\begin{align}\n \\frac{\\sigma^2}{M} &< \\sigma^2 \\\\\n"
                  " &\\le \\frac{\\sigma^2}{M}\n\\end{align}\n")
    result = verify_tex(path, annotate=False)
    assert _statuses(result)[0][0].holds and _statuses(result)[0][1] is Status.REFUTED
    assert result.verdicts[0].links[1].evidence["line"] == 5


def test_declarations_build_params() -> None:
    doc = parse_tex("% bnsym: \\eta in (0, 1) sample [0.01, 0.5] log\n% bnsym: M integer > 1\n"
                    "% bnsym: \\sigma_{\\mathcal{B}} positive\n% bnsym: x real <= 4\n"
                    "\\[ \\eta M \\sigma_B x = x M \\eta \\sigma_{B} \\]\n")
    eta, m, sg, x = (doc.params[n] for n in ("eta", "M", "sigma_B", "x"))
    assert (eta.lo, eta.hi, eta.lo_open, eta.hi_open, eta.law, eta.region) == (0, 1, True, True, "log", (0.01, 0.5))
    assert m.integer and m.lo == 1 and m.lo_open and m.region == (1.0, 11.0) and m.symbol.is_positive
    assert sg.symbol.is_positive and sg.region == (0.0, 10.0)
    assert x.hi == 4 and x.region == (-6.0, 4.0)
    assert not doc.undeclared
    step = doc.chains[0].steps[0]
    assert sp.simplify(step.lhs - step.rhs) == 0


@pytest.mark.parametrize("text, where, what", [
    ("\\[\n  \\frac{a}{b}} = 1\n\\]\n", ":2:14:", "unexpected text"),
    ("\\begin{align}\n a &= \\sum_i b_i\n\\end{align}\n", ":2:7:", "unsupported LaTeX command \\sum"),
    ("\\[ a \\approx b \\]\n", ":1:6:", "unsupported relation \\approx"),
    ("\\[ a = (b + 1 \\]\n", ":1:8:", "unclosed '('"),
    ("\\begin{equation} a = b\n", ":1:1:", "never closed"),
    ("\\[ a = \\]\n", ":1:6:", "nothing on one side"),
])
def test_unparsable_input_names_line_and_column(tmp_path: Path, text: str, where: str, what: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(UsageError) as info:
        verify_tex(path, annotate=False)
    msg = str(info.value)
    assert isinstance(info.value, TexInputError) and msg.startswith(path + where) and what in msg, msg
    assert info.value.exit_code == 2


@pytest.mark.parametrize("decl, what", [
    ("% bnsym: M >= 2 maybe", "unknown declaration syntax"),
    ("% bnsym: whatever", "a declaration is"),
    ("% bnsym: M in [0 1]", "needs an interval"),
    ("% bnsym: M >= 2\n% bnsym: M <= 3", "declared twice"),
    ("% bnsym: x in [0, 1] sample [0, 2]", "not inside its domain"),
    ("% bnsym: x y > 0", "names one symbol"),
])
def test_bad_declarations_are_clear_errors(tmp_path: Path, decl: str, what: str) -> None:
    path = _write(tmp_path, decl + "\n\\[ x = x \\]\n")
    with pytest.raises(UsageError, match=re.escape(what)) as info:
        verify_tex(path, annotate=False)
    assert re.match(re.escape(path) + r":\d+:\d+: ", str(info.value))


def test_annotated_copy_has_one_mark_per_step(tmp_path: Path) -> None:
    src = tmp_path / "chain.tex"
    src.write_text((EXAMPLES / "chain_wrong.tex").read_text())
    before = src.read_text()
    result = verify_tex(str(src))
    out = Path(result.annotated_path or "")
    assert out == tmp_path / "chain.bnsym.tex" and src.read_text() == before
    text = out.read_text()
    marks = STEP_MARK.findall(text)
    assert len(marks) == sum(len(v.links) for v in result.verdicts) == 3
    lines = text.splitlines()
    i = next(k for k, line in enumerate(lines) if "step 2 REFUTED" in line)
    assert "\\sqrt{M}" in lines[i - 1] and "M=" in lines[i] and "lhs" in lines[i]  # right after its row
    assert sorted(p.name for p in tmp_path.iterdir()) == ["chain.bnsym.tex", "chain.tex"]  # no temp file left
    # the annotated copy is valid input; its marks are replaced, not repeated
    again = verify_tex(str(out), annotate_to=str(tmp_path / "again.tex"))
    assert len(STEP_MARK.findall((tmp_path / "again.tex").read_text())) == 3
    assert _statuses(again) == _statuses(result)
    with pytest.raises(UsageError, match="overwrite the input"):
        verify_tex(str(src), annotate_to=str(src))


def test_skip_and_continuation_rows(tmp_path: Path) -> None:
    path = _write(tmp_path, "% bnsym: skip\n\\[ y = 2 x + 1 \\]\n"
                  "\\begin{align}\n (a + b)^2 &= a^2 + 2 a b \\\\\n &\\quad + b^2 \\\\\n"
                  " c &= c \\text{a second chain}\n\\end{align}\n")
    result = verify_tex(path, annotate=False)
    assert result.doc.skipped == [2]
    assert [len(v.links) for v in result.verdicts] == [1, 1]
    assert all(v.status is Status.PROVEN for v in result.verdicts)
    assert result.verdicts[1].links[0].evidence["note"] == "a second chain"


def test_no_chain_and_unreadable_files(tmp_path: Path) -> None:
    path = _write(tmp_path, "Inline maths $a = b$ is not read.\n\\[ a + b \\]\n")
    with pytest.raises(UsageError, match="no chain of relations found"):
        verify_tex(path, annotate=False)
    with pytest.raises(UsageError, match="cannot read"):
        verify_tex(str(tmp_path / "missing.tex"))
    (tmp_path / "bin.tex").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(UsageError, match="not UTF-8"):
        verify_tex(str(tmp_path / "bin.tex"))
    with pytest.raises(UsageError, match="dps"):
        verify_tex(path, dps=10)


def test_verdicts_serialise(tmp_path: Path) -> None:
    result = verify_tex(str(EXAMPLES / "chain_wrong.tex"), annotate_to=str(tmp_path / "w.tex"))
    data = json.loads(json.dumps(result.to_json()))
    assert data["first_failure"]["chain"] == 1 and data["first_failure"]["step"] == 2
    assert data["first_failure"]["line"] == 10 and "M" in data["first_failure"]["counterexample"]
    chain = data["chains"][0]
    assert chain["status"] == "REFUTED" and [x["status"] for x in chain["links"]] == ["PROVEN", "REFUTED", "PROVEN"]
    assert json.dumps(result.verdicts[0].to_json())
    assert "first failing step: chain 1, step 2, line 10" in result.report()


@pytest.mark.parametrize("tex, expected", [
    ("\\frac12 + x^23", sp.Rational(1, 2) + 3 * sp.Symbol("x", real=True) ** 2),
    ("\\sigma^2_B - \\sigma_{B}^{2}", 0),
    ("\\sqrt[3]{8} + \\log_2 8 + 3!", 11),
    ("e^{x} - \\exp(x)", 0),
    ("\\left(1 - \\frac{1}{M}\\right)", 1 - 1 / sp.Symbol("M", real=True)),
    ("\\mu_{\\mathcal{B}} - \\mu_B", 0),
    ("|x - 1| \\cdot 2.5", sp.Rational(5, 2) * sp.Abs(sp.Symbol("x", real=True) - 1)),
    ("\\Gamma(3) \\binom{4}{2}", 12),
])
def test_expressions(tex: str, expected: sp.Expr) -> None:
    assert sp.simplify(parse_expression(tex) - expected) == 0


def test_mark_prefix_is_not_a_declaration(tmp_path: Path) -> None:
    path = _write(tmp_path, f"{MARK} chain 1 step 1 PROVEN: anything at all\n\\[ x = x \\]\n")
    assert verify_tex(path, annotate=False).verdicts[0].status is Status.PROVEN


def test_texin_imports_neither_torch_nor_hypothesis() -> None:
    import subprocess
    import sys

    code = ("import sys, bnsym.texin; r = bnsym.texin.parse_expression('x'); "
            "print(sorted(m for m in ('torch', 'hypothesis') if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT.parent, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"
