"""The ``bnsym`` command line: list, verify, check, figure, latex, report.

Exit codes: 0 every claim holds; 1 a claim was refuted; 2 usage error (unknown id, bad
option, a file that does not load); 3 something stayed undecided or errored.
A refuted *printed* form of an erratum is the expected finding and does not fail a run;
its corrected form must hold.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from typing import Any, NoReturn, Sequence

from . import __version__
from .claims import ProcessClaim
from .errors import BnsymError, UsageError
from .numeric import MIN_DPS
from .verdict import Status, Verdict

MIN_UNITS = 100  # below this the delta-method standard error is not to be trusted

EXIT_OK, EXIT_REFUTED, EXIT_USAGE, EXIT_UNDECIDED = 0, 1, 2, 3

MARK = {Status.PROVEN: "✓", Status.NUMERIC: "≈", Status.CONSISTENT: "~", Status.REFUTED: "✗", Status.MEASURED: "·",
        Status.UNDECIDED: "?", Status.ERROR: "!"}


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line and exit 2, no traceback
        self.print_usage(sys.stderr)
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        raise SystemExit(EXIT_USAGE)


def _positive_float(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not v > 0:
        raise argparse.ArgumentTypeError(f"must be positive: {text!r}")
    if not math.isfinite(v):  # an infinite budget would let a hanging simplification run forever
        raise argparse.ArgumentTypeError(f"must be finite: {text!r}")
    return v


def _positive_int(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if v <= 0:
        raise argparse.ArgumentTypeError(f"must be positive: {text!r}")
    return v


def _probability(text: str) -> float:
    v = _positive_float(text)
    if v >= 1:
        raise argparse.ArgumentTypeError(f"must lie in (0, 1): {text!r}")
    return v


def _sample_count(text: str) -> int:
    v = _positive_int(text)
    if v < MIN_UNITS:
        raise argparse.ArgumentTypeError(f"at least {MIN_UNITS} units are needed for a standard error: {text!r}")
    return v


def _digits(text: str) -> int:
    v = _positive_int(text)
    if v < MIN_DPS:
        raise argparse.ArgumentTypeError(f"at least {MIN_DPS} digits are needed for a meaningful residual: {text!r}")
    return v


def _targets_and_output(p: argparse.ArgumentParser, progress: bool = True) -> None:
    """The options every command shares: what to load, and how to print."""
    p.add_argument("targets", nargs="*", metavar="ID|PATH",
                   help="theorem or claim ids, paper prefixes, or paths of derivation files (default: all built-ins)")
    p.add_argument("--json", action="store_true", help="print JSON on stdout" + (
        " (progress goes to stderr)" if progress else ""))
    if progress:
        p.add_argument("--quiet", action="store_true", help="no progress lines")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="bnsym", description=(
        "Check derivations in the theory of batch normalization: proven by SymPy where it can be, "
        "checked to 50 digits with mpmath where it cannot, and cross-checked against Monte Carlo "
        "simulations of the real process."),
        epilog="Exit codes: 0 all hold, 1 something refuted, 2 usage error, 3 undecided or error.")
    p.add_argument("--version", action="version", version=f"bnsym {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    ls = sub.add_parser("list", help="list theorems and claims", description="List the built-in theorems (or those "
                        "of the given files) with their claims, kinds and whether a Monte Carlo check exists.")
    _targets_and_output(ls, progress=False)

    v = sub.add_parser("verify", help="prove claims symbolically (numeric fallback)", description=(
        "Verify claims: each is tried by a ladder of SymPy strategies under a wall-clock budget, then, where "
        "SymPy is undecided, checked with mpmath at random points of its domain (reported NUMERIC, not "
        "PROVEN). With no ID, every built-in theorem. A PATH is a user's derivation file (.py), or a LaTeX file"
        " (.tex) whose equation chains are checked step by step (see the README for its domain comments)."))
    _targets_and_output(v)
    v.add_argument("--budget", type=_positive_float, default=10.0, metavar="S",
                   help="seconds per symbolic strategy (default 10)")
    v.add_argument("--numeric-budget", type=_positive_float, default=60.0, metavar="S",
                   help="seconds for the numeric check of one claim or link (default 60)")
    v.add_argument("--claim-budget", type=_positive_float, metavar="S",
                   help="seconds for one claim in all, however many links and strategies (default: no cap;"
                        " each part keeps its own budget); what is left when it is spent is UNDECIDED")
    v.add_argument("--points", type=_positive_int, default=24, metavar="N",
                   help="random points for the numeric fallback (default 24)")
    v.add_argument("--dps", type=_digits, default=50, metavar="D",
                   help=f"mpmath digits, at least {MIN_DPS} (default 50)")
    v.add_argument("--seed", type=int, default=0, help="seed of the random points (default 0)")
    v.add_argument("--jobs", type=_positive_int, metavar="N",
                   help="claims verified at once, in forked worker processes (default: the CPUs this process may"
                        " use); verdicts do not depend on it, except that a claim near a wall-clock budget may be"
                        " decided differently on busier cores")

    c = sub.add_parser("check", help="Monte Carlo checks of process claims", description=(
        "Run the Monte Carlo checks: simulate the real process on torch, and test each closed form with a "
        "stated suite-wide false-alarm rate (Bonferroni over the tests of the run). Exact claims get a z-test "
        "per point; asymptotic claims an order fit over a ladder of the asymptotic variable."))
    _targets_and_output(c)
    c.add_argument("--seed", type=int, default=0, help="base seed (default 0)")
    c.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda or cuda:N")
    size = c.add_mutually_exclusive_group()
    size.add_argument("--samples", type=_sample_count, metavar="N",
                      help=f"fixed number of units (batches) per point, at least {MIN_UNITS}")
    size.add_argument("--resolution", type=_probability, default=0.04, metavar="R",
                      help="target relative resolution per test (default 0.04)")
    c.add_argument("--alpha", type=_probability, default=0.01, help="suite-wide false-alarm rate (default 0.01)")

    f = sub.add_parser("figure", help="draw a theory-vs-simulation figure to a file", description=(
        "Draw a built-in figure (closed-form curves beside simulated points with error bars) and write it to a"
        " file (.png, .pdf or .svg). With no NAME, list the figures."))
    f.add_argument("name", nargs="?", metavar="NAME", help="figure id, e.g. luo2019.fig1")
    f.add_argument("-o", "--output", metavar="FILE", help="output file (default NAME.png in the current folder)")
    f.add_argument("--seed", type=int, default=0, help="seed of the simulations (default 0)")
    f.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda or cuda:N")
    f.add_argument("--quick", action="store_true", help="fewer simulated points and problems (a smoke run)")
    f.add_argument("--json", action="store_true", help="print what was drawn as JSON on stdout")
    f.add_argument("--quiet", action="store_true", help="no progress lines")

    tx = sub.add_parser("latex", help="typeset theorems, derivations and verdicts as LaTeX", description=(
        "Typeset theorems (statement, parameter domains, assumptions, derivation steps with one justification and"
        " verdict mark each, errata side by side, Monte Carlo evidence tables, source) as LaTeX. Every formula is"
        " parsed back with SymPy's LaTeX parser and proven equal to the expression it came from; a formula that"
        " does not round-trip exits 1 and is named."))
    tx.add_argument("targets", nargs="+", metavar="ID", help="theorem ids (luo2019.L3) or paper ids (luo2019)")
    tx.add_argument("-o", "--output", metavar="FILE", help="output .tex file (default: stdout)")
    tx.add_argument("--snippet", action="store_true", help="an includable fragment, not a standalone document")
    tx.add_argument("--check", action="store_true", help="also run the Monte Carlo checks to fill the evidence tables")
    tx.add_argument("--no-verify", action="store_true", help="typeset only: no symbolic verification")
    tx.add_argument("--max-chars", type=_positive_int, metavar="N",
                    help="parse back only formulas printed in at most N characters (the others are reported)")
    tx.add_argument("--jobs", type=_positive_int, metavar="N", help="processes for the round trip (default: CPUs)")
    tx.add_argument("--seed", type=int, default=0, help="seed of the Monte Carlo checks (default 0)")
    tx.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda or cuda:N")
    tx.add_argument("--json", action="store_true", help="print a JSON summary on stdout (progress goes to stderr)")
    tx.add_argument("--quiet", action="store_true", help="no progress lines")

    rp = sub.add_parser("report", help="one PDF: theorems, verdict summary, figures, provenance", description=(
        "Write one document with the chosen theorems (as `bnsym latex` typesets them), a summary table of verdicts,"
        " the theory-vs-simulation figures of the theorems' papers and provenance (package versions, seed, device,"
        " date, seconds per stage). The .tex and figures go to NAME_files/ next to NAME.pdf; the PDF is compiled"
        " with latexmk (or pdflatex) when one is installed."))
    rp.add_argument("targets", nargs="+", metavar="ID", help="theorem ids (luo2019.L3) or paper ids (luo2019)")
    rp.add_argument("-o", "--output", required=True, metavar="FILE.pdf", help="the PDF to write")
    rp.add_argument("--quick", action="store_true", help="figures in quick mode (fewer simulated points)")
    rp.add_argument("--no-figures", action="store_true", help="no figures")
    rp.add_argument("--check", action="store_true", help="also run the Monte Carlo checks for the evidence tables")
    rp.add_argument("--max-chars", type=_positive_int, default=150, metavar="N",
                    help="parse back only formulas printed in at most N characters (default 150)")
    rp.add_argument("--jobs", type=_positive_int, metavar="N", help="processes for the round trip (default: CPUs)")
    rp.add_argument("--seed", type=int, default=0, help="seed of the Monte Carlo checks and figures (default 0)")
    rp.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda or cuda:N")
    rp.add_argument("--json", action="store_true", help="print a JSON summary on stdout (progress goes to stderr)")
    rp.add_argument("--quiet", action="store_true", help="no progress lines")

    from .audit.cli import add_parser as add_audit_parser

    add_audit_parser(sub, _targets_and_output, _probability)
    from .bench.cli import add_parser as add_bench_parser

    add_bench_parser(sub, _positive_float, _probability)
    return p


def _progress(enabled: bool):
    def say(msg: str) -> None:
        if enabled:
            print(msg, file=sys.stderr, flush=True)
    return say


def _exit_code(verdicts: list[Verdict], errata: list[dict[str, Any]] | None = None) -> int:
    """0 all hold; 1 a claim refuted; 3 undecided, errored, or an erratum whose printed form was not refuted."""
    code = EXIT_UNDECIDED if any(not e["confirmed"] for e in errata or []) else EXIT_OK
    for v in verdicts:
        if v.status == Status.MEASURED:  # an exploratory measurement claims nothing
            continue
        if v.role == "printed":  # refuted is the expected finding; holding means the erratum is not confirmed
            if v.status in (Status.UNDECIDED, Status.ERROR):
                code = EXIT_UNDECIDED
            continue
        if v.status == Status.REFUTED:
            return EXIT_REFUTED
        if not v.status.holds:
            code = EXIT_UNDECIDED
    return code


def _print_verdict(v: Verdict, title: str, indent: str = "  ", params: dict[str, Any] | None = None) -> None:
    """A verdict's lines; ``params`` (name -> Param) prints an integer parameter's value as an integer."""
    role = {"printed": "printed:   ", "corrected": "corrected: "}.get(v.role, "")
    print(f"{indent}{MARK[v.status]} {v.status.value:<10} {role}{v.claim_id}  {title}")
    print(f"{indent}    {v.method}: {v.summary}")
    cx = v.evidence.get("counterexample")
    if cx:
        print(f"{indent}    counterexample: {_point_text(cx, params)}")
    for link in v.links:
        if not link.status.holds:
            print(f"{indent}    link {link.claim_id}: {link.status.value} ({link.evidence.get('justification', '')})"
                  f" {link.summary}")
            lcx = link.evidence.get("counterexample")
            if lcx:
                print(f"{indent}      counterexample: {_point_text(lcx, params)}")


def _point_text(point: dict[str, Any], params: dict[str, Any] | None) -> str:
    """``M=380, sigma=7.5`` : an integer parameter's value as an integer (the sampler's 380.0 is 380)."""
    params = params or {}
    return ", ".join(f"{k}={params[k].text(val) if k in params else val}" for k, val in point.items())


def _params_by_name(theorem: Any, claim: Any) -> dict[str, Any]:
    """The parameters in force for ``claim`` by name (for printing its points)."""
    return {p.name: p for p in theorem.domain(claim).values()}


def _errata(pairs: list[tuple[Any, Any, Verdict]]) -> list[dict[str, Any]]:
    """Printed vs corrected verdicts of every erratum among ``(theorem, claim, verdict)``.

    An erratum is confirmed when its printed form is refuted and its corrected form holds.
    """
    from .claims import Erratum

    by_claim = {id(c): v for _, c, v in pairs}
    seen: set[int] = set()
    out = []
    for theorem, _, _ in pairs:
        if id(theorem) in seen:
            continue
        seen.add(id(theorem))
        for item in theorem.claims:
            if isinstance(item, Erratum) and id(item.printed) in by_claim and id(item.corrected) in by_claim:
                p, c = by_claim[id(item.printed)], by_claim[id(item.corrected)]
                out.append({"printed": p.claim_id, "printed_status": p.status.value, "corrected": c.claim_id,
                            "corrected_status": c.status.value, "note": item.note,
                            "confirmed": p.status == Status.REFUTED and c.status.holds})
    return out


def _print_errata(errata: list[dict[str, Any]]) -> None:
    for e in errata:
        if e["confirmed"]:
            print(f"erratum confirmed: {e['printed']} {e['printed_status']}, {e['corrected']}"
                  f" {e['corrected_status']}: {e['note']}")
        else:
            print(f"erratum NOT confirmed: {e['printed']} {e['printed_status']}, {e['corrected']}"
                  f" {e['corrected_status']}")


def _summary(verdicts: list[Verdict]) -> dict[str, int]:
    out: dict[str, int] = {}
    for v in verdicts:
        out[v.status.value] = out.get(v.status.value, 0) + 1
    return out


def cmd_list(args: argparse.Namespace) -> int:
    from .registry import load

    catalog, ids = load(args.targets, with_checks=True)
    rows: list[dict[str, Any]] = []
    for entry, claims in catalog.select(ids):
        rows.append({"id": entry.id, "title": entry.theorem.title, "source": str(entry.theorem.source),
                     "claims": [{"id": cid, "kind": c.kind, "role": role, "title": c.title,
                                 "monte_carlo": cid in catalog.checks} for cid, c, role in claims]})
    if args.json:
        print(json.dumps({"command": "list", "theorems": rows}, indent=2))
        return EXIT_OK
    for t in rows:
        print(f"{t['id']}: {t['title']}  [{t['source']}]")
        for c in t["claims"]:
            extra = " [monte carlo]" if c["monte_carlo"] else ""
            role = f" ({c['role']})" if c["role"] != "claim" else ""
            print(f"    {c['id']}  {c['kind']}{role}{extra}  {c['title']}")
    return EXIT_OK


def _verify_tex_files(args: argparse.Namespace) -> int:
    """``bnsym verify FILE.tex ...``: check each file's equation chains; annotated copies beside them.

    Every file is read and parsed, and every annotated copy's folder checked, before the first step
    is checked: one bad file is a usage error that prints no report and writes no annotated copy, for
    any of the files. A copy is written once its file has been checked, whatever the verdicts.
    """
    from pathlib import Path

    from .texin import check_tex, read_tex, tex_settings

    settings = tex_settings(budget=args.budget, points=args.points, dps=args.dps, seed=args.seed)
    docs = [read_tex(path) for path in args.targets]
    inputs = [Path(t).resolve() for t in args.targets]
    twice = next((t for t, p in zip(args.targets, inputs) if inputs.count(p) > 1), None)
    if twice is not None:
        raise UsageError(f"{twice} is given more than once")
    clash = next((out for _, out in docs if out is not None and Path(out).resolve() in inputs), None)
    if clash is not None:  # a.tex and a.bnsym.tex in one run: the first one's copy would replace an input
        raise UsageError(f"the annotated copy {clash} would replace another input of this run; check those files"
                         " in separate runs")
    results = []
    for doc, out in docs:
        result = check_tex(doc, out, settings)
        results.append(result)
        if not args.json:
            print(result.report())
    verdicts = [v for r in results for v in r.verdicts]
    code = _exit_code(verdicts)
    if args.json:
        print(json.dumps({"command": "verify", "exit_code": code, "summary": _summary(verdicts),
                          "files": [r.to_json() for r in results]}, indent=2, default=str))
    return code


def cmd_verify(args: argparse.Namespace) -> int:
    from .registry import load
    from .verify import Settings, verify_all

    tex = [t for t in args.targets if t.endswith(".tex")]
    if tex:
        if len(tex) != len(args.targets):
            raise UsageError("give either .tex files or theorem ids and derivation files, not both in one run")
        return _verify_tex_files(args)
    say = _progress(not args.quiet)
    catalog, ids = load(args.targets)
    selection = catalog.select(ids)
    settings = Settings(budget=args.budget, points=args.points, dps=args.dps, seed=args.seed,
                        numeric_budget=args.numeric_budget, claim_budget=args.claim_budget)
    tasks = [(entry.theorem, c, cid, role) for entry, claims in selection for cid, c, role in claims
             if not isinstance(c, ProcessClaim)]
    if not tasks:
        named = " ".join(args.targets)
        raise UsageError(f"nothing to verify symbolically: the selection holds only process claims;"
                         f" run `bnsym check {named}`")
    deferred = [cid for _, claims in selection for cid, c, _ in claims if isinstance(c, ProcessClaim)]
    started = time.perf_counter()
    finished = 0

    def done(v: Verdict) -> None:
        nonlocal finished
        finished += 1
        say(f"[{finished}/{len(tasks)}] {v.status.value:<10} {v.claim_id} ({v.seconds:.1f} s)")

    results = verify_all(tasks, settings, args.jobs or _usable_cpus(), done)
    by_id = {task[2]: v for task, v in zip(tasks, results)}
    verdicts: list[Verdict] = [v for v in results if v is not None]
    report: list[dict[str, Any]] = []
    for entry, claims in selection:
        report.append({"entry": entry, "rows": [(by_id[cid], c) for cid, c, _ in claims if cid in by_id]})
    errata = _errata([(r["entry"].theorem, c, v) for r in report for v, c in r["rows"]])
    code = _exit_code(verdicts, errata)
    if args.json:
        print(json.dumps({
            "command": "verify", "exit_code": code, "seconds": round(time.perf_counter() - started, 3),
            "summary": _summary(verdicts), "errata": errata, "monte_carlo_only": deferred,
            "theorems": [{"id": r["entry"].id, "title": r["entry"].theorem.title,
                          "source": str(r["entry"].theorem.source),
                          "claims": [{**v.to_json(), "title": c.title, "kind": c.kind} for v, c in r["rows"]]}
                         for r in report],
        }, indent=2))
        return code
    for r in report:
        e = r["entry"]
        print(f"\n{e.id}: {e.theorem.title}  [{e.theorem.source}]")
        for v, c in r["rows"]:
            _print_verdict(v, c.title, params=_params_by_name(e.theorem, c))
    counts = ", ".join(f"{n} {s}" for s, n in _summary(verdicts).items())
    print()
    _print_errata(errata)
    print(f"{len(verdicts)} claims: {counts} ({time.perf_counter() - started:.1f} s)")
    if deferred:
        print(f"{len(deferred)} process claims are decided by Monte Carlo: run `bnsym check`")
    return code


def _usable_cpus() -> int:
    """The CPUs this process may run on (its affinity where the platform tells it)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


