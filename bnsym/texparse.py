r"""LaTeX to SymPy: the tokenizer, the expression parser and the positions their errors name.

:mod:`bnsym.texin` reads the displays of a user's ``.tex`` file and checks their chains; this module
turns the LaTeX of one side of a relation into a SymPy expression. It is a small recursive-descent
parser of its own (not SymPy's LaTeX parser), so that every token keeps its offset in the file and an
error names ``file:line:column`` with the text of that line (:class:`Source`).

Grammar (one side of a relation): ``sum -> product -> power -> primary``. A sum takes leading signs
(``-x^2`` is ``-(x^2)``); a product joins factors with ``\cdot``, ``\times``, ``*``, ``/`` (left to right,
``a/b c`` is ``(a/b) c``) or side by side (implicit products); a power is a primary with ``^`` arguments and
``!``; a TeX argument is a brace group or one token, one digit of a number (``x^23`` is ``x^2 3``,
``\frac12`` is 1/2). Supported: numbers (``0.5`` is read exactly as 1/2), single Latin letters and Greek
letters as symbols, with subscripts (``x_i``, ``\sigma_{B}``, ``\mu_{\mathcal{B}}``) and primes;
``\mathcal``/``\mathrm``/``\mathbf``/``\boldsymbol`` names and the accents ``\hat``, ``\bar``, ``\tilde``
(``\hat{x}_i`` is the symbol ``xhat_i``); ``\frac``/``\dfrac``/``\tfrac``, ``\sqrt``, ``\sqrt[n]``,
``\binom``; brackets ``( ) [ ] \{ \}`` and ``\left``/``\right``/``\big...`` sizes; ``|x|`` and
``\lvert x \rvert``; ``\exp \log \ln \sin \cos \tan \sinh \cosh \tanh \arcsin \arccos \arctan`` (with
``^2`` and ``\log_b``), ``\operatorname{erf}``/``erfc``, ``\Gamma(x)`` as the Gamma function, ``\pi``,
``e`` (Euler's number, unless ``e`` is declared) and ``\infty``. Relations (for :mod:`bnsym.texin` to
split chains at): ``=`` and ``< > \le \ge \leq \geq \leqslant \geqslant``. Stripped: ``\label``,
``\tag``, ``\nonumber``, ``\notag``, ``&``, spacing (``\quad``, ``\,``, ``={}&`` ...), ``\displaystyle``, nested
``split``/``aligned``; ``\text{...}`` (and ``\textrm``, ``\mbox``) becomes a note token. A single letter
before a bracket is a product (``f(x)`` reads as ``f x``); sums, integrals and other commands are an
error at their position. Refused where TeX shows something else or the notation has two readings: two
numbers side by side (``1\,000`` is typeset as 1000), a ``\quad`` or an ``&`` between two factors, a
double superscript, ``^{-1}`` on a function, ``\sin 2x``, ``\frac{d}{dx}``, text inside a formula other than a
subscript (``x_{\text{max}}`` is the symbol ``x_max``). An odd root is the real one (``\sqrt[3]{-8} = -2``).

Exact numbers are bounded (:data:`MAX_EXACT_DIGITS`): a power, factorial, binomial or Gamma of numbers
whose value would have more digits is refused before SymPy computes it.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Callable

import mpmath
import sympy as sp

from .errors import ExpressionError

MAX_EXACT_DIGITS = 4000
"""The largest exact number read (a literal, a power or factorial of numbers, in decimal digits): Python prints
no integer of more than 4300 digits, and a power such as ``10^{10^{10}}`` would otherwise be computed digit by
digit before anything is checked."""
ERROR_CONTEXT = 60  # characters of the offending line shown on each side of an error's position

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
        """The error at ``offset``: ``file:line:column: what at 'text' (in: the line)``, on one line.

        The line is cut to :data:`ERROR_CONTEXT` characters each side of the position and control
        characters are shown escaped, so a huge or binary line gives a short, printable message.
        """
        line, col = self.line_col(offset)
        start = self.text.rfind("\n", 0, offset) + 1
        stop = self.text.find("\n", offset)
        stop = len(self.text) if stop < 0 else stop
        shown = min(max(length, 1), ERROR_CONTEXT)
        bit = _printable(self.text[offset:min(offset + shown, stop)])
        lo, hi = max(start, offset - ERROR_CONTEXT), min(stop, offset + shown + ERROR_CONTEXT)
        row = ("..." if lo > start else "") + self.text[lo:hi] + ("..." if hi < stop else "")
        near = f" at '{bit}'" if bit.strip() else ""
        return TexInputError(f"{self.path}:{line}:{col}: {what}{near} (in: {_printable(row.strip())})")


def _printable(text: str) -> str:
    """``text`` with control characters (and other unprintable ones) escaped, as ``repr`` shows them."""
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in text)


def strip_comments(text: str) -> str:
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
    wide: bool = False  # a \quad or \qquad stands between this token and the one before it
    amp: bool = False  # an alignment '&' stands between this token and the one before it

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


def skip_space(clean: str, i: int, end: int) -> int:
    while i < end and clean[i].isspace():
        i += 1
    return i


def tokenize(src: Source, clean: str, start: int, end: int) -> list[Token]:
    """Tokens of ``clean[start:end]`` (a display's body) with offsets into the file."""
    out: list[Token] = []
    i = start
    lead, wide, amp = -1, False, False  # what was skipped since the last token: see Token

    def emit(kind: str, text: str, at: int, stop: int) -> None:
        nonlocal lead, wide, amp
        out.append(Token(kind, text, at, stop, lead, wide, amp))
        lead, wide, amp = -1, False, False

    while i < end:
        c = clean[i]
        if c.isspace() or c in "&~":
            amp = amp or c == "&"
            i += 1
        elif c.isdigit() or (c == "." and i + 1 < end and clean[i + 1].isdigit()):
            m = re.compile(r"\d*\.?\d+|\d+").match(clean, i)
            assert m is not None
            emit("num", m.group(), i, m.end())
            i = m.end()
        elif c.isalpha():
            emit("letter", c, i, i + 1)
            i += 1
        elif c == "\\":
            if i + 1 < end and clean[i + 1] == "\\":  # row break, with an optional [2pt] after it
                emit("row", "\\\\", i, i + 2)
                i = skip_space(clean, i + 2, end)
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
                wide = wide or name in ("quad", "qquad")
                i = j
                if name in ("left", "right", "middle"):
                    k = skip_space(clean, i, end)
                    if k < end and clean[k] == ".":  # \left. is an invisible delimiter
                        i = k + 1
            elif name in DROPPED_WITH_ARGUMENT:
                _, i = _brace_group(src, clean, skip_space(clean, j, end))
            elif name in NOTES:
                content, k = _brace_group(src, clean, skip_space(clean, j, end))
                emit("note", content.strip(), i, k)
                i = k
            elif name in ("begin", "end"):
                env, k = _brace_group(src, clean, skip_space(clean, j, end))
                if env.strip() not in NESTED:
                    raise src.error(i, f"unsupported environment {env.strip()!r} inside a display", k - i)
                i = k
                if name == "begin" and env.strip() == "aligned":  # \begin{aligned}[t]
                    k = skip_space(clean, i, end)
                    if k < end and clean[k] == "[":
                        i = clean.find("]", k, end) + 1 or i
            elif name in RELATIONS:
                emit("rel", RELATIONS[name], i, j)
                i = j
            elif name in UNSUPPORTED_RELATIONS:
                raise src.error(i, f"unsupported relation \\{name} (bnsym checks =, <, >, \\le, \\ge)", j - i)
            else:
                emit("cmd", name, i, j)
                i = j
        elif c in "=<>":
            emit("rel", c, i, i + 1)
            i += 1
        elif c == "{" and clean[skip_space(clean, i + 1, end):][:1] == "}" and not _takes_argument(out):
            i = skip_space(clean, i + 1, end) + 1  # an empty group spaces an operator ('={}&', '&{}+ c'): no factor
        elif c in "{}()[]^_+-*/,.;|!'":
            emit("char", c, i, i + 1)
            i += 1
        elif c == ":" and i + 1 < end and clean[i + 1] == "=":
            raise src.error(i, "unsupported relation := (a definition; mark the display with '% bnsym: skip')", 2)
        else:
            raise src.error(i, f"unexpected character {c!r}")
    return out


def _takes_argument(out: list[Token]) -> bool:
    """Whether a group after the last token is an argument (``x^{}``, ``\\frac{a}{}``, ``\\sqrt[3]{}``): kept, so
    that an empty one is an error rather than the next token taken as the argument."""
    return bool(out) and (out[-1].kind == "cmd" or out[-1].kind == "char" and out[-1].text in "^_}]")


# -- expressions -----------------------------------------------------------------------------------------

SymbolFor = Callable[[str, str, int], sp.Symbol]  # (name, latex, offset) -> symbol


class Parser:
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
        if t.kind in ("num", "letter", "note"):  # a note here is text inside the formula: primary names it
            return True
        if t.kind == "char":
            return t.text in "([{" or (t.text == "|" and self.abs_depth == 0)
        return t.kind == "cmd" and t.text not in ("cdot", "times", "rvert", "}")

    def product(self) -> sp.Expr:
        first = self.i
        e = self.power()
        while True:
            if self.is_("cmd", "cdot", "times") or self.is_("char", "*"):
                self.take()
                first = self.i
                e = e * self.signed_power()
            elif self.is_("char", "/"):
                self.take()
                first = self.i
                e = e / self.signed_power()
            elif self.starts_factor():
                self.side_by_side(self.toks[first:self.i])
                first = self.i
                e = e * self.power()
            else:
                return e

    def side_by_side(self, factor: list[Token]) -> None:
        """Refuse an implicit product TeX does not show as one: two numbers (``2 3`` and ``1\\,000`` are typeset
        as 23 and 1000), or two factors a ``\\quad`` or an ``&`` keeps apart (``a = b \\quad c = d`` and the
        align row ``a &= b & c &= d`` are two formulas each)."""
        t = self.toks[self.i]
        if t.amp:
            raise self.src.error(t.pos, "an alignment '&' between two factors (two columns side by side?): put each"
                                 " relation in its own row", t.end - t.pos)
        if t.wide:
            raise self.src.error(t.pos, "a \\quad between two factors (two formulas side by side?): write \\cdot for"
                                 " a product, or put each relation in its own display", t.end - t.pos)
        if t.kind == "num" and len(factor) == 1 and factor[0].kind == "num":
            raise self.src.error(factor[0].pos, "two numbers side by side (TeX shows them as one number): join the"
                                 " digits, or write \\cdot for a product", t.end - factor[0].pos)

    def signed_power(self) -> sp.Expr:
        if self.is_("char", "-"):
            self.take()
            return -self.power()
        return self.power()

    def power(self) -> sp.Expr:
        base = self.primary()
        raised = False
        while True:
            if self.is_("char", "^"):
                at = self.take()
                if raised:  # x^2^3: TeX stops there, and (x^2)^3 and x^(2^3) differ
                    raise self.src.error(at.pos, "a double superscript (TeX refuses it): use braces, {x^2}^3")
                raised = True
                exponent = self.argument()
                self.exact_size(_power_digits(base, exponent), at)
                base = base ** exponent
            elif self.is_("char", "!"):
                at = self.take()
                self.exact_size(_gamma_digits(base + 1), at)
                base, raised = sp.factorial(base), False
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
        if "." in t.text[:2]:  # x^0.5 is x^0 .5 in TeX, x^.5 a superscript dot: neither is meant
            raise self.src.error(t.pos, "a TeX argument is one character: put a decimal number in braces, {0.5}",
                                 t.end - t.pos)
        self.toks[self.i:self.i + 1] = [Token("num", t.text[0], t.pos, t.pos + 1),
                                        Token("num", t.text[1:], t.pos + 1, t.end)]

    def group(self) -> sp.Expr:
        open_ = self.expect("char", "{")
        return self.sub(self.until_close(open_, "}"), open_.pos)

    def sub(self, tokens: list[Token], near: int) -> sp.Expr:
        return Parser(self.src, tokens, self.symbol_for, self.euler, near).parse()

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
            elif t.kind == "note" and re.fullmatch(r"[A-Za-z0-9 ]+", t.text):  # x_{\text{max}} is x_max
                parts.append(t.text.replace(" ", ""))
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
            if len(t.text) > MAX_EXACT_DIGITS:
                raise self.src.error(t.pos, f"a number of {len(t.text)} digits (bnsym reads at most"
                                     f" {MAX_EXACT_DIGITS} exactly)", ERROR_CONTEXT)
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
        if t.kind == "note":
            raise self.fail("text inside a formula (bnsym reads \\text{...} as a name in a subscript, or after a"
                            " side as the step's note)")
        raise self.fail("unexpected text")

    def command(self) -> sp.Expr:
        t = self.take()
        name = t.text
        if name in ("frac", "dfrac", "tfrac"):
            start = self.i
            numerator = self.argument()
            middle = self.i
            denominator = self.argument()
            if _differential(self.toks[start:middle], False) and _differential(self.toks[middle:self.i], True):
                raise self.src.error(t.pos, "a derivative d/dx is not supported (where d is a symbol, write"
                                     " \\frac{d}{d \\cdot x})", self.toks[self.i - 1].end - t.pos)
            return numerator / denominator
        if name == "binom":
            n, k = self.argument(), self.argument()
            if n.is_Integer and k.is_Integer and 0 <= k <= n:
                self.exact_size(_gamma_digits(n + 1) - _gamma_digits(k + 1) - _gamma_digits(n - k + 1), t)
            return sp.binomial(n, k)
        if name == "sqrt":
            if self.is_("char", "["):
                open_ = self.take()
                n = self.sub(self.until_close(open_, "]"), open_.pos)
                radicand = self.argument()
                if isinstance(n, sp.Rational) and n != 0:
                    self.exact_size(_power_digits(radicand, 1 / n), t)
                if n.is_Integer and n > 0 and n % 2 == 1:  # the real root: \sqrt[3]{-8} is -2, not 1 + sqrt(3) i
                    return sp.real_root(radicand, n)
                return sp.root(radicand, n)
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
        if name == "Gamma" and self.is_("char", "("):  # \left( arrives as '(': \left is skipped
            arg = self.bracketed()
            self.exact_size(_gamma_digits(arg), t)
            return sp.gamma(arg)
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
                    at = self.take()
                    power = self.argument()
                    if power == -1:
                        raise self.src.error(at.pos, "^{-1} on a function is ambiguous (its inverse, or one over"
                                             " it): write the reciprocal as (\\sin x)^{-1}", 1)
            if self.is_("char", "(", "[", "{"):
                arg = self.bracketed()
            else:
                number = self.is_("num")
                arg = self.power()
                if number and self.starts_factor():  # \sin 2x: sin(2x) to most readers, sin(2) x to a parser
                    raise self.src.error(t.pos, f"a number and a factor after \\{name} have two readings"
                                         f" (\\{name}(2x) or (\\{name} 2) x): write brackets",
                                         self.toks[self.i].end - t.pos)
            value = fn(arg) if base is None else sp.log(arg, base)
            return value if power is None else value ** power
        raise self.src.error(t.pos, f"unsupported LaTeX command \\{name}", t.end - t.pos)

    def exact_size(self, digits: float, at: Token) -> None:
        """Refuse, before SymPy computes it, an exact number of more than :data:`MAX_EXACT_DIGITS` digits."""
        if digits > MAX_EXACT_DIGITS:
            raise self.src.error(at.pos, f"an exact number of about {digits:.3g} digits (bnsym reads at most"
                                 f" {MAX_EXACT_DIGITS})", at.end - at.pos)

    def until_close_cmd(self, open_: Token, close: str) -> list[Token]:
        start = self.i
        while self.i < len(self.toks):
            t = self.toks[self.i]
            if t.kind == "cmd" and t.text == close:
                self.i += 1
                return self.toks[start:self.i - 1]
            self.i += 1
        raise self.src.error(open_.pos, f"unclosed \\{open_.text}")


def _differential(toks: list[Token], of_variable: bool) -> bool:
    """Whether an argument of ``\\frac`` reads as the ``d`` of a derivative: ``d`` or ``\\mathrm{d}``, not
    subscripted or primed, followed (``of_variable``: ``dx``, ``d\\sigma``) by a symbol."""
    texts = [t.text for t in toks if not (t.kind == "char" and t.text in "{}")]
    if texts[:1] == ["d"]:
        rest = texts[1:]
    elif texts[:2] in (["mathrm", "d"], ["operatorname", "d"]):
        rest = texts[2:]
    else:
        return False
    if rest[:1] in (["_"], ["'"]):  # d_1, d': a symbol
        return False
    return not of_variable or bool(rest) and (rest[0].isalpha() and len(rest[0]) == 1 or rest[0] in GREEK)


def _log10(x: sp.Rational) -> Any:
    """``log10 |x|`` of a nonzero rational, exact enough for a digit count (mpmath takes huge integers)."""
    return mpmath.log10(abs(int(x.p))) - mpmath.log10(int(x.q))


def _power_digits(base: sp.Expr, exponent: sp.Expr) -> float:
    """Decimal digits of ``base ** exponent`` when SymPy would compute it exactly (both rational), else 0."""
    if not (isinstance(base, sp.Rational) and isinstance(exponent, sp.Rational)) or base == 0:
        return 0.0
    return float(abs(_log10(base)) * abs(mpmath.mpf(int(exponent.p)) / int(exponent.q)))


def _gamma_digits(arg: sp.Expr) -> float:
    """Decimal digits of ``Gamma(arg)`` when SymPy would compute it exactly (a positive integer), else 0."""
    if not (isinstance(arg, sp.Integer) and arg > 2):
        return 0.0
    return float(mpmath.loggamma(int(arg)) / mpmath.log(10))


def check_side(src: Source, expr: sp.Expr, first: Token) -> None:
    """Refuse a side that is undefined as written (``1/0``, ``\\infty - \\infty``, ``\\Gamma(0)``: SymPy's
    ``zoo`` or ``nan``, which no point could make true or false), or whose numbers together grew past
    :data:`MAX_EXACT_DIGITS` digits (a product of powers)."""
    if expr.has(sp.zoo, sp.nan):
        raise src.error(first.pos, "this side is undefined as written (a division by zero, infinity minus infinity,"
                        " a pole of Gamma or a factorial, log base 1 ...)", first.end - first.pos)
    for q in expr.atoms(sp.Rational):
        digits = max(abs(int(q.p)).bit_length(), int(q.q).bit_length()) * math.log10(2)
        if digits > MAX_EXACT_DIGITS:
            raise src.error(first.pos, f"an exact number of about {digits:.3g} digits on this side (bnsym reads at"
                            f" most {MAX_EXACT_DIGITS})", first.end - first.pos)


def parse_expression(tex: str) -> sp.Expr:
    """One LaTeX expression as SymPy, every symbol real (as an undeclared symbol of a file is).

    >>> parse_expression(r"\\frac{M - 1}{M} \\sigma_{B}^2")
    sigma_B**2*(M - 1)/M
    """
    src = Source("<expression>", tex)

    def symbol_for(name: str, latex: str, pos: int) -> sp.Symbol:
        return sp.Symbol(name, real=True)

    toks = tokenize(src, strip_comments(tex), 0, len(tex))
    if any(t.kind in ("rel", "row") for t in toks):
        bad = next(t for t in toks if t.kind in ("rel", "row"))
        raise src.error(bad.pos, "an expression, not a relation", bad.end - bad.pos)
    try:
        expr = Parser(src, toks, symbol_for).parse()
    except RecursionError:
        raise src.error(0, "the expression is nested too deeply to read") from None
    if toks:
        check_side(src, expr, toks[0])
    return expr
