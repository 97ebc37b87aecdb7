"""``bnsym bench``: the command line of the bench (see :mod:`bnsym.bench.runner`).

Exit codes: ``0`` the bench ran and every baseline agrees with bnsym; ``1`` a baseline's estimate
disagrees with bnsym's (one of the simulations is not the process it claims to be), or, with
``--require-targets``, a speed-up target was missed; ``2`` usage error.
"""

from __future__ import annotations

import argparse
import importlib
import json
import math
import subprocess
import sys
import time
from typing import Any, Callable

import torch

from ..errors import UsageError
from ..mc.stats import POWER, normal_quantile
from .family import Family
from .runner import (
    ESTIMATORS,
    MEMORY_FLAT,
    TARGETS,
    TIME_LINEAR,
    FamilyResult,
    memory_growth,
    run_family,
    time_exponent,
)

FAMILY_MODULES = {"batch-statistics": "batch_statistics", "teacher-student": "teacher_student",
                  "least-squares": "least_squares", "bngd": "bngd"}
SUITE_TARGETS = {"verify": 60.0, "check": 600.0}  # seconds: every built-in claim verified; the default check
SMOKE_SECONDS = 0.02  # --smoke: the shortest timing run (a test that the bench runs, not a measurement)


def load_family(key: str) -> Family:
    if key not in FAMILY_MODULES:
        raise UsageError(f"unknown bench family {key!r}; choose from {', '.join(FAMILY_MODULES)}")
    family: Family = importlib.import_module(f"{__package__}.{FAMILY_MODULES[key]}").FAMILY
    return family


def add_parser(sub: Any, positive_float: Callable[[str], float], probability: Callable[[str], float]) -> None:
    b = sub.add_parser("bench", help="time to a verdict: bnsym against numpy baselines of the same process",
                       description=(
                           "For each simulator family, on one point of one built-in check: units per second, unit"
                           " standard deviation and time to the target relative resolution of bnsym's estimator"
                           " (the check's own simulator, streamed as `bnsym check` runs it) and of two numpy"
                           " baselines of the same process (a loop over units, and one vectorized computation),"
                           " measured in one run; the speed-ups against the targets (20x the loop, 3x vectorized);"
                           " how time and peak memory grow with the units; the family's own comparisons (64"
                           " learning rates in one call against a loop over them). `--suite` also times `bnsym"
                           " verify` and `bnsym check` end to end."),
                       epilog="Exit codes: 0 ran and the estimates agree, 1 a baseline disagrees with bnsym (or a"
                              " target missed with --require-targets), 2 usage error.")
    b.add_argument("families", nargs="*", metavar="FAMILY",
                   help=f"families to bench (default all): {', '.join(FAMILY_MODULES)}")
    b.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda or cuda:N")
    b.add_argument("--seed", type=int, default=0, help="base seed (default 0)")
    b.add_argument("--min-seconds", type=positive_float, default=2.0, metavar="S",
                   help="each estimator is timed on a run of at least S seconds (default 2)")
    b.add_argument("--resolution", type=probability, default=0.01, metavar="R",
                   help="relative resolution the time to a verdict refers to (default 0.01)")
    b.add_argument("--alpha", type=probability, default=0.01, metavar="A",
                   help="level of the test the resolution is stated for, and of the agreement test (default 0.01)")
    b.add_argument("--direct-seconds", type=positive_float, default=30.0, metavar="S",
                   help="run bnsym to the target resolution for real when that projects to at most S s (default 30)")
    b.add_argument("--no-scaling", action="store_true", help="skip the time and memory scaling runs")
    b.add_argument("--suite", action="append", choices=tuple(SUITE_TARGETS), default=[],
                   help="also time `bnsym verify` or `bnsym check` over all built-ins (repeatable)")
    b.add_argument("--smoke", action="store_true",
                   help=f"a tiny run that exercises every part ({SMOKE_SECONDS} s runs): not a measurement")
    b.add_argument("--require-targets", action="store_true", help="exit 1 when a speed-up target is missed")
    b.add_argument("--markdown", metavar="FILE.md", help="also write the results as Markdown (docs/benchmarks.md)")
    b.add_argument("--json", action="store_true", help="print JSON on stdout (progress goes to stderr)")
    b.add_argument("--quiet", action="store_true", help="no progress lines")