def cmd_check(args: argparse.Namespace) -> int:
    from .mc.device import resolve_device
    from .mc.engine import RunOptions, SuitePlan, run_check
    from .registry import load

    say = _progress(not args.quiet)
    device = resolve_device(args.device)
    catalog, ids = load(args.targets, with_checks=True)
    plan = SuitePlan()
    for entry, claims in catalog.select(ids):
        for cid, _claim, role in claims:
            for chk in catalog.checks.get(cid, []):
                plan.items.append((chk, entry.theorem, cid, role))
    if not plan.items:
        raise UsageError("no Monte Carlo checks among the selected claims; `bnsym list` marks the claims that have one")
    _check_points_in_domain(plan.items)
    options = RunOptions(seed=args.seed, device=device, alpha=args.alpha, resolution=args.resolution,
                         samples=args.samples, tests_in_suite=plan.tests, progress=say if not args.quiet else None)
    verdicts = []
    started = time.perf_counter()
    for i, (chk, theorem, cid, role) in enumerate(plan.items, 1):
        v = run_check(chk, theorem, cid, options, role)
        verdicts.append((v, chk, theorem))
        say(f"[{i}/{len(plan.items)}] {v.status.value:<10} {cid} ({v.seconds:.1f} s)")
    errata = _errata([(t, chk.claim, v) for v, chk, t in verdicts])
    code = _exit_code([v for v, _, _ in verdicts], errata)
    if args.json:
        print(json.dumps({"command": "check", "exit_code": code, "device": str(device), "seed": args.seed,
                          "alpha": args.alpha, "tests": plan.tests,
                          "seconds": round(time.perf_counter() - started, 3),
                          "summary": _summary([v for v, _, _ in verdicts]), "errata": errata,
                          "checks": [{**v.to_json(), "title": chk.claim.title, "quantity": chk.claim.quantity}
                                     for v, chk, _ in verdicts]}, indent=2))
        return code
    print(f"\nMonte Carlo on {device}, seed {args.seed}, suite false-alarm rate {args.alpha} over {plan.tests} tests")
    for v, chk, theorem in verdicts:
        _print_verdict(v, chk.claim.title, params=_params_by_name(theorem, chk.claim))
        _print_mc_rows(v)
    counts = ", ".join(f"{n} {s}" for s, n in _summary([v for v, _, _ in verdicts]).items())
    print()
    _print_errata(errata)
    print(f"{len(verdicts)} checks: {counts} ({time.perf_counter() - started:.1f} s)")
    return code


