"""The LaTeX round trip: every expression bnsym typesets is parsed back and proven equal to its source.

A printer bug (a lost pair of parentheses, an exponent attached to the wrong base) would put a wrong
formula in a user's paper without any error. So each expression goes through the real printer
(:func:`bnsym.latex.expr_tex`, the one that writes the document) and back through SymPy's LaTeX
parser (``parse_latex``, backend ``lark``), and the parsed expression is proven equal to the original.

What the parser's grammar cannot read is bridged by renaming tokens only, never by restructuring:

* every symbol is printed under a placeholder name ``v_{a}``, ``v_{b}``, ... (the grammar knows no
  ``\\mathcal`` and no multi-letter subscripts), and mapped back by name;
* products are printed with an explicit ``\\cdot`` (the grammar reads few implicit products);
* ``\\left``/``\\right`` are dropped (pure sizing; the grammar would lex ``\\left`` as ``\\le``);
* the heads of functions the grammar lacks (``\\Gamma``, ``\\operatorname{erf}``, ...) become a
  placeholder function ``F_{gamma}(...)`` with the same argument group, an exponent printed on the head
  (``\\Gamma^{2}(x)``) moves behind the parenthesised application; ``\\pi`` becomes the name ``pi`` and
  the printed ``e`` of ``e^{x}`` is Euler's number.

Fractions, powers, roots, parentheses, signs and the order of the operands go through printer and
parser unchanged, which is what the round trip tests. Where the grammar is ambiguous (``F(x)`` as a
product) the readings that use a function head as a plain symbol are discarded; every remaining reading
must equal the original.

Equality is decided by structure or expansion in this process (fast), then by
:func:`bnsym.prover.prove_equal` under a short budget, then numerically at random points of the
claim's domain (50 digits). Expressions outside the grammar (Sum, Derivative, Subs, undefined
functions, Piecewise, matrices, Heaviside, polylog ...) are reported as *not parsed back*, with the
reason, and never counted as passing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable

import sympy as sp

from .params import Param

OK, FAILED, UNPARSED = "round-tripped", "failed", "not parsed back"
PROVER_BUDGET = 2.0  # seconds per prover strategy; the cheap in-process tests close almost every case
NUMERIC_POINTS = 8

# functions whose printed head the grammar does not know: the head as the printer writes it -> SymPy function
FUNCTION_HEADS: dict[str, Callable[..., sp.Expr]] = {
    r"\Gamma": sp.gamma,
    r"\operatorname{erf}": sp.erf,
    r"\operatorname{erfc}": sp.erfc,
    r"\log": sp.log,
    r"\exp": sp.exp,
    r"\arcsin": sp.asin,
    r"\arccos": sp.acos,
    r"\arctan": sp.atan,
    r"\sin": sp.sin,
    r"\cos": sp.cos,
    r"\tan": sp.tan,
    r"\sinh": sp.sinh,
    r"\cosh": sp.cosh,
    r"\tanh": sp.tanh,
    r"\max": sp.Max,
    r"\min": sp.Min,
}
_HEAD_NAMES = {head: re.sub(r"[^a-zA-Z]", "", head.replace("operatorname", "")) for head in FUNCTION_HEADS}
# node types the printer-parser pair is known to carry (anything else is reported, not guessed)
_SUPPORTED: tuple[type, ...] = (sp.Add, sp.Mul, sp.Pow, sp.Integer, sp.Rational, sp.Float, sp.Symbol, sp.Abs,
                                sp.binomial, sp.Max, sp.Min, sp.exp)
_SUPPORTED_FUNCS = tuple(f for f in FUNCTION_HEADS.values() if isinstance(f, type))
_CONSTANTS = (sp.pi, sp.E, sp.oo, sp.S.Half, sp.S.NegativeOne, sp.S.One, sp.S.Zero, sp.S.Infinity)


@dataclass(frozen=True)
class ExpressionRoundTrip:
    """The round trip of one expression: ``status`` is ``OK``, ``FAILED`` or ``UNPARSED``."""

    expr: sp.Expr
    status: str
    detail: str = ""
    tex: str = ""  # the placeholder print that was parsed
    parsed: sp.Expr | None = None


@dataclass
class RoundTripReport:
    """Round trips of many expressions (one theorem's, or a paper's)."""

    items: list[tuple[str, ExpressionRoundTrip]] = field(default_factory=list)  # (where, result)

    def count(self, status: str) -> int:
        return sum(1 for _, r in self.items if r.status == status)

    @property
    def counts(self) -> dict[str, int]:
        return {OK: self.count(OK), UNPARSED: self.count(UNPARSED), FAILED: self.count(FAILED)}

    @property
    def failures(self) -> list[tuple[str, ExpressionRoundTrip]]:
        return [(w, r) for w, r in self.items if r.status == FAILED]

    def for_claim(self, claim_id: str) -> list[ExpressionRoundTrip]:
        return [r for w, r in self.items if w == claim_id or w.startswith(claim_id + "[")]

    def to_json(self) -> dict[str, Any]:
        return {**self.counts,
                "failures": [{"where": w, "expression": str(r.expr), "tex": r.tex, "detail": r.detail}
                             for w, r in self.failures],
                "not_parsed": [{"where": w, "expression": str(r.expr)[:200], "reason": r.detail}
                               for w, r in self.items if r.status == UNPARSED]}


def unsupported(expr: sp.Basic) -> str | None:
    """Why the parser cannot read ``expr`` back, or None when it can."""
    for node in sp.preorder_traversal(expr):
        if isinstance(node, sp.Dummy):
            return "a bound (dummy) variable"
        if node in _CONSTANTS or isinstance(node, _SUPPORTED) or isinstance(node, _SUPPORTED_FUNCS):
            continue
        if isinstance(node, sp.Number) and not node.is_finite:
            return f"the number {node}"
        return f"{type(node).__name__} is outside the LaTeX parser's grammar"
    return None


def _placeholder(k: int) -> str:
    letters = ""
    k += 1
    while k:
        k, r = divmod(k - 1, 26)
        letters = chr(ord("a") + r) + letters
    return f"v_{{{letters}}}"


def _group_end(s: str, i: int) -> int:
    """Index just past the group opening at ``s[i]`` (``{`` or ``(``), braces and parentheses balanced."""
    close = {"{": "}", "(": ")"}[s[i]]
    depth, opening = 0, s[i]
    for j in range(i, len(s)):
        if s[j] == opening:
            depth += 1
        elif s[j] == close:
            depth -= 1
            if depth == 0:
                return j + 1
    raise ValueError(f"unbalanced {opening} in {s!r}")


def bridge(tex: str) -> str:
    """Rename the tokens of a placeholder print that the grammar lacks (see the module docstring)."""
    s = re.sub(r"\\(left|right)(?![a-zA-Z])", "", tex)
    s = re.sub(r"\\pi(?![a-zA-Z])", r"\\mathit{pi}", s)
    return _bridge_heads(s)


def _bridge_heads(s: str) -> str:
    heads = sorted(FUNCTION_HEADS, key=len, reverse=True)
    out, i = [], 0
    while i < len(s):
        head = next((h for h in heads if s.startswith(h, i) and not s[i + len(h):i + len(h) + 1].isalpha()), None)
        if head is None:
            out.append(s[i])
            i += 1
            continue
        j = i + len(head)
        power = ""
        if s.startswith("^{", j):
            end = _group_end(s, j + 1)
            power, j = s[j:end], end
        while j < len(s) and s[j] == " ":
            j += 1
        if j >= len(s) or s[j] not in "{(":
            raise ValueError(f"{head} without an argument group in {s!r}")
        end = _group_end(s, j)
        inner = s[j + 1:end - 1].strip()
        if s[j] == "{":  # the printer wraps the parenthesised argument in braces: {(x)}
            if not (inner.startswith("(") and _group_end(inner, 0) == len(inner)):
                raise ValueError(f"{head}: argument {inner!r} is not one parenthesised group")
            inner = inner[1:-1]
        app = f"F_{{{_HEAD_NAMES[head]}}}({_bridge_heads(inner)})"
        out.append(f"({app}){power}" if power else app)
        i = end
    return "".join(out)


def _readings(parsed: Any) -> list[sp.Expr]:
    """The readings of a parse: one expression, or the alternatives of an ambiguous one."""
    if isinstance(parsed, sp.Basic):
        return [parsed]
    children = getattr(parsed, "children", None)
    if getattr(parsed, "data", None) == "_ambig" and children:
        return [e for c in children for e in _readings(c)]
    raise ValueError(f"the parser returned {type(parsed).__name__}, not an expression")


def _restore(reading: sp.Expr, symbols: dict[str, sp.Symbol]) -> sp.Expr | None:
    """Map placeholder names back; None when the reading uses a function head as a plain symbol."""
    from sympy.core.function import AppliedUndef

    heads = {f"F_{{{name}}}": FUNCTION_HEADS[h] for h, name in _HEAD_NAMES.items()}
    if any(s.name in heads for s in reading.free_symbols if isinstance(s, sp.Symbol)):
        return None
    names = {**symbols, "e": sp.E, "pi": sp.pi}
    unknown = [s.name for s in reading.free_symbols if isinstance(s, sp.Symbol) and s.name not in names]
    if unknown:
        raise ValueError(f"the parse holds symbols the print did not: {', '.join(sorted(unknown))}")
    out = reading.replace(lambda x: isinstance(x, AppliedUndef) and x.func.__name__ in heads,
                          lambda x: heads[x.func.__name__](*x.args))
    if out.atoms(AppliedUndef):
        raise ValueError(f"unknown functions in the parse: {out.atoms(AppliedUndef)}")
    return out.xreplace({s: names[s.name] for s in out.free_symbols if isinstance(s, sp.Symbol)})


def _equal(a: sp.Expr, b: sp.Expr, params: list[Param]) -> tuple[bool | None, str]:
    """Whether ``a == b``: (True, how), (False, why) or (None, why)."""
    from . import numeric, prover

    if a == b:
        return True, "structural"
    d = sp.expand(a - b)
    if d == 0 or sp.cancel(sp.together(d)) == 0:
        return True, "expand"
    proof = prover.prove_equal(a, b, PROVER_BUDGET)
    if proof.decided is not None:
        return proof.decided, f"prover: {proof.strategy}"
    res = numeric.check_equal(a, b, params, NUMERIC_POINTS)
    return res.decided, f"numeric: {res.detail}"


def roundtrip(expr: sp.Expr, params: list[Param] | None = None,
              printer: Callable[..., str] | None = None, max_chars: int | None = None) -> ExpressionRoundTrip:
    """Print ``expr`` with the document's printer under placeholder names, parse it back, compare.

    ``params`` give the domains of the free symbols for the numeric fallback; ``printer`` defaults to
    :func:`bnsym.latex.expr_tex`. A print longer than ``max_chars`` is not parsed (the Earley parser
    takes about a second per thousand characters) and reported as not parsed back.

    >>> M = sp.Symbol("M", positive=True)
    >>> roundtrip(sp.gamma(M / 2) / sp.sqrt(M - 1)).status
    'round-tripped'
    """
    from sympy.parsing.latex import parse_latex

    from .latex import expr_tex

    printer = printer or expr_tex
    expr = sp.sympify(expr)
    why = unsupported(expr)
    if why is not None:
        return ExpressionRoundTrip(expr, UNPARSED, why)
    syms = sorted(expr.free_symbols, key=lambda s: s.name)
    names = {s: _placeholder(k) for k, s in enumerate(syms)}
    tex = printer(expr, names, parse_friendly=True)
    if max_chars is not None and len(tex) > max_chars:
        return ExpressionRoundTrip(expr, UNPARSED, f"print longer than {max_chars} characters, not parsed", tex)
    try:
        bridged = bridge(tex)
        readings = _readings(parse_latex(bridged, backend="lark"))
        back = {v: k for k, v in names.items()}
        restored = [r for r in (_restore(x, {n: s for n, s in back.items()}) for x in readings) if r is not None]
    except Exception as exc:  # the printed text did not parse: the printer wrote something the grammar rejects
        return ExpressionRoundTrip(expr, FAILED, f"does not parse back: {type(exc).__name__}: {exc}"[:400], tex)
    if not restored:
        return ExpressionRoundTrip(expr, FAILED, "no reading of the parse uses the functions as functions", tex)
    distinct = list({sp.srepr(r): r for r in restored}.values())
    domain = {p.symbol: p for p in params or []}
    for r in distinct:
        missing = [s for s in r.free_symbols if s not in domain]
        ps = [domain[s] for s in sorted(r.free_symbols, key=lambda s: s.name) if s in domain]
        decided, how = _equal(r, expr, ps) if not missing else _equal_symbolic(r, expr)
        if decided is not True:
            state = "differs" if decided is False else "could not be shown equal"
            return ExpressionRoundTrip(expr, FAILED, f"parsed back as {r}, which {state} ({how})", tex, r)
    return ExpressionRoundTrip(expr, OK, how if len(distinct) == 1 else f"{len(distinct)} readings, all equal",
                               tex, distinct[0])


def _equal_symbolic(a: sp.Expr, b: sp.Expr) -> tuple[bool | None, str]:
    from . import prover

    if a == b or sp.expand(a - b) == 0:
        return True, "expand"
    proof = prover.prove_equal(a, b, PROVER_BUDGET)
    return proof.decided, f"prover: {proof.strategy or proof.detail}"


def claim_expressions(claim: Any) -> list[tuple[str, sp.Expr]]:
    """``(label, expression)`` for every closed form a claim typesets (labels index chains and parts)."""
    from .claims import Derivation, GaussianExpectation

    if isinstance(claim, Derivation):
        return [(f"[{i}]", e) for i, (e, _) in enumerate(claim.chain)]
    out = [(f"[{i}]", e) for i, e in enumerate(claim.expressions())]
    if isinstance(claim, GaussianExpectation):
        out.append(("[integrand]", claim.integrand))
    return out


def theorem_roundtrip(entry: Any, printer: Callable[..., str] | None = None, max_chars: int | None = None,
                      jobs: int = 1) -> RoundTripReport:
    """Round trips of every expression of a registry entry's claims, labelled ``claim_id[k]``.

    An expression met twice (a chain's repeated step, a form shared by claims) is parsed once; with
    ``jobs > 1`` the distinct expressions are parsed in that many worker processes.
    """
    work: list[tuple[str, sp.Expr, list[Param]]] = []
    for cid, claim, _role in entry.claims():
        domain = list(entry.theorem.domain(claim).values())
        work += [(cid + label, e, domain) for label, e in claim_expressions(claim)]
    distinct: dict[str, tuple[sp.Expr, list[Param]]] = {}
    for _, e, domain in work:
        distinct.setdefault(sp.srepr(e), (e, domain))
    keys = list(distinct)
    args = [(distinct[k][0], distinct[k][1], printer, max_chars) for k in keys]
    if jobs > 1 and len(args) > 1:
        import multiprocessing

        with multiprocessing.get_context("fork").Pool(min(jobs, len(args))) as pool:
            results = pool.starmap(roundtrip, args)
    else:
        results = [roundtrip(*a) for a in args]
    done = dict(zip(keys, results))
    return RoundTripReport([(where, done[sp.srepr(e)]) for where, e, _ in work])
