r"""LaTeX out: a theorem, its claims, derivations, verdicts and Monte Carlo evidence, typeset.

:func:`theorem_latex` writes one theorem: its title and source, the parameter domains, and per claim
the statement (an equation, a bound, an asymptotic form, the Gaussian expectation with its
covariance, the process quantity against its closed form), the stated assumptions, a verdict mark,
and for a derivation an ``align*`` environment with one justification and one verdict mark per step.
Errata show the printed and the corrected forms side by side; Monte Carlo verdicts add a table of
estimate, standard error, claimed value, samples and resolution per point. :func:`document` wraps a
body into a standalone document.

Compile-safe by construction: only the standard packages amsmath, amssymb and booktabs; every text
taken from a theorem (titles, notes, assumptions, justifications) goes through :func:`escape`; every
formula comes from :func:`expr_tex`, SymPy's LaTeX printer with the parameters' ``latex`` names
(``sigma_P`` as ``\sigma_{\mathcal{P}}``). Each formula is also parsed back and proven equal to its
source by :mod:`bnsym.roundtrip`; formulas the parser cannot read are marked in the output.

>>> import sympy as sp
>>> M = sp.Symbol("M", positive=True)
>>> expr_tex(sp.gamma((M - 1) / 2) / M)
'\\frac{\\Gamma\\left(\\frac{M}{2} - \\frac{1}{2}\\right)}{M}'
>>> escape("E[x_1] = 50% & more")
'E[x\\_1] = 50\\% \\& more'
"""

from __future__ import annotations

import math
from typing import Any, Iterable

import sympy as sp
from sympy.printing.latex import LatexPrinter

from .claims import (
    Asymptotic,
    Claim,
    Derivation,
    Erratum,
    GaussianExpectation,
    Identity,
    Inequality,
    Measurement,
    ProcessClaim,
)
from .verdict import Status, Verdict

PACKAGES = ("amsmath", "amssymb", "booktabs")

# a verdict mark per status (amssymb symbols only)
MARK = {Status.PROVEN: r"\checkmark", Status.NUMERIC: r"\approx", Status.CONSISTENT: r"\sim",
        Status.REFUTED: r"\times", Status.MEASURED: r"\cdot", Status.UNDECIDED: "?", Status.ERROR: "!"}

_TEXT_SPECIALS = {
    "\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "_": r"\_", "%": r"\%", "&": r"\&", "#": r"\#",
    "$": r"\$", "^": r"\textasciicircum{}", "~": r"\textasciitilde{}", "<": r"\textless{}", ">": r"\textgreater{}",
    "|": r"\textbar{}",
}
_UNICODE = {"≤": r"$\leq$", "≥": r"$\geq$", "±": r"$\pm$", "≈": r"$\approx$", "×": r"$\times$", "·": r"$\cdot$",
            "→": r"$\to$", "∞": r"$\infty$", "−": "-", "–": "--", "—": "---", "’": "'", "“": "``", "”": "''",
            "√": r"$\surd$", "∑": r"$\sum$", "σ": r"$\sigma$", "μ": r"$\mu$", "γ": r"$\gamma$", "β": r"$\beta$",
            "η": r"$\eta$", "ζ": r"$\zeta$", "λ": r"$\lambda$", "κ": r"$\kappa$", "ρ": r"$\rho$", "ε": r"$\epsilon$"}
_OPS = {"<": "<", "<=": r"\leq", ">": ">", ">=": r"\geq", "==": "="}


def escape(text: Any) -> str:
    """Plain text made safe for LaTeX: specials escaped, a few Unicode signs as math, others as ``?``."""
    out = []
    for ch in str(text):
        if ch in _TEXT_SPECIALS:
            out.append(_TEXT_SPECIALS[ch])
        elif ch in _UNICODE:
            out.append(_UNICODE[ch])
        elif ch == "\n":
            out.append(" ")
        elif ord(ch) < 32 or ord(ch) > 126:
            out.append("?")  # no inputenc assumptions: an unknown glyph cannot break the document
        else:
            out.append(ch)
    return "".join(out)


class TexPrinter(LatexPrinter):
    """SymPy's LaTeX printer with bnsym's settings: arcsin for asin, ``\\cdot`` on request."""

    def __init__(self, settings: dict[str, Any] | None = None) -> None:
        super().__init__({"inv_trig_style": "full", **(settings or {})})


def expr_tex(expr: Any, names: dict[sp.Symbol, str] | None = None, parse_friendly: bool = False) -> str:
    """``expr`` in LaTeX, each symbol under ``names[symbol]`` (SymPy's default where absent).

    ``parse_friendly`` prints products with an explicit ``\\cdot`` (for the round trip); otherwise the
    settings are those of the document.
    """
    settings: dict[str, Any] = {"symbol_names": dict(names or {})}
    if parse_friendly:
        settings["mul_symbol"] = "dot"
    return TexPrinter(settings).doprint(sp.sympify(expr))


