r"""LaTeX in: check a chain of equalities written in a user's own ``.tex`` file.

``verify_tex(path)`` reads every ``equation``, ``equation*``, ``align``, ``align*`` environment and
every ``\[ ... \]`` display of a file, splits each into chains of relations (``a = b = c``, or align
rows ``&= b \\``), and checks every step the way ``bnsym verify`` checks a derivation link: the
symbolic prover first (:func:`bnsym.prover.prove_equal`, each strategy under its wall-clock budget),
then mpmath at random points of the declared domains (:func:`bnsym.numeric.check_equal`). The first
failing step is named with its chain, step and line and a counterexample (the value of every symbol
and of both sides). An annotated copy of the file gets one ``% bnsym-result:`` comment line per step.

Domains are declared in comment lines, anywhere in the file, for the whole file::

    % bnsym: M integer >= 2
    % bnsym: \sigma_{B} > 0
    % bnsym: x real in [-3, 3]
    % bnsym: \eta in (0, 1) sample [0.01, 0.5] log
    % bnsym: skip                       (the next display is not checked, e.g. a definition)

A declaration is ``NAME [integer|real|positive|nonnegative] CLAUSE ...`` where NAME is the symbol as
written in the LaTeX and a clause is a bound (``> N``, ``>= N``, ``< N``, ``<= N``, also ``\ge``,
``\le``), ``in`` an interval (``[a, b]``, ``(a, b]``, ``-oo``/``oo`` allowed), ``sample`` an interval
(the region random points come from) or a sampling law (``log``, ``uniform``). Where an end of the
domain is open to infinity and no ``sample`` region is given, points are drawn within
``DEFAULT_SPAN`` of the finite end (``[lo, lo + 10]``, ``[hi - 10, hi]``), and in ``[-5, 5]`` for a
symbol with no bound; a symbol without a declaration is real with the region ``[-5, 5]``, and the
result lists such symbols. A bound makes the symbol's SymPy assumptions (``positive``, ``integer``),
so a step that holds only on the domain can be proven there.

How a display becomes chains (:func:`_split`): relations at bracket depth 0 split it into sides; a row
break ``\\`` followed by a relation continues the chain (``&= b``), one followed by ``+``, ``-``, ``\cdot``
or ``\times`` continues the side before it (unless the row's ``&`` comes after the sign: ``-c &= d``
starts a chain), and any other row starts a new chain; a row break inside brackets continues the side.
A row of mathematics that would belong to no chain is an error, as is text between two parts of a side
(``a = b \quad\text{and}\quad c = d``): neither is dropped or multiplied in. Trailing punctuation is
dropped and ``\text{...}`` before or after a side is the note of its step. The LaTeX of each side is
read by :mod:`bnsym.texparse` (the grammar, and the ``file:line:column`` of every error, are described
there).
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sympy as sp

from . import numeric, prover
from .errors import BnsymError, UsageError
from .files import output_path, write_atomically
from .params import Param
from .texparse import (
    ERROR_CONTEXT,
    Parser,
    Source,
    SymbolFor,
    TexInputError,
    Token,
    check_side,
    parse_expression,
    skip_space,
    strip_comments,
    tokenize,
)
from .verdict import Status, Verdict, weakest
from .verify import Settings, equality_verdict, numeric_verdict, run_numeric, symbolic_refutation

__all__ = ["DEFAULT_SPAN", "ENVIRONMENTS", "ERROR_CONTEXT", "MARK", "Chain", "Declaration", "Step", "TexDocument",
           "TexInputError", "TexResult", "annotated_name", "check_step", "check_tex", "parse_expression", "parse_tex",
           "read_tex", "tex_settings", "verify_tex"]

DEFAULT_SPAN = 10.0  # width of the default sampling region at an end open to infinity
ENVIRONMENTS = ("equation", "equation*", "align", "align*")
MARK = "% bnsym-result:"


# -- declarations ----------------------------------------------------------------------------------------

_DECL = re.compile(r"^[ \t]*%[ \t]*bnsym:(.*)$", re.MULTILINE)
_KEYWORDS = ("integer", "real", "positive", "nonnegative", "in", "sample", "log", "uniform")
_BOUND = re.compile(r"(>=|<=|>|<|\\geq|\\leq|\\ge|\\le)\s*(" + r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)")
_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|[-+]?oo|[-+]?inf|[-+]?\\infty"
_INTERVAL = re.compile(r"([\[(])\s*(" + _NUMBER + r")\s*,\s*(" + _NUMBER + r")\s*([\])])")


@dataclass
class Declaration:
    """One ``% bnsym:`` line turned into a parameter (``param``), or a ``skip`` mark."""

    line: int
    offset: int
    text: str
    name: str = ""
    param: Param | None = None
    skip: bool = False


def _number(text: str) -> float:
    t = text.replace("\\infty", "oo").replace("inf", "oo")
    if t.lstrip("+-") == "oo":
        return -math.inf if t.startswith("-") else math.inf
    return float(t)


def _declaration(src: Source, offset: int, body: str, body_at: int) -> Declaration:
    line, _ = src.line_col(offset)
    text = body.strip()
    if text == "skip":
        return Declaration(line, offset, text, skip=True)
    split = re.search(r"\s(?:" + "|".join(_KEYWORDS) + r")\b|[<>]|\\(?:geq?|leq?)\b", " " + body)
    if split is None or not body[:max(split.start() - 1, 0)].strip():
        raise src.error(body_at + len(body) - len(body.lstrip()),
                        "a declaration is 'NAME [integer|real|positive] [> N] [>= N] [< N] [<= N] [in [a, b]] "
                        "[sample [a, b]] [log]' or 'skip'", len(text))
    cut = max(split.start() - 1, 0)
    name_tex, rest = body[:cut], body[cut:]
    name_at = body_at + len(name_tex) - len(name_tex.lstrip())
    toks = tokenize(src, src.text, name_at, name_at + len(name_tex.strip()))
    names: list[str] = []

    def record(n: str, latex: str, pos: int) -> sp.Symbol:
        names.append(n)
        return sp.Symbol(n)

    named = Parser(src, toks, record, euler=False, near=name_at).parse()
    if len(names) != 1 or len(toks) == 0 or named != sp.Symbol(names[0]):  # x^2 > 0 does not bound x
        raise src.error(name_at, "a declaration names one symbol", len(name_tex.strip()))
    spec: dict[str, Any] = {"lo": None, "hi": None, "lo_open": False, "hi_open": False, "integer": False,
                            "law": "uniform", "sample_lo": None, "sample_hi": None}
    pos = 0
    rest_at = body_at + cut
    while pos < len(rest):
        if rest[pos] in " \t,":
            pos += 1
            continue
        m = _BOUND.match(rest, pos)
        if m:
            op, value = m.group(1).replace("\\geq", ">=").replace("\\leq", "<="), float(m.group(2))
            if not math.isfinite(value):
                raise src.error(rest_at + pos, f"a bound must be a finite number, not {m.group(2)}", m.end() - pos)
            op = {"\\ge": ">=", "\\le": "<="}.get(op, op)
            if op in (">", ">="):
                spec["lo"], spec["lo_open"] = value, op == ">"
            else:
                spec["hi"], spec["hi_open"] = value, op == "<"
            pos = m.end()
            continue
        word = re.compile(r"[a-z]+").match(rest, pos)
        if word and word.group() in ("in", "sample"):
            iv = _INTERVAL.match(rest, skip_space(rest, word.end(), len(rest)))
            if iv is None:
                raise src.error(rest_at + pos, f"'{word.group()}' needs an interval such as [0, 1] or (0, oo)",
                                len(rest) - pos)
            lo, hi = _number(iv.group(2)), _number(iv.group(3))
            if word.group() == "in":
                spec["lo"] = None if lo == -math.inf else lo
                spec["hi"] = None if hi == math.inf else hi
                spec["lo_open"], spec["hi_open"] = iv.group(1) == "(", iv.group(4) == ")"
            else:
                if not (math.isfinite(lo) and math.isfinite(hi)):
                    raise src.error(rest_at + pos, "a sample region must be finite", iv.end() - pos)
                spec["sample_lo"], spec["sample_hi"] = lo, hi
            pos = iv.end()
            continue
        if word and word.group() in ("integer", "real", "positive", "nonnegative", "log", "uniform"):
            w = word.group()
            if w == "integer":
                spec["integer"] = True
            elif w == "positive":
                spec["lo"], spec["lo_open"] = 0.0, True
            elif w == "nonnegative":
                spec["lo"], spec["lo_open"] = 0.0, False
            elif w in ("log", "uniform"):
                spec["law"] = w
            pos = word.end()
            continue
        raise src.error(rest_at + pos, "unknown declaration syntax (expected integer, real, positive, a bound "
                        "such as '>= 2', 'in [a, b]', 'sample [a, b]', 'log')", len(rest.rstrip()) - pos)
    return Declaration(line, offset, text, names[0], _param(src, offset, names[0], name_tex.strip(), spec))


def _param(src: Source, offset: int, name: str, latex: str, spec: dict[str, Any]) -> Param:
    """The parameter of a declaration; unbounded ends get a sampling region ``DEFAULT_SPAN`` wide."""
    lo, hi = spec["lo"], spec["hi"]
    if spec["sample_lo"] is None:
        if lo is not None and hi is None:
            spec["sample_lo"], spec["sample_hi"] = lo, lo + DEFAULT_SPAN
        elif hi is not None and lo is None:
            spec["sample_lo"], spec["sample_hi"] = hi - DEFAULT_SPAN, hi
        elif lo is None and hi is None:
            spec["sample_lo"], spec["sample_hi"] = -DEFAULT_SPAN / 2, DEFAULT_SPAN / 2
    else:
        s_lo, s_hi = spec["sample_lo"], spec["sample_hi"]
        if (lo is not None and s_lo < lo) or (hi is not None and s_hi > hi) or s_lo > s_hi:
            raise src.error(offset, f"sample region [{s_lo:g}, {s_hi:g}] of {name} is not inside its domain")
    try:
        return Param(name, latex=latex, **spec)
    except BnsymError as exc:
        raise src.error(offset, f"declaration of {name}: {exc}") from None


def _default_param(name: str, latex: str) -> Param:
    return Param(name, sample_lo=-DEFAULT_SPAN / 2, sample_hi=DEFAULT_SPAN / 2, latex=latex)


# -- chains ----------------------------------------------------------------------------------------------

@dataclass
class Step:
    """One relation of a chain: ``lhs OP rhs`` with its position and its ``\\text{}`` note."""

    number: int
    op: str
    lhs: sp.Expr
    rhs: sp.Expr
    lhs_tex: str
    rhs_tex: str
    line: int
    column: int
    end_line: int  # the line the step's right side ends on (its mark goes after it)
    note: str = ""


@dataclass
class Chain:
    number: int
    env: str
    line: int
    end_line: int  # the line of the display's end
    steps: list[Step] = field(default_factory=list)


@dataclass
class TexDocument:
    """A parsed ``.tex`` file: its chains, declared parameters and the symbols left undeclared."""

    source: Source
    chains: list[Chain]
    params: dict[str, Param]
    undeclared: dict[str, Param]
    skipped: list[int]  # lines of displays marked '% bnsym: skip'


def _displays(src: Source, clean: str) -> list[tuple[str, int, int, int, int]]:
    """``(environment, start, body start, body end, end)`` of every display, in file order."""
    out: list[tuple[str, int, int, int, int]] = []
    pattern = re.compile(r"\\begin\s*\{(" + "|".join(re.escape(e) for e in ENVIRONMENTS) + r")\}|\\\[")
    i = 0
    while True:
        m = pattern.search(clean, i)
        if m is None:
            return out
        if m.start() > 0 and clean[m.start() - 1] == "\\" and (m.start() < 2 or clean[m.start() - 2] != "\\"):
            i = m.end()  # an escaped backslash, e.g. '\\[2pt]'
            continue
        if m.group(1):
            env = m.group(1)
            close = re.compile(r"\\end\s*\{" + re.escape(env) + r"\}").search(clean, m.end())
        else:
            env = "\\["
            close = re.compile(r"(?<!\\)\\\]").search(clean, m.end())
        if close is None:
            raise src.error(m.start(), f"{env} is never closed", m.end() - m.start())
        out.append((env, m.start(), m.end(), close.start(), close.end()))
        i = close.end()


def _split(src: Source, toks: list[Token]) -> list[list[list[Token] | Token]]:
    r"""Split a display's tokens into chains: lists alternating expression tokens and relation tokens.

    A row (after ``\\``) that starts with a relation goes on with the chain; one that starts with ``+``,
    ``-``, ``*``, ``\cdot`` or ``\times`` goes on with the side before it, unless the row's ``&`` comes after
    that sign (``-c &= d`` starts a chain); any other row starts a new chain. A row break inside brackets
    goes on with the side. A row of mathematics left in no chain, in a display that has chains, is an
    error: dropping it would check ``a = b`` where ``a = b c`` was written.
    """
    chains: list[list[list[Token] | Token]] = []
    current: list[list[Token] | Token] = []
    piece: list[Token] = []
    opened: list[Token] = []  # brackets not closed yet: a relation inside one is not a step of the chain
    row_break = False
    for k, t in enumerate(toks):
        if t.kind == "char" and t.text in "([{":
            opened.append(t)
        elif t.kind == "char" and t.text in ")]}":
            if not opened:
                raise src.error(t.pos, f"unexpected text: an unmatched '{t.text}'")
            opened.pop()
        depth = len(opened)
        if t.kind == "row":  # inside brackets (\Big( ... \\ ... \Big)) the side goes on
            row_break = row_break or depth == 0
            continue
        if t.kind == "rel" and depth == 0:  # also '&= b' on a new row: the chain goes on
            current.append(piece)
            current.append(t)
            piece, row_break = [], False
            continue
        if row_break and t.kind != "note":  # a note ends the row before; the row's first formula decides
            continues = (t.kind == "char" and t.text in "+-*") or (t.kind == "cmd" and t.text in ("cdot", "times"))
            if not continues or _left_column(toks, k):  # a row that starts with an expression: a new chain
                current.append(piece)
                chains.append(current)
                current, piece = [], []
            row_break = False
        piece.append(t)
    if opened:  # else the display's relations would vanish inside the bracket and the display be skipped
        raise src.error(opened[0].pos, f"unclosed '{opened[0].text}'")
    current.append(piece)
    chains.append(current)
    found = [c for c in chains if len(c) > 1]  # a display with no relation is no chain
    for c in chains:
        left = [t for p in c if isinstance(p, list) for t in p
                if t.kind != "note" and not (t.kind == "char" and t.text in (",", ".", ";"))]
        if found and len(c) == 1 and left:
            raise src.error(left[0].pos, "a row with no relation, which would go unchecked: start a continued side with"
                            " +, -, \\cdot or \\times, or mark the display '% bnsym: skip'", left[0].end - left[0].pos)
    return found


def _left_column(toks: list[Token], k: int) -> bool:
    """Whether the sign ``toks[k]`` that starts a row stands left of the row's ``&`` (``-c &= d``), not after it."""
    if toks[k].amp:
        return False
    for t in toks[k + 1:]:
        if t.kind == "row":
            return False
        if t.amp:
            return True
    return False


