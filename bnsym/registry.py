"""Finding theorems, claims and checks, by path.

Nothing in ``bnsym`` imports ``derivations/`` or ``checks/``. The built-in derivations
are the modules of the ``derivations`` folder beside the installed package (an editable
install from the repository), or of the folder named by ``BNSYM_HOME``; their Monte
Carlo checks are the modules of the same name in ``checks/``. A user's own file is
loaded by path and may hold theorems and checks together.

Ids are never typed: a theorem is named ``<module>.<variable>`` and a claim
``<module>.<theorem variable>.<claim variable>``, after the variables that hold them.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .claims import Claim, Theorem
from .errors import DerivationFileError, UnknownIdError


@dataclass
class Entry:
    """One loaded theorem with the ids of its claims."""

    id: str
    theorem: Theorem
    claim_ids: dict[int, str]  # id(claim) -> claim id
    origin: str

    def claims(self) -> list[tuple[str, Claim, str]]:
        """``(claim id, claim, role)`` in the theorem's order."""
        return [(self.claim_ids[id(c)], c, role) for c, role in self.theorem.all_claims()]


@dataclass
class Catalog:
    """Every loaded theorem and check, addressable by id."""

    entries: dict[str, Entry] = field(default_factory=dict)
    checks: dict[str, list[Any]] = field(default_factory=dict)  # claim id -> checks
    figures: dict[str, Any] = field(default_factory=dict)  # figure id -> Figure

    def theorem(self, tid: str) -> Entry:
        if tid not in self.entries:
            raise UnknownIdError(_unknown(tid, list(self.entries)))
        return self.entries[tid]

    def claim(self, cid: str) -> tuple[Entry, Claim, str]:
        for e in self.entries.values():
            for claim_id, c, role in e.claims():
                if claim_id == cid:
                    return e, c, role
        raise UnknownIdError(_unknown(cid, [c for e in self.entries.values() for c, _, _ in e.claims()]))

    def select(self, ids: list[str]) -> list[tuple[Entry, list[tuple[str, Claim, str]]]]:
        """Theorems and claims named by ``ids`` (theorem ids, claim ids, or module prefixes)."""
        if not ids:
            return [(e, e.claims()) for e in self.entries.values()]
        out: list[tuple[Entry, list[tuple[str, Claim, str]]]] = []
        for i in ids:
            if i in self.entries:
                out.append((self.entries[i], self.entries[i].claims()))
                continue
            prefixed = [e for tid, e in self.entries.items() if tid.startswith(i + ".")]
            if prefixed:
                out += [(e, e.claims()) for e in prefixed]
                continue
            entry, claim, role = self.claim(i)
            out.append((entry, [(i, claim, role)]))
        return out

    def add_module(self, module: types.ModuleType, prefix: str, origin: str, family: list[types.ModuleType]) -> int:
        names: dict[int, str] = {}
        for mod in family:
            for var, obj in vars(mod).items():
                if isinstance(obj, Claim) and not var.startswith("_"):
                    names.setdefault(id(obj), var)
        found = 0
        for var, obj in sorted(vars(module).items(), key=lambda kv: kv[0]):
            if isinstance(obj, Theorem) and not var.startswith("_"):
                tid = f"{prefix}.{var}"
                if tid in self.entries and self.entries[tid].origin != origin:  # never replace a theorem silently
                    raise DerivationFileError(f"{origin} and {self.entries[tid].origin} both define the theorem"
                                              f" {tid}; rename one of the files")
                claim_ids = {}
                for k, (c, _role) in enumerate(obj.all_claims()):
                    claim_ids[id(c)] = f"{tid}.{names.get(id(c), f'claim{k}')}"
                self.entries[tid] = Entry(tid, obj, claim_ids, origin)
                found += 1
        return found

    def add_checks(self, module: types.ModuleType) -> int:
        from .figures import Figure
        from .mc.engine import MonteCarloCheck  # torch only when checks are loaded

        paper = module.__name__.rsplit(".", 1)[-1]
        for mod in _family(module):
            for var, obj in vars(mod).items():
                if isinstance(obj, Figure) and not var.startswith("_"):
                    self.figures[f"{paper}.{var}"] = obj

        by_claim = {cid_obj: cid for e in self.entries.values() for cid_obj, cid in e.claim_ids.items()}
        found = 0
        for var, obj in [(v, o) for mod in _family(module) for v, o in vars(mod).items()]:
            items = obj if isinstance(obj, (list, tuple)) else [obj]
            for chk in items:
                if isinstance(chk, MonteCarloCheck):
                    cid = by_claim.get(id(chk.claim))
                    if cid is None:
                        raise DerivationFileError(
                            f"{module.__name__}.{var}: its claim {chk.claim.title!r} belongs to no loaded theorem")
                    if all(c is not chk for c in self.checks.get(cid, [])):
                        self.checks.setdefault(cid, []).append(chk)
                        found += 1
        return found


