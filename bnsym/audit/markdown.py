"""The audits written up as Markdown: tables for a person, built only from the audits' JSON results."""

from __future__ import annotations

import platform
import time
from typing import Any

from .power import DEFECT, NOT_EVALUABLE


def _pct(x: Any) -> str:
    return "-" if x is None else f"{100 * float(x):.3g}%"


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _missed(c: dict[str, Any], limit: int = 3) -> str:
    missed = [m for m in c["mutants"] if not m["caught"] and m["status"] != "EQUIVALENT" and m["kind"] != "scale"
              and not m["status"].startswith(NOT_EVALUABLE)]
    shown = "; ".join(f"{m['kind']}: {m['change']} ({_deviation(m)}{m['status']})" for m in missed[:limit])
    return shown + (f"; and {len(missed) - limit} more" if len(missed) > limit else "")


def _deviation(m: dict[str, Any]) -> str:
    return "" if m.get("deviation") is None else f"deviation {_pct(m['deviation'])}, "


def _category(c: dict[str, Any]) -> str:
    if c["catches_ten_percent"]:
        return "catches 10%"
    if not c["mutants"]:
        return "not audited"
    if c["reason"].startswith(DEFECT):
        return "DEFECT"
    return "listed"


def power(result: dict[str, Any]) -> str:
    claims = result["claims"]
    counts: dict[str, int] = {}
    for c in claims:
        counts[_category(c)] = counts.get(_category(c), 0) + 1
    lines = [f"Power audit: {len(claims)} claims' checks, seed {result['seed']}, device {result['device']}, suite-wide"
             f" alpha {result['alpha']:g}, target resolution {result['resolution']:g}, {result['per_kind']} structural"
             f" mutants of each kind per claim; {result['seconds']:.0f} s.", "",
             "Outcome: " + ", ".join(f"{n} {k}" for k, n in sorted(counts.items())) + ".", ""]
    for kind, title in (("monte-carlo", "Monte Carlo checks"), ("numeric", "Numeric checks (50 digits, quadrature)")):
        rows = [c for c in claims if c["check"].startswith("monte-carlo") == (kind == "monte-carlo")]
        if not rows:
            continue
        lines += [f"### {title}", "",
                  "| claim | kind | caught / tried (equivalent) | smallest scale error caught | stated resolution |"
                  " 10% caught | slack of a bound | missed structural mutants | reason |",
                  "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
        for c in rows:
            ten = {True: "yes", False: "**no**", None: "-"}[c["catches_ten_percent"]]
            lines.append(f"| `{c['claim_id']}` | {c['claim_kind']} | {c['caught']} / {c['tried']} ({c['equivalent']}) |"
                         f" {_pct(c['smallest_caught'])} | {_pct(c['claimed_resolution'])} | {ten} |"
                         f" {_pct(c['slack'])} | {_cell(_missed(c))} | {_cell(c['reason'])} |")
        lines.append("")
    return "\n".join(lines)


def calibration(result: dict[str, Any]) -> str:
    s = result["suite"]
    seeds = result["seeds"]
    size = (f"target resolution {result['resolution']:g}" if result.get("resolution") is not None
            else f"{result['samples']} units per point")
    lines = [f"Calibration: {len(seeds)} runs (seeds {seeds[0]} to {seeds[-1]}), each at suite-wide alpha"
             f" {result['alpha']:g} over {result['tests_per_run']} tests, {size}, device {result['device']};"
             f" {result['seconds']:.0f} s.", "",
             "| count | observed | stated | 95% interval | p-value of a count this large | kept |",
             "| --- | --- | --- | --- | --- | --- |",
             f"| runs with a false alarm | {s['runs_with_false_alarm']} of {s['runs']} ({_pct(s['observed_rate'])}) |"
             f" at most {_pct(s['stated_rate'])} | {_pct(s['interval'][0])} to {_pct(s['interval'][1])} |"
             f" {s['p_value']:.3g} | {'yes' if s['kept'] else '**no**'} |",
             f"| failed tests | {s['tests_failed']} of {s['tests_run']} ({_pct(s['observed_rate_per_test'])}) |"
             f" at most {_pct(s['stated_rate_per_test'])} | {_pct(s['interval_per_test'][0])} to"
             f" {_pct(s['interval_per_test'][1])} | {s['p_value_per_test']:.3g} |"
             f" {'yes' if s['kept_per_test'] else '**no**'} |", "",
             f"A rate is kept when a count at least as large has probability {s['level']:g} or more under it.", "",
             "| check | role | tests per run | runs REFUTED | failed tests | expected failed tests at most |"
             " other statuses (runs) | seconds |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    per_test = s["stated_rate_per_test"]
    for c in result["checks"]:
        refuted = c["statuses"].get("REFUTED", 0)
        others = ", ".join(f"{k} {n}" for k, n in sorted(c["statuses"].items()) if k != "REFUTED")
        expected = "-" if c["role"] == "printed" else f"{c['tests'] * per_test * len(seeds):.2g}"
        what = f"{refuted} (detections)" if c["role"] == "printed" else str(refuted)
        lines.append(f"| `{c['claim_id']}` | {c['role']} | {c['tests']} | {what} | {c['failed_tests']} | {expected} |"
                     f" {others} | {c['seconds']:.0f} |")
    if result.get("not_rerun"):
        lines += ["", "Not rerun: " + "; ".join(f"`{x['id']}` ({x['why']})" for x in result["not_rerun"]) + "."]
    return "\n".join(lines)


def document(power_result: dict[str, Any], calibration_result: dict[str, Any], command: str) -> str:
    import mpmath
    import sympy
    import torch

    from .. import __version__

    return "\n".join([
        "# Audit of the checks", "",
        f"Generated by `{command}` on {time.strftime('%Y-%m-%d')}: bnsym {__version__}, Python"
        f" {platform.python_version()}, SymPy {sympy.__version__}, mpmath {mpmath.__version__}, torch"
        f" {torch.__version__}; {platform.machine()} with {_cpus()} CPU(s). Every number below comes from that run;"
        " rerun the command to regenerate this file.", "",
        "## What each check would catch (`bnsym audit power`)", "",
        "Each closed form is mutated: the whole form times 1 +- delta for a ladder of delta, a constant off by"
        " 10%, a term's sign flipped, an exponent moved by one, two symbols swapped, a term dropped. Monte Carlo"
        " mutants are tested on the very units simulated for the claim, at its points and false-alarm split;"
        " numeric mutants at the numeric check's random points. *Smallest scale error caught* is the smallest"
        " delta of the ladder caught in both directions (for a bound: tightened), with every larger one; the"
        " *stated resolution* is the relative error the check says it catches with probability 0.9. A mutant"
        " that evaluates to the original on the domain is *equivalent* and cannot be caught by any check.", "",
        power(power_result), "",
        "## False alarms over seeds (`bnsym audit calibration`)", "",
        calibration(calibration_result), "",
        "## Budgets and bad input", "",
        "Both are tests of the default `pytest` run (fast tier): `tests/test_hang.py` gives SymPy expressions known"
        " to run for minutes and shows every budget is kept and the verdict falls back to NUMERIC or reports"
        " UNDECIDED; `tests/test_bad_input.py` drives the command line, the derivation loader and the LaTeX reader"
        " with malformed ids, options, files and LaTeX (hypothesis) and shows each ends in a one-line message with"
        " its documented exit code and leaves no partial file.", ""])


def _cpus() -> int:
    import os

    return os.cpu_count() or 1