def _expression(src: Source, piece: list[Token], symbol_for: SymbolFor, euler: bool,
                near: int) -> tuple[sp.Expr, str, str]:
    r"""The SymPy expression of one side, its LaTeX text and its notes.

    ``\text{...}`` before or after the side's formula, outside brackets, is the step's note; text in a
    subscript (``x_{\text{max}}``) or a bracket is the parser's (a name, or an error). Text between two parts
    of the formula is an error: ``a = b \quad\text{and}\quad c = d`` is two relations, not ``a = b c = d``.
    """
    notes: list[Token] = []
    depth = 0
    for k, t in enumerate(piece):
        depth += t.kind == "char" and t.text in "([{"
        depth -= t.kind == "char" and t.text in ")]}"
        if t.kind == "note" and depth == 0 and not (k and piece[k - 1].kind == "char" and piece[k - 1].text in "_^"):
            notes.append(t)
    kept = {id(n) for n in notes}
    math_toks = [t for t in piece if id(t) not in kept]
    while math_toks and math_toks[-1].kind == "char" and math_toks[-1].text in ",.;":
        math_toks.pop()
    if not math_toks:
        raise src.error(near, "a relation with nothing on one side")
    inside = next((n for n in notes if math_toks[0].pos < n.pos < math_toks[-1].pos), None)
    if inside is not None:
        raise src.error(inside.pos, "text between two parts of one side (two relations side by side?): put each"
                        " relation in its own display, or the text after the step", inside.end - inside.pos)
    expr = Parser(src, math_toks, symbol_for, euler).parse()
    check_side(src, expr, math_toks[0])
    tex = src.text[math_toks[0].lead:math_toks[-1].end]
    return expr, " ".join(tex.split()), "; ".join(n.text for n in notes)


