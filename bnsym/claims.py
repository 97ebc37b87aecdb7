"""Claims, derivations and theorems: what bnsym checks.

A *claim* is one statement about closed forms or about a random process:

* :class:`Identity` -- ``lhs == rhs`` on the whole domain;
* :class:`Inequality` -- ``lhs < rhs`` (or ``<=``, ``>``, ``>=``) on the whole domain;
  :func:`Sign` is the special case ``expr < 0`` (stability of an eigenvalue);
* :class:`Asymptotic` -- ``lhs == rhs + O(var**-order)`` as ``var -> oo``;
* :class:`Derivation` -- a chain ``e0 == e1 == ... == en``, each link with a justification;
* :class:`GaussianExpectation` -- ``E[f(s, t)] == value`` over a centred bivariate Gaussian,
  checked by 2-D quadrature only (:mod:`bnsym.quadrature`);
* :class:`ProcessClaim` -- a quantity defined by a random process (a variance of a batch
  statistic, an expected loss) equals a closed form, exactly or up to ``O(var**-order)``.
  Only a Monte Carlo simulation of the process can check it (``bnsym check``);
* :class:`Measurement` -- an exploratory quantity of a process with no closed form: measured
  and reported with its setting, never passed or failed.

A :class:`Theorem` groups claims under a source; an :class:`Erratum` pairs the form a
paper printed with the corrected one, so both verdicts are shown side by side.

Objects are immutable. Ids are not typed: the registry names each theorem and claim
after the module and the variable that holds it (``luo2019.L3.inv_sigma_sq``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Union

import sympy as sp

from .errors import DefinitionError
from .params import Param

OPS = {"<": sp.StrictLessThan, "<=": sp.LessThan, ">": sp.StrictGreaterThan, ">=": sp.GreaterThan}


@dataclass(frozen=True)
class Source:
    """Where a statement comes from: paper, section, equation."""

    paper: str
    section: str = ""
    equation: str = ""

    def __str__(self) -> str:
        parts = [self.paper, self.section, f"Eq. {self.equation}" if self.equation else ""]
        return ", ".join(p for p in parts if p)


@dataclass(frozen=True)
class Justification:
    """Why one link of a derivation holds: a short name and a sentence."""

    name: str
    text: str = ""
    lemma: Any = None
    apply: Any = None  # optional map e -> e': the link is checked as apply(previous) == next


    def __str__(self) -> str:
        return self.name + (f": {self.text}" if self.text else "")


class _By:
    """Justifications for derivation links (``by.algebra``, ``by.taylor(2)``, ...)."""

    definition = Justification("definition")
    algebra = Justification("algebra")
    linearity = Justification("linearity of expectation")
    independence = Justification("independence")
    gaussian_moment = Justification("Gaussian moments")
    chi_square_moment = Justification("moments of the chi-square law")
    gamma_function = Justification("Gamma-function identities")
    exchangeability = Justification("exchangeability of the batch")
    stirling = Justification("Stirling series of log-Gamma")

    @staticmethod
    def taylor(order: int, about: str = "") -> Justification:
        return Justification(f"Taylor expansion to order {order}", about)

    @staticmethod
    def substitution(text: str) -> Justification:
        return Justification("substitution", text)

    @staticmethod
    def lemma(claim: "Claim") -> Justification:
        return Justification("lemma", claim.title, lemma=claim)

    @staticmethod
    def because(text: str) -> Justification:
        return Justification("argument", text)

    @staticmethod
    def expectation(table: Any, truncate: Any = None, truncation: str = "") -> Justification:
        """Expectation over a :class:`~bnsym.moments.MomentTable`, after an optional truncation
        ``truncate`` (described by ``truncation``); the link is checked by applying both."""
        if truncate is None:
            return Justification("expectation", table.description, apply=table.expect)
        return Justification("truncated expansion, then expectation", f"{truncation}; {table.description}",
                             apply=lambda e: table.expect(truncate(e)))

    @staticmethod
    def truncation(text: str, fn: Any) -> Justification:
        """A truncated expansion; the link is checked as ``fn(previous) == next``."""
        return Justification("truncated expansion", text, apply=fn)


by = _By()


def _expr(value: Any, what: str) -> sp.Expr:
    try:
        return sp.sympify(value)
    except (sp.SympifyError, TypeError) as exc:
        raise DefinitionError(f"{what}: not a SymPy expression: {value!r} ({exc})") from None


@dataclass(frozen=True)
class Claim:
    """Common fields of every claim.

    ``where`` overrides, for this claim only, the domain of some of the theorem's
    parameters (same symbol, narrower domain, e.g. ``M > 3`` for a moment that exists
    only there). ``holds`` says how the claim holds: ``"identity"`` (at every point of
    the domain) or ``"in expectation"`` (over the stated process). ``assumptions`` are
    the stated hypotheses, in words.
    """

    title: str = ""
    where: tuple[Param, ...] = ()
    holds: str = "identity"
    assumptions: tuple[str, ...] = ()
    note: str = ""

    kind = "claim"

    def expressions(self) -> tuple[sp.Expr, ...]:
        """Every closed form the claim mentions (for domains, printing, compilation)."""
        return ()

    def free_symbols(self) -> set[sp.Symbol]:
        out: set[sp.Symbol] = set()
        for e in self.expressions():
            out |= e.free_symbols
        return out


@dataclass(frozen=True)
class Identity(Claim):
    """``lhs == rhs`` at every point of the domain."""

    lhs: sp.Expr = sp.S.Zero
    rhs: sp.Expr = sp.S.Zero
    kind = "identity"

    def __post_init__(self) -> None:
        object.__setattr__(self, "lhs", _expr(self.lhs, self.title or "identity lhs"))
        object.__setattr__(self, "rhs", _expr(self.rhs, self.title or "identity rhs"))

    def expressions(self) -> tuple[sp.Expr, ...]:
        return (self.lhs, self.rhs)


@dataclass(frozen=True)
class Inequality(Claim):
    """``lhs OP rhs`` at every point of the domain, OP one of ``< <= > >=``."""

    lhs: sp.Expr = sp.S.Zero
    op: str = "<"
    rhs: sp.Expr = sp.S.Zero
    kind = "inequality"

    def __post_init__(self) -> None:
        if self.op not in OPS:
            raise DefinitionError(f"{self.title}: op must be one of {sorted(OPS)}, not {self.op!r}")
        object.__setattr__(self, "lhs", _expr(self.lhs, self.title or "inequality lhs"))
        object.__setattr__(self, "rhs", _expr(self.rhs, self.title or "inequality rhs"))

    def expressions(self) -> tuple[sp.Expr, ...]:
        return (self.lhs, self.rhs)

    @property
    def relation(self) -> sp.Basic:
        return OPS[self.op](self.lhs, self.rhs, evaluate=False)


def Sign(expr: Any, negative: bool = True, **kw: Any) -> Inequality:
    """``expr < 0`` (``negative=True``) or ``expr > 0``: a sign or stability statement."""
    return Inequality(lhs=expr, op="<" if negative else ">", rhs=0, **kw)


@dataclass(frozen=True)
class Asymptotic(Claim):
    """``lhs == rhs + O(var**-order)`` as ``var -> oo``."""

    lhs: sp.Expr = sp.S.Zero
    rhs: sp.Expr = sp.S.Zero
    var: Param | None = None
    order: int = 1
    kind = "asymptotic"

    def __post_init__(self) -> None:
        if self.var is None:
            raise DefinitionError(f"{self.title}: an asymptotic claim needs var=")
        if self.order < 1:
            raise DefinitionError(f"{self.title}: order must be >= 1")
        object.__setattr__(self, "lhs", _expr(self.lhs, self.title or "asymptotic lhs"))
        object.__setattr__(self, "rhs", _expr(self.rhs, self.title or "asymptotic rhs"))

    def expressions(self) -> tuple[sp.Expr, ...]:
        return (self.lhs, self.rhs)


@dataclass(frozen=True)
class GaussianExpectation(Claim):
    """``E[integrand] == value`` for ``variables ~ N(0, covariance)``, a centred bivariate Gaussian.

    ``variables`` are the two symbols integrated over: they are bound, so they need no
    :class:`Param` (the theorem's parameters are the other symbols of the integrand, the
    covariance and the value). ``covariance`` is a symmetric 2x2 matrix (nested tuples or a
    SymPy Matrix) of closed forms in the parameters. The integrand may be non-smooth where a
    linear form ``a*s + b*t`` changes sign (Heaviside, Max, Min, Abs, sign, Piecewise
    conditions); any other kink is refused. Decided numerically only, by 2-D quadrature
    (:mod:`bnsym.quadrature`); the best verdict is NUMERIC.
    """

    integrand: sp.Expr = sp.S.Zero
    variables: tuple[sp.Symbol, ...] = ()
    covariance: tuple[tuple[sp.Expr, ...], ...] = ()
    value: sp.Expr = sp.S.Zero
    kind = "gaussian expectation"

    def __post_init__(self) -> None:
        what = self.title or "gaussian expectation"
        variables = tuple(v.symbol if isinstance(v, Param) else v for v in self.variables)
        if len(variables) != 2:
            raise DefinitionError(f"{what}: variables must be the two symbols integrated over, not {len(variables)}")
        if not all(isinstance(v, sp.Symbol) for v in variables) or variables[0] == variables[1]:
            raise DefinitionError(f"{what}: variables must be two distinct SymPy symbols, not {variables!r}")
        rows = [list(r) for r in (self.covariance.tolist() if isinstance(self.covariance, sp.MatrixBase)
                                  else self.covariance)]
        if len(rows) != 2 or any(len(r) != 2 for r in rows):
            raise DefinitionError(f"{what}: covariance must be a 2x2 matrix, not {self.covariance!r}")
        cov = tuple(tuple(_expr(e, f"{what} covariance") for e in r) for r in rows)
        if sp.expand(cov[0][1] - cov[1][0]) != 0 and sp.simplify(cov[0][1] - cov[1][0]) != 0:
            raise DefinitionError(f"{what}: covariance is not symmetric: {cov[0][1]} != {cov[1][0]}")
        value = _expr(self.value, f"{what} value")
        bound = set(variables)
        for name, e in [("value", value)] + [("covariance", e) for r in cov for e in r]:
            if e.free_symbols & bound:
                raise DefinitionError(f"{what}: the {name} {e} depends on an integration variable")
        object.__setattr__(self, "variables", variables)
        object.__setattr__(self, "covariance", cov)
        object.__setattr__(self, "value", value)
        object.__setattr__(self, "integrand", _expr(self.integrand, f"{what} integrand"))
        from .quadrature import kinks

        kinks(self.integrand, variables, what)  # refuses a non-smooth piece the quadrature cannot split

    def expressions(self) -> tuple[sp.Expr, ...]:
        """The closed forms in the parameters: the value and the covariance. The integrand is left
        out (its variables are bound); :meth:`free_symbols` adds its parameters."""
        return (self.value,) + tuple(e for r in self.covariance for e in r)

    def free_symbols(self) -> set[sp.Symbol]:
        return super().free_symbols() | (self.integrand.free_symbols - set(self.variables))


Link = Union[sp.Expr, tuple]


@dataclass(frozen=True)
class Derivation(Claim):
    """A chain of equalities ``e0 == e1 == ... == en``; every link is checked.

    ``chain`` holds the first expression, then ``(expression, justification)`` pairs:
    ``[e0, (e1, by.algebra), (e2, by.taylor(2))]``.
    """

    chain: tuple[Any, ...] = ()
    kind = "derivation"

    def __post_init__(self) -> None:
        if len(self.chain) < 2:
            raise DefinitionError(f"{self.title}: a derivation needs at least two expressions")
        steps: list[tuple[sp.Expr, Justification | None]] = []
        for i, link in enumerate(self.chain):
            if i == 0:
                steps.append((_expr(link, f"{self.title} step 0"), None))
                continue
            if not (isinstance(link, tuple) and len(link) == 2 and isinstance(link[1], Justification)):
                raise DefinitionError(
                    f"{self.title}: step {i} must be (expression, justification), e.g. (e, by.algebra)"
                )
            steps.append((_expr(link[0], f"{self.title} step {i}"), link[1]))
        object.__setattr__(self, "chain", tuple(steps))

    def expressions(self) -> tuple[sp.Expr, ...]:
        return tuple(e for e, _ in self.chain)

    @property
    def links(self) -> list[tuple[int, sp.Expr, sp.Expr, Justification]]:
        """``(i, e_{i-1}, e_i, why)`` for every link."""
        return [(i, self.chain[i - 1][0], self.chain[i][0], self.chain[i][1]) for i in range(1, len(self.chain))]


@dataclass(frozen=True)
class Flow:
    """An ODE system ``d state / d time = rhs``: the law a process is claimed to follow.

    ``state`` are the state variables (their symbols appear in ``rhs`` and, in a
    :class:`ProcessClaim` with this flow, stand for the state at the point's ``time``);
    ``initial`` are the parameters that give the state at time 0, in the same order.
    The domains of the state variables bound the state space (the integrator keeps the
    state inside them). The solution is computed numerically (:mod:`bnsym.flow`) from
    these SymPy expressions only.
    """

    state: tuple[Param, ...]
    rhs: tuple[sp.Expr, ...]
    initial: tuple[Param, ...]
    time: Param
    title: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "state", tuple(self.state))
        object.__setattr__(self, "initial", tuple(self.initial))
        object.__setattr__(self, "rhs", tuple(_expr(e, f"{self.title} rhs") for e in self.rhs))
        if not (len(self.state) == len(self.rhs) == len(self.initial)) or not self.state:
            raise DefinitionError(f"flow {self.title!r}: state, rhs and initial must have the same (nonzero) length")

    @property
    def params(self) -> tuple[Param, ...]:
        return self.state + self.initial + (self.time,)


ONE_SIDED = ("<", ">")


@dataclass(frozen=True)
class ProcessClaim(Claim):
    """A quantity of a random process equals ``value`` (or lies below / above it).

    ``quantity`` names the process quantity in words (``"M * Var(mu_B)"``) and
    ``quantity_tex`` typesets it. With ``var``/``order`` set the claim is asymptotic:
    ``quantity == value + O(var**-order)``; without, it is exact for every point.
    ``op`` ``"<"`` or ``">"`` makes an exact claim one-sided (``quantity < value``): a sign
    or a bound. With ``flow`` set, ``value`` may use the flow's state symbols, meaning the
    solution of that ODE at the point's time from the point's initial state.
    ``every=True`` (with ``op``) makes the bound a statement about each instance (each simulated
    problem), not about the mean: the check refutes it when any unit's value lies beyond the
    bound by more than the check's declared round-off allowance.
    Only a Monte Carlo check can decide it; the check module pairs it with a simulator.
    """

    quantity: str = ""
    quantity_tex: str = ""
    value: sp.Expr = sp.S.Zero
    var: Param | None = None
    order: int = 0
    op: str = "=="
    flow: Flow | None = None
    every: bool = False
    holds: str = "in expectation"
    kind = "process"

    def __post_init__(self) -> None:
        if not self.quantity:
            raise DefinitionError(f"{self.title}: a process claim needs quantity=")
        if (self.var is None) != (self.order == 0):
            raise DefinitionError(f"{self.title}: give both var= and order= for an asymptotic process claim")
        if self.op not in ("==",) + ONE_SIDED:
            raise DefinitionError(f"{self.title}: op must be '==', '<' or '>', not {self.op!r}")
        if self.op != "==" and self.var is not None:
            raise DefinitionError(f"{self.title}: a one-sided process claim cannot be asymptotic")
        if self.every and self.op not in ONE_SIDED:
            raise DefinitionError(f"{self.title}: a bound for every instance (every=True) needs op '<' or '>'")
        if self.every:
            object.__setattr__(self, "holds", "for every instance")
        object.__setattr__(self, "value", _expr(self.value, self.title or "process value"))

    @property
    def asymptotic(self) -> bool:
        return self.var is not None

    @property
    def extra_params(self) -> tuple[Param, ...]:
        """Parameters the claim brings along (its flow's state, initial values and time)."""
        return self.flow.params if self.flow is not None else ()

    def expressions(self) -> tuple[sp.Expr, ...]:
        return (self.value,) + (self.flow.rhs if self.flow is not None else ())


@dataclass(frozen=True)
class Measurement(ProcessClaim):
    """An exploratory quantity of a process, measured and reported with its setting, never passed or failed.

    Some statements of a paper are empirical and qualitative ("higher dimension is better",
    "the cross-layer curvature is smaller with BN"): there is no closed form to test, and a
    threshold chosen to make them pass or fail would be an invented number. A measurement runs
    its Monte Carlo check like any process claim and reports, per point, the estimate with its
    standard error and samples under the status ``MEASURED``. ``setting`` states what was run
    (dimensions, learning rates, iterations), so a reader can judge how far the numbers carry.
    It adds no test to the suite's false-alarm budget and never changes the exit code.
    """

    setting: str = ""
    holds: str = "measured"
    kind = "measurement"

    def __post_init__(self) -> None:
        if not self.quantity:
            raise DefinitionError(f"{self.title}: a measurement needs quantity=")
        if self.var is not None or self.order or self.op != "==" or self.flow is not None:
            raise DefinitionError(f"{self.title}: a measurement has no claimed value, order, op or flow")
        if sp.sympify(self.value) != 0:
            raise DefinitionError(f"{self.title}: a measurement has no claimed value (use a ProcessClaim to test one)")
        object.__setattr__(self, "value", sp.S.Zero)

    def expressions(self) -> tuple[sp.Expr, ...]:
        return ()


@dataclass(frozen=True)
class Erratum:
    """A place where the paper's print and the truth differ.

    ``printed`` is the statement as printed, ``corrected`` the corrected statement;
    ``note`` says what differs. bnsym verifies both and shows the verdicts side by side.
    """

    printed: Claim
    corrected: Claim
    note: str = ""


@dataclass(frozen=True)
class Theorem:
    """A group of claims from one source, over declared parameters."""

    title: str
    source: Source
    params: tuple[Param, ...]
    claims: tuple[Claim | Erratum, ...]
    summary: str = ""
    _by_symbol: dict[sp.Symbol, Param] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "params", tuple(self.params))
        object.__setattr__(self, "claims", tuple(self.claims))
        object.__setattr__(self, "_by_symbol", {p.symbol: p for p in self.params})
        for item in self.claims:
            for c in _members(item):
                if not isinstance(c, Claim):
                    raise DefinitionError(f"{self.title}: {c!r} is not a claim")
                self.domain(c)  # every free symbol must have a domain

    def all_claims(self) -> list[tuple[Claim, str]]:
        """Every claim with its role: ``"claim"``, ``"printed"`` or ``"corrected"``."""
        out: list[tuple[Claim, str]] = []
        for item in self.claims:
            if isinstance(item, Erratum):
                out += [(item.printed, "printed"), (item.corrected, "corrected")]
            else:
                out.append((item, "claim"))
        return out

    def domain(self, claim: Claim) -> dict[sp.Symbol, Param]:
        """The parameter domains in force for ``claim`` (theorem's, overridden by ``where``)."""
        dom = dict(self._by_symbol)
        for p in claim.where:
            dom[p.symbol] = p
        var = getattr(claim, "var", None)
        if var is not None:
            dom.setdefault(var.symbol, var)
        for p in getattr(claim, "extra_params", ()):
            dom.setdefault(p.symbol, p)
        missing = sorted(s.name for s in claim.free_symbols() if s not in dom)
        if missing:
            raise DefinitionError(
                f"claim {claim.title!r}: symbols {', '.join(missing)} have no declared domain"
                " (add them to the theorem's params or the claim's where=)"
            )
        return dom

    def erratum_of(self, claim: Claim) -> Erratum | None:
        for item in self.claims:
            if isinstance(item, Erratum) and (claim is item.printed or claim is item.corrected):
                return item
        return None


def _members(item: Claim | Erratum) -> list[Claim]:
    return [item.printed, item.corrected] if isinstance(item, Erratum) else [item]
