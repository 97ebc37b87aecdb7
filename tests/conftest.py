"""Shared test setup: the repository root on ``sys.path``, so ``derivations`` and ``checks`` import.

``python -m pytest`` puts the working directory on the path, bare ``pytest`` does not; the tests
import the built-in derivations and checks as packages either way. ``one_torch_thread`` is for
tests that run tiny simulations.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))



@pytest.fixture
def one_torch_thread():
    """One intra-op thread: torch's spinning workers slow tiny simulations on a small shared machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