def parse_tex(text: str, path: str = "<string>") -> TexDocument:
    """Parse a ``.tex`` file's text into chains of steps (raises :class:`TexInputError` with file:line:column).

    >>> doc = parse_tex("% bnsym: M integer >= 2\\n\\\\[ \\\\frac{M}{M} = 1 \\\\]\\n")
    >>> [(s.number, s.op, s.lhs, s.rhs) for s in doc.chains[0].steps]
    [(1, '=', 1, 1)]
    """
    src = Source(path, text)
    decls = []
    for m in _DECL.finditer(text):
        try:
            decls.append(_declaration(src, m.start(), m.group(1), m.start(1)))
        except RecursionError:
            raise src.error(m.start(), "a declaration nested too deeply to read", len(m.group())) from None
    params: dict[str, Param] = {}
    for d in decls:
        if d.param is None:
            continue
        if d.name in params:
            raise src.error(d.offset, f"{d.name} is declared twice", len(d.text))
        params[d.name] = d.param
    undeclared: dict[str, Param] = {}
    euler = "e" not in params

    def symbol_for(name: str, latex: str, pos: int) -> sp.Symbol:
        if name in params:
            return params[name].symbol
        if name not in undeclared:
            undeclared[name] = _default_param(name, latex)
        return undeclared[name].symbol

    clean = strip_comments(text)
    skip_marks = sorted(d.offset for d in decls if d.skip)
    chains: list[Chain] = []
    skipped: list[int] = []
    last_end = 0
    for env, display_start, start, end, close_end in _displays(src, clean):
        if any(last_end <= s < display_start for s in skip_marks) or any(start <= s < end for s in skip_marks):
            skipped.append(src.line_col(display_start)[0])
            last_end = close_end
            continue
        last_end = close_end
        try:
            for raw in _split(src, tokenize(src, clean, start, end)):
                chain = Chain(len(chains) + 1, env, src.line_col(display_start)[0], src.line_col(close_end)[0])
                pieces = [p for p in raw[0::2] if isinstance(p, list)]
                rels = [r for r in raw[1::2] if isinstance(r, Token)]
                sides = [_expression(src, p, symbol_for, euler, rels[min(k, len(rels) - 1)].pos if rels else start)
                         for k, p in enumerate(pieces)]
                for k, rel in enumerate(rels):
                    (a, a_tex, _), (b, b_tex, note) = sides[k], sides[k + 1]
                    piece = pieces[k + 1]
                    line, col = src.line_col(rel.pos)
                    end_line = src.line_col(max(t.end for t in piece) - 1)[0]
                    chain.steps.append(Step(k + 1, rel.text, a, b, a_tex, b_tex, line, col, end_line, note))
                if chain.steps:
                    chains.append(chain)
        except RecursionError:
            raise src.error(display_start, "a formula nested too deeply to read", len(env) + 1) from None
    if not chains:
        raise TexInputError(f"{path}: no chain of relations found (bnsym reads =, <, >, \\le, \\ge in equation,"
                            " equation*, align, align* and \\[ \\] displays"
                            + (f"; {len(skipped)} display(s) marked skip" if skipped else "") + ")")
    return TexDocument(src, chains, params, undeclared, skipped)


