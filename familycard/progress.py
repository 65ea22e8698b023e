"""Progress of long commands on standard error: a bar on a terminal, log lines otherwise.

On a TTY: ``label [#######.......]  48%  134,000/276,000  9,120/s  ETA 0:16``, redrawn at
most ten times a second. Not on a TTY (CI, a pipe, ``docker logs``): one plain line every
``interval`` seconds (5 by default) and one at the end. A total marked ``approximate`` is an
estimate: the bar stops short of 100 % until ``close``.

``Progress`` is fed by the caller (``update``); ``watch`` polls a counter from a background
thread instead, for work that runs where the caller cannot hook in (a Bytewax run).
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from types import TracebackType
from typing import IO, TypeVar

__all__ = ["Progress", "watch", "counted"]

T = TypeVar("T")

_BAR = 24


def _clock(seconds: float) -> str:
    seconds = max(0, int(seconds + 0.5))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class Progress:
    def __init__(self, label: str, total: float | None = None, *, unit: str = "messages",
                 stream: IO[str] | None = None, interval: float = 5.0, approximate: bool = False,
                 tty: bool | None = None) -> None:
        self.label = label
        self.total = total if total and total > 0 else None
        self.unit = unit
        self.stream = stream if stream is not None else sys.stderr
        self.interval = interval
        self.approximate = approximate
        isatty = getattr(self.stream, "isatty", None)
        self.tty = bool(isatty()) if tty is None and isatty is not None else bool(tty)
        self.done = 0.0
        self.started = time.monotonic()
        self._last_draw = -1e18 if self.tty else self.started  # log mode: first line after one interval
        self._width = 0
        self._closed = False

    # -- feeding -----------------------------------------------------------------------------

    def update(self, done: float) -> None:
        """Set the amount done so far (absolute) and redraw if it is time."""
        self.done = done
        now = time.monotonic()
        if now - self._last_draw >= (0.1 if self.tty else self.interval):
            self._last_draw = now
            self._draw(now)

    def advance(self, n: float = 1) -> None:
        self.update(self.done + n)

    def close(self) -> None:
        """The final state: a full bar and a newline, or a last log line."""
        if self._closed:
            return
        self._closed = True
        if self.approximate or self.total is None:
            self.total = self.done
        self._draw(time.monotonic(), final=True)
        if self.tty:
            self.stream.write("\n")
        self.stream.flush()

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    # -- rendering ---------------------------------------------------------------------------

    def fraction(self) -> float | None:
        if not self.total:
            return None
        f = self.done / self.total
        return min(f, 0.999 if self.approximate and not self._closed else 1.0)

    def text(self, now: float | None = None, *, final: bool = False) -> str:
        now = time.monotonic() if now is None else now
        elapsed = max(1e-9, now - self.started)
        rate = self.done / elapsed
        f = self.fraction()
        count = f"{self.done:,.0f}"
        if self.total is not None:
            count += f"/{'~' if self.approximate and not final else ''}{self.total:,.0f}"
        parts = [self.label]
        if f is not None and self.tty:
            filled = int(f * _BAR)
            parts.append("[" + "#" * filled + "." * (_BAR - filled) + "]")
        if f is not None:
            parts.append(f"{int(f * 100 + 1e-9):3d}%")
        parts += [f"{count} {self.unit}", f"{rate:,.0f}/s"]
        if final:
            parts.append(f"in {_clock(elapsed)}")
        elif f is not None and 0 < f < 1 and rate > 0:
            parts.append(f"ETA {_clock((self.total or 0) * (1 - f) / rate if self.total else 0)}")
        return "  ".join(parts)

    def _draw(self, now: float, final: bool = False) -> None:
        line = self.text(now, final=final)
        if self.tty:
            pad = max(0, self._width - len(line))
            self._width = len(line)
            self.stream.write("\r" + line + " " * pad)
        else:
            self.stream.write(line + "\n")
        self.stream.flush()


def counted(items: Iterable[T], progress: Progress, weight: Callable[[T], float] | None = None) -> Iterator[T]:
    """Yield ``items``, advancing ``progress`` by one (or ``weight(item)``) for each; close at the end."""
    try:
        for item in items:
            progress.advance(1 if weight is None else weight(item))
            yield item
    finally:
        progress.close()


class watch:
    """Poll ``read()`` every ``every`` seconds from a daemon thread into a ``Progress``.

    Nothing is shown while ``read()`` is 0 (in a cluster, only the process that owns the
    input shows progress). Use as a context manager around the work.
    """

    def __init__(self, read: Callable[[], float], progress: Progress, every: float = 0.2) -> None:
        self.read = read
        self.progress = progress
        self.every = every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="familycard-progress", daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            done = self.read()
            if done:
                self.progress.update(done)

    def __enter__(self) -> watch:
        self._thread.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._stop.set()
        self._thread.join()
        done = self.read()
        if done and exc_type is None:
            self.progress.update(done)
            self.progress.close()
        elif self.progress.tty and self.progress.done:
            self.progress.stream.write("\n")
