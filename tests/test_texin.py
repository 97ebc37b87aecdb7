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
from bnsym.texin import MARK, TexInputError, parse_expression, parse_tex, read_tex, verify_tex
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


# -- review findings: each input was once read silently wrong (or crashed); now read right or refused ------------

def _steps(text: str) -> list[list[tuple[sp.Expr, str, sp.Expr]]]:
    return [[(s.lhs, s.op, s.rhs) for s in c.steps] for c in parse_tex(text, "f.tex").chains]


def _refused(text: str, where: str, what: str) -> None:
    with pytest.raises(TexInputError) as info:
        parse_tex(text, "f.tex")
    msg = str(info.value)
    assert msg.startswith("f.tex" + where) and what in msg, msg


def test_a_decimal_after_a_superscript_is_an_error_not_a_crash(capsys: pytest.CaptureFixture[str],
                                                               tmp_path: Path) -> None:
    # x^.5 crashed with SymPy's TypeError (a traceback from bnsym verify); x^0.5 read as x^0 times .5
    _refused("\\[ x^.5 = 1 \\]\n", ":1:6:", "one character")
    _refused("\\[ x^0.5 = 1 \\]\n", ":1:6:", "put a decimal number in braces")
    _refused("% bnsym: x_.5 > 0\n\\[ x = x \\]\n", ":1:12:", "one character")
    from bnsym.cli import main

    assert main(["verify", _write(tmp_path, "\\[ x^.5 = 1 \\]\n"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("bnsym: error: ") and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["doc.tex"]


@pytest.mark.parametrize("tex, column", [("1\\,000", 1), ("x + 2 3", 5), ("2 \\cdot 3 4", 9)])
def test_numbers_side_by_side_are_refused(tex: str, column: int) -> None:
    # 1\,000 was read as 1 * 000 = 0 and 2 3 as 6; TeX typesets them as 1000 and 23
    with pytest.raises(TexInputError, match=f"^<expression>:1:{column}: two numbers side by side"):
        parse_expression(tex)
    x = sp.Symbol("x", real=True)
    assert parse_expression("x^23 + 2 x 3") == 3 * x**2 + 6 * x  # x^2 3 (a split argument) and 2 x 3 still read


def test_an_odd_root_of_a_negative_number_is_real(tmp_path: Path) -> None:
    # \sqrt[3]{-8} was SymPy's principal root 1 + sqrt(3) i, so \sqrt[3]{-8} = -2 was REFUTED
    assert parse_expression("\\sqrt[3]{-8}") == -2
    x = sp.Symbol("x", real=True)
    assert parse_expression("\\sqrt[3]{x^3}").subs(x, -2) == -2
    assert parse_expression("\\sqrt[4]{16}") == 2 and parse_expression("\\sqrt[n]{8}") == sp.root(8, sp.Symbol(
        "n", real=True))
    result = verify_tex(_write(tmp_path, "\\[ \\sqrt[3]{-8} = -2 \\]\n"), annotate=False)
    assert result.verdicts[0].status is Status.PROVEN


@pytest.mark.parametrize("tex, column, what", [
    ("\\sin^{-1} x", 5, "^{-1} on a function is ambiguous"),  # was 1/sin(x); often it means arcsin
    ("\\frac{d}{dx} x^2", 1, "a derivative d/dx"),  # was (d / (d x)) x^2 = x
    ("\\frac{\\mathrm{d}^2 y}{\\mathrm{d}t^2}", 1, "a derivative d/dx"),
    ("x^2^3", 4, "a double superscript"),  # was (x^2)^3; TeX refuses it
    ("\\cos 2x", 1, "have two readings"),  # was cos(2) x, so \cos 2x = 1 - 2 \sin^2 x was refuted
    ("(a \\text{ for } b)", 4, "text inside a formula"),
])
def test_ambiguous_notation_is_refused(tex: str, column: int, what: str) -> None:
    with pytest.raises(TexInputError, match=f"^<expression>:1:{column}: ") as info:
        parse_expression(tex)
    assert what in str(info.value)


def test_what_resembles_refused_notation_still_reads() -> None:
    d, x, n = (sp.Symbol(s, real=True) for s in ("d", "x", "d_1"))
    assert parse_expression("\\frac{d}{d + 1}") == d / (d + 1)
    assert parse_expression("\\frac{d_1}{d x}") == n / (d * x)
    assert parse_expression("\\sin^2 x + \\sin(x)^{-1}") == sp.sin(x) ** 2 + 1 / sp.sin(x)
    assert parse_expression("\\cos(2x) + \\log 2 \\cdot x + \\sin x \\cos x") == sp.cos(2 * x) + sp.log(2) * x + sp.sin(
        x) * sp.cos(x)
    assert parse_expression("{x^2}^3") == x ** 6


def test_text_in_a_subscript_is_part_of_the_name() -> None:
    # the note was taken out before parsing: a_\text{1} b read as the symbol a_b, x_{\text{max}} failed
    assert _steps("\\[ a_\\text{1} b = x_{\\text{max}} \\]\n") == [
        [(sp.Symbol("a_1", real=True) * sp.Symbol("b", real=True), "=", sp.Symbol("x_max", real=True))]]


def test_text_a_quad_or_an_ampersand_between_two_formulas_is_refused() -> None:
    # a = b \quad\text{and}\quad c = d and the align row a &= b & c &= d were the chain a = b c = d
    _refused("\\[ a = b \\quad\\text{and}\\quad c = d \\]\n", ":1:15:", "text between two parts of one side")
    _refused("\\[ a = b \\qquad c = d \\]\n", ":1:17:", "a \\quad between two factors")
    _refused("\\begin{align}\n a &= b & c &= d\n\\end{align}\n", ":2:11:", "an alignment '&' between two factors")
    doc = parse_tex("\\[ a = 2\\,b \\qquad \\text{by (3)} \\]\n", "f.tex")  # a note after the side stays a note
    assert doc.chains[0].steps[0].note == "by (3)"


def test_rows_of_an_align_start_chains_where_they_should() -> None:
    a, b, c, d = (sp.Symbol(s, real=True) for s in "abcd")
    # a row opened by a note and a formula was glued to the row before: a = b c = d
    assert _steps("\\begin{align}\n a &= b \\\\\n \\text{hence } c &= d\n\\end{align}\n") == [
        [(a, "=", b)], [(c, "=", d)]]
    # a row whose left side starts with a minus sign went on with the side before: a = b - c = d
    assert _steps("\\begin{align}\n a &= b \\\\\n -c &= d \\\\\n &- a\n\\end{align}\n") == [
        [(a, "=", b)], [(-c, "=", d - a)]]
    # the spacing idiom '={}& b \\ &{}+ c' was an error ("empty expression"); with the rule above, '&{}+ c'
    # would have been a row of its own
    assert _steps("\\begin{align}\n a ={}& b \\\\\n &{}+ c\n\\end{align}\n") == [[(a, "=", b + c)]]
    # a row break inside brackets (\Big( ... \\ ... \Big)) continues the side; it was an error
    assert _steps("\\begin{align*}\n a &= \\Big(b \\\\\n &\\qquad + c\\Big)\n\\end{align*}\n") == [
        [(a, "=", b + c)]]


@pytest.mark.parametrize("body, where", [
    ("a &= b \\\\\n & c", ":3:4:"),  # was dropped: the step a = b was checked where a = b c was written
    ("x + y \\\\\n a &= b", ":2:1:"),
])
def test_a_row_with_no_relation_in_a_chain_display_is_refused(body: str, where: str) -> None:
    _refused(f"\\begin{{align}}\n{body}\n\\end{{align}}\n", where, "a row with no relation")


def test_a_declaration_names_a_symbol_not_a_formula() -> None:
    # '% bnsym: x^2 > 0' declared x > 0
    _refused("% bnsym: x^2 > 0\n\\[ x = x \\]\n", ":1:10:", "a declaration names one symbol")
    assert parse_tex("% bnsym: x' > 0\n\\[ x' = x' \\]\n").params["x'"].lo == 0


@pytest.mark.parametrize("separator", ["\x0c", "\u2028", "\x1c", "\x85"])
def test_marks_follow_their_rows_whatever_other_line_separators_the_file_holds(tmp_path: Path,
                                                                               separator: str) -> None:
    # the copy was split with str.splitlines, which also breaks at these: every mark landed one line early
    path = _write(tmp_path, f"% a page{separator}break\n\\[ 1 < 1 \\]\ntext\n\\[ a = a \\]\n")
    result = verify_tex(path)
    lines = Path(result.annotated_path or "").read_text(encoding="utf-8").split("\n")
    assert lines[0] == f"% a page{separator}break" and lines[1] == "\\[ 1 < 1 \\]"
    assert lines[2].startswith(f"{MARK} chain 1 step 1 REFUTED: 1 < 1") and lines[4] == "text"
    assert "at :" not in lines[2]  # a step without symbols has no point to show
    assert lines[5] == "\\[ a = a \\]" and lines[6].startswith(f"{MARK} chain 2 step 1 PROVEN")


def test_a_byte_order_mark_does_not_hide_a_first_line_declaration(tmp_path: Path) -> None:
    path = tmp_path / "bom.tex"
    path.write_bytes("\ufeff% bnsym: x > 0\n\\[ |x| = x \\]\n".encode())
    doc, _ = read_tex(str(path), annotate=False)
    assert doc.params["x"].lo == 0 and not doc.undeclared


def test_the_parser_module_does_not_import_the_checker() -> None:
    """Imports go one way: texin (files, domains, checking) uses texparse (LaTeX to SymPy), never back."""
    import ast

    tree = ast.parse((ROOT / "bnsym" / "texparse.py").read_text(encoding="utf-8"))
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert imported <= {"__future__", "dataclasses", "typing", "errors"}, imported
