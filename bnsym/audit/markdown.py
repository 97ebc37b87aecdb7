"""The audits written up as Markdown: tables for a person, built only from the audits' JSON results."""

from __future__ import annotations

from typing import Any

from .power import DEFECT, NOT_EVALUABLE, SAME_AT_POINTS


def _tidy(text: str) -> str:
    """Percentages printed in exponent form by older runs ("1.1e+02%") as plain ones ("110%")."""
    import re

    return re.sub(r"(\d+(?:\.\d+)?e[+-]\d+)%", lambda m: f"{float(m.group(1)):.3g}%"
                  if float(m.group(1)) < 1e6 else f"{float(m.group(1)):.2e}%", text)


def _pct(x: Any) -> str:
    return "-" if x is None else f"{100 * float(x):.3g}%"


def _cell(text: str) -> str:
    """Text safe in a Markdown table cell: pipes, emphasis and code marks escaped, one line."""
    out = str(text).replace("\n", " ")
    for ch in "\\|*_`":
        out = out.replace(ch, "\\" + ch)
    return out


def _missed(c: dict[str, Any], limit: int = 3) -> str:
    """The structural mutants the check let pass; for a bound only those that make it false at the check points
    (tighter than the truth by more than the slack and the resolution), since a looser bound is no error."""
    missed = [m for m in c["mutants"] if not m["caught"] and m["status"] != "EQUIVALENT" and m["kind"] != "scale"
              and not m["status"].startswith(NOT_EVALUABLE)]
    if c.get("slack") is not None:
        room = c["slack"] + (c.get("claimed_resolution") or 0.0)
        missed = [m for m in missed if m.get("tightening") is not None and m["tightening"] > room]
    shown = "; ".join(f"{m['kind']}: {m['change']} ({_deviation(m)}{m['status']})" for m in missed[:limit])
    return shown + (f"; and {len(missed) - limit} more" if len(missed) > limit else "")


def _deviation(m: dict[str, Any]) -> str:
    if m.get("deviation") is None:
        return ""
    if m["deviation"] <= SAME_AT_POINTS:
        return "equal to the original at every check point, though not on the domain: a blind spot of the points; "
    return f"deviation {_pct(m['deviation'])}, "


def _category(c: dict[str, Any]) -> str:
    if c["catches_ten_percent"]:
        return "catch a 10% error"
    if c["role"] == "printed":
        return "printed forms of errata (see the corrected forms)"
    if c["original"] == "MEASURED":
        return "measurements (no closed form)"
    if c["check"] in ("numeric", "quadrature") and c["original"] != "NUMERIC":
        return "proof only (the numeric check cannot evaluate the form)"
    if c["reason"].startswith(DEFECT):
        return "DEFECT (a 10% error escaped a check that claims to resolve it)"
    if not c["mutants"]:
        return "not audited (the check does not hold the claim itself)"
    return "listed with a reason (bounds with slack, coarse resolution)"


def power(result: dict[str, Any]) -> str:
    claims = result["claims"]
    counts: dict[str, int] = {}
    for c in claims:
        counts[_category(c)] = counts.get(_category(c), 0) + 1
    lines = [f"Power audit: {len(claims)} claims' checks, seed {result['seed']}, device {result['device']}, suite-wide"
             f" alpha {result['alpha']:g}, target resolution {result['resolution']:g}, {result['per_kind']} structural"
             f" mutants of each kind per claim; {result['seconds']:.0f} s.", "",
             "Outcome: " + "; ".join(f"{n} {k}" for k, n in sorted(counts.items(), key=lambda kv: -kv[1])) + ".", "",
             "Plans for the claims a 10% error cannot be shown on: a bound with slack needs check points where it is"
             " nearly attained (a bound 10% tighter is still true where it has slack, so no check can refute it"
             " there); a coarse resolution needs more samples; a form the numeric check cannot evaluate (a sum over"
             " a symbolic range, a derivative or an undefined function, a size given by a symbol) rests on its SymPy"
             " proof, and needs a numeric check at explicit sizes with concrete functions to be audited.", ""]
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
                         f" {_pct(c['slack'])} | {_cell(_missed(c))} | {_cell(_tidy(c['reason']))} |")
        lines.append("")
    return "\n".join(lines)


