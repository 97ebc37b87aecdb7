"""Run a computation under a wall-clock budget that survives a hanging SymPy call.

SymPy has no timeout of its own and a simplification can run for hours inside C-level
recursion, where signals and threads cannot stop it. The computation therefore runs in
a forked child process; when the budget is spent the child is killed and the caller is
told so. Only the (small, picklable) result crosses back.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import time
import traceback
from dataclasses import dataclass
from typing import Any, Callable


@dataclass
class Outcome:
    """What came back: ``value`` when ``ok``; ``timed_out`` or ``error`` otherwise."""

    ok: bool
    value: Any = None
    timed_out: bool = False
    error: str = ""
    seconds: float = 0.0


def _child(conn: Any, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
    try:
        conn.send(("ok", fn(*args)))
    except BaseException as exc:  # the child reports every failure to the parent
        last = traceback.format_exception_only(type(exc), exc)[-1].strip()
        try:
            conn.send(("error", last))
        except Exception:
            pass
    finally:
        conn.close()


def _fork_available() -> bool:
    return "fork" in mp.get_all_start_methods() and os.environ.get("BNSYM_NO_FORK") != "1"


def run_with_budget(fn: Callable[..., Any], *args: Any, seconds: float) -> Outcome:
    """Call ``fn(*args)`` in a child process; give up after ``seconds`` of wall time.

    >>> run_with_budget(sum, [1, 2, 3], seconds=5).value
    6
    """
    start = time.perf_counter()
    if not _fork_available():  # no way to stop a hung call: run inline, unbounded
        try:
            return Outcome(True, fn(*args), seconds=time.perf_counter() - start)
        except Exception as exc:
            return Outcome(False, error=repr(exc), seconds=time.perf_counter() - start)
    ctx = mp.get_context("fork")
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(child, fn, args), daemon=True)
    proc.start()
    child.close()
    try:
        if parent.poll(seconds):
            try:
                tag, value = parent.recv()
            except EOFError:
                return Outcome(False, error="child process died", seconds=time.perf_counter() - start)
            ok = tag == "ok"
            return Outcome(ok, value if ok else None, error="" if ok else value,
                           seconds=time.perf_counter() - start)
        return Outcome(False, timed_out=True, seconds=time.perf_counter() - start)
    finally:
        parent.close()
        if proc.is_alive():
            proc.kill()
        proc.join(timeout=5)
