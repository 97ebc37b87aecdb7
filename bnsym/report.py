r"""A report (``bnsym report``): chosen theorems, a verdict summary, figures and provenance in one PDF.

:func:`build` assembles the LaTeX of one document: a summary table (``longtable``, one row per claim id
with its kind, verdict and method), every chosen theorem as :func:`bnsym.latex.theorem_latex` typesets
it, the theory-vs-simulation figures of the chosen theorems' papers (drawn by :func:`bnsym.figures.render`
as PDF and set with ``\includegraphics``), and a provenance table (package versions, Python, seed,
device, date, seconds per stage). :func:`compile_pdf` runs a real TeX engine: ``latexmk -pdf`` where it
is installed, else ``pdflatex`` twice (``longtable`` needs a second pass for its column widths).

Compile-safe like :mod:`bnsym.latex`: the packages are :data:`bnsym.latex.PACKAGES` plus ``longtable``
and ``graphicx`` (all in Debian's ``texlive-latex-base``); every text taken from a theorem, a figure or
the environment goes through :func:`bnsym.latex.escape`. Nothing here computes a verdict or a figure:
the verdicts come from :mod:`bnsym.verify` and the Monte Carlo engine, the figures from their own
simulators.
"""

from __future__ import annotations

import datetime
import platform
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from .errors import UsageError
from .files import output_path
from .latex import PACKAGES, escape
from .verdict import Verdict

REPORT_PACKAGES = ("longtable", "graphicx")
"""Packages added to :data:`bnsym.latex.PACKAGES` for the report (both in ``texlive-latex-base``)."""

VERSIONED = ("bnsym", "sympy", "mpmath", "torch", "numpy", "matplotlib")

INSTALL_HINT = "install texlive-latex-base (and latexmk), e.g. `apt-get install texlive-latex-base latexmk`"


@dataclass(frozen=True)
class Layout:
    """Where a report goes: the PDF, and next to it a folder ``NAME_files/`` holding the .tex and figures."""

    pdf: Path
    folder: Path

    @property
    def tex(self) -> Path:
        return self.folder / f"{self.pdf.stem}.tex"


def layout(output: str) -> Layout:
    """The files of a report at ``output`` (which must end in .pdf, in a writable folder); raises UsageError.

    Checked before any work: the PDF's path (:func:`bnsym.files.output_path`), its name (safe for TeX), and
    that ``NAME_files/`` is absent or holds only what an earlier report of that name wrote (it is replaced).
    """
    pdf = output_path(output, (".pdf",))
    parent = pdf.parent
    if not re.fullmatch(r"[A-Za-z0-9._-]+", pdf.stem):
        raise UsageError(f"the report's file name may hold only letters, digits, '.', '_' and '-': {pdf.name!r}")
    folder = parent / f"{pdf.stem}_files"
    if folder.exists() and (not folder.is_dir() or any(p.name != f"{pdf.stem}.tex" and not _ours(p, pdf.stem)
                                                       for p in folder.iterdir())):
        raise UsageError(f"{folder} exists and holds files that are not a bnsym report's; remove it or choose "
                         "another name")
    return Layout(pdf, folder)


def _ours(p: Path, stem: str) -> bool:
    """A file a previous report of this name wrote (its figures and the TeX engine's by-products)."""
    return p.name.startswith(stem + ".") or p.name.startswith("fig-")


def figure_file(figure_id: str) -> str:
    """The figure's file name: only letters, digits and hyphens before ``.pdf`` (no dots for graphicx)."""
    return "fig-" + re.sub(r"[^A-Za-z0-9]+", "-", figure_id) + ".pdf"


def paper_figures(catalog: Any, entries: list[Any]) -> list[str]:
    """The ids of the figures of the chosen theorems' papers, in catalog order of the papers."""
    papers: list[str] = []
    for e in entries:
        paper = e.id.split(".", 1)[0]
        if paper not in papers:
            papers.append(paper)
    return [fid for paper in papers for fid in sorted(catalog.figures) if fid.startswith(paper + ".")]


@dataclass
class ClaimRow:
    cid: str
    kind: str
    statuses: list[str]
    method: str
    seconds: float | None

    def to_json(self) -> dict[str, Any]:
        return {"id": self.cid, "kind": self.kind, "status": self.statuses, "method": self.method,
                "seconds": None if self.seconds is None else round(self.seconds, 3)}


def claim_rows(entries: list[Any], verdicts: dict[str, Verdict], mc: dict[str, list[Verdict]]) -> list[ClaimRow]:
    """One row per claim id of the entries: its verdict(s), or ``not run`` / ``not verified``."""
    from .claims import ProcessClaim

    rows = []
    for entry in entries:
        for cid, claim, role in entry.claims():
            kind = type(claim).__name__ + (f" ({role})" if role not in (None, "", "claim") else "")
            if isinstance(claim, ProcessClaim):
                vs = mc.get(cid, [])
                rows.append(ClaimRow(cid, kind, [v.status.value for v in vs] or ["not run"],
                                     "Monte Carlo" if vs else "", sum(v.seconds for v in vs) if vs else None))
            elif cid in verdicts:
                v = verdicts[cid]
                rows.append(ClaimRow(cid, kind, [v.status.value], v.method, v.seconds))
            else:
                rows.append(ClaimRow(cid, kind, ["not verified"], "", None))
    return rows