def _check_points_in_domain(items: list[tuple[Any, Any, str, str]]) -> None:
    """Every point of every check in its claim's domain, before anything is simulated.

    The points the engine would test (the values of the claim's closed form, or, for a claim on a
    flow, every parameter a point names) are held to their domains here, so that a bad point in the
    last check of a run is a usage error at once, not after the other checks have run.
    """
    from .claims import Measurement
    from .errors import DomainError

    for chk, theorem, cid, _role in items:
        if isinstance(chk.claim, Measurement):
            continue  # a measurement has no closed form to evaluate
        dom = {p.name: p for p in theorem.domain(chk.claim).values()}
        named = set(dom) if chk.claim.flow is not None else {s.name for s in chk.claim.value.free_symbols}
        for point in chk.resolved_points():
            for name, value in point.items():
                if name in named and name in dom and not isinstance(value, str) and not dom[name].contains(value):
                    raise DomainError(f"check of {cid} at {point}: {name}={value!r} lies outside its domain"
                                      f" {dom[name].describe()}")


def cmd_figure(args: argparse.Namespace) -> int:
    from .figures import FigureOptions, figure_path, render
    from .mc.device import resolve_device
    from .registry import load_builtin

    if args.name is None and args.output is not None:
        raise UsageError(f"-o {args.output} needs a figure NAME; `bnsym figure` alone lists the figures")
    # the output (when given) and the device are checked before the figures are loaded
    out = figure_path(args.output) if args.output is not None else None
    device = resolve_device(args.device)
    catalog = load_builtin(with_checks=True)
    if args.name is None:
        if args.json:
            print(json.dumps({"figures": {k: f.title for k, f in sorted(catalog.figures.items())}}, indent=2))
            return EXIT_OK
        for k, fig in sorted(catalog.figures.items()):
            print(f"{k}  {fig.title}")
        return EXIT_OK
    if args.name not in catalog.figures:
        known = ", ".join(sorted(catalog.figures)) or "none"
        raise UsageError(f"unknown figure {args.name!r}; the figures are: {known}")
    if out is None:
        out = figure_path(f"{args.name.replace('.', '_')}.png")
    say = _progress(not args.quiet)
    options = FigureOptions(seed=args.seed, device=device, quick=args.quick, progress=say)
    started = time.perf_counter()
    found = render(catalog.figures[args.name], out, options)
    seconds = time.perf_counter() - started
    if args.json:
        print(json.dumps({"command": "figure", "figure": args.name, "file": str(out), "seconds": round(seconds, 3),
                          "seed": args.seed, "device": str(options.device), **found}, indent=2, default=str))
    else:
        print(f"wrote {out} ({seconds:.1f} s)")
        for line in found.get("lines", []):
            print(f"  {line}")
    return EXIT_OK


