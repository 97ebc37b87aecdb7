"""``bnsym audit power | calibration | docs``: the command line of the audits (see :mod:`bnsym.audit`).

Exit codes: ``0`` the audit found nothing wrong; ``1`` a check missed a 10% error it claims to
resolve (power), or the false alarms exceed the stated rate (calibration); ``2`` usage error;
``3`` some claim's audit stayed undecided.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any, Callable

from ..cli import _positive_int, _sample_count
from ..errors import UsageError

DEFAULT_SEEDS = 20
DOC = Path("docs") / "audit.md"


def _mc_options(p: argparse.ArgumentParser, probability: Callable[[str], float], alpha: float) -> None:
    p.add_argument("--seed", type=int, default=0, help="base seed (default 0)")
    p.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda or cuda:N")
    p.add_argument("--resolution", type=probability, default=0.04, metavar="R",
                   help="target relative resolution of each Monte Carlo test, as `bnsym check` (default 0.04)")
    p.add_argument("--alpha", type=probability, default=alpha, metavar="A",
                   help=f"suite-wide false-alarm rate of each run (default {alpha:g})")


def add_parser(sub: Any, targets_and_output: Callable[..., None], probability: Callable[[str], float]) -> None:
    a = sub.add_parser("audit", help="audit the checks: mutant power, false-alarm calibration, docs/audit.md",
                       description=(
                           "Audit the checks themselves. `power`: mutate every closed form (a scale error 1 +- delta,"
                           " a constant off by 10%, a flipped sign, an exponent off by one, two symbols swapped, a"
                           " term dropped) and run the same checks on each mutant. `calibration`: rerun the Monte"
                           " Carlo suite over many seeds and compare its false alarms with the stated rate. `docs`:"
                           " both, written up as docs/audit.md."),
                       epilog="Exit codes: 0 nothing wrong found, 1 a check misses an error it claims to resolve or"
                              " false alarms exceed the stated rate, 2 usage error, 3 an audit stayed undecided.")
    asub = a.add_subparsers(dest="audit", metavar="AUDIT", parser_class=type(a))

    pw = asub.add_parser("power", help="which mutants of each closed form its checks catch", description=(
        "For every claim with a Monte Carlo or numeric check: run the check, then each mutant of its closed form"
        " through the same check (Monte Carlo mutants on the very units simulated for the claim). Per claim:"
        " mutants caught, the smallest scale error caught beside the resolution the check states, and whether a"
        " 10% error is caught (or why not)."))
    targets_and_output(pw)
    _mc_options(pw, probability, 0.01)
    pw.add_argument("--only", choices=("monte-carlo", "numeric"), help="audit one kind of check only")
    pw.add_argument("--per-kind", type=_positive_int, default=3, metavar="K",
                    help="structural mutants of each kind per claim (default 3)")
    pw.add_argument("--points", type=_positive_int, default=8, metavar="N",
                    help="random points of each numeric check of a mutant (default 8)")
    pw.add_argument("--markdown", metavar="FILE.md", help="also write the results as a Markdown table")

    cb = asub.add_parser("calibration", help="false alarms over many seeds vs the stated rate", description=(
        "Rerun every statistical Monte Carlo check once per seed and count false alarms (a claim believed true"
        " refuted) suite-wide and per test, against the stated rate, with exact binomial intervals and p-values."
        " The default rate 0.2 is larger than `bnsym check`'s 0.01 so that twenty seeds can tell a rate kept"
        " from one exceeded."))
    targets_and_output(cb)
    _mc_options(cb, probability, 0.2)
    cb.add_argument("--seeds", type=_positive_int, default=DEFAULT_SEEDS, metavar="N",
                    help=f"number of runs, seeds SEED .. SEED+N-1 (default {DEFAULT_SEEDS})")
    cb.add_argument("--samples", type=_sample_count, metavar="N",
                    help="fixed units per point in every run, in place of --resolution (a cheaper calibration:"
                         " the tests at N units)")
    cb.add_argument("--markdown", metavar="FILE.md", help="also write the results as a Markdown table")

    dc = asub.add_parser("docs", help="write docs/audit.md from both audits", description=(
        "Write the audit document: the power audit of every built-in claim and the calibration over the seeds,"
        " with the command line, machine and versions. Runs both audits, or reads their --json output."))
    dc.add_argument("-o", "--output", default=str(DOC), metavar="FILE.md", help=f"the document (default {DOC})")
    dc.add_argument("--power-json", metavar="FILE", action="extend", nargs="+",
                    help="read the power audit from `bnsym audit power --json` output; several files are joined, a"
                         " claim audited in more than one taking its last result")
    dc.add_argument("--calibration-json", metavar="FILE",
                    help="read the calibration from `bnsym audit calibration --json`")
    _mc_options(dc, probability, 0.01)
    dc.add_argument("--seeds", type=_positive_int, default=DEFAULT_SEEDS, metavar="N",
                    help=f"runs of the calibration (default {DEFAULT_SEEDS})")
    dc.add_argument("--calibration-alpha", type=probability, default=0.2, metavar="A",
                    help="suite-wide rate of each calibration run (default 0.2)")
    dc.add_argument("--calibration-resolution", type=probability, metavar="R",
                    help="resolution of the calibration runs (default: --resolution)")
    dc.add_argument("--calibration-samples", type=_sample_count, metavar="N",
                    help="fixed units per point in the calibration runs, in place of a resolution")
    dc.add_argument("--quiet", action="store_true", help="no progress lines")


def _command_line(args: argparse.Namespace) -> str:
    return " ".join(["bnsym"] + list(getattr(args, "argv", ["audit", str(args.audit)])))


def environment() -> dict[str, Any]:
    """What a run's numbers depend on: versions, machine, date (recorded in each audit's JSON)."""
    import os
    import platform

    import mpmath
    import sympy
    import torch

    from .. import __version__

    return {"bnsym": __version__, "python": platform.python_version(), "sympy": sympy.__version__,
            "mpmath": mpmath.__version__, "torch": torch.__version__, "machine": platform.machine(),
            "cpus": os.cpu_count() or 1, "date": time.strftime("%Y-%m-%d")}


def _say(quiet: bool) -> Callable[[str], None]:
    def say(msg: str) -> None:
        if not quiet:
            print(msg, file=sys.stderr, flush=True)
    return say


def _plan(targets: list[str]) -> tuple[Any, list[str], Any]:
    from ..mc.engine import SuitePlan
    from ..registry import load

    catalog, ids = load(targets, with_checks=True)
    plan = SuitePlan()
    for entry, claims in catalog.select(ids):
        for cid, _claim, role in claims:
            for chk in catalog.checks.get(cid, []):
                plan.items.append((chk, entry.theorem, cid, role))
    return catalog, ids, plan


def _markdown_target(path: str | None) -> Path | None:
    from ..files import output_path

    return None if path is None else output_path(path, (".md",), "the Markdown file")


def run_power(args: argparse.Namespace, say: Callable[[str], None]) -> dict[str, Any]:
    from ..claims import ProcessClaim
    from ..mc.device import resolve_device
    from ..mc.engine import RunOptions
    from ..verify import Settings
    from .power import audit_monte_carlo, audit_numeric

    device = resolve_device(args.device)
    catalog, ids, plan = _plan(args.targets)
    only = getattr(args, "only", None)
    results = []
    started = time.perf_counter()
    if only != "numeric":
        options = RunOptions(seed=args.seed, device=device, alpha=args.alpha, resolution=args.resolution,
                             tests_in_suite=plan.tests, progress=None)
        for i, (chk, theorem, cid, role) in enumerate(plan.items, 1):
            r = _guarded(cid, chk.claim, role, audit_monte_carlo, chk, theorem, cid, role, options, args.per_kind)
            results.append(r)
            say(f"[mc {i}/{len(plan.items)}] {cid}: {_line(r)} ({r.seconds:.1f} s)")
    if only != "monte-carlo":
        settings = Settings(points=getattr(args, "points", 8), seed=args.seed, numeric_budget=30.0)
        symbolic = [(e.theorem, cid, c, role) for e, claims in catalog.select(ids) for cid, c, role in claims
                    if not isinstance(c, ProcessClaim)]
        for i, (theorem, cid, c, role) in enumerate(symbolic, 1):
            r = _guarded(cid, c, role, audit_numeric, theorem, c, cid, role, settings, args.per_kind)
            results.append(r)
            say(f"[numeric {i}/{len(symbolic)}] {cid}: {_line(r)} ({r.seconds:.1f} s)")
    if not results:
        raise UsageError("nothing to audit among the selected claims")
    return {"command": "audit power", "command_line": _command_line(args), "environment": environment(),
            "seed": args.seed, "device": str(device),
            "alpha": args.alpha, "resolution": args.resolution, "per_kind": args.per_kind,
            "seconds": round(time.perf_counter() - started, 1),
            "claims": [r.to_json() for r in results]}


def _guarded(cid: str, claim: Any, role: str, audit: Callable[..., Any], *args: Any) -> Any:
    """``audit(*args)``, the audit of one claim; a failure of the audit machinery is that claim's UNDECIDED row,
    not the end of the run."""
    from ..errors import BnsymError
    from .power import ClaimPower

    try:
        return audit(*args)
    except BnsymError:
        raise
    except Exception as exc:
        from ..claims import ProcessClaim

        family = "monte-carlo" if isinstance(claim, ProcessClaim) else "numeric"
        return ClaimPower(cid, claim.kind, family, role, "UNDECIDED", None,
                          reason=f"the audit failed to run: {type(exc).__name__}: {exc}")


def _line(r: Any) -> str:
    if not r.mutants:
        return r.reason or r.original
    ten = {True: "10% caught", False: "10% NOT caught", None: "10% untestable"}[r.catches_ten_percent]
    small = f", smallest caught {r.smallest_caught:g}" if r.smallest_caught is not None else ""
    return f"{r.caught}/{r.tried} caught ({r.equivalent} equivalent), {ten}{small}"


def power_exit(result: dict[str, Any]) -> int:
    """1 when a check missed a 10% error it claims to resolve, or refutes a claim believed true; 3 when a claim's
    own check did not hold it (so its mutants could not be judged) or its audit stayed undecided; else 0."""
    from .power import DEFECT

    claims = [c for c in result["claims"] if c["role"] != "printed"]
    if any(c["reason"].startswith(DEFECT) or c["original"] == "REFUTED" for c in claims):
        return 1
    if any(c["original"] not in ("CONSISTENT", "MEASURED", "NUMERIC", "") for c in claims):
        return 3
    return 0


def run_calibration(args: argparse.Namespace, say: Callable[[str], None], alpha: float | None = None,
                    resolution: float | None = None, samples: int | None = None) -> dict[str, Any]:
    from ..claims import Measurement
    from ..mc.device import resolve_device
    from ..mc.engine import RunOptions
    from .calibration import calibrate

    device = resolve_device(args.device)
    _, _, plan = _plan(args.targets)
    if not plan.items:
        raise UsageError("no Monte Carlo checks among the selected claims")
    options = RunOptions(seed=args.seed, device=device, alpha=alpha if alpha is not None else args.alpha,
                         resolution=resolution if resolution is not None else args.resolution,
                         samples=samples if samples is not None else getattr(args, "samples", None))
    if not any(not isinstance(chk.claim, Measurement) and not chk.claim.every for chk, _, _, _ in plan.items):
        raise UsageError("nothing to calibrate: the selected checks are measurements or bounds on every instance,"
                         " which have no statistical threshold")
    seeds = list(range(args.seed, args.seed + args.seeds))
    result = calibrate(plan, seeds, options, say)
    return {"command": "audit calibration", "command_line": _command_line(args), "environment": environment(),
            "device": str(device), **result.to_json()}


def calibration_exit(result: dict[str, Any]) -> int:
    """1 when the false alarms exceed the stated rate; 3 when some run did not decide a check (ERROR or
    UNDECIDED: the runs that decided carry the count); else 0."""
    from .calibration import summarize

    suite = summarize(result)
    if not (suite["kept"] and suite["kept_per_test"]):
        return 1
    return 3 if suite["runs_undecided"] else 0


def run(args: argparse.Namespace) -> int:
    from . import markdown

    if args.audit is None:
        raise UsageError("say which audit: `bnsym audit power`, `bnsym audit calibration` or `bnsym audit docs`")
    say = _say(getattr(args, "quiet", False))
    if args.audit == "docs":
        return _docs(args, say)
    md = _markdown_target(args.markdown)
    if args.audit == "power":
        result = run_power(args, say)
        code = power_exit(result)
        text = markdown.power(result)
    else:
        result = run_calibration(args, say)
        code = calibration_exit(result)
        text = markdown.calibration(result)
    result["exit_code"] = code
    if md is not None:
        from ..files import write_atomically

        write_atomically(md, text)
    if args.json:
        print(json.dumps(result, indent=2, default=str))
    else:
        print(text)
    return code


REQUIRED = {"audit power": ("claims", "seed", "device", "alpha", "resolution", "per_kind", "seconds"),
            "audit calibration": ("checks", "seeds", "alpha", "tests_per_run", "seconds", "device")}


def _read_json(path: str, command: str) -> dict[str, Any]:
    try:
        data = json.loads(Path(path).read_text())
    except OSError as exc:
        raise UsageError(f"cannot read {path!r}: {exc.strerror or exc}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path!r} is not JSON: {exc}") from None
    if not isinstance(data, dict) or data.get("command") != command:
        raise UsageError(f"{path!r} is not the --json output of `bnsym {command}`")
    missing = [k for k in REQUIRED[command] if k not in data]
    if missing:
        raise UsageError(f"{path!r} lacks {', '.join(missing)}: not a complete `bnsym {command} --json` output")
    return data


def _not_covered(power: dict[str, Any]) -> list[str]:
    """The built-in claims with a check that the power audit does not cover (derived from the catalog)."""
    from ..claims import ProcessClaim

    catalog, ids, plan = _plan([])
    done = {c["claim_id"] for c in power["claims"]}
    out = [cid for _, _, cid, _ in plan.items if cid not in done]
    out += [cid for e, claims in catalog.select(ids) for cid, c, _ in claims
            if not isinstance(c, ProcessClaim) and cid not in done]
    return list(dict.fromkeys(out))


def _not_calibrated(calib: dict[str, Any]) -> list[str]:
    """The built-in statistical checks (neither measurements nor bounds on every instance) the calibration left
    out of its selection."""
    from ..claims import Measurement

    _, _, plan = _plan([])
    done = {c["claim_id"] for c in calib["checks"]} | {x["id"] for x in calib.get("not_rerun", [])}
    return list(dict.fromkeys(cid for chk, _, cid, _ in plan.items if cid not in done
                              and not isinstance(chk.claim, Measurement) and not chk.claim.every))


def _family(c: dict[str, Any]) -> str:
    """Which kind of check a power row audits: a Monte Carlo check (process claims) or a numeric one."""
    if c["check"] in ("numeric", "quadrature"):
        return "numeric"
    if c["check"].startswith("monte-carlo"):
        return "monte-carlo"
    return "monte-carlo" if c["claim_kind"] in ("process", "measurement") else "numeric"


def _join_power(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """Several power audits (e.g. one per paper) as one: their claims in order, their seconds added."""
    joined = dict(parts[0])
    latest: dict[tuple[str, str], dict[str, Any]] = {}  # a claim audited again in a later run: the later result
    for p in parts:
        for c in p["claims"]:
            key = (c["claim_id"], _family(c))
            latest.pop(key, None)
            latest[key] = c
    joined["claims"] = list(latest.values())
    joined["seconds"] = sum(p["seconds"] for p in parts)
    joined["runs"] = [{k: v for k, v in p.items() if k != "claims"} for p in parts]
    return joined


def _docs(args: argparse.Namespace, say: Callable[[str], None]) -> int:
    from ..files import write_atomically
    from . import markdown

    out = _markdown_target(args.output)
    assert out is not None
    args.targets, args.per_kind, args.points, args.only = [], 3, 8, None
    power = (_join_power([_read_json(p, "audit power") for p in args.power_json]) if args.power_json
             else run_power(args, say))
    calib = (_read_json(args.calibration_json, "audit calibration") if args.calibration_json else
             run_calibration(args, say, args.calibration_alpha, args.calibration_resolution,
                             args.calibration_samples))
    text = markdown.document(power, calib, _command_line(args), _not_covered(power), _not_calibrated(calib))
    write_atomically(out, text)
    print(f"wrote {out}")
    codes = {power_exit(power), calibration_exit(calib)}
    return 1 if 1 in codes else max(codes)