def _unknown(name: str, known: list[str]) -> str:
    if not name.strip(" ."):  # '' or '.' is in every id: no suggestion would mean anything
        return f"unknown id {name!r}: an id names a paper, a theorem or a claim; run `bnsym list` to see the ids"
    close = [k for k in known if name.lower() in k.lower()][:5]
    hint = f"; did you mean {', '.join(close)}?" if close else "; run `bnsym list` to see the ids"
    return f"unknown id {name!r}{hint}"


def home() -> Path | None:
    """The folder holding the built-in ``derivations/`` and ``checks/``, if any."""
    env = os.environ.get("BNSYM_HOME")
    candidates = [Path(env)] if env else []
    candidates.append(Path(__file__).resolve().parent.parent)
    for c in candidates:
        if (c / "derivations").is_dir():
            return c
    return None


def _import_package_module(root: Path, package: str, name: str) -> types.ModuleType:
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    try:
        return importlib.import_module(f"{package}.{name}")
    except Exception as exc:  # a broken built-in module is reported, not raised as a traceback
        raise DerivationFileError(f"{package}/{name}: does not import: {type(exc).__name__}: {exc}") from exc


def _module_names(folder: Path) -> list[str]:
    names = []
    for p in sorted(folder.iterdir()):
        if p.name.startswith("_"):
            continue
        if p.suffix == ".py":
            names.append(p.stem)
        elif p.is_dir() and (p / "__init__.py").exists():
            names.append(p.name)
    return names


def _family(module: types.ModuleType) -> list[types.ModuleType]:
    prefix = module.__name__ + "."
    return [module] + [m for n, m in list(sys.modules.items()) if n.startswith(prefix) and m is not None]


def load_builtin(catalog: Catalog | None = None, with_checks: bool = False) -> Catalog:
    """Load the built-in derivations (and, with ``with_checks``, their Monte Carlo checks)."""
    catalog = catalog or Catalog()
    root = home()
    if root is None:
        raise DerivationFileError(
            "no built-in derivations found: install bnsym from its repository with `pip install -e .`,"
            " or set BNSYM_HOME to the folder holding derivations/")
    names = _module_names(root / "derivations")
    for name in names:
        load_package_module(root, name, catalog, with_checks=False)
    if with_checks:  # after every theorem is known, so a check may name a claim of any paper
        for name in names:
            _add_package_checks(root, name, catalog)
    return catalog


def load_package_module(root: Path, name: str, catalog: Catalog, with_checks: bool = False) -> Catalog:
    """Load ``derivations/<name>`` under ``root`` (and ``checks/<name>`` when present and asked for)."""
    mod = _import_package_module(root, "derivations", name)
    catalog.add_module(mod, name, f"derivations/{name}", _family(mod))
    if with_checks:
        _add_package_checks(root, name, catalog)
    return catalog


def _add_package_checks(root: Path, name: str, catalog: Catalog) -> None:
    checks = root / "checks"
    if (checks / name).is_dir() or (checks / f"{name}.py").is_file():
        catalog.add_checks(_import_package_module(root, "checks", name))