# -- checking --------------------------------------------------------------------------------------------

def _inequality(step_id: str, lhs: sp.Expr, op: str, rhs: sp.Expr, params: list[Param],
                settings: Settings) -> Verdict:
    """An inequality step, decided as ``bnsym verify`` decides an Inequality claim."""
    started = time.perf_counter()
    proof = prover.prove_inequality(lhs, op, rhs, settings.budget) if settings.symbolic else None
    if proof is not None and proof.decided is True:
        return Verdict(step_id, Status.PROVEN, f"sympy:{proof.strategy}", "sign follows from the assumptions",
                       {"strategy": proof.strategy}, time.perf_counter() - started)
    res = run_numeric(numeric.check_inequality, (lhs, op, rhs, params, settings.points, settings.dps,
                                                  settings.seed), settings)
    if proof is not None and proof.decided is False:
        return symbolic_refutation(step_id, proof, res, "claim", started, "the difference is a number of the wrong "
                                    "sign")
    return numeric_verdict(step_id, res, "claim", proof, started)


def check_step(step: Step, step_id: str, doc: TexDocument, settings: Settings) -> Verdict:
    """The verdict on one step, with its position, LaTeX and note in the evidence."""
    known = {**doc.params, **doc.undeclared}
    by_symbol = {p.symbol: p for p in known.values()}
    syms = (step.lhs.free_symbols | step.rhs.free_symbols)
    params = sorted((by_symbol[s] for s in syms), key=lambda p: p.name)
    if step.op == "=":
        v = equality_verdict(step_id, step.lhs, step.rhs, params, "claim", settings)
    else:
        v = _inequality(step_id, step.lhs, step.op, step.rhs, params, settings)
    cx = v.evidence.get("counterexample")
    if cx:  # an integer symbol's value as an integer (M=380, not M=380.0)
        v.evidence["counterexample"] = {k: (known[k].text(val) if k in known else val) for k, val in cx.items()}
    v.evidence.update({
        "justification": step.note or f"step {step.number}, line {step.line}", "line": step.line,
        "column": step.column, "relation": step.op, "lhs_tex": step.lhs_tex, "rhs_tex": step.rhs_tex,
        "lhs": str(step.lhs), "rhs": str(step.rhs), "note": step.note,
        "undeclared": sorted(p.name for p in params if p.name in doc.undeclared),
    })
    return v


