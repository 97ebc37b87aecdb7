"""pytest plugin: derivation files become test items, one per claim.

A file is collected when it matches one of the ``bnsym_files`` ini globs (default:
``derivations/*.py`` and ``derivations/*/__init__.py``, relative to the rootdir). Each
symbolic claim becomes an item that runs the prover and the numeric fallback; a failure
prints the verdict, the failing link and the counterexample instead of a traceback.
The printed form of an erratum passes only when it is refuted (the erratum is
confirmed). Process claims become items marked ``montecarlo`` (off by default; run them
with ``pytest -m montecarlo``), which run their Monte Carlo checks at default settings.

The plugin module imports nothing heavy at load time: bnsym's registry, prover and
Monte Carlo engine are imported when items are collected or run.
"""

from __future__ import annotations

import fnmatch
from pathlib import Path
from typing import Any

import pytest

DEFAULT_GLOBS = ["derivations/*.py", "derivations/*/__init__.py"]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini("bnsym_files", "globs (relative to rootdir) of derivation files collected as claims",
                  type="linelist", default=DEFAULT_GLOBS)


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    config = parent.config
    try:
        rel = file_path.resolve().relative_to(Path(str(config.rootpath)).resolve()).as_posix()
    except ValueError:
        return None
    globs = config.getini("bnsym_files") or DEFAULT_GLOBS
    if any(_segment_match(rel, g) for g in globs):
        if file_path.name == "__init__.py" and file_path.parent.name == "derivations":
            return None
        return DerivationFile.from_parent(parent, path=file_path)
    return None


def _segment_match(path: str, pattern: str) -> bool:
    """Glob match segment by segment (``*`` never crosses a ``/``)."""
    parts, pats = path.split("/"), pattern.split("/")
    return len(parts) == len(pats) and all(fnmatch.fnmatch(a, b) for a, b in zip(parts, pats))


class DerivationFile(pytest.File):
    """A module (or package) of derivations: one item per claim of each theorem."""

    def collect(self) -> Any:
        from .registry import Catalog, load_file, load_package_module

        path = Path(self.path)
        catalog = Catalog()
        if path.parent.parent.name == "derivations" or path.parent.name == "derivations":
            root = path.parent.parent if path.name != "__init__.py" else path.parent.parent.parent
            name = path.stem if path.name != "__init__.py" else path.parent.name
            load_package_module(root, name, catalog, with_checks=True)
        else:
            load_file(path, catalog, with_checks=True)
        for entry in catalog.entries.values():
            for cid, claim, role in entry.claims():
                yield ClaimItem.from_parent(self, name=cid, entry=entry, claim=claim, role=role,
                                            checks=catalog.checks.get(cid, []))


class ClaimFailure(Exception):
    """Raised by a claim item whose verdict does not hold; carries the verdict."""

    def __init__(self, verdict: Any, message: str):
        super().__init__(message)
        self.verdict = verdict


class ClaimItem(pytest.Item):
    def __init__(self, *, entry: Any, claim: Any, role: str, checks: list[Any], **kw: Any):
        super().__init__(**kw)
        self.entry, self.claim, self.role, self.checks = entry, claim, role, checks
        from .claims import ProcessClaim

        if isinstance(claim, ProcessClaim):
            self.add_marker(pytest.mark.montecarlo)

    def runtest(self) -> None:
        from .claims import ProcessClaim
        from .verdict import Status

        if isinstance(self.claim, ProcessClaim):
            verdicts = self._run_checks()
        else:
            from .verify import verify_claim

            v = verify_claim(self.entry.theorem, self.claim, self.name, self.role)
            verdicts = [v] if v is not None else []
        for v in verdicts:
            if self.role == "printed":
                if v.status != Status.REFUTED:
                    raise ClaimFailure(v, f"erratum not confirmed: the printed form is {v.status.value}")
            elif not (v.status.holds or v.status == Status.MEASURED):
                raise ClaimFailure(v, f"{v.status.value}: {v.summary}")

    def _run_checks(self) -> list[Any]:
        if not self.checks:
            pytest.skip("process claim without a Monte Carlo check")
        from .mc.device import resolve_device
        from .mc.engine import RunOptions, count_tests, run_check

        options = RunOptions(device=resolve_device("auto"), tests_in_suite=self._suite_tests(count_tests))
        return [run_check(c, self.entry.theorem, self.name, options, self.role) for c in self.checks]

    def _suite_tests(self, count_tests: Any) -> int:
        """Tests of every Monte Carlo item of this session: the Bonferroni split of the suite's alpha."""
        cached = getattr(self.session, "_bnsym_mc_tests", None)
        if cached is None:
            items = [i for i in self.session.items if isinstance(i, ClaimItem) and i.checks]
            cached = sum(count_tests(c) for i in items for c in i.checks) or 1
            self.session._bnsym_mc_tests = cached  # type: ignore[attr-defined]
        return int(cached)

    def repr_failure(self, excinfo: Any, style: Any = None) -> str:
        if isinstance(excinfo.value, ClaimFailure):
            v = excinfo.value.verdict
            lines = [f"{self.name}: {excinfo.value}", f"  claim: {self.claim.title}", f"  method: {v.method}"]
            for link in v.links:
                if not link.status.holds:
                    lines.append(f"  first failing link {link.claim_id} ({link.evidence.get('justification', '')}):"
                                 f" {link.summary}")
                    if link.evidence.get("counterexample"):
                        lines.append(f"  counterexample: {link.evidence['counterexample']}")
                    break
            if v.evidence.get("counterexample"):
                lines.append(f"  counterexample: {v.evidence['counterexample']}")
            return "\n".join(lines)
        return str(super().repr_failure(excinfo, style))

    def reportinfo(self) -> tuple[Any, int | None, str]:
        return self.path, None, f"{self.claim.kind} claim {self.name}"