def summary_tex(rows: list[ClaimRow]) -> str:
    """The summary table: one ``longtable`` row per claim id."""
    head = r"Claim & Kind & Verdict & Method & Seconds \\"
    lines = [r"\section*{Summary of verdicts}", r"\begingroup\footnotesize",
             r"\begin{longtable}{p{0.4\linewidth}p{0.14\linewidth}p{0.12\linewidth}p{0.16\linewidth}r}",
             r"\toprule", head, r"\midrule",
             r"\endhead", r"\bottomrule", r"\endfoot"]
    for r in rows:
        secs = "" if r.seconds is None else f"{r.seconds:.2f}"
        cid = escape(r.cid).replace(".", ".\\allowbreak{}")
        lines.append(f"\\texttt{{{cid}}} & {escape(r.kind)} & {escape(', '.join(r.statuses))} & "
                     f"{escape(r.method)} & {secs} \\\\")
    lines += [r"\end{longtable}", r"\endgroup"]
    return "\n".join(lines) + "\n"


def figures_tex(figures: list[tuple[str, str, list[str]]]) -> str:
    """The figures section: ``(figure id, title, finding lines)`` each set full width with its findings."""
    if not figures:
        return ""
    out = [r"\section*{Theory against simulation}"]
    for fid, title, lines in figures:
        out.append(f"\\subsection*{{{escape(title)}}}")
        out.append(f"\\noindent\\texttt{{{escape(fid)}}}\\par\\medskip")
        out.append(f"\\noindent\\includegraphics[width=\\linewidth]{{{figure_file(fid)}}}")
        if lines:
            out.append("\\begin{itemize}\n" + "\n".join(f"  \\item {escape(x)}" for x in lines) + "\n\\end{itemize}")
    return "\n".join(out) + "\n"


@dataclass
class Provenance:
    seed: int
    device: str
    quick: bool
    checks: bool
    max_chars: int | None
    date: str = field(default_factory=lambda: datetime.datetime.now(datetime.timezone.utc).isoformat(
        timespec="seconds"))
    stages: dict[str, float] = field(default_factory=dict)

    def versions(self) -> dict[str, str]:
        out = {"python": platform.python_version()}
        for name in VERSIONED:
            try:
                out[name] = metadata.version(name)
            except metadata.PackageNotFoundError:
                out[name] = "not installed"
        return out

    def to_json(self) -> dict[str, Any]:
        return {"versions": self.versions(), "seed": self.seed, "device": self.device, "quick": self.quick,
                "checks": self.checks, "max_chars": self.max_chars, "date": self.date,
                "seconds": {k: round(v, 3) for k, v in self.stages.items()}}

    def tex(self) -> str:
        rows = [(k, v) for k, v in self.versions().items()]
        rows += [("seed", str(self.seed)), ("device", self.device), ("figures", "quick" if self.quick else "full"),
                 ("Monte Carlo checks", "run" if self.checks else "not run"),
                 ("round trip", f"formulas of at most {self.max_chars} characters" if self.max_chars else "all"),
                 ("date (UTC)", self.date)]
        rows += [(f"seconds: {k}", f"{v:.2f}") for k, v in self.stages.items()]
        body = "\n".join(f"{escape(k)} & {escape(v)} \\\\" for k, v in rows)
        return ("\\section*{Provenance}\n\\begin{longtable}{ll}\n\\toprule\nItem & Value \\\\\n\\midrule\n"
                f"{body}\n\\bottomrule\n\\end{{longtable}}\n")


def document(body: str, title: str) -> str:
    """A standalone report around ``body``: :data:`bnsym.latex.PACKAGES` plus longtable and graphicx."""
    packages = "\n".join(f"\\usepackage{{{p}}}" for p in PACKAGES + REPORT_PACKAGES)
    return (f"\\documentclass{{article}}\n{packages}\n\\title{{{escape(title)}}}\n\\date{{}}\n"
            f"\\begin{{document}}\n\\maketitle\n{body}\n\\end{{document}}\n")


def find_engine() -> tuple[str, str] | None:
    """``("latexmk", path)`` or ``("pdflatex", path)``, whichever is installed first, else None."""
    for name in ("latexmk", "pdflatex"):
        found = shutil.which(name)
        if found:
            return name, found
    return None


def compile_pdf(tex: Path, engine: tuple[str, str], timeout: float = 300.0) -> list[str]:
    """Compile ``tex`` in its folder; the TeX error lines ([] when the PDF was written)."""
    name, path = engine
    flags = ["-interaction=nonstopmode", "-halt-on-error"]
    runs = [[path, "-pdf", *flags, tex.name]] if name == "latexmk" else [[path, *flags, tex.name]] * 2
    for argv in runs:
        try:
            run = subprocess.run(argv, cwd=tex.parent, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return [f"{name} did not finish in {timeout:.0f} s"]
        if run.returncode != 0:
            log = tex.with_suffix(".log")
            text = log.read_text(errors="replace") if log.exists() else run.stdout
            lines = text.splitlines()
            errors = [ln for ln in lines if ln.startswith("!") or re.match(r"l\.\d+ ", ln)]
            return errors or (text[-2000:].splitlines() or [f"{name} exited {run.returncode}"])
    if not tex.with_suffix(".pdf").is_file():
        return [f"{name} wrote no PDF"]
    return []
