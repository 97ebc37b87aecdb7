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

Supported LaTeX (parsed here by a small recursive-descent parser, so an error names the line and
column of the offending text): numbers (``0.5`` is read exactly as 1/2), single Latin letters and
Greek letters as symbols, with subscripts (``x_i``, ``\sigma_{B}``, ``\mu_{\mathcal{B}}``) and primes;
``\mathcal``/``\mathrm``/``\mathbf``/``\boldsymbol`` names and the accents ``\hat``, ``\bar``,
``\tilde`` (``\hat{x}_i`` is the symbol ``xhat_i``); ``+ - \cdot \times * /``, implicit products,
``^`` powers, ``!``; ``\frac``/``\dfrac``/``\tfrac``, ``\sqrt``, ``\sqrt[n]``, ``\binom``; brackets
``( ) [ ] \{ \}`` and ``\left``/``\right``/``\big...`` sizes; ``|x|`` and ``\lvert x \rvert``;
``\exp \log \ln \sin \cos \tan \sinh \cosh \tanh \arcsin \arccos \arctan`` (with ``^2`` and
``\log_b``), ``\operatorname{erf}``/``erfc``, ``\Gamma(x)`` as the Gamma function, ``\pi``, ``e``
(Euler's number, unless ``e`` is declared) and ``\infty``. Relations: ``=`` (an equality step) and
``< > \le \ge \leq \geq \leqslant \geqslant`` (inequality steps). Stripped: ``\label``, ``\tag``,
``\nonumber``, ``\notag``, ``&``, spacing (``\quad``, ``\,`` ...), ``\displaystyle``, trailing
punctuation, nested ``split``/``aligned``; ``\text{...}`` (and ``\textrm``, ``\mbox``) is removed from
the mathematics and kept as the step's note. A single letter before a bracket is a product
(``f(x)`` reads as ``f x``); sums, integrals and other commands are an error at their position.
"""

from __future__ import annotations

import math
import os
import re
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import sympy as sp

from . import numeric, prover
from .errors import BnsymError, ExpressionError, UsageError
from .params import Param
from .verdict import Status, Verdict, weakest
from .verify import Settings, _equality, _numeric_verdict, _run_numeric, _symbolic_refutation

DEFAULT_SPAN = 10.0  # width of the default sampling region at an end open to infinity
ENVIRONMENTS = ("equation", "equation*", "align", "align*")
MARK = "% bnsym-result:"

GREEK = {
    "alpha", "beta", "gamma", "delta", "epsilon", "varepsilon", "zeta", "eta", "theta", "vartheta", "iota",
    "kappa", "lambda", "mu", "nu", "xi", "rho", "varrho", "sigma", "varsigma", "tau", "upsilon", "phi", "varphi",
    "chi", "psi", "omega", "Gamma", "Delta", "Theta", "Lambda", "Xi", "Pi", "Sigma", "Upsilon", "Phi", "Psi",
    "Omega", "pi",
}
FONTS = {"mathcal", "mathrm", "mathbf", "mathit", "mathsf", "mathbb", "boldsymbol", "bm", "mathscr", "mathfrak"}
ACCENTS = {"hat": "hat", "widehat": "hat", "bar": "bar", "overline": "bar", "tilde": "tilde", "widetilde": "tilde",
           "dot": "dot", "vec": "vec", "check": "check"}
FUNCTIONS: dict[str, Callable[..., Any]] = {
    "exp": sp.exp, "log": sp.log, "ln": sp.log, "sin": sp.sin, "cos": sp.cos, "tan": sp.tan, "sinh": sp.sinh,
    "cosh": sp.cosh, "tanh": sp.tanh, "arcsin": sp.asin, "arccos": sp.acos, "arctan": sp.atan,
}
OPERATORNAMES: dict[str, Callable[..., Any]] = {**FUNCTIONS, "erf": sp.erf, "erfc": sp.erfc, "sgn": sp.sign,
                                                "sign": sp.sign}
RELATIONS = {"=": "=", "<": "<", ">": ">", "le": "<=", "leq": "<=", "leqslant": "<=", "ge": ">=", "geq": ">=",
             "geqslant": ">="}
UNSUPPORTED_RELATIONS = {"ne", "neq", "approx", "sim", "simeq", "equiv", "propto", "to", "coloneqq", "mapsto",
                         "cong", "ll", "gg", "in", "subset", "subseteq", "Rightarrow", "implies", "iff"}
SKIPPED = {"nonumber", "notag", "displaystyle", "textstyle", "limits", "quad", "qquad", ",", ";", ":", "!", " ",
           "left", "right", "big", "Big", "bigg", "Bigg", "bigl", "bigr", "Bigl", "Bigr", "biggl", "biggr", "Biggl",
           "Biggr", "middle"}
NOTES = {"text", "textrm", "textnormal", "textit", "textbf", "mbox", "intertext"}
DROPPED_WITH_ARGUMENT = {"label", "tag", "tag*"}
NESTED = {"split", "aligned", "gathered"}


class TexInputError(ExpressionError):
    """A ``.tex`` file could not be read as chains of relations; the message names file:line:column."""


# -- positions -------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Source:
    """A file's text and a way to turn an offset into ``file:line:column`` with the line's text."""

    path: str
    text: str

    def line_col(self, offset: int) -> tuple[int, int]:
        line = self.text.count("\n", 0, offset) + 1
        return line, offset - (self.text.rfind("\n", 0, offset) + 1) + 1

    def error(self, offset: int, what: str, length: int = 1) -> TexInputError:
        line, col = self.line_col(offset)
        bit = self.text[offset:offset + max(length, 1)].split("\n")[0]
        row = self.text.split("\n")[line - 1].strip()
        near = f" at '{bit}'" if bit.strip() else ""
        return TexInputError(f"{self.path}:{line}:{col}: {what}{near} (in: {row})")


def _strip_comments(text: str) -> str:
    """``text`` with every comment (an unescaped ``%`` to the end of its line) blanked, offsets kept."""
    out = list(text)
    i = 0
    while i < len(text):
        c = text[i]
        if c == "\\":
            i += 2
            continue
        if c == "%":
            j = text.find("\n", i)
            j = len(text) if j < 0 else j
            out[i:j] = " " * (j - i)
            i = j
            continue
        i += 1
    return "".join(out)


# -- tokens ----------------------------------------------------------------------------------------------

@dataclass
class Token:
    kind: str  # num, letter, cmd, char, row, note, rel
    text: str
    pos: int
    end: int
    lead: int = -1  # where the token's text starts with the commands skipped before it (\left ...)

    def __post_init__(self) -> None:
        if self.lead < 0:
            self.lead = self.pos


def _brace_group(src: Source, clean: str, i: int) -> tuple[str, int]:
    """The raw content of the brace group starting at ``clean[i] == '{'`` and the offset after it."""
    if i >= len(clean) or clean[i] != "{":
        raise src.error(i, "expected '{'")
    depth, j = 0, i
    while j < len(clean):
        if clean[j] == "\\":
            j += 2
            continue
        if clean[j] == "{":
            depth += 1
        elif clean[j] == "}":
            depth -= 1
            if depth == 0:
                return clean[i + 1:j], j + 1
        j += 1
    raise src.error(i, "unbalanced '{'")


def _skip_space(clean: str, i: int, end: int) -> int:
    while i < end and clean[i].isspace():
        i += 1
    return i


def _tokenize(src: Source, clean: str, start: int, end: int) -> list[Token]:
    """Tokens of ``clean[start:end]`` (a display's body) with offsets into the file."""
    out: list[Token] = []
    i = start
    lead = -1  # start of skipped commands (\left, \displaystyle) just before the next token
    while i < end:
        if lead >= 0 and out and out[-1].lead == out[-1].pos and out[-1].pos >= lead:
            out[-1].lead, lead = lead, -1
        c = clean[i]
        if c.isspace() or c in "&~":
            i += 1
        elif c.isdigit() or (c == "." and i + 1 < end and clean[i + 1].isdigit()):
            m = re.compile(r"\d*\.?\d+|\d+").match(clean, i)
            assert m is not None
            out.append(Token("num", m.group(), i, m.end()))
            i = m.end()
        elif c.isalpha():
            out.append(Token("letter", c, i, i + 1))
            i += 1
        elif c == "\\":
            if i + 1 < end and clean[i + 1] == "\\":  # row break, with an optional [2pt] after it
                out.append(Token("row", "\\\\", i, i + 2))
                i = _skip_space(clean, i + 2, end)
                if i < end and clean[i] == "[":
                    close = clean.find("]", i, end)
                    i = close + 1 if close >= 0 else i
                continue
            m = re.compile(r"\\([a-zA-Z]+\*?|.)").match(clean, i)
            if m is None:
                raise src.error(i, "a lone backslash")
            name = m.group(1)
            if name.endswith("*") and name != "tag*":
                name = name[:-1]
                j = m.end() - 1
            else:
                j = m.end()
            if name in SKIPPED:
                lead = i if lead < 0 else lead
                i = j
                if name in ("left", "right", "middle"):
                    k = _skip_space(clean, i, end)
                    if k < end and clean[k] == ".":  # \left. is an invisible delimiter
                        i = k + 1
            elif name in DROPPED_WITH_ARGUMENT:
                _, i = _brace_group(src, clean, _skip_space(clean, j, end))
            elif name in NOTES:
                content, k = _brace_group(src, clean, _skip_space(clean, j, end))
                out.append(Token("note", content.strip(), i, k))
                i = k
            elif name in ("begin", "end"):
                env, k = _brace_group(src, clean, _skip_space(clean, j, end))
                if env.strip() not in NESTED:
                    raise src.error(i, f"unsupported environment {env.strip()!r} inside a display", k - i)
                i = k
                if name == "begin" and env.strip() == "aligned":  # \begin{aligned}[t]
                    k = _skip_space(clean, i, end)
                    if k < end and clean[k] == "[":
                        i = clean.find("]", k, end) + 1 or i
            elif name in RELATIONS:
                out.append(Token("rel", RELATIONS[name], i, j))
                i = j
            elif name in UNSUPPORTED_RELATIONS:
                raise src.error(i, f"unsupported relation \\{name} (bnsym checks =, <, >, \\le, \\ge)", j - i)
            else:
                out.append(Token("cmd", name, i, j))
                i = j
        elif c in "=<>":
            out.append(Token("rel", c, i, i + 1))
            i += 1
        elif c in "{}()[]^_+-*/,.;|!'":
            out.append(Token("char", c, i, i + 1))
            i += 1
        elif c == ":" and i + 1 < end and clean[i + 1] == "=":
            raise src.error(i, "unsupported relation := (a definition; mark the display with '% bnsym: skip')", 2)
        else:
            raise src.error(i, f"unexpected character {c!r}")
    return out


# -- expressions -----------------------------------------------------------------------------------------

SymbolFor = Callable[[str, str, int], sp.Symbol]  # (name, latex, offset) -> symbol


class _Parser:
    """Recursive descent over one side of a relation: sum -> product -> power -> primary."""

    def __init__(self, src: Source, tokens: list[Token], symbol_for: SymbolFor, euler: bool = True, near: int = 0):
        self.src, self.toks, self.i, self.symbol_for, self.euler = src, list(tokens), 0, symbol_for, euler
        self.near = tokens[0].pos if tokens else near
        self.abs_depth = 0

    # token helpers
    def peek(self) -> Token | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def is_(self, kind: str, *texts: str) -> bool:
        t = self.peek()
        return t is not None and t.kind == kind and (not texts or t.text in texts)

    def take(self) -> Token:
        t = self.peek()
        if t is None:
            raise self.src.error(self.toks[-1].end if self.toks else self.near, "expression ends too early")
        self.i += 1
        return t

    def expect(self, kind: str, text: str) -> Token:
        t = self.peek()
        if t is None or t.kind != kind or t.text != text:
            where = t.pos if t is not None else (self.toks[-1].end if self.toks else 0)
            raise self.src.error(where, f"expected {text!r}")
        return self.take()

    def fail(self, what: str) -> TexInputError:
        t = self.peek()
        if t is None:
            return self.src.error(self.toks[-1].end if self.toks else 0, what)
        return self.src.error(t.pos, what, t.end - t.pos)

    # grammar
    def parse(self) -> sp.Expr:
        if not self.toks:
            raise self.src.error(self.near, "empty expression")
        e = self.sum()
        if self.peek() is not None:
            raise self.fail("unexpected text")
        return e

    def sum(self) -> sp.Expr:
        sign = 1
        while self.is_("char", "+", "-"):
            sign = -sign if self.take().text == "-" else sign
        e = sign * self.product()
        while self.is_("char", "+", "-"):
            op = self.take().text
            e = e + self.product() if op == "+" else e - self.product()
        return e

    def starts_factor(self) -> bool:
        t = self.peek()
        if t is None:
            return False
        if t.kind in ("num", "letter"):
            return True
        if t.kind == "char":
            return t.text in "([{" or (t.text == "|" and self.abs_depth == 0)
        return t.kind == "cmd" and t.text not in ("cdot", "times", "rvert", "}")

    def product(self) -> sp.Expr:
        e = self.power()
        while True:
            if self.is_("cmd", "cdot", "times") or self.is_("char", "*"):
                self.take()
                e = e * self.signed_power()
            elif self.is_("char", "/"):
                self.take()
                e = e / self.signed_power()
            elif self.starts_factor():
                e = e * self.power()
            else:
                return e

    def signed_power(self) -> sp.Expr:
        if self.is_("char", "-"):
            self.take()
            return -self.power()
        return self.power()

    def power(self) -> sp.Expr:
        base = self.primary()
        while True:
            if self.is_("char", "^"):
                self.take()
                base = base ** self.argument()
            elif self.is_("char", "!"):
                self.take()
                base = sp.factorial(base)
            else:
                return base

    def argument(self) -> sp.Expr:
        """A TeX argument: a brace group, or one token (one digit of a number)."""
        if self.is_("char", "{"):
            return self.group()
        t = self.peek()
        if t is not None and t.kind == "num" and len(t.text) > 1:  # x^23 is x^2 3
            self.split_digit()
        if t is not None and t.kind == "char" and t.text == "-":
            raise self.fail("a signed exponent needs braces, ^{-1}")
        return self.primary()

    def split_digit(self) -> None:
        """Split the number ahead into its first digit and the rest (a TeX argument is one character)."""
        t = self.toks[self.i]
        self.toks[self.i:self.i + 1] = [Token("num", t.text[0], t.pos, t.pos + 1),
                                        Token("num", t.text[1:], t.pos + 1, t.end)]

    def group(self) -> sp.Expr:
        open_ = self.expect("char", "{")
        return self.sub(self.until_close(open_, "}"), open_.pos)

    def sub(self, tokens: list[Token], near: int) -> sp.Expr:
        return _Parser(self.src, tokens, self.symbol_for, self.euler, near).parse()

    def until_close(self, open_: Token, close: str) -> list[Token]:
        """The tokens up to the bracket that closes ``open_`` (consumed)."""
        opens = {"}": ("{",), ")": ("(",), "]": ("[",)}.get(close, ())
        depth, start = 1, self.i
        while self.i < len(self.toks):
            t = self.toks[self.i]
            if t.kind == "char" and t.text in opens:
                depth += 1
            elif t.kind == "char" and t.text == close:
                depth -= 1
                if depth == 0:
                    self.i += 1
                    return self.toks[start:self.i - 1]
            self.i += 1
        raise self.src.error(open_.pos, f"unclosed {open_.text!r}")

    def bracketed(self) -> sp.Expr:
        t = self.take()
        close = {"(": ")", "[": "]", "{": "}"}[t.text]
        inner = self.until_close(t, close)
        return self.sub(inner, t.pos)

    def name_part(self) -> str:
        """Text of a subscript (or font argument) as a plain name: ``\\mathcal{B}`` -> ``B``."""
        if self.is_("char", "{"):
            open_ = self.take()
            toks = self.until_close(open_, "}")
        else:
            if self.is_("num") and len(self.toks[self.i].text) > 1:
                self.split_digit()
            toks = [self.take()]
        parts = []
        for t in toks:
            if t.kind == "cmd" and t.text in FONTS:
                continue
            if t.kind == "char" and t.text in "{}":
                continue
            if t.kind in ("letter", "num", "cmd") or (t.kind == "char" and t.text in "+-'"):
                parts.append(t.text)
            elif t.kind == "char" and t.text == ",":
                parts.append(",")
            else:
                raise self.src.error(t.pos, "unsupported text in a name", t.end - t.pos)
        if not parts:
            raise self.fail("empty subscript")
        return "".join(parts)

    def decorate(self, name: str, latex_start: int) -> sp.Expr:
        """Subscript and primes after a base name; returns the symbol."""
        while self.is_("char", "'"):
            self.take()
            name += "'"
        exponent = None
        if self.is_("char", "^"):  # \sigma^2_B: the power written before the subscript
            back = self.i
            self.take()
            exponent = self.argument()
            if not self.is_("char", "_"):
                self.i, exponent = back, None
        if self.is_("char", "_"):
            self.take()
            name += "_" + self.name_part()
            while self.is_("char", "'"):
                self.take()
                name += "'"
        latex = self.src.text[latex_start:self.toks[self.i - 1].end]
        symbol = self.symbol_for(name, latex, latex_start)
        return symbol if exponent is None else symbol ** exponent

    def primary(self) -> sp.Expr:
        t = self.peek()
        if t is None:
            raise self.fail("expression ends too early")
        if t.kind == "num":
            self.take()
            return sp.Rational(t.text)
        if t.kind == "letter":
            self.take()
            if t.text == "e" and self.euler and not self.is_("char", "_", "'"):
                return sp.E
            return self.decorate(t.text, t.pos)
        if t.kind == "char":
            if t.text in "([{":
                return self.bracketed()
            if t.text == "|" and self.abs_depth == 0:
                self.take()
                self.abs_depth += 1
                inner = self.sum()
                self.abs_depth -= 1
                self.expect("char", "|")
                return sp.Abs(inner)
            raise self.fail("unexpected text")
        if t.kind == "cmd":
            return self.command()
        if t.kind == "rel":
            raise self.fail("a relation where an expression was expected")
        raise self.fail("unexpected text")

    def command(self) -> sp.Expr:
        t = self.take()
        name = t.text
        if name in ("frac", "dfrac", "tfrac"):
            return self.argument() / self.argument()
        if name == "binom":
            return sp.binomial(self.argument(), self.argument())
        if name == "sqrt":
            if self.is_("char", "["):
                open_ = self.take()
                n = self.sub(self.until_close(open_, "]"), open_.pos)
                return sp.root(self.argument(), n)
            return sp.sqrt(self.argument())
        if name == "{":
            return self.sub(self.until_close_cmd(t, "}"), t.pos)
        if name == "lvert":
            inner = self.until_close_cmd(t, "rvert")
            return sp.Abs(self.sub(inner, t.pos))
        if name == "infty":
            return sp.oo
        if name == "pi" and not self.is_("char", "_"):
            return sp.pi
        if name == "Gamma" and (self.is_("char", "(") or self.is_("cmd", "left")):
            return sp.gamma(self.bracketed())
        if name in GREEK:
            return self.decorate(name, t.pos)
        if name in FONTS:
            label = self.name_part()
            if name == "mathrm" and label == "e" and self.euler and not self.is_("char", "_"):
                return sp.E
            return self.decorate(label, t.pos)
        if name in ACCENTS:
            return self.decorate(self.name_part() + ACCENTS[name], t.pos)
        if name in FUNCTIONS or name == "operatorname":
            if name == "operatorname":
                op = self.name_part()
                if op not in OPERATORNAMES:
                    raise self.src.error(t.pos, f"unsupported function \\operatorname{{{op}}}", 12 + len(op))
                fn = OPERATORNAMES[op]
            else:
                fn = FUNCTIONS[name]
            base = None
            power = None
            for _ in range(2):
                if self.is_("char", "_") and name in ("log", "operatorname") and base is None:
                    self.take()
                    base = self.argument()
                elif self.is_("char", "^") and power is None:
                    self.take()
                    power = self.argument()
            if self.is_("char", "(", "[", "{"):
                arg = self.bracketed()
            else:
                arg = self.power()
            value = fn(arg) if base is None else sp.log(arg, base)
            return value if power is None else value ** power
        raise self.src.error(t.pos, f"unsupported LaTeX command \\{name}", t.end - t.pos)

    def until_close_cmd(self, open_: Token, close: str) -> list[Token]:
        start = self.i
        while self.i < len(self.toks):
            t = self.toks[self.i]
            if t.kind == "cmd" and t.text == close:
                self.i += 1
                return self.toks[start:self.i - 1]
            self.i += 1
        raise self.src.error(open_.pos, f"unclosed \\{open_.text}")


def parse_expression(tex: str) -> sp.Expr:
    """One LaTeX expression as SymPy, every symbol real (as an undeclared symbol of a file is).

    >>> parse_expression(r"\\frac{M - 1}{M} \\sigma_{B}^2")
    sigma_B**2*(M - 1)/M
    """
    src = Source("<expression>", tex)
    made: dict[str, sp.Symbol] = {}

    def symbol_for(name: str, latex: str, pos: int) -> sp.Symbol:
        return made.setdefault(name, _default_param(name, latex).symbol)

    toks = _tokenize(src, _strip_comments(tex), 0, len(tex))
    if any(t.kind in ("rel", "row") for t in toks):
        bad = next(t for t in toks if t.kind in ("rel", "row"))
        raise src.error(bad.pos, "an expression, not a relation", bad.end - bad.pos)
    return _Parser(src, toks, symbol_for).parse()


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
    toks = _tokenize(src, src.text, name_at, name_at + len(name_tex.strip()))
    names: list[str] = []

    def record(n: str, latex: str, pos: int) -> sp.Symbol:
        names.append(n)
        return sp.Symbol(n)

    _Parser(src, toks, record, euler=False, near=name_at).parse()
    if len(names) != 1 or len(toks) == 0:
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
            op = {"\\ge": ">=", "\\le": "<="}.get(op, op)
            if op in (">", ">="):
                spec["lo"], spec["lo_open"] = value, op == ">"
            else:
                spec["hi"], spec["hi_open"] = value, op == "<"
            pos = m.end()
            continue
        word = re.compile(r"[a-z]+").match(rest, pos)
        if word and word.group() in ("in", "sample"):
            iv = _INTERVAL.match(rest, _skip_space(rest, word.end(), len(rest)))
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
    """Split a display's tokens into chains: lists alternating expression tokens and relation tokens."""
    chains: list[list[list[Token] | Token]] = []
    current: list[list[Token] | Token] = []
    piece: list[Token] = []
    depth = 0
    row_break = False
    for t in toks:
        if t.kind == "char" and t.text in "([{":
            depth += 1
        elif t.kind == "char" and t.text in ")]}":
            depth -= 1
            if depth < 0:
                raise src.error(t.pos, f"unexpected text: an unmatched '{t.text}'")
        if t.kind == "row" and depth == 0:
            row_break = True
            continue
        if t.kind == "rel" and depth == 0:  # also '&= b' on a new row: the chain goes on
            current.append(piece)
            current.append(t)
            piece, row_break = [], False
            continue
        continues = (t.kind == "char" and t.text in "+-*") or (t.kind == "cmd" and t.text in ("cdot", "times"))
        if row_break and t.kind != "note" and not continues:  # a row that starts with an expression: a new chain
            current.append(piece)
            chains.append(current)
            current, piece = [], []
        row_break = False
        piece.append(t)
    current.append(piece)
    chains.append(current)
    return [c for c in chains if len(c) > 1]  # a display with no relation is no chain


def _expression(src: Source, piece: list[Token], symbol_for: SymbolFor, euler: bool,
                near: int) -> tuple[sp.Expr, str, str]:
    """The SymPy expression of one side, its LaTeX text and its notes."""
    notes = [t.text for t in piece if t.kind == "note"]
    math_toks = [t for t in piece if t.kind != "note"]
    while math_toks and math_toks[-1].kind == "char" and math_toks[-1].text in ",.;":
        math_toks.pop()
    if not math_toks:
        raise src.error(near, "a relation with nothing on one side")
    expr = _Parser(src, math_toks, symbol_for, euler).parse()
    tex = src.text[math_toks[0].lead:math_toks[-1].end]
    return expr, " ".join(tex.split()), "; ".join(notes)


def parse_tex(text: str, path: str = "<string>") -> TexDocument:
    """Parse a ``.tex`` file's text into chains of steps (raises :class:`TexInputError` with file:line:column).

    >>> doc = parse_tex("% bnsym: M integer >= 2\\n\\\\[ \\\\frac{M}{M} = 1 \\\\]\\n")
    >>> [(s.number, s.op, s.lhs, s.rhs) for s in doc.chains[0].steps]
    [(1, '=', 1, 1)]
    """
    src = Source(path, text)
    decls = [_declaration(src, m.start(), m.group(1), m.start(1)) for m in _DECL.finditer(text)]
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

    clean = _strip_comments(text)
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
        for raw in _split(src, _tokenize(src, clean, start, end)):
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
    res = _run_numeric(numeric.check_inequality, (lhs, op, rhs, params, settings.points, settings.dps,
                                                  settings.seed), settings)
    if proof is not None and proof.decided is False:
        return _symbolic_refutation(step_id, proof, res, "claim", started, "the difference is a number of the wrong "
                                    "sign")
    return _numeric_verdict(step_id, res, "claim", proof, started)


def check_step(step: Step, step_id: str, doc: TexDocument, settings: Settings) -> Verdict:
    """The verdict on one step, with its position, LaTeX and note in the evidence."""
    known = {**doc.params, **doc.undeclared}
    by_symbol = {p.symbol: p for p in known.values()}
    syms = (step.lhs.free_symbols | step.rhs.free_symbols)
    params = sorted((by_symbol[s] for s in syms), key=lambda p: p.name)
    if step.op == "=":
        v = _equality(step_id, step.lhs, step.rhs, params, "claim", settings)
    else:
        v = _inequality(step_id, step.lhs, step.op, step.rhs, params, settings)
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
        text += f"; at {point}: lhs {cx.get('lhs')}, rhs {cx.get('rhs')}"
    return " ".join(text.split())


def _annotate(doc: TexDocument, verdicts: list[Verdict], out_path: str) -> str:
    """Write the file with a ``% bnsym-result:`` line after each step's row, atomically (temp file + rename)."""
    lines = doc.source.text.splitlines(keepends=True)
    after: dict[int, list[str]] = {}
    for chain, v in zip(doc.chains, verdicts):
        for step, link in zip(chain.steps, v.links):
            after.setdefault(step.end_line, []).append(
                f"{MARK} chain {chain.number} step {step.number} {link.status.value}: {_mark_text(link)}")
        after.setdefault(chain.end_line, []).append(f"{MARK} chain {chain.number} {v.status.value}: {v.summary}")
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
    target = Path(out_path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent or ".")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write("".join(out))
            os.replace(tmp, target)
        except BaseException:
            os.unlink(tmp)
            raise
    except OSError as exc:
        raise UsageError(f"cannot write the annotated copy {out_path}: {exc.strerror or exc}") from None
    return str(target)


def annotated_name(path: str) -> str:
    """``NAME.tex`` -> ``NAME.bnsym.tex`` beside it."""
    p = Path(path)
    return str(p.with_name((p.stem if p.suffix == ".tex" else p.name) + ".bnsym.tex"))


def verify_tex(path: str, budget: float = prover.DEFAULT_BUDGET, points: int = numeric.DEFAULT_POINTS,
               dps: int = numeric.DEFAULT_DPS, annotate_to: str | None = None, *, annotate: bool = True,
               seed: int = 0, symbolic: bool = True) -> TexResult:
    """Check every chain of ``path``; write the annotated copy (``annotate_to`` or NAME.bnsym.tex).

    Raises :class:`~bnsym.errors.UsageError` for bad arguments or an unreadable file and
    :class:`TexInputError` (a UsageError) for unparsable input, naming file:line:column.
    """
    if not (budget > 0):
        raise UsageError(f"budget must be positive, not {budget!r}")
    if points < 1:
        raise UsageError(f"points must be at least 1, not {points!r}")
    if dps < numeric.MIN_DPS:
        raise UsageError(f"dps must be at least {numeric.MIN_DPS}, not {dps!r}")
    started = time.perf_counter()
    try:
        text = Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise UsageError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from None
    out = annotate_to or annotated_name(path)
    if annotate and Path(out).resolve() == Path(path).resolve():
        raise UsageError(f"the annotated copy {out} would overwrite the input; name another file")
    doc = parse_tex(text, path)
    settings = Settings(budget=budget, points=points, dps=dps, seed=seed, symbolic=symbolic)
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
    written = _annotate(doc, verdicts, out) if annotate else None
    return TexResult(path, verdicts, doc, written, time.perf_counter() - started)


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
