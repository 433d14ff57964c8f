"""Progress display for device work: rich on a terminal, plain lines elsewhere.

Why: an apply across a farm takes minutes (miners restart after a pool
change); a person at a terminal wants a live bar, a CI log wants one line per
event with a timestamp, and both must show which device failed at which step.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn

from fleetform.events import Event, EventSink


class PlainProgress:
    """One timestamped line per event on stderr (CI logs, pipes)."""

    def __init__(self, *, verbose: bool) -> None:
        self._verbose = verbose
        self._lock = threading.Lock()

    def __call__(self, event: Event) -> None:
        """Print the event if it is worth a line."""
        if event.kind == "start" or (event.kind == "done" and not self._verbose):
            return
        step = f"{event.step}: " if event.step else ""
        marker = "FAILED " if event.kind == "failed" else ""
        line = f"[{time.strftime('%H:%M:%S')}] {event.device}: {marker}{step}{event.message}"
        with self._lock:
            print(line, file=sys.stderr, flush=True)


class RichProgress:
    """A live progress bar over devices, with failures and waits logged above it."""

    def __init__(self, console: Console, total: int, label: str) -> None:
        self._console = console
        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[last]}"),
            console=console,
            transient=True,
        )
        self._task = self._progress.add_task(label, total=total, last="")
        self._lock = threading.Lock()

    def __call__(self, event: Event) -> None:
        """Advance the bar and log notable events."""
        with self._lock:
            if event.kind in ("done", "failed"):
                self._progress.advance(self._task)
            if event.kind == "failed":
                step = f"{event.step}: " if event.step else ""
                self._progress.console.print(
                    f"[red]✗[/red] {event.device}: {step}{event.message}", markup=True,
                    highlight=False,
                )
            elif event.kind in ("step", "info"):
                self._progress.update(self._task, last=f"{event.device}: {event.message}")

    @contextmanager
    def running(self) -> Iterator[EventSink]:
        """Show the bar for the duration of the block."""
        with self._progress:
            yield self


@contextmanager
def progress_for(
    console: Console, total: int, label: str, *, enabled: bool, verbose: bool
) -> Iterator[EventSink]:
    """The right progress sink for this output: rich on a TTY, plain otherwise."""
    if not enabled:
        yield lambda _event: None
    elif console.is_terminal and sys.stderr.isatty():
        with RichProgress(console, total, label).running() as sink:
            yield sink
    else:
        yield PlainProgress(verbose=verbose)