def _theorem_entries(catalog: Any, targets: list[str], command: str) -> list[Any]:
    """The theorems ``targets`` name (theorem ids, or paper prefixes for all their theorems), each once.

    ``bnsym latex`` and ``bnsym report`` typeset whole theorems: a claim id is refused with the theorem
    that holds it, any other unknown id with the registry's suggestion.
    """
    entries: list[Any] = []
    for t in targets:
        if t in catalog.entries:
            found = [catalog.entries[t]]
        else:
            found = [e for tid, e in catalog.entries.items() if tid.startswith(t + ".")]
        if not found:
            owner = next((e.id for e in catalog.entries.values() if any(cid == t for cid, _, _ in e.claims())), None)
            if owner is not None:
                raise UsageError(f"{t!r} is a claim; bnsym {command} typesets whole theorems: use {owner}")
            catalog.theorem(t)  # raises the unknown-id error with its suggestion
        entries += [e for e in found if all(e is not x for x in entries)]
    return entries


def cmd_latex(args: argparse.Namespace) -> int:
    import os

    from .files import output_path, write_atomically
    from .latex import document, theorem_latex
    from .registry import load
    from .roundtrip import theorem_roundtrip
    from .verify import Settings, verify_claim

    out = output_path(args.output, (".tex",)) if args.output is not None else None
    if args.check or args.device != "auto":  # a device asked for is checked, even where nothing simulates
        from .mc.device import resolve_device

        resolve_device(args.device)
    say = _progress(not args.quiet)
    catalog, _ = load([], with_checks=args.check)
    entries = _theorem_entries(catalog, args.targets, "latex")
    started = time.perf_counter()
    jobs = args.jobs or os.cpu_count() or 1
    verdicts: dict[str, Verdict] = {}
    mc: dict[str, list[Verdict]] = {}
    if args.check:
        mc = _latex_checks(args, catalog, entries, say)
    bodies: list[str] = []
    rows: list[dict[str, Any]] = []
    all_verdicts: list[Verdict] = []
    for entry in entries:
        if not args.no_verify:
            for cid, claim, role in entry.claims():
                if isinstance(claim, ProcessClaim):
                    continue
                v = verify_claim(entry.theorem, claim, cid, role, Settings())
                assert v is not None
                verdicts[cid] = v
                all_verdicts.append(v)
                say(f"{v.status.value:<10} {cid} ({v.seconds:.1f} s)")
        rt = theorem_roundtrip(entry, max_chars=args.max_chars, jobs=jobs)
        say(f"round trip {entry.id}: " + ", ".join(f"{n} {k}" for k, n in rt.counts.items()))
        for where, r in rt.failures:
            say(f"  round trip FAILED {where}: {r.detail}")
        rows.append({"id": entry.id, "roundtrip": rt.to_json()})
        bodies.append(theorem_latex(entry, verdicts, mc, snippet=True, roundtrip=rt))
    body = "\n\n".join(bodies)
    title = entries[0].theorem.title if len(entries) == 1 else ", ".join(e.id for e in entries)
    text = body + "\n" if args.snippet else document(body, title)
    failed = sum(r["roundtrip"]["failed"] for r in rows)
    code = EXIT_REFUTED if failed else _exit_code(all_verdicts + [v for vs in mc.values() for v in vs])
    if out is not None:
        write_atomically(out, text)
    if args.json:
        print(json.dumps({"command": "latex", "exit_code": code, "file": str(out) if out else None,
                          "snippet": args.snippet, "seconds": round(time.perf_counter() - started, 3),
                          "roundtrip": {k: sum(r["roundtrip"][k] for r in rows)
                                        for k in ("round-tripped", "not parsed back", "failed")},
                          "theorems": rows, **({} if out else {"latex": text})}, indent=2))
    elif out is None:
        sys.stdout.write(text)
    else:
        print(f"wrote {out} ({len(entries)} theorems, {time.perf_counter() - started:.1f} s)")
    return code