@dataclass
class TexResult:
    """The verdicts on a ``.tex`` file: one per chain, with one link per step."""

    path: str
    verdicts: list[Verdict]
    doc: TexDocument
    annotated_path: str | None
    seconds: float

    @property
    def first_failure(self) -> tuple[int, int, Verdict] | None:
        """``(chain, step, verdict)`` of the first step that does not hold, in file order."""
        for k, chain in enumerate(self.verdicts, 1):
            for j, link in enumerate(chain.links, 1):
                if not link.status.holds:
                    return k, j, link
        return None

    def to_json(self) -> dict[str, Any]:
        first = self.first_failure
        return {
            "file": self.path,
            "annotated": self.annotated_path,
            "seconds": round(self.seconds, 4),
            "declared": {n: p.describe() + f" (sampled in {_region(p)})" for n, p in self.doc.params.items()},
            "undeclared": {n: f"real, sampled in {_region(p)}" for n, p in self.doc.undeclared.items()},
            "skipped_displays_at_lines": list(self.doc.skipped),
            "first_failure": None if first is None else {
                "chain": first[0], "step": first[1], "line": first[2].evidence.get("line"),
                "status": first[2].status.value, "summary": first[2].summary,
                "counterexample": first[2].evidence.get("counterexample", {})},
            "chains": [v.to_json() for v in self.verdicts],
        }

    def report(self) -> str:
        """A plain-text report: one line per step, then the first failing step."""
        lines = [f"{self.path}: {len(self.verdicts)} chain(s)"]
        if self.doc.undeclared:
            lines.append(f"  undeclared symbols (real, sampled in [{-DEFAULT_SPAN / 2:g}, {DEFAULT_SPAN / 2:g}]): "
                         + ", ".join(sorted(self.doc.undeclared)))
        for chain, v in zip(self.doc.chains, self.verdicts):
            lines.append(f"  chain {chain.number} (line {chain.line}, {chain.env}): {v.status.value}  {v.summary}")
            for step, link in zip(chain.steps, v.links):
                lines.append(f"    step {step.number} line {step.line}: {link.status.value:<9} {_mark_text(link)}")
        first = self.first_failure
        if first is not None:
            k, j, link = first
            lines.append(f"first failing step: chain {k}, step {j}, line {link.evidence.get('line')}")
        if self.annotated_path:
            lines.append(f"annotated copy: {self.annotated_path}")
        return "\n".join(lines)