def calibration(result: dict[str, Any]) -> str:
    from .calibration import summarize

    s = summarize(result)
    seeds = result["seeds"]
    size = (f"target resolution {result['resolution']:g}" if result.get("resolution") is not None
            else f"{result['samples']} units per point")
    undecided = [r for r in result["runs"] if r["undecided"]]
    lines = [f"Calibration: {len(seeds)} runs (seeds {seeds[0]} to {seeds[-1]}), each at suite-wide alpha"
             f" {result['alpha']:g} over {result['tests_per_run']} tests, {size}, device {result['device']};"
             f" {result['seconds']:.0f} s.", "",
             "| count | observed | stated | 95% interval | p-value of a count this large | kept |",
             "| --- | --- | --- | --- | --- | --- |",
             f"| runs with a false alarm | {s['runs_with_false_alarm']} of {s['runs_decided']}"
             f" ({_pct(s['observed_rate'])}) | at most {_pct(s['stated_rate'])} | {_pct(s['interval'][0])} to"
             f" {_pct(s['interval'][1])} | {s['p_value']:.3g} | {'yes' if s['kept'] else '**no**'} |",
             f"| failed tests (approximate: tests of a run share units) | {s['tests_failed']} of {s['tests_run']}"
             f" ({_pct(s['observed_rate_per_test'])}) | at most {_pct(s['stated_rate_per_test'])} |"
             f" {_pct(s['interval_per_test'][0])} to {_pct(s['interval_per_test'][1])} | {s['p_value_per_test']:.3g} |"
             f" {'yes' if s['kept_per_test'] else '**no**'} |", "",
             f"A rate is *kept* when a count at least as large has probability {s['level']:g} or more under it: not"
             f" significantly exceeded. With {s['runs_decided']} runs the upper end of the interval is the largest"
             " suite-wide rate the runs still allow.", ""]
    if undecided:
        lines += ["Runs left out (a check did not decide): " + "; ".join(
            f"seed {r['seed']}: {', '.join(r['undecided'])}" for r in undecided) + ".", ""]
    alarms = [r for r in result["runs"] if r["false_alarms"]]
    if alarms:
        lines += ["False alarms: " + "; ".join(f"seed {r['seed']}: {', '.join(r['false_alarms'])}" for r in alarms)
                  + ".", ""]
    lines += ["| check | role | tests per run | runs REFUTED | failed tests | expected failed tests at most |"
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


def _environment(result: dict[str, Any]) -> str:
    env = result.get("environment")
    if not env:
        return "(not recorded)"
    return (f"bnsym {env['bnsym']}, Python {env['python']}, SymPy {env['sympy']}, mpmath {env['mpmath']}, torch"
            f" {env['torch']}; {env['machine']} with {env['cpus']} CPU(s); {env['date']}")


def _runs(result: dict[str, Any]) -> list[tuple[str, str]]:
    """(command line, environment) of each run a result joins (a joined power audit lists its parts)."""
    joined = result.get("runs") if result.get("command") == "audit power" else None
    parts: list[dict[str, Any]] = joined if isinstance(joined, list) and joined else [result]
    return [(p.get("command_line") or f"bnsym {p.get('command', 'audit')}", _environment(p)) for p in parts]


def document(power_result: dict[str, Any], calibration_result: dict[str, Any], command: str,
             not_covered: list[str] | None = None, not_calibrated: list[str] | None = None) -> str:
    missing = ([f"Not covered by the power runs above ({len(not_covered)} claims with a check; run `bnsym audit"
                " power ID ...` for them and assemble again): " + ", ".join(f"`{c}`" for c in not_covered) + ".", ""]
               if not_covered else [])
    uncalibrated = ([f"Not in this calibration's selection ({len(not_calibrated)} statistical checks): "
                     + ", ".join(f"`{c}`" for c in not_calibrated) + ".", ""] if not_calibrated else [])
    return "\n".join([
        "# Audit of the checks", "",
        f"Written by `{command}` from the runs below; every number in it was measured by them. `bnsym audit docs`"
        " alone reruns both audits and rewrites this file.", "",
        *[f"- `{line}`: {env}" for line, env in _runs(power_result)],
        *[f"- `{line}`: {env}" for line, env in _runs(calibration_result)], "",
        "## What each check would catch (`bnsym audit power`)", "",
        "Each closed form is mutated: the whole form times 1 +- delta for a ladder of delta (for an asymptotic claim"
        " that decays to a limit, its decaying part, the coefficient the claim asserts, with the whole value times"
        " 1.1 and 0.9 as a separate *limit* mutant; a claimed 0 is offset by +- delta), a constant off by 10%, a"
        " term's sign flipped, an exponent moved by one, two symbols swapped, a term dropped. Monte Carlo mutants"
        " are tested on the very units simulated for the claim, at its points and false-alarm split; numeric mutants"
        " by the numeric check (without the prover) at its random points, after that check holds the claim itself."
        " *Smallest scale error caught* is the smallest delta of the ladder caught in both directions (for a bound:"
        " tightened), with every larger one; the *stated resolution* is the relative error the check says it"
        " catches with probability 0.9 (for a bound on every instance it is instead a fraction of instances, not"
        " shown). A mutant equal to the original at every check point and at random points of the domain (to 20"
        " digits) is *equivalent*: no check can tell it apart.", "",
        power(power_result), "", *missing,
        "## False alarms over seeds (`bnsym audit calibration`)", "",
        "A false alarm is a REFUTED verdict on a claim believed true (anything but the printed form of an"
        " erratum). Runs are independent, so the count of runs with one is compared exactly with the binomial"
        " law of the stated suite-wide rate; the count of failed tests is compared with the per-test rate, an"
        " approximate comparison since the tests of one run share simulated units. Measurements and bounds on"
        " every instance have no statistical threshold and are not rerun.", "",
        calibration(calibration_result), "", *uncalibrated,
        "## Budgets and bad input", "",
        "Both are tests of the default `pytest` run (fast tier): `tests/test_hang.py` gives SymPy expressions known"
        " to run for minutes and shows every budget is kept and the verdict falls back to NUMERIC or reports"
        " UNDECIDED; `tests/test_bad_input.py` drives the command line, the derivation loader and the LaTeX reader"
        " with malformed ids, options, files and LaTeX (hypothesis) and shows each ends in a one-line message with"
        " its documented exit code and leaves no partial file.", ""])
