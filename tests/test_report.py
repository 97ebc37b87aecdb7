"""``bnsym report``: one document with theorems, a verdict summary, figures and provenance, compiled to PDF.

The compile path runs where a TeX engine is installed (CI installs one and sets BNSYM_REQUIRE_TEX, so
it cannot be skipped there); the no-engine path is tested by hiding the engine. The .tex is held to the
structure checks of tests/test_latex.py (with longtable and graphicx allowed).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from bnsym import report
from bnsym.cli import main
from tests.test_latex import structure_problems


def _problems(tex: str) -> list[str]:
    return [p for p in structure_problems(tex)
            if p not in {f"package {pkg} is not standard" for pkg in report.REPORT_PACKAGES}]


def _need_engine() -> None:
    if report.find_engine() is None:
        if os.environ.get("BNSYM_REQUIRE_TEX"):
            pytest.fail("BNSYM_REQUIRE_TEX is set but no TeX engine (latexmk, pdflatex) is installed")
        pytest.skip("no TeX engine installed")


def test_report_without_figures_compiles(tmp_path: Path, capsys: pytest.CaptureFixture,
                                         one_torch_thread: None) -> None:
    _need_engine()
    out = tmp_path / "k1.pdf"
    code = main(["report", "kohler2019.K1", "--no-figures", "--quiet", "--json", "-o", str(out)])
    rep = json.loads(capsys.readouterr().out)
    assert code == 0 and rep["pdf"] == str(out) and rep["tex_errors"] == []
    assert out.stat().st_size > 0 and out.read_bytes().startswith(b"%PDF")
    tex = (tmp_path / "k1_files" / "k1.tex").read_text()
    assert _problems(tex) == []
    assert r"\section*{Summary of verdicts}" in tex and r"\begin{longtable}" in tex
    assert r"\includegraphics" not in tex and rep["figures"] == []
    ids = {c["id"] for c in rep["claims"]}
    assert "kohler2019.K1.norm_growth" in ids and all(c["status"] != ["not verified"] for c in rep["claims"])
    for name in ("sympy", "torch", "numpy", "mpmath", "bnsym", "python"):
        assert name in rep["provenance"]["versions"] and escape_free(name) in tex
    assert "symbolic verification" in rep["provenance"]["seconds"]
    assert not list(tmp_path.glob(".k1_files.*"))  # no staging folder left behind


def escape_free(text: str) -> str:
    return text.replace("_", r"\_")


def test_report_with_a_papers_figure_compiles(tmp_path: Path, capsys: pytest.CaptureFixture,
                                              one_torch_thread: None) -> None:
    """luo2019's one figure (the fastest in --quick: about 15 s) beside theorem L3."""
    _need_engine()
    out = tmp_path / "luo.pdf"
    code = main(["report", "luo2019.L3", "--quick", "--device", "cpu", "--quiet", "--json", "-o", str(out)])
    rep = json.loads(capsys.readouterr().out)
    assert code == 0 and rep["pdf"] == str(out), rep["tex_errors"]
    assert out.read_bytes().startswith(b"%PDF")
    folder = tmp_path / "luo_files"
    tex = (folder / "luo.tex").read_text()
    assert _problems(tex) == []
    from bnsym.registry import load_builtin

    catalog = load_builtin()
    assert report.escape(catalog.theorem("luo2019.L3").theorem.title) in tex
    assert r"\includegraphics[width=\linewidth]{fig-luo2019-fig1.pdf}" in tex
    assert (folder / "fig-luo2019-fig1.pdf").read_bytes().startswith(b"%PDF")
    assert r"\usepackage{graphicx}" in tex and rep["provenance"]["quick"] is True


def test_without_an_engine_the_tex_is_written_and_the_message_says_how(
        tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    out = tmp_path / "k1.pdf"
    assert main(["report", "kohler2019.K1", "--no-figures", "-o", str(out), "--quiet"]) == 0
    said = capsys.readouterr().out
    tex = tmp_path / "k1_files" / "k1.tex"
    assert tex.is_file() and not out.exists()
    assert f"wrote {tex}" in said and "no TeX engine found" in said and "texlive-latex-base" in said
    assert "latexmk -pdf k1.tex" in said
    assert _problems(tex.read_text()) == []


def test_a_tex_error_exits_3_with_the_error_lines(tmp_path: Path, capsys: pytest.CaptureFixture,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    _need_engine()
    real = report.document
    monkeypatch.setattr(report, "document", lambda body, title: real(body + "\n\\undefinedcontrolsequence\n", title))
    assert main(["report", "kohler2019.K1", "--no-figures", "-o", str(tmp_path / "bad.pdf"), "--quiet"]) == 3
    err = capsys.readouterr().err
    assert "Undefined control sequence" in err and not (tmp_path / "bad.pdf").exists()


@pytest.mark.parametrize("argv, message", [
    (["report", "kohler2019.k1", "-o", "{tmp}/r.pdf"], "did you mean kohler2019.K1"),
    (["report", "nopaper", "-o", "{tmp}/r.pdf"], "unknown id"),
    (["report", "kohler2019.K1", "-o", "{tmp}/r.tex"], "must end in .pdf"),
    (["report", "kohler2019.K1", "-o", "{tmp}/missing/r.pdf"], "not a writable folder"),
])
def test_bad_input_exits_2_and_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture, argv: list[str],
                                              message: str) -> None:
    assert main([a.replace("{tmp}", str(tmp_path)) for a in argv]) == 2
    assert message in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_output_is_required(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["report", "kohler2019.K1"])
    assert exc.value.code == 2