def _region(p: Param) -> str:
    lo, hi = p.region
    return f"[{lo:g}, {hi:g}]" + (" log" if p.law == "log" else "")


def _mark_text(v: Verdict) -> str:
    ev = v.evidence
    text = f"{ev.get('lhs_tex', '')} {ev.get('relation', '=')} {ev.get('rhs_tex', '')}: {v.method}, {v.summary}"
    cx = ev.get("counterexample")
    if cx and not v.status.holds:
        point = ", ".join(f"{k}={val}" for k, val in cx.items() if k not in ("lhs", "rhs", "residual"))
        text += (f"; at {point}:" if point else ";") + f" lhs {cx.get('lhs')}, rhs {cx.get('rhs')}"
    return " ".join(text.split())


def _annotate(doc: TexDocument, verdicts: list[Verdict], out_path: str) -> str:
    """Write the file with a ``% bnsym-result:`` line after each step's row, whole or not at all
    (:func:`bnsym.files.write_atomically`)."""
    lines = doc.source.text.split("\n")  # as Source counts lines (splitlines also breaks at \f, \x1c, \u2028 ...)
    lines = [line + "\n" for line in lines[:-1]] + ([lines[-1]] if lines[-1] else [])
    after: dict[int, list[str]] = {}
    for chain, v in zip(doc.chains, verdicts):
        for step, link in zip(chain.steps, v.links):
            after.setdefault(step.end_line, []).append(
                f"{MARK} chain {chain.number} step {step.number} {link.status.value}: {_mark_text(link)}")
        after.setdefault(chain.end_line, []).append(
            f"{MARK} chain {chain.number} {v.status.value}: {' '.join(v.summary.split())}")
    out: list[str] = []
    for n, line in enumerate(lines, 1):
        if line.lstrip().startswith(MARK):
            continue  # marks of an earlier run are replaced
        out.append(line)
        if n in after:
            if not line.endswith("\n"):
                out[-1] = line + "\n"
            indent = line[:len(line) - len(line.lstrip())]
            out.extend(f"{indent}{m}\n" for m in after[n])
    return str(write_atomically(out_path, "".join(out)))


