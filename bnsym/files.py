"""Output files: checked before any work is done, written whole or not at all.

Every file bnsym writes for a user (``bnsym latex -o``, ``bnsym report``, ``bnsym figure``, the annotated
copy of ``bnsym verify FILE.tex``) goes through this module, so that

* a bad output path is refused *before* the heavy work (:func:`output_path`: the suffix, an existing
  writable folder, not a folder itself), as a one-line :class:`~bnsym.errors.UsageError`;
* a file appears only when complete (:func:`write_atomically`: a temporary file in the same folder,
  then ``os.replace``, which is atomic on POSIX); an interrupted or failed write leaves nothing behind,
  not even the temporary file, and an existing file of that name stays as it was;
* a file gets the mode a plain ``open(path, "w")`` would give it: ``0o666`` less the umask for a new
  file, the old mode when an existing one is replaced (``mkstemp`` alone makes every output private,
  ``0o600``);
* a folder of outputs (the report's ``NAME_files/``) is built aside and swapped in whole
  (:func:`staged_folder`), with the mode ``mkdir`` would give it.

>>> import tempfile, pathlib
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> path = write_atomically(output_path(folder / "out.tex", (".tex",)), "\\\\[ x = x \\\\]\\n")
>>> path.read_text()
'\\\\[ x = x \\\\]\\n'
>>> sorted(p.name for p in folder.iterdir())  # no temporary file left
['out.tex']
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import tempfile
from pathlib import Path
from typing import IO, Callable, Iterator, Sequence, Union

from .errors import UsageError

Data = Union[str, bytes, Callable[[IO[bytes]], None]]
"""What :func:`write_atomically` writes: text (UTF-8), bytes, or a function writing to a binary file."""

_PREFIX_CHARS = 80  # a temporary name is ".NAME.XXXXXXXX.part": keep it within the 255-byte limit of a name


def _reason(exc: BaseException) -> str:
    """The short reason of an OSError (``Permission denied``), or its text."""
    return (exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)) or type(exc).__name__


def umask() -> int:
    """The process's umask, read without changing it where the system shows it (Linux), else set back at once."""
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _mode_for(target: Path) -> int:
    """The mode ``open(target, "w")`` would leave: the existing file's, else ``0o666`` less the umask."""
    try:
        st = target.stat()
    except OSError:
        return 0o666 & ~umask()
    return stat.S_IMODE(st.st_mode) if stat.S_ISREG(st.st_mode) else 0o666 & ~umask()


def output_path(name: str | os.PathLike[str], suffixes: Sequence[str] = (), what: str = "the output file") -> Path:
    """``name`` as a path bnsym may write, checked before any work is done; raises :class:`UsageError`.

    ``suffixes`` (lower case, with the dot) are the accepted endings, compared case-insensitively; the
    folder must exist and be writable; ``name`` must not be a folder or another non-regular file.
    """
    text = os.fspath(name)
    path = Path(text)
    if "\x00" in text:
        raise UsageError(f"cannot write {text!r}: a file name cannot hold a NUL character")
    if suffixes and (path.suffix.lower() not in suffixes or not path.stem):
        raise UsageError(f"{what} must end in {', '.join(suffixes)}: {text!r}")
    folder = path.parent
    try:
        if path.is_dir():
            raise UsageError(f"cannot write {text!r}: it is a folder")
        if path.exists() and not path.is_file():
            raise UsageError(f"cannot write {text!r}: it exists and is not a regular file")
        if not folder.is_dir() or not os.access(folder, os.W_OK | os.X_OK):
            raise UsageError(f"cannot write {text!r}: {folder} is not a writable folder")
    except OSError as exc:  # a name too long, a loop of links ...
        raise UsageError(f"cannot write {text!r}: {_reason(exc)}") from None
    return path


def write_atomically(path: str | os.PathLike[str], data: Data, *, fsync: bool = False) -> Path:
    """Write ``data`` to ``path`` whole or not at all; returns the path written.

    A temporary file in the same folder gets the data and the mode of a normally written file, then
    replaces ``path`` (``os.replace``). On any failure, an interrupt included, the temporary file is
    removed and ``path`` is left as it was. ``fsync`` flushes the data to disk before the rename (for
    files that must survive a crash, not only an error). An OSError becomes
    ``UsageError("cannot write PATH: reason")``. A symbolic link at ``path`` is written through, as
    ``open`` would, not replaced by a file.
    """
    target = Path(path)
    if target.is_symlink():
        target = Path(os.path.realpath(target))
    folder = target.parent
    tmp: str | None = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name[:_PREFIX_CHARS]}.", suffix=".part", dir=folder)
        with os.fdopen(fd, "wb") as fh:
            os.chmod(tmp, _mode_for(target))
            if callable(data):
                data(fh)
            else:
                fh.write(data.encode("utf-8") if isinstance(data, str) else data)
            fh.flush()
            if fsync:
                os.fsync(fh.fileno())
        os.replace(tmp, target)
        tmp = None
    except (OSError, ValueError) as exc:
        raise UsageError(f"cannot write {path}: {_reason(exc)}") from None
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
    return Path(path)


@contextlib.contextmanager
def staged_folder(target: str | os.PathLike[str]) -> Iterator[Path]:
    """Build a folder of outputs aside and put it at ``target`` only when the block completes.

    Yields an empty staging folder beside ``target`` (same file system, so the swap is a rename) with
    the mode ``mkdir`` would give it. On success an existing ``target`` is moved aside, the staging
    folder renamed to ``target``, and the old one removed; on any failure the staging folder is removed
    and ``target`` is untouched. An OSError becomes ``UsageError("cannot write TARGET: reason")``.
    """
    final = Path(target)
    try:
        staging = Path(tempfile.mkdtemp(prefix=f".{final.name[:_PREFIX_CHARS]}.", dir=final.parent))
        os.chmod(staging, 0o777 & ~umask())  # mkdtemp's folder is private; an output folder is an ordinary one
    except (OSError, ValueError) as exc:
        raise UsageError(f"cannot write {final}: {_reason(exc)}") from None
    try:
        yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    try:
        old: Path | None = None
        if final.exists() or final.is_symlink():
            old = Path(tempfile.mkdtemp(prefix=f".{final.name[:_PREFIX_CHARS]}.old.", dir=final.parent))
            os.replace(final, old / final.name)
        swapped = False
        try:
            os.replace(staging, final)
            swapped = True
        finally:
            if old is not None:
                if not swapped:  # put the previous folder back (kept aside if even that fails)
                    os.replace(old / final.name, final)
                shutil.rmtree(old, ignore_errors=True)
    except OSError as exc:
        raise UsageError(f"cannot write {final}: {_reason(exc)}") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)  # gone already when the swap succeeded
