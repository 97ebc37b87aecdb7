"""Run a computation under a wall-clock budget that survives a hanging SymPy call.

SymPy has no timeout of its own and a simplification can run for hours inside C-level
recursion, where signals and threads cannot stop it. The computation therefore runs in
a forked child process; when the budget is spent the child is killed and the caller is
told so. Only the (small, picklable) result crosses back.

The child is forked directly (``os.fork``), not through :mod:`multiprocessing`, so a
budget works anywhere: in a worker of a process pool, and nested inside another
budgeted computation (a derivation's map that itself calls the prover). A top-level
child leads a process group of its own and the whole group is killed, so nothing a
computation started outlives its budget; on Linux every budgeted child also dies with its
parent (``PR_SET_PDEATHSIG``), so killing ``bnsym`` leaves none of them computing.

Where no budget can be enforced -- a platform without ``fork``, or ``BNSYM_NO_FORK=1``
(for debuggers and profilers that cannot follow a child) -- the computation runs in
this process, unbounded: a hanging call hangs the run. It is not silent: once the
budget has passed, one line on stderr says that the budget cannot be enforced and how
to interrupt, and every :class:`Outcome` says ``enforced=False``.

Every budget is per call; :class:`Deadline` shares one wall-clock limit between many
calls (all the work on one claim).
"""

from __future__ import annotations

import math
import multiprocessing as mp
import os
import pickle
import select
import signal
import sys
import threading
import time
import traceback
from dataclasses import dataclass
from typing import Any, Callable

MAX_ERROR_CHARS = 400  # an error message naming a huge expression is cut to one readable line

HEADER = 8  # bytes of the length that precedes the child's pickled result

_IN_CHILD = False  # True in a budgeted child: its own children stay in its process group


@dataclass
class Outcome:
    """What came back: ``value`` when ``ok``; ``timed_out`` or ``error`` otherwise.

    ``enforced`` is False when the call ran in this process without a limit (no fork).
    """

    ok: bool
    value: Any = None
    timed_out: bool = False
    error: str = ""
    seconds: float = 0.0
    enforced: bool = True


@dataclass(frozen=True)
class Deadline:
    """One wall-clock limit shared by several budgeted calls: ``seconds`` from a start, ending at ``at``
    (``time.perf_counter()`` time). A call gets the smaller of its own budget and the time left.

    >>> d = Deadline.after(60.0)
    >>> 0 < d.clip(5.0) <= 5.0, d.spent
    (True, False)
    """

    seconds: float
    at: float
    what: str = "claim budget"

    @classmethod
    def after(cls, seconds: float, what: str = "claim budget") -> "Deadline":
        return cls(seconds, time.perf_counter() + seconds, what)

    def left(self) -> float:
        return max(0.0, self.at - time.perf_counter())

    def clip(self, seconds: float) -> float:
        """The budget a call may have: ``seconds``, or less when the deadline comes first."""
        return min(seconds, self.left())

    @property
    def spent(self) -> bool:
        return self.left() <= 0

    def note(self) -> str:
        return f"{self.what} of {self.seconds:g} s spent"


def budgets_enforced() -> bool:
    """Whether budgets stop a call here (a forked child can be killed)."""
    return _fork_available()


def unenforced_reason() -> str:
    """Why budgets are not enforced here, in one clause (empty when they are)."""
    if _fork_available():
        return ""
    why = "BNSYM_NO_FORK=1 is set" if os.environ.get("BNSYM_NO_FORK") == "1" else "this platform has no fork"
    return f"budgets are not enforced ({why}): a hanging SymPy call is not stopped"


def _fork_available() -> bool:
    return (hasattr(os, "fork") and "fork" in mp.get_all_start_methods()
            and os.environ.get("BNSYM_NO_FORK") != "1")


def _one_line(exc: BaseException) -> str:
    text = " ".join(traceback.format_exception_only(type(exc), exc)[-1].split())
    return text if len(text) <= MAX_ERROR_CHARS else text[:MAX_ERROR_CHARS - 3] + "..."