def annotated_name(path: str) -> str:
    """``NAME.tex`` -> ``NAME.bnsym.tex`` beside it."""
    p = Path(path)
    return str(p.with_name((p.stem if p.suffix == ".tex" else p.name) + ".bnsym.tex"))


def read_tex(path: str, annotate_to: str | None = None, *, annotate: bool = True) -> tuple[TexDocument, str | None]:
    """Read and parse ``path`` and check where its annotated copy goes, before any step is checked.

    Returns the document and the annotated copy's path (None without ``annotate``). Raises
    :class:`~bnsym.errors.UsageError` for an unreadable file or an unwritable copy and
    :class:`TexInputError` (a UsageError) for unparsable input, naming file:line:column; nothing is
    written either way.
    """
    try:
        text = Path(path).read_text(encoding="utf-8-sig")  # a byte-order mark would hide a first-line declaration
    except UnicodeDecodeError as exc:
        raise UsageError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except (OSError, ValueError) as exc:  # ValueError: a NUL in the name
        raise UsageError(f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}") from None
    out = None
    if annotate:
        out = annotate_to or annotated_name(path)
        if Path(out).resolve() == Path(path).resolve():
            raise UsageError(f"the annotated copy {out} would overwrite the input; name another file")
        output_path(out, what="the annotated copy")
    return parse_tex(text, path), out


