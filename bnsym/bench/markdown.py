"""``docs/benchmarks.md`` from one ``bnsym bench`` run (its JSON), every figure taken from the run."""

from __future__ import annotations

import math
from typing import Any


def _g(x: Any, digits: int = 3) -> str:
    if x is None:
        return "-"
    if isinstance(x, float) and not math.isfinite(x):
        return str(x)
    return f"{x:.{digits}g}" if isinstance(x, (int, float)) else str(x)


def _seconds(s: float) -> str:
    from .cli import seconds_text

    return seconds_text(s)


def _mib(b: float | None) -> str:
    return "-" if b is None else f"{b / 2**20:.3g} MiB"


def render(out: dict[str, Any]) -> str:
    env = out["environment"]
    res = format(100 * out["resolution"], "g")
    lines = [
        "# Benchmarks: time to a verdict",
        "",
        "Written by `bnsym bench --markdown` from one run; every figure in the tables and lines below was measured",
        "in that run (the notes on each family describe its estimators).",
        "",
        f"- command: `{out['command_line']}`",
        f"- machine: {env['processor']}, {env['cpus']} CPUs, torch threads {env['torch_threads']};"
        f" device {env['device']}",
        f"- versions: bnsym {env['bnsym']}, python {env['python']}, torch {env['torch']}, sympy {env['sympy']},"
        f" mpmath {env['mpmath']}; date {env['date']}",
        f"- run took {_seconds(out['seconds'])}",
        "",
    ]
    if not env["device"].startswith("cuda"):
        lines += ["No GPU was available to this run: the figures are CPU figures, and the fraction of the device's",
                  "limits reached is that of this CPU.", ""]
    if out["smoke"]:
        lines += ["**Smoke run**: the timing runs were too short to measure anything.", ""]
    lines += [
        "## How the figures are defined",
        "",
        "For each family, three estimators of the same claim's quantity at the same point: **bnsym** (the check's",
        "own simulator and estimand, streamed as `bnsym check` runs them), a **numpy loop** over units, and a",
        "**numpy vectorized** plain Monte Carlo of the same process. Each is timed on a run of at least",
        f"{_g(out['min_seconds'])} s. The time to {res}% resolution is the number of units a z-test at level",
        f"{_g(out['alpha'])} needs to catch a {res}% relative deviation of the tested value with probability 0.9,",
        "`((z_{alpha/2} + z_0.9) sd / (r |tested|))^2`, over the measured units per second: a smaller unit spread",
        "(variance reduction) and a higher rate both shorten it. The speed-up is the baseline's time over bnsym's.",
        "",
        "## Targets",
        "",
        "| family | against | measured | target | |",
        "| --- | --- | --- | --- | --- |",
    ]
    for t in out["targets"]:
        unit = " s" if t["family"] == "suite" else "x"
        lines.append(f"| {t['family']} | {t['against']} | {_g(t['measured'])}{unit} | {_g(t['target'])}{unit}"
                     f" | {'met' if t['met'] else '**missed**'} |")
    for f in out["families"]:
        lines += ["", f"## {f['title']} (`{f['family']}`)", "",
                  f"Claim `{f['claim']}`; one unit is {f['unit']}. Point: "
                  + ", ".join(f"{k} = {_g(v, 6)}" for k, v in f["point"].items()) + ".",
                  f"Tested value ({f['tested_name']}) {_g(f['tested'], 6)}; claimed value {_g(f['claimed'], 6)}.", ""]
        if f["notes"]:
            lines += [f["notes"], ""]
        lines += [f"| estimator | units/s | unit sd | estimate | std. error | units to {res}% | time to {res}% |"
                  " speed-up |", "| --- | --- | --- | --- | --- | --- | --- | --- |"]
        for e in f["estimators"]:
            speed = "" if e["estimator"] == "bnsym" else f"{_g(e['speedup_to_resolution'])}x"
            lines.append(f"| {e['estimator']} | {_g(e['units_per_s'])} | {_g(e['unit_sd'])} | {_g(e['estimate'], 6)} |"
                         f" {_g(e['stderr'], 2)} | {_g(e['units_to_resolution'])} |"
                         f" {_seconds(e['seconds_to_resolution'])} | {speed} |")
        if f["direct"]:
            d = f["direct"]
            lines += ["", f"bnsym run to the target for real: {d['units']} units in {_seconds(d['seconds'])},"
                          f" resolution reached {100 * d['resolution']:.2g}%."]
        if f["scaling"]:
            lines += ["", "| estimator | units | seconds | peak memory above start |", "| --- | --- | --- | --- |"]
            for name, s in f["scaling"].items():
                for row in s["rows"]:
                    lines.append(f"| {name} | {int(row['units'])} | {_g(row['seconds'])} | {_mib(row['peak_bytes'])} |")
            for name, s in f["scaling"].items():
                growth = "memory not read" if s["memory_growth"] is None else (
                    f"peak memory x{_g(s['memory_growth'], 2)} ({'flat' if s['memory_flat'] else 'grows'})")
                lines.append(f"\n{name}: time ~ units^{s['time_exponent']:.2f}"
                             f" ({'linear' if s['time_linear'] else 'not linear'}), {growth}.")
        for e in f["extras"]:
            lines += ["", f"**{e['title']}**", "", "| run | seconds | runs | runs/s |", "| --- | --- | --- | --- |"]
            for x in e["rows"]:
                lines.append(f"| {x['name']} | {_g(x['seconds'])} | {x['units']} | {_g(x['units_per_s'])} |")
            lines += ["", f"Speed-up over {e['baseline']}: {_g(e['speedup'])}x."]
        if f["limits"]:
            lim = f["limits"]
            lines += ["", f"Device limits on this run's device: `torch.randn` fills {_g(lim['randn_per_s'])} float64"
                          f" draws/s; a copy of a chunk-sized tensor moves {_g(lim['copy_bytes_per_s'] / 1e9)}"
                          " GB/s (on a CPU partly in cache). bnsym's estimator"
                          f" draws {_g(lim['draws_per_s'])}/s: {100 * lim['rng_fraction']:.2g}% of the random-number"
                          f" rate, and at least {100 * lim['bandwidth_fraction_lower_bound']:.2g}% of the bandwidth"
                          " (16 bytes per draw, the least any simulation moves)."]
    if out["suite"]:
        lines += ["", "## The whole suite", "", "| command | seconds | exit | target |", "| --- | --- | --- | --- |"]
        for s in out["suite"]:
            lines.append(f"| `{s['command']}` | {_g(s['seconds'])} | {s['exit_code']} | <= {_g(s['target_seconds'])} |")
    return "\n".join(lines) + "\n"