def run_with_budget(fn: Callable[..., Any], *args: Any, seconds: float) -> Outcome:
    """Call ``fn(*args)`` in a child process; give up after ``seconds`` of wall time.

    A budget of zero (or less) is spent at once and ``fn`` is not called; ``math.inf`` is no limit.

    >>> run_with_budget(sum, [1, 2, 3], seconds=5).value
    6
    """
    if math.isnan(seconds):
        raise ValueError("a budget must be a number of seconds, not nan")
    start = time.perf_counter()
    if seconds <= 0:
        return Outcome(False, timed_out=True, enforced=_fork_available())
    if not _fork_available():
        return _inline(fn, args, seconds, start)
    for stream in (sys.stdout, sys.stderr):  # else the child would inherit, and later repeat, buffered output
        try:
            stream.flush()
        except (OSError, ValueError, AttributeError):
            pass
    read_end, write_end = os.pipe()
    parent = os.getpid()
    try:
        pid = os.fork()
    except OSError as exc:
        os.close(read_end)
        os.close(write_end)
        return Outcome(False, error=f"could not fork a child for the computation: {exc.strerror or exc}",
                       seconds=time.perf_counter() - start)
    if pid == 0:  # the child: never returns
        os.close(read_end)
        _child(fn, args, write_end, parent)
    os.close(write_end)
    own_group = not _IN_CHILD
    if own_group:
        try:
            os.setpgid(pid, pid)  # also done by the child; whichever runs first
        except OSError:
            pass
    try:
        data = _receive(read_end, start + seconds)
    finally:
        os.close(read_end)
        status = _reap(pid, own_group)
    elapsed = time.perf_counter() - start
    if data is None:
        return Outcome(False, timed_out=True, seconds=elapsed)
    if not data:
        return Outcome(False, error=f"child process died ({_describe(status)})", seconds=elapsed)
    try:
        tag, value = pickle.loads(data)
    except Exception as exc:  # a value that pickles but does not rebuild here
        return Outcome(False, error=f"result could not be read back: {_one_line(exc)}", seconds=elapsed)
    ok = tag == "ok"
    return Outcome(ok, value if ok else None, error="" if ok else value, seconds=elapsed)


def _child(fn: Callable[..., Any], args: tuple[Any, ...], write_end: int, parent: int) -> None:
    """In the forked child: compute, send ``(tag, value)`` pickled, and exit without the parent's cleanup."""
    global _IN_CHILD
    code = 0
    try:
        if not _IN_CHILD:
            try:
                os.setpgid(0, 0)
            except OSError:
                pass
        _die_with_parent(parent)
        _IN_CHILD = True
        try:
            data = pickle.dumps(("ok", fn(*args)), protocol=pickle.HIGHEST_PROTOCOL)
        except BaseException as exc:  # the child reports every failure to the parent
            data = pickle.dumps(("error", _one_line(exc)), protocol=pickle.HIGHEST_PROTOCOL)
        with os.fdopen(write_end, "wb") as out:
            out.write(len(data).to_bytes(HEADER, "big") + data)
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except BaseException:
                pass
    except BaseException:
        code = 1
    finally:
        os._exit(code)


def _die_with_parent(parent: int) -> None:
    """Linux: SIGKILL this process when its parent dies; elsewhere nothing (the parent kills it)."""
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # 1 = PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent:  # the parent died before the signal was armed
        os._exit(1)


def _receive(fd: int, deadline: float) -> bytes | None:
    """The child's pickled result; ``None`` if nothing came by ``deadline``, ``b""`` if the child died first.

    The result is preceded by its length, so it is read to its end even where another process
    holds the pipe open too; once the first bytes have come the result exists and is read whole.
    """
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    left = deadline - time.perf_counter()
    if left <= 0 or not poller.poll(None if math.isinf(left) else max(1, math.ceil(left * 1000))):
        return None
    header = _read_exactly(fd, HEADER)
    if len(header) < HEADER:
        return b""
    return _read_exactly(fd, int.from_bytes(header, "big"))


def _read_exactly(fd: int, n: int) -> bytes:
    chunks: list[bytes] = []
    while n > 0:
        chunk = os.read(fd, min(n, 1 << 20))
        if not chunk:
            break
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def _reap(pid: int, own_group: bool) -> int:
    """Kill the child (and, when it leads one, its process group) and collect its exit status."""
    kills = [lambda: os.killpg(pid, signal.SIGKILL)] if own_group else []
    for kill in kills + [lambda: os.kill(pid, signal.SIGKILL)]:  # the child itself too, if it led no group
        try:
            kill()
        except (ProcessLookupError, PermissionError):
            pass
    while True:
        try:
            return os.waitpid(pid, 0)[1]
        except InterruptedError:
            continue
        except ChildProcessError:
            return 0


def _describe(status: int) -> str:
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        try:
            name = signal.Signals(sig).name
        except ValueError:
            name = str(sig)
        return f"killed by {name}" + (", perhaps out of memory" if sig == signal.SIGKILL else "")
    return f"exit code {os.WEXITSTATUS(status)}" if os.WIFEXITED(status) else f"status {status}"


def _inline(fn: Callable[..., Any], args: tuple[Any, ...], seconds: float, start: float) -> Outcome:
    """No fork: call ``fn`` here, unbounded; once ``seconds`` pass, say so on stderr (one line)."""
    watchdog = None
    if math.isfinite(seconds):
        watchdog = threading.Timer(seconds, _warn_unenforced, args=(seconds,))
        watchdog.daemon = True
        watchdog.start()
    try:
        return Outcome(True, fn(*args), seconds=time.perf_counter() - start, enforced=False)
    except Exception as exc:
        return Outcome(False, error=_one_line(exc), seconds=time.perf_counter() - start, enforced=False)
    finally:
        if watchdog is not None:
            watchdog.cancel()


def _warn_unenforced(seconds: float) -> None:
    print(f"bnsym: warning: a computation has run past its budget of {seconds:g} s and cannot be stopped:"
          f" {unenforced_reason()}; press Ctrl-C to interrupt", file=sys.stderr, flush=True)