def cmd_report(args: argparse.Namespace) -> int:
    import os

    from . import report
    from .figures import FigureOptions, render
    from .files import staged_folder, write_atomically
    from .latex import theorem_latex
    from .mc.device import resolve_device
    from .registry import load
    from .roundtrip import theorem_roundtrip
    from .verify import Settings, verify_claim

    where = report.layout(args.output)
    device = resolve_device(args.device)
    say = _progress(not args.quiet)
    catalog, _ = load([], with_checks=args.check or not args.no_figures)
    entries = _theorem_entries(catalog, args.targets, "report")
    figure_ids = [] if args.no_figures else report.paper_figures(catalog, entries)
    prov = report.Provenance(seed=args.seed, device=str(device), quick=args.quick, checks=args.check,
                             max_chars=args.max_chars)
    started = time.perf_counter()
    jobs = args.jobs or os.cpu_count() or 1
    with staged_folder(where.folder) as staging:  # the sources appear together, or not at all
        mc: dict[str, list[Verdict]] = {}
        if args.check:
            t0 = time.perf_counter()
            mc = _latex_checks(args, catalog, entries, say)
            prov.stages["Monte Carlo checks"] = time.perf_counter() - t0
        verdicts: dict[str, Verdict] = {}
        t0 = time.perf_counter()
        for entry in entries:
            for cid, claim, role in entry.claims():
                if not isinstance(claim, ProcessClaim):
                    v = verify_claim(entry.theorem, claim, cid, role, Settings())
                    assert v is not None
                    verdicts[cid] = v
                    say(f"{v.status.value:<10} {cid} ({v.seconds:.1f} s)")
        prov.stages["symbolic verification"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        bodies: list[str] = []
        rt_rows: list[dict[str, Any]] = []
        for entry in entries:
            rt = theorem_roundtrip(entry, max_chars=args.max_chars, jobs=jobs)
            say(f"round trip {entry.id}: " + ", ".join(f"{n} {k}" for k, n in rt.counts.items()))
            for place, r in rt.failures:
                say(f"  round trip FAILED {place}: {r.detail}")
            rt_rows.append({"id": entry.id, "roundtrip": rt.to_json()})
            bodies.append(theorem_latex(entry, verdicts, mc, snippet=True, roundtrip=rt))
        prov.stages["round trip"] = time.perf_counter() - t0
        drawn: list[tuple[str, str, list[str]]] = []
        for fid in figure_ids:
            t0 = time.perf_counter()
            options = FigureOptions(seed=args.seed, device=device, quick=args.quick, progress=say)
            found = render(catalog.figures[fid], staging / report.figure_file(fid), options)
            prov.stages[f"figure {fid}"] = time.perf_counter() - t0
            say(f"figure {fid} ({prov.stages[f'figure {fid}']:.1f} s)")
            drawn.append((fid, catalog.figures[fid].title, [str(x) for x in found.get("lines", [])]))
        rows = report.claim_rows(entries, verdicts, mc)
        title = entries[0].theorem.title if len(entries) == 1 else "bnsym report: " + ", ".join(e.id for e in entries)
        body = "\n\n".join([report.summary_tex(rows), *bodies, report.figures_tex(drawn), prov.tex()])
        write_atomically(staging / where.tex.name, report.document(body, title))
    failed = sum(r["roundtrip"]["failed"] for r in rt_rows)
    code = EXIT_REFUTED if failed else _exit_code(list(verdicts.values()) + [v for vs in mc.values() for v in vs])
    engine = report.find_engine()
    errors: list[str] = []
    compiled = False
    if engine is not None:
        t0 = time.perf_counter()
        errors = report.compile_pdf(where.tex, engine)
        prov.stages["TeX"] = time.perf_counter() - t0
        if errors:
            code = EXIT_UNDECIDED
        else:
            os.replace(where.tex.with_suffix(".pdf"), where.pdf)
            compiled = True
    seconds = time.perf_counter() - started
    if args.json:
        print(json.dumps({"command": "report", "exit_code": code, "pdf": str(where.pdf) if compiled else None,
                          "tex": str(where.tex), "engine": engine[0] if engine else None, "tex_errors": errors,
                          "figures": [str(where.folder / report.figure_file(f)) for f, _, _ in drawn],
                          "theorems": rt_rows, "claims": [r.to_json() for r in rows],
                          "provenance": prov.to_json(), "seconds": round(seconds, 3)}, indent=2))
    if engine is None:
        msg = (f"wrote {where.tex} and figures; no TeX engine found: {report.INSTALL_HINT} and run "
               f"`latexmk -pdf {where.tex.name}` in {where.folder}")
        print(msg, file=sys.stderr if args.json else sys.stdout)
    elif errors:
        print(f"bnsym: error: {engine[0]} failed on {where.tex}:", file=sys.stderr)
        for line in errors:
            print(f"  {line}", file=sys.stderr)
    elif not args.json:
        print(f"wrote {where.pdf} ({len(entries)} theorems, {len(drawn)} figures, {seconds:.1f} s;"
              f" sources in {where.folder})")
    return code


def cmd_audit(args: argparse.Namespace) -> int:
    from .audit.cli import run

    return run(args)


def _latex_checks(args: argparse.Namespace, catalog: Any, entries: list[Any], say: Any) -> dict[str, list[Verdict]]:
    """The Monte Carlo verdicts of the entries' process claims (as ``bnsym check`` runs them)."""
    from .mc.device import resolve_device
    from .mc.engine import RunOptions, SuitePlan, run_check

    device = resolve_device(args.device)
    plan = SuitePlan()
    for entry in entries:
        for cid, _claim, role in entry.claims():
            for chk in catalog.checks.get(cid, []):
                plan.items.append((chk, entry.theorem, cid, role))
    options = RunOptions(seed=args.seed, device=device, tests_in_suite=plan.tests,
                         progress=say if not args.quiet else None)
    out: dict[str, list[Verdict]] = {}
    for chk, theorem, cid, role in plan.items:
        v = run_check(chk, theorem, cid, options, role)
        out.setdefault(cid, []).append(v)
        say(f"{v.status.value:<10} {cid} ({v.seconds:.1f} s)")
    return out


def _print_mc_rows(v: Verdict) -> None:
    ev = v.evidence
    for row in ev.get("rows", []):
        print("      " + _row_text(row))
    for lad in ev.get("ladders", []):
        setting = ", ".join(f"{k}={val}" for k, val in lad["setting"].items())
        print(f"      ladder {setting}: chi2 {lad['chi2']:.2f} (dof {lad['dof']}, critical {lad['critical']:.2f}),"
              f" resolution {100 * lad['resolution']:.2g}%")
        for row in lad["rows"]:
            print("        " + _row_text(row))


def _row_text(row: dict[str, Any]) -> str:
    skip = {"estimate", "stderr", "claimed", "samples", "resolution", "absolute_resolution", "pass", "z",
            "relative_stderr"}
    point = " ".join(f"{k}={_fmt(v)}" for k, v in row.items() if k not in skip and "*" not in k)
    scaled = " ".join(f"{k}={_fmt(v)}" for k, v in row.items() if "*" in k)
    if row.get("resolution") is not None:
        res = f" res {100 * row['resolution']:.2g}%"
    elif "absolute_resolution" in row:
        res = f" abs res {row['absolute_resolution']:.2g}"
    else:
        res = ""
    claimed = f" vs {row['claimed']:.6g}" if "claimed" in row else ""
    return (f"{point}: est {row['estimate']:.6g} ± {row['stderr']:.2g}{claimed}"
            f" (n={row['samples']}){res} {scaled}").rstrip()


def _fmt(v: Any) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def _one_line(text: str) -> str:
    """An error message as one printable line: line breaks and other control characters shown escaped."""
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in text.strip())


def cmd_bench(args: argparse.Namespace) -> int:
    from .bench.cli import cmd_bench as run

    return run(args)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)  # the command line, as reports record it
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    handlers = {"list": cmd_list, "verify": cmd_verify, "check": cmd_check, "figure": cmd_figure,
                "latex": cmd_latex, "report": cmd_report, "audit": cmd_audit,
                "bench": cmd_bench}
    try:
        return handlers[args.command](args)
    except BnsymError as exc:
        print(f"bnsym: error: {_one_line(str(exc))}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("bnsym: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into a reader that stopped (| head)
        sys.stderr.close()
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
