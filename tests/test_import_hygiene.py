"""The symbolic half of bnsym never imports torch or hypothesis.

Verifying derivations needs SymPy and mpmath only: torch is for the Monte Carlo half, hypothesis
for property tests (imported lazily by ``Param.strategy``). Each check runs in a fresh
interpreter, since the test process itself has imported both.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# a guard against a hang, not a timing test: the longest run (every non-derivation claim verified) takes about a
# minute on an idle 2-core machine and several times that on a loaded one
HANG_GUARD = 900


def _run(code: str) -> dict:
    """Run ``code`` in a fresh interpreter (from outside the repository); it prints one JSON line."""
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT.parent, capture_output=True,
                          text=True, timeout=HANG_GUARD)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_symbolic_half_imports_neither_torch_nor_hypothesis() -> None:
    out = _run("""
        import json, sys
        import bnsym, bnsym.claims, bnsym.params, bnsym.prover, bnsym.numeric, bnsym.verify
        import bnsym.registry, bnsym.laws, bnsym.moments
        from bnsym.claims import ProcessClaim
        from bnsym.verify import Settings, verify_claim

        after_import = sorted(m for m in ("torch", "hypothesis") if m in sys.modules)
        catalog = bnsym.registry.load_builtin()
        after_load = sorted(m for m in ("torch", "hypothesis") if m in sys.modules)
        statuses = {}
        for entry in catalog.entries.values():
            for cid, claim, role in entry.claims():
                if isinstance(claim, ProcessClaim) or claim.kind == "derivation":
                    continue  # derivations are the slow claims; one is verified below
                statuses[cid] = verify_claim(entry.theorem, claim, cid, role, Settings(points=4)).status.value
        entry, claim, role = catalog.claim("luo2019.L3.inv_sigma_mean")
        statuses["luo2019.L3.inv_sigma_mean"] = verify_claim(entry.theorem, claim, "x", role).status.value
        print(json.dumps({"after_import": after_import, "after_load": after_load, "statuses": statuses,
                          "after_verify": sorted(m for m in ("torch", "hypothesis") if m in sys.modules)}))
    """)
    assert out["after_import"] == []
    assert out["after_load"] == []
    assert len(out["statuses"]) >= 10  # the claims really were verified
    assert out["statuses"]["luo2019.L3.inv_sigma_mean"] == "PROVEN"
    assert out["after_verify"] == []


def test_pytest_plugin_does_not_import_torch() -> None:
    out = _run("""
        import json, sys
        import bnsym.pytest_plugin
        print(json.dumps({"torch": "torch" in sys.modules, "hypothesis": "hypothesis" in sys.modules}))
    """)
    assert out == {"torch": False, "hypothesis": False}