def load_file(path: str | Path, catalog: Catalog | None = None, with_checks: bool = False) -> Catalog:
    """Load a user's derivation file by path; its theorems are named ``<file stem>.<variable>``."""
    catalog = catalog or Catalog()
    p = Path(path)
    if p.is_dir():
        raise DerivationFileError(f"{path}: is a folder, not a derivation file (.py)")
    if not p.is_file():
        raise DerivationFileError(f"{path}: no such file")
    if p.suffix != ".py":
        raise DerivationFileError(f"{path}: a derivation file is a Python file (.py)")
    modname = f"bnsym_user_{p.stem}_{abs(hash(str(p.resolve()))) % 10**8}"
    spec = importlib.util.spec_from_file_location(modname, p)
    if spec is None or spec.loader is None:
        raise DerivationFileError(f"{path}: cannot be loaded as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[modname] = module
    added = str(p.resolve().parent)
    sys.path.insert(0, added)
    try:
        spec.loader.exec_module(module)
    except (Exception, SystemExit) as exc:  # sys.exit() in the file must not end bnsym with the file's code
        sys.modules.pop(modname, None)
        raise DerivationFileError(f"{path}: does not import: {type(exc).__name__}: {exc}") from exc
    finally:
        if added in sys.path:
            sys.path.remove(added)
    before = set(catalog.entries)
    if catalog.add_module(module, p.stem, str(path), [module]) == 0:
        raise DerivationFileError(f"{path}: holds no theorems (define a bnsym.Theorem at module level)")
    for tid in sorted(set(catalog.entries) - before):
        _refuse_undefined(catalog.entries[tid], path)
    if with_checks:
        catalog.add_checks(module)
    return catalog


def _refuse_undefined(entry: Entry, path: str | Path) -> None:
    """Refuse a claim that is undefined as written (SymPy's ``nan`` or ``zoo``, e.g. ``x/0`` or ``oo - oo``):
    no point can make it true or false, and a numeric check of ``nan`` would compare nothing."""
    import sympy as sp

    for cid, claim, _role in entry.claims():
        for expr in claim.expressions():
            if isinstance(expr, sp.Basic) and expr.has(sp.nan, sp.zoo):
                try:
                    text = str(expr)
                except ValueError:  # an integer too long for Python to print
                    text = "an expression"
                text = text if len(text) <= 120 else text[:117] + "..."
                raise DerivationFileError(f"{path}: claim {cid} is undefined as written ({text} holds nan or"
                                          " complex infinity: a division by zero, oo - oo ...)")


def _builtin_id(path: str) -> str | None:
    """The id prefix of a built-in derivation file given by path (``derivations/luo2019/x.py`` -> ``luo2019``)."""
    root = home()
    if root is None:
        return None
    try:
        rel = Path(path).resolve().relative_to((root / "derivations").resolve())
    except ValueError:
        return None
    return rel.parts[0].removesuffix(".py") if rel.parts and rel.parts[0] != "__init__.py" else None


def load(targets: list[str], with_checks: bool = False) -> tuple[Catalog, list[str]]:
    """Load what ``targets`` name: paths of user files, and ids of built-ins.

    Returns the catalog and the ids to select (user files contribute all their theorems).
    """
    catalog = Catalog()
    paths = [t for t in targets if t.endswith(".py") or os.sep in t or Path(t).is_file()]
    ids = [t for t in targets if t not in paths]
    builtin = [p for p in paths if _builtin_id(p) is not None]  # a built-in file named by its path
    ids += [i for i in (_builtin_id(p) for p in builtin) if i is not None]
    paths = [p for p in paths if p not in builtin]
    if ids or not paths:
        load_builtin(catalog, with_checks)
    selected = list(ids)
    seen: set[Path] = set()
    for p in paths:
        where = Path(p).resolve() if Path(p).is_file() else Path(p)
        if where in seen:  # the same file named twice is loaded once
            continue
        seen.add(where)
        before = set(catalog.entries)
        load_file(p, catalog, with_checks)
        selected += [t for t in catalog.entries if t not in before]
    return catalog, selected
