"""Property tests over the declared parameter domains.

Every built-in identity of ``luo2019`` holds at points hypothesis draws from its parameters'
domains (``Param.strategy``), evaluated with mpmath at 30 digits; the printed form of an erratum
fails somewhere. Sampling never leaves a domain: ``Param.random`` and ``Param.strategy`` only
produce values ``Param.contains`` accepts.

Tolerance: at ``DPS = 30`` digits each side is correct to about 10**-30 relative to its largest
intermediate term; the sides may cancel (Gamma-function ratios at large M, sums of terms of
size up to ~50 that nearly cancel) and so lose up to ``GUARD = 10`` digits. Agreement is asserted
to ``10**-(DPS - GUARD) = 1e-20`` relative to ``max(1, |lhs|, |rhs|)``; a wrong identity differs
by far more (the printed erratum below by a factor of 2).
"""

from __future__ import annotations

import random
from typing import Any

import mpmath
import pytest
import sympy as sp
from hypothesis import HealthCheck, assume, find, given, settings
from hypothesis import strategies as st
from sympy.core.function import AppliedUndef

from bnsym import Identity, Param
from bnsym.numeric import compile_mpmath
from bnsym.registry import load_builtin
from derivations.luo2019 import symbols

DPS = 30
GUARD = 10
RTOL = mpmath.mpf(10) ** (-(DPS - GUARD))

PROPERTY = settings(max_examples=25, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


def _identities() -> list[tuple[str, Any, Identity, str]]:
    catalog = load_builtin()
    out = []
    for entry in catalog.entries.values():
        if not entry.id.startswith("luo2019."):
            continue
        for cid, claim, role in entry.claims():
            if isinstance(claim, Identity):
                out.append((cid, entry.theorem, claim, role))
    return out


IDENTITIES = _identities()
HOLDING = [pytest.param(th, c, id=cid) for cid, th, c, role in IDENTITIES if role != "printed"]
PRINTED = [pytest.param(th, c, id=cid) for cid, th, c, role in IDENTITIES if role == "printed"]


def _instance(expr: Any) -> Any:
    """An identity stated for an arbitrary function g (an undefined SymPy function) must hold for
    every g: it is evaluated with g = tanh, a smooth instance with nonzero derivatives of all orders."""
    out = expr.replace(lambda e: isinstance(e, AppliedUndef), lambda e: sp.tanh(*e.args))
    return out.doit() if out != expr else expr


class _Sides:
    """lhs and rhs of an identity compiled for mpmath over its parameters."""

    def __init__(self, theorem: Any, claim: Identity):
        domain = theorem.domain(claim)
        self.params: list[Param] = [domain[s] for s in sorted(claim.free_symbols(), key=lambda s: s.name)]
        symbols_ = [p.symbol for p in self.params]
        self.lhs = compile_mpmath(_instance(claim.lhs), symbols_)
        self.rhs = compile_mpmath(_instance(claim.rhs), symbols_)

    def strategy(self) -> st.SearchStrategy[dict[str, Any]]:
        return st.fixed_dictionaries({p.name: p.strategy() for p in self.params})

    def evaluate(self, point: dict[str, Any]) -> tuple[Any, Any] | None:
        """Both sides at the point (30 digits), or None where either cannot be evaluated or is not real."""
        args = [mpmath.mpf(point[p.name]) for p in self.params]
        try:
            with mpmath.workdps(DPS):
                a, b = self.lhs(*args), self.rhs(*args)
                if isinstance(a, mpmath.mpc) or isinstance(b, mpmath.mpc):
                    return None
                a, b = mpmath.mpf(a), mpmath.mpf(b)
        except (ValueError, ZeroDivisionError, TypeError, OverflowError):
            return None
        if not (mpmath.isfinite(a) and mpmath.isfinite(b)):
            return None
        return a, b

    def relative_gap(self, point: dict[str, Any]) -> Any:
        sides = self.evaluate(point)
        if sides is None:
            return None
        a, b = sides
        with mpmath.workdps(DPS):
            return abs(a - b) / max(mpmath.mpf(1), abs(a), abs(b))


def test_there_are_identities_and_errata() -> None:
    assert len(HOLDING) >= 8
    assert len(PRINTED) >= 1


@pytest.mark.parametrize("theorem,claim", HOLDING)
def test_identity_holds_on_its_domain(theorem: Any, claim: Identity) -> None:
    sides = _Sides(theorem, claim)

    @PROPERTY
    @given(sides.strategy())
    def holds(point: dict[str, Any]) -> None:
        for p in sides.params:
            assert p.contains(point[p.name])
        gap = sides.relative_gap(point)
        assume(gap is not None)
        assert gap <= RTOL, f"{claim.title}: relative gap {mpmath.nstr(gap, 5)} at {point}"

    holds()


@pytest.mark.parametrize("theorem,claim", PRINTED)
def test_printed_erratum_fails_somewhere(theorem: Any, claim: Identity) -> None:
    sides = _Sides(theorem, claim)

    def differs(point: dict[str, Any]) -> bool:
        gap = sides.relative_gap(point)
        return gap is not None and gap > RTOL

    witness = find(sides.strategy(), differs, settings=PROPERTY)
    assert differs(witness)
    assert all(p.contains(witness[p.name]) for p in sides.params)


# -- sampling never leaves the domain ------------------------------------------------------------

DECLARED = [pytest.param(v, id=name) for name, v in vars(symbols).items() if isinstance(v, Param)]


def test_symbols_declare_parameters() -> None:
    assert len(DECLARED) >= 8


@pytest.mark.parametrize("param", DECLARED)
def test_random_points_lie_in_the_domain(param: Param) -> None:
    @PROPERTY
    @given(st.integers(min_value=0, max_value=2**32 - 1))
    def inside(seed: int) -> None:
        rng = random.Random(seed)
        for _ in range(5):
            v = param.random(rng, dps=30)
            assert param.contains(v), f"{param.name}: {v} outside {param.describe()}"
            lo, hi = param.region
            assert lo <= v <= hi

    inside()


@pytest.mark.parametrize("param", DECLARED)
def test_strategy_values_lie_in_the_domain(param: Param) -> None:
    @PROPERTY
    @given(param.strategy())
    def inside(v: Any) -> None:
        assert param.contains(v), f"{param.name}: {v} outside {param.describe()}"
        assert param.check(v) == v

    inside()