def _say(quiet: bool) -> Callable[[str], None]:
    def say(msg: str) -> None:
        if not quiet:
            print(msg, file=sys.stderr, flush=True)
    return say


def time_suite(command: str, device: str, say: Callable[[str], None]) -> dict[str, Any]:
    """Wall time of ``bnsym COMMAND --json --quiet`` over all built-ins, in a fresh process (the check on the
    bench's device). The target counts as met only when the command also ends with exit code 0."""
    say(f"suite: bnsym {command} (all built-ins) ...")
    began = time.perf_counter()
    extra = ["--device", device] if command == "check" else []
    done = subprocess.run([sys.executable, "-m", "bnsym", command, "--json", "--quiet", *extra],
                          capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - began
    try:
        summary = json.loads(done.stdout).get("summary")
    except json.JSONDecodeError:
        summary = None
    say(f"suite: bnsym {command}: {seconds:.1f} s, exit {done.returncode}")
    return {"command": f"bnsym {command}", "seconds": seconds, "exit_code": done.returncode, "summary": summary,
            "target_seconds": SUITE_TARGETS[command],
            "met": done.returncode == 0 and seconds <= SUITE_TARGETS[command]}


def cmd_bench(args: argparse.Namespace) -> int:
    from ..audit.cli import environment
    from ..files import output_path, write_atomically
    from ..mc.device import resolve_device
    from ..registry import load
    from .markdown import render

    keys = list(dict.fromkeys(args.families)) or list(FAMILY_MODULES)
    families = [load_family(k) for k in keys]
    markdown = output_path(args.markdown, (".md",), "the Markdown file") if args.markdown else None
    device = resolve_device(args.device)
    say = _say(args.quiet)
    min_seconds = SMOKE_SECONDS if args.smoke else args.min_seconds
    direct_seconds = 0.0 if args.smoke else args.direct_seconds
    started = time.perf_counter()
    results = []
    for family in families:
        catalog, ids = load([family.claim], with_checks=True)
        checks = catalog.checks.get(family.claim, [])
        if not checks:
            raise UsageError(f"bench family {family.key}: claim {family.claim} has no Monte Carlo check")
        theorem = next(entry.theorem for entry, _ in catalog.select(ids))
        results.append(run_family(family, checks[0], theorem, device=device, seed=args.seed,
                                  min_seconds=min_seconds, resolution=args.resolution, alpha=args.alpha,
                                  direct_seconds=direct_seconds, with_scaling=not args.no_scaling,
                                  with_limits=family.limits, say=say, quick_scaling=args.smoke,
                                  comparisons=2 * len(families)))
    suite = [time_suite(c, args.device, say) for c in dict.fromkeys(args.suite)]
    out = to_json(results, suite, args, device)
    out["environment"] = {**environment(), "processor": _processor(), "device": _device_text(device),
                          "torch_threads": torch.get_num_threads(),  # the process-wide default; see below
                          "torch_threads_note": "simulators of small tensors run on one intra-op thread each"}
    out["command_line"] = " ".join(["bnsym"] + list(getattr(args, "argv", ["bench"])))
    out["seconds"] = round(time.perf_counter() - started, 3)
    missed = [t for t in out["targets"] if not t["met"]]
    disagreements = [d for r in results for d in r.disagreements]
    code = 1 if disagreements or (args.require_targets and missed) else 0
    out["exit_code"] = code
    if markdown is not None:
        write_atomically(markdown, render(out))
    out = finite_json(out)
    if args.json:
        print(json.dumps(out, indent=2, allow_nan=False))
    else:
        print(text(out))
    for d in disagreements:
        print(f"bnsym: disagreement: {d}", file=sys.stderr)
    return code


def finite_json(x: Any) -> Any:
    """``x`` with every non-finite float replaced by None, so that the JSON is standard."""
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if isinstance(x, dict):
        return {k: finite_json(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [finite_json(v) for v in x]
    return x


def _device_text(device: torch.device) -> str:
    if device.type == "cuda":
        return f"{device} ({torch.cuda.get_device_name(device)})"
    return "cpu"


def _processor() -> str:
    """The CPU model, from /proc/cpuinfo where there is one."""
    import platform

    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _ratio(a: float, b: float) -> float:
    return a / b if b > 0 else math.inf


def to_json(results: list[FamilyResult], suite: list[dict[str, Any]], args: argparse.Namespace,
            device: torch.device) -> dict[str, Any]:
    targets: list[dict[str, Any]] = []
    families = []
    for r in results:
        scale = abs(r.tested) if r.tested else 1.0
        z = normal_quantile(1 - args.alpha / 2) + normal_quantile(POWER)
        ours = r.timings["bnsym"]
        estimators = []
        for name in ESTIMATORS:
            t = r.timings[name]
            row: dict[str, Any] = {"estimator": name, "units": t.units, "seconds": t.seconds, "units_per_s": t.rate,
                   "estimate": t.estimate, "stderr": t.stderr, "unit_sd": t.unit_sd,
                   "units_to_resolution": t.units_for(args.resolution, scale, z),
                   "seconds_to_resolution": t.time_for(args.resolution, scale, z),
                   "warmup_runs": [{"units": u, "seconds": s} for u, s in t.warmups]}
            if name != "bnsym":
                row["rate_ratio"] = _ratio(ours.rate, t.rate)
                row["speedup_to_resolution"] = _ratio(t.time_for(args.resolution, scale, z),
                                                      ours.time_for(args.resolution, scale, z))
                targets.append({"family": r.family.key, "against": name, "target": TARGETS[name],
                                "measured": row["speedup_to_resolution"],
                                "met": row["speedup_to_resolution"] >= TARGETS[name]})
            estimators.append(row)
        extras = []
        for e in r.extras:
            extra_rows = [{"name": x.name, "seconds": x.seconds, "units": x.units,
                           "units_per_s": _ratio(x.units, x.seconds), "note": x.note} for x in e.rows]
            base = next(x for x in e.rows if x.name == e.baseline)
            speedup = _ratio(base.seconds / base.units, e.rows[0].seconds / e.rows[0].units)
            extras.append({"title": e.title, "rows": extra_rows, "baseline": e.baseline, "speedup": speedup,
                           "target": e.target})
            if e.target is not None:
                targets.append({"family": r.family.key, "against": e.baseline, "target": e.target,
                                "measured": speedup, "met": speedup >= e.target, "what": e.title})
        scaling = {}
        for name, scale_rows in r.scaling.items():
            exponent, growth = time_exponent(scale_rows), memory_growth(scale_rows)
            scaling[name] = {"rows": scale_rows, "time_exponent": exponent, "memory_growth": growth,
                             "time_linear": TIME_LINEAR[0] <= exponent <= TIME_LINEAR[1],
                             "memory_flat": None if growth is None else growth < MEMORY_FLAT}
        families.append({
            "family": r.family.key, "title": r.family.title, "claim": r.family.claim, "unit": r.family.unit,
            "notes": r.family.notes, "point": {k: v for k, v in r.point.items() if _plain(v)},
            "claimed": r.claimed, "tested": r.tested, "tested_name": r.tested_name, "estimators": estimators,
            "direct": r.direct, "scaling": scaling, "extras": extras, "limits": r.limits,
            "disagreements": r.disagreements})
    for s in suite:
        targets.append({"family": "suite", "against": s["command"], "target": s["target_seconds"],
                        "measured": s["seconds"], "met": s["met"], "what": "seconds at most"})
    return {"command": "bench", "smoke": bool(args.smoke), "resolution": args.resolution, "alpha": args.alpha,
            "min_seconds": SMOKE_SECONDS if args.smoke else args.min_seconds, "families": families,
            "suite": suite, "targets": targets}


def _plain(v: Any) -> bool:
    return isinstance(v, (int, float, str, bool)) or v is None


def _fmt(x: float | None, digits: int = 3) -> str:
    if x is None or not math.isfinite(x):
        return "-" if x is None else str(x)
    return f"{x:.{digits}g}"


def seconds_text(s: float | None) -> str:
    if s is None:
        return "-"
    if not math.isfinite(s):
        return str(s)
    if s < 120:
        return f"{s:.3g} s"
    if s < 7200:
        return f"{s / 60:.3g} min"
    return f"{s / 3600:.3g} h"


def text(out: dict[str, Any]) -> str:
    lines = []
    res = out["resolution"]
    for f in out["families"]:
        lines.append(f"\n{f['family']}: {f['claim']}  ({f['unit']}; {f['tested_name']} {_fmt(f['tested'], 6)})")
        lines.append(f"  {'estimator':<18}{'units/s':>11}{'unit sd':>11}{'estimate':>13}"
                     f"  {'time to ' + format(100 * res, 'g') + '%':>12}{'speed-up':>10}")
        for e in f["estimators"]:
            speed = "" if e["estimator"] == "bnsym" else f"{_fmt(e['speedup_to_resolution'])}x"
            lines.append(f"  {e['estimator']:<18}{_fmt(e['units_per_s']):>11}{_fmt(e['unit_sd']):>11}"
                         f"{_fmt(e['estimate'], 6):>13}  {seconds_text(e['seconds_to_resolution']):>12}{speed:>10}")
        if f["direct"]:
            d = f["direct"]
            lines.append(f"  bnsym run to the target: {d['units']} units in {seconds_text(d['seconds'])},"
                         f" resolution {100 * d['resolution']:.2g}%")
        for name, s in f["scaling"].items():
            growth = "memory not read" if s["memory_growth"] is None else f"peak memory x{s['memory_growth']:.2g}"
            lines.append(f"  scaling of {name}: time ~ units^{s['time_exponent']:.2f}, {growth} over"
                         f" x{int(s['rows'][-1]['units'] / s['rows'][0]['units'])} units")
        for e in f["extras"]:
            lines.append(f"  {e['title']}:")
            for x in e["rows"]:
                lines.append(f"    {x['name']:<44}{seconds_text(x['seconds']):>10}  ({x['units']} runs)")
            lines.append(f"    speed-up over {e['baseline']}: {_fmt(e['speedup'])}x")
        if f["limits"]:
            lim = f["limits"]
            lines.append(f"  device limits: randn {_fmt(lim['randn_per_s'])}/s, copy {_fmt(lim['copy_bytes_per_s'])}"
                         f" B/s; bnsym draws {_fmt(lim['draws_per_s'])}/s = {100 * lim['rng_fraction']:.2g}% of the"
                         f" randn rate, >= {100 * lim['bandwidth_fraction_lower_bound']:.2g}% of the bandwidth")
    for s in out["suite"]:
        lines.append(f"\n{s['command']}: {seconds_text(s['seconds'])} (exit {s['exit_code']})")
    lines.append("\ntargets:")
    for t in out["targets"]:
        what = t.get("what", "time to resolution, speed-up")
        unit = "s" if t["family"] == "suite" else "x"
        lines.append(f"  {'met ' if t['met'] else 'MISSED'} {t['family']:<17} {t['against']:<34}"
                     f" {_fmt(t['measured'])}{unit} (target {_fmt(t['target'])}{unit}; {what})")
    if out["smoke"]:
        lines.append("(smoke run: the numbers exercise the bench and measure nothing)")
    return "\n".join(lines).lstrip("\n")
