"""Thread count for simulations of small tensors.

Many simulators step small tensors in a Python loop (a few thousand batches of tens of parameters, a
least-squares run of [L, B, d] with d <= 100, matrices up to 256 x 256). With more than one intra-op
thread, torch's spinning workers mostly add synchronization, several times slower when the cores are
shared; ``one_thread()`` runs such a loop on one thread and restores the previous count afterwards.
"""

from __future__ import annotations

import contextlib
from typing import Iterator

import torch


@contextlib.contextmanager
def one_thread() -> Iterator[None]:
    """One intra-op thread while the block runs; the previous count is restored, also on an error."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)
