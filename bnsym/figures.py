"""Figures: theory curves beside simulated points, written to a file by ``bnsym figure``.

A :class:`Figure` lives in a paper's check package (``checks/<paper>/``) as a module-level
variable; its id is ``<paper>.<variable>``. ``draw(path, options)`` computes what it shows
(closed forms through ``lambdify`` of the derivations' SymPy expressions, simulated points
from the simulators) and saves the figure; it returns a dict of what it measured, printed by
the CLI (and with ``--json``). matplotlib is imported only when a figure is drawn.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from .errors import UsageError
from .files import output_path, write_atomically

FORMATS = (".png", ".pdf", ".svg")


@dataclass(frozen=True)
class FigureOptions:
    seed: int = 0
    device: Any = "cpu"
    quick: bool = False  # fewer simulated points and problems (a smoke run)
    progress: Callable[[str], None] | None = None


@dataclass(frozen=True)
class Figure:
    title: str
    draw: Callable[[Any, FigureOptions], dict[str, Any]]  # (matplotlib Figure, options) -> findings
    summary: str = ""


def pyplot() -> Any:
    """matplotlib's pyplot with a non-interactive backend, or a clear error when it is missing."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise UsageError("drawing a figure needs matplotlib: pip install matplotlib") from None
    return plt


def figure_path(name: str | Path) -> Path:
    """``name`` checked as a figure file (.png, .pdf or .svg, in a writable folder); raises UsageError."""
    return output_path(name, FORMATS, what="a figure file")


def render(figure: Figure, path: Path, options: FigureOptions) -> dict[str, Any]:
    """Draw ``figure`` into ``path`` (png, pdf or svg by suffix); the file appears only when complete.

    The path is checked before anything is drawn; the file is written by
    :func:`bnsym.files.write_atomically` (whole or not at all, with an ordinary file's mode).
    """
    path = figure_path(path)
    plt = pyplot()
    fig = plt.figure(figsize=(7.0, 4.8))
    try:
        found = figure.draw(fig, options)
        fmt = path.suffix.lower().lstrip(".")
        write_atomically(path, lambda fh: fig.savefig(fh, format=fmt, dpi=150, bbox_inches="tight"))
    finally:
        plt.close(fig)
    return found