MAX_DISPLAY_CHARS = 2500
"""A formula whose LaTeX is longer is not typeset: TeX's largest dimension (\\maxdimen, 16383 pt) is about
2700 characters of math at ~6 pt each, beyond which pdflatex stops with "Dimension too large"."""


def display_tex(expr: Any, names: dict[sp.Symbol, str] | None = None) -> str:
    """``expr_tex`` for a display, or a note naming its length where it is too wide for TeX to set."""
    tex = expr_tex(expr, names)
    if len(tex) <= MAX_DISPLAY_CHARS:
        return tex
    return rf"\text{{[a formula of {len(tex)} characters of LaTeX, too wide to typeset]}}"


def symbol_names(params: Iterable[Any]) -> dict[sp.Symbol, str]:
    """``{symbol: latex}`` from parameters whose ``latex`` is set."""
    return {p.symbol: p.latex for p in params if p.latex is not None}


def _mark(v: Verdict | None) -> str:
    if v is None:
        return r"\textit{not verified}"
    return rf"$\boldsymbol{{{MARK[v.status]}}}$~\textsc{{{v.status.value.lower()}}}"


def _claim_names(theorem: Any, claim: Claim) -> dict[sp.Symbol, str]:
    return symbol_names(theorem.domain(claim).values())


def statement(theorem: Any, claim: Claim) -> str:
    """The claim's statement as display math (no environment)."""
    names = _claim_names(theorem, claim)

    def t(e: Any) -> str:
        return display_tex(e, names)

    if isinstance(claim, Measurement):
        return rf"\text{{measured: }} {claim.quantity_tex or _text(claim.quantity)}"
    if isinstance(claim, ProcessClaim):
        q = claim.quantity_tex or _text(claim.quantity)
        value = t(claim.value)
        if claim.var is not None:
            value += rf" + O\left({expr_tex(claim.var.symbol, names)}^{{-{claim.order}}}\right)"
        every = r" \quad \text{for every instance}" if claim.every else ""
        return f"{q} {_OPS[claim.op]} {value}{every}"
    if isinstance(claim, Identity):
        return f"{t(claim.lhs)} = {t(claim.rhs)}"
    if isinstance(claim, Inequality):
        return f"{t(claim.lhs)} {_OPS[claim.op]} {t(claim.rhs)}"
    if isinstance(claim, Asymptotic):
        assert claim.var is not None
        v = expr_tex(claim.var.symbol, names)
        return rf"{t(claim.lhs)} = {t(claim.rhs)} + O\left({v}^{{-{claim.order}}}\right) \quad ({v} \to \infty)"
    if isinstance(claim, GaussianExpectation):
        a, b = (expr_tex(s, names) for s in claim.variables)
        cov = r" \\ ".join(" & ".join(t(e) for e in row) for row in claim.covariance)
        return (rf"\mathbb{{E}}\left[{t(claim.integrand)}\right] = {t(claim.value)}, \quad ({a}, {b}) \sim "
                rf"\mathcal{{N}}\left(0, \begin{{pmatrix}} {cov} \end{{pmatrix}}\right)")
    if isinstance(claim, Derivation):
        return f"{t(claim.chain[0][0])} = {t(claim.chain[-1][0])}"
    return _text(claim.title)


def _text(s: str) -> str:
    return rf"\text{{{escape(s)}}}"


def derivation_tex(theorem: Any, claim: Derivation, verdict: Verdict | None) -> str:
    """An ``align*`` of the chain: one line per step, its justification and its verdict mark."""
    names = _claim_names(theorem, claim)
    links = verdict.links if verdict is not None else []
    lines = [f"  & {display_tex(claim.chain[0][0], names)}"]
    for i, (e, why) in enumerate(claim.chain[1:], 1):
        v = links[i - 1] if i - 1 < len(links) else None
        mark = rf"\boldsymbol{{{MARK[v.status]}}}" if v is not None else r"\text{not verified}"
        lines.append(rf"  &= {display_tex(e, names)} && \text{{{escape(why)}}} \quad {mark}")
    return "\\begin{align*}\n" + " \\\\\n".join(lines) + "\n\\end{align*}"


def _display(body: str) -> str:
    return "\\begin{equation*}\n  " + body + "\n\\end{equation*}"


def _fmt(x: Any) -> str:
    if isinstance(x, bool) or x is None:
        return escape(x)
    if isinstance(x, int):
        return str(x)
    if isinstance(x, float):
        if not math.isfinite(x):
            return escape(x)
        s = f"{x:.6g}"
        if "e" in s:
            mant, exp = s.split("e")
            return rf"${mant} \times 10^{{{int(exp)}}}$"
        return f"${s}$"
    return escape(x)