def check_tex(doc: TexDocument, annotate_to: str | None, settings: Settings) -> TexResult:
    """Check every chain of a parsed document; write the annotated copy to ``annotate_to`` (when given)."""
    started = time.perf_counter()
    path = doc.source.path
    stem = Path(path).stem
    verdicts = []
    for chain in doc.chains:
        t0 = time.perf_counter()
        cid = f"{stem}.chain{chain.number}"
        links = [check_step(s, f"{cid}[{s.number}]", doc, settings) for s in chain.steps]
        bad = next(((s, v) for s, v in zip(chain.steps, links) if not v.status.holds), None)
        summary = ((f"all {len(links)} steps hold" if len(links) > 1 else "the step holds") if bad is None
                   else f"step {bad[0].number} (line {bad[0].line}) {bad[1].status.value}: {bad[1].summary}")
        verdicts.append(Verdict(cid, weakest([v.status for v in links]), "chain", summary,
                                {"line": chain.line, "environment": chain.env, "steps": len(links)},
                                time.perf_counter() - t0, "claim", links))
    written = _annotate(doc, verdicts, annotate_to) if annotate_to is not None else None
    return TexResult(path, verdicts, doc, written, time.perf_counter() - started)


def tex_settings(budget: float = prover.DEFAULT_BUDGET, points: int = numeric.DEFAULT_POINTS,
                 dps: int = numeric.DEFAULT_DPS, seed: int = 0, symbolic: bool = True) -> Settings:
    """The checking settings, validated (a UsageError names the bad one)."""
    if not (budget > 0 and math.isfinite(budget)):
        raise UsageError(f"budget must be a finite positive number of seconds, not {budget!r}")
    if points < 1:
        raise UsageError(f"points must be at least 1, not {points!r}")
    if dps < numeric.MIN_DPS:
        raise UsageError(f"dps must be at least {numeric.MIN_DPS}, not {dps!r}")
    return Settings(budget=budget, points=points, dps=dps, seed=seed, symbolic=symbolic)


def verify_tex(path: str, budget: float = prover.DEFAULT_BUDGET, points: int = numeric.DEFAULT_POINTS,
               dps: int = numeric.DEFAULT_DPS, annotate_to: str | None = None, *, annotate: bool = True,
               seed: int = 0, symbolic: bool = True) -> TexResult:
    """Check every chain of ``path``; write the annotated copy (``annotate_to`` or NAME.bnsym.tex).

    Everything is validated before the first step is checked, and the annotated copy is written only
    when every step was checked (whatever their verdicts): a bad argument, an unreadable file, an
    unparsable one or an unwritable copy raises :class:`~bnsym.errors.UsageError` (a
    :class:`TexInputError` for unparsable input, naming file:line:column) and writes nothing.
    """
    started = time.perf_counter()
    settings = tex_settings(budget, points, dps, seed, symbolic)
    doc, out = read_tex(path, annotate_to, annotate=annotate)
    result = check_tex(doc, out, settings)
    result.seconds = time.perf_counter() - started
    return result


def main(argv: list[str] | None = None) -> int:
    """``python -m bnsym.texin FILE.tex``: the report, and exit code 0 (holds), 1 (refuted), 2 or 3."""
    import sys

    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m bnsym.texin FILE.tex", file=sys.stderr)
        return 2
    try:
        result = verify_tex(args[0])
    except BnsymError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    print(result.report())
    statuses = [v.status for v in result.verdicts]
    return 0 if all(s.holds for s in statuses) else 1 if Status.REFUTED in statuses else 3


if __name__ == "__main__":
    raise SystemExit(main())
