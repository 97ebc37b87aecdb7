"""Verdicts: what bnsym concluded about a claim, with the evidence.

Statuses, strongest first:

* ``PROVEN`` -- SymPy showed it symbolically (the strategy that closed it is recorded);
* ``NUMERIC`` -- holds at every sampled point to high precision (mpmath, >= 50 digits);
  weaker than a proof and never reported as one;
* ``CONSISTENT`` -- a Monte Carlo simulation of the process agrees within the stated
  statistical test;
* ``REFUTED`` -- a counterexample or a failed statistical test (with the numbers);
* ``MEASURED`` -- an exploratory quantity was measured (estimate and standard error), with
  nothing claimed to test: neither holding nor failing, and it never changes an exit code;
* ``UNDECIDED`` -- nothing decided it within its budget;
* ``ERROR`` -- the check itself failed to run.

Only the first three count as holding: an inconclusive result never passes.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any


class Status(enum.Enum):
    PROVEN = "PROVEN"
    NUMERIC = "NUMERIC"
    CONSISTENT = "CONSISTENT"
    REFUTED = "REFUTED"
    MEASURED = "MEASURED"
    UNDECIDED = "UNDECIDED"
    ERROR = "ERROR"

    @property
    def holds(self) -> bool:
        return self in HOLDING


HOLDING = frozenset({Status.PROVEN, Status.NUMERIC, Status.CONSISTENT})


@dataclass
class Verdict:
    """The outcome for one claim (or one link of a derivation)."""

    claim_id: str
    status: Status
    method: str
    summary: str
    evidence: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    role: str = "claim"
    links: list["Verdict"] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.claim_id,
            "status": self.status.value,
            "role": self.role,
            "method": self.method,
            "summary": self.summary,
            "seconds": round(self.seconds, 4),
            "evidence": _jsonable(self.evidence),
        }
        if self.links:
            out["links"] = [v.to_json() for v in self.links]
        return out


def weakest(statuses: list[Status]) -> Status:
    """The status of a chain: its weakest link (REFUTED beats ERROR beats UNDECIDED ...)."""
    order = [Status.REFUTED, Status.ERROR, Status.UNDECIDED, Status.MEASURED, Status.CONSISTENT, Status.NUMERIC,
             Status.PROVEN]
    for s in order:
        if s in statuses:
            return s
    return Status.PROVEN


def _jsonable(x: Any) -> Any:
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, (bool, int, str)) or x is None:
        return x
    if isinstance(x, float):
        return x if x == x and abs(x) != float("inf") else str(x)
    try:
        return float(x)
    except (TypeError, ValueError):
        return str(x)