_ROW_SKIP = {"estimate", "stderr", "claimed", "samples", "resolution", "absolute_resolution", "pass", "z",
             "relative_stderr"}


def evidence_table(v: Verdict) -> str:
    """A booktabs table of the Monte Carlo rows: point, estimate, standard error, claimed, samples, resolution."""
    groups: list[tuple[str, list[dict[str, Any]]]] = []
    ev = v.evidence
    if ev.get("rows"):
        groups.append(("", ev["rows"]))
    for lad in ev.get("ladders", []):
        setting = ", ".join(f"{k} = {val}" for k, val in lad.get("setting", {}).items())
        groups.append((f"ladder {setting}: chi-square {lad.get('chi2', float('nan')):.3g} "
                       f"(dof {lad.get('dof')}, critical {lad.get('critical', float('nan')):.3g})", lad["rows"]))
    if not groups:
        return ""
    out = ["\\begin{center}", "\\begin{tabular}{lrrrrr}", "\\toprule",
           "point & estimate & std.\\ error & claimed & samples & resolution \\\\", "\\midrule"]
    for caption, rows in groups:
        if caption:
            out.append(f"\\multicolumn{{6}}{{l}}{{\\textit{{{escape(caption)}}}}} \\\\")
        for row in rows:
            point = ", ".join(f"{k} = {_plain(val)}" for k, val in row.items() if k not in _ROW_SKIP)
            if row.get("resolution") is not None:
                res = f"{100 * row['resolution']:.2g}\\%"
            elif "absolute_resolution" in row:
                res = f"{_fmt(row['absolute_resolution'])} abs."
            else:
                res = "--"
            claimed = _fmt(row["claimed"]) if "claimed" in row else "--"
            out.append(f"{escape(point)} & {_fmt(row.get('estimate'))} & {_fmt(row.get('stderr'))} & {claimed} & "
                       f"{_fmt(row.get('samples'))} & {res} \\\\")
    out += ["\\bottomrule", "\\end{tabular}", "\\end{center}"]
    return "\n".join(out)


def _plain(v: Any) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def _roundtrip_note(cid: str, roundtrip: Any) -> str:
    if roundtrip is None:
        return ""
    items = roundtrip.for_claim(cid)
    from .roundtrip import FAILED, UNPARSED

    bad = [r for r in items if r.status == FAILED]
    unparsed = [r for r in items if r.status == UNPARSED]
    notes = []
    if bad:
        notes.append(f"\\textbf{{round trip FAILED}} for {len(bad)} of {len(items)} formulas: the typeset form may "
                     "not be the checked expression")
    if unparsed:
        reasons = sorted({r.detail for r in unparsed})
        notes.append(f"{len(unparsed)} of {len(items)} formulas not parsed back ({escape('; '.join(reasons))})")
    return ("\\par\\noindent{\\footnotesize " + "; ".join(notes) + ".}\n") if notes else ""


def claim_tex(theorem: Any, cid: str, claim: Claim, verdict: Verdict | None,
              mc: list[Verdict] | None, roundtrip: Any = None, role: str = "claim") -> str:
    """One claim: heading with its verdict, statement, assumptions, note, chain and evidence."""
    role_text = {"printed": "as printed: ", "corrected": "corrected: "}.get(role, "")
    out = [f"\\paragraph{{{escape(role_text + (claim.title or cid))}}}",
           f"\\texttt{{{escape(cid)}}} ({escape(claim.kind)}, holds {escape(claim.holds)}).",
           f"Verdict: {_verdict_text(claim, verdict, mc, cid)}\n"]
    if isinstance(claim, Derivation):
        out.append(derivation_tex(theorem, claim, verdict))
    else:
        out.append(_display(statement(theorem, claim)))
    if claim.where:
        out.append("Here " + "; ".join(f"${p.tex()} \\in$ {escape(p.describe())}" for p in claim.where) + ".")
    if claim.assumptions:
        out.append("\\begin{itemize}\n" + "\n".join(f"  \\item {escape(a)}" for a in claim.assumptions)
                   + "\n\\end{itemize}")
    if isinstance(claim, Measurement) and claim.setting:
        out.append(f"Setting: {escape(claim.setting)}.")
    if claim.note:
        out.append(f"\\par\\noindent\\textit{{Note.}} {escape(claim.note)}")
    for v in mc or []:
        out.append(f"\\par\\noindent Monte Carlo: {escape(v.summary)}")
        out.append(evidence_table(v))
    note = _roundtrip_note(cid, roundtrip)
    if note:
        out.append(note)
    return "\n".join(s for s in out if s) + "\n"


