"""Shared test setup: the repository root on ``sys.path``, so ``derivations`` and ``checks`` import.

``python -m pytest`` puts the working directory on the path, bare ``pytest`` does not; the tests
import the built-in derivations and checks as packages either way.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