def _verdict_text(claim: Claim, verdict: Verdict | None, mc: list[Verdict] | None, cid: str) -> str:
    if isinstance(claim, ProcessClaim):
        if not mc:
            return rf"\textit{{not run}} (Monte Carlo: \texttt{{bnsym latex --check {escape(cid.rsplit('.', 1)[0])}}})"
        return ", ".join(_mark(v) for v in mc) + "."
    if verdict is None:
        return _mark(None) + "."
    return f"{_mark(verdict)} ({escape(verdict.method)}: {escape(verdict.summary)})."


def erratum_tex(theorem: Any, item: Erratum, ids: dict[int, str], verdicts: dict[str, Verdict],
                mc: dict[str, list[Verdict]]) -> str:
    """The printed and the corrected forms side by side, each with its verdict."""
    cells = []
    for label, c in (("Printed", item.printed), ("Corrected", item.corrected)):
        cid = ids[id(c)]
        body = (derivation_tex(theorem, c, verdicts.get(cid)).replace("align*", "aligned").replace("&&", "&")
                if isinstance(c, Derivation) else statement(theorem, c))
        cells.append((label, cid, body, _verdict_text(c, verdicts.get(cid), mc.get(cid), cid)))
    head = " & ".join(f"\\textbf{{{lbl}}} (\\texttt{{{escape(cid)}}})" for lbl, cid, _, _ in cells)
    forms = " & ".join(f"$\\displaystyle {body}$" for _, _, body, _ in cells)
    marks = " & ".join(text for _, _, _, text in cells)
    note = f"\n\\par\\noindent\\textit{{Erratum.}} {escape(item.note)}" if item.note else ""
    return ("\\begin{center}\n\\begin{tabular}{p{0.47\\linewidth}p{0.47\\linewidth}}\n\\toprule\n"
            f"{head} \\\\\n\\midrule\n{forms} \\\\\n{marks} \\\\\n\\bottomrule\n\\end{{tabular}}\n\\end{{center}}"
            f"{note}\n")


def theorem_latex(entry: Any, verdicts: dict[str, Verdict] | None = None,
                  mc_verdicts: dict[str, list[Verdict]] | None = None, snippet: bool = False,
                  roundtrip: Any = None) -> str:
    """A theorem typeset: a fragment (``snippet``) or a standalone document.

    ``entry`` is a registry entry (``catalog.theorem(id)``); ``verdicts`` maps claim ids to symbolic
    verdicts, ``mc_verdicts`` claim ids to Monte Carlo verdicts; ``roundtrip`` is the entry's
    :class:`bnsym.roundtrip.RoundTripReport` (formulas it could not parse back are marked).
    """
    th = entry.theorem
    verdicts, mc = verdicts or {}, mc_verdicts or {}
    out = [f"\\section*{{{escape(th.title)}}}",
           f"\\noindent\\texttt{{{escape(entry.id)}}}. Source: {escape(th.source)}.\n"]
    if th.summary:
        out.append(escape(th.summary) + "\n")
    if th.params:
        out.append("\\paragraph{Parameters}")
        out.append("\\begin{itemize}\n" + "\n".join(
            f"  \\item ${p.tex()}$ \\texttt{{{escape(p.name)}}}: {escape(p.describe())}" for p in th.params)
            + "\n\\end{itemize}")
    in_erratum: dict[int, Erratum] = {}
    for item in th.claims:
        if isinstance(item, Erratum):
            in_erratum[id(item.printed)] = item
            in_erratum[id(item.corrected)] = item
    shown: set[int] = set()
    for cid, claim, role in entry.claims():
        err = in_erratum.get(id(claim))
        if err is not None and id(err) not in shown:
            shown.add(id(err))
            out.append(f"\\subsection*{{Erratum: {escape(err.printed.title or cid)}}}")
            out.append(erratum_tex(th, err, entry.claim_ids, verdicts, mc))
        out.append(claim_tex(th, cid, claim, verdicts.get(cid), mc.get(cid), roundtrip, role))
    body = "\n".join(out)
    return body if snippet else document(body, th.title)


def document(body: str, title: str = "") -> str:
    """A standalone LaTeX document around ``body`` (amsmath, amssymb, booktabs only)."""
    packages = "\n".join(f"\\usepackage{{{p}}}" for p in PACKAGES)
    head = f"\\title{{{escape(title)}}}\n\\date{{}}\n" if title else ""
    make = "\\maketitle\n" if title else ""
    return (f"\\documentclass{{article}}\n{packages}\n{head}\\begin{{document}}\n{make}{body}\n"
            "\\end{document}\n")
