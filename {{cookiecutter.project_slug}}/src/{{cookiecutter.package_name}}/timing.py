"""The Server-Timing header: where one request spent its time, as browser devtools and `curl -v` show it.

The endpoint gives each request a `Timings` (when SERVER_TIMING allows) in a context
variable; the steps it passes through add to it wherever they run: parsing and
validation (graphql/documents.py), the schema library's handler (graphql/endpoint.py),
every SQL statement (db.py, DataLoader batches included: their tasks inherit the
variable) and every response-cache round trip (cache.py). With no `Timings` set, a
step costs one context-variable read.

    Server-Timing: parse;dur=0.02, validate;dur=0.01, execute;dur=1.87,
                   db;dur=1.21;desc="2 statements", cache;dur=0.11;desc="3 calls"

`execute` is the handler's time less validation, which it runs first; `db` is part
of `execute`. In a batch each entry is the sum over its operations, which run
concurrently: the sums may exceed the request's wall time.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Literal

Entry = Literal["parse", "validate", "execute", "db", "cache"]
ENTRIES: tuple[Entry, ...] = ("parse", "validate", "execute", "db", "cache")


def _times(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


class Timings:
    """Seconds spent, and times entered, per entry, for one request."""

    __slots__ = ("counts", "seconds")

    def __init__(self) -> None:
        self.seconds: dict[Entry, float] = dict.fromkeys(ENTRIES, 0.0)
        self.counts: dict[Entry, int] = dict.fromkeys(ENTRIES, 0)

    def add(self, entry: Entry, seconds: float) -> None:
        self.seconds[entry] += seconds
        self.counts[entry] += 1

    def measured(self) -> bool:
        """Whether the request entered any entry: an explorer page or a malformed request did not."""
        return any(self.counts.values())

    def header(self) -> str:
        """The header's value. Written out, not looped: it is built for every answer."""
        ms = {entry: seconds * 1000 for entry, seconds in self.seconds.items()}
        execute = max(ms["execute"] - ms["validate"], 0.0)
        return (
            f"parse;dur={ms['parse']:.2f}, validate;dur={ms['validate']:.2f}, execute;dur={execute:.2f}, "
            f'db;dur={ms["db"]:.2f};desc="{_times(self.counts["db"], "statement")}", '
            f'cache;dur={ms["cache"]:.2f};desc="{_times(self.counts["cache"], "call")}"'
        )


TIMINGS: ContextVar[Timings | None] = ContextVar("timings", default=None)
"""The Timings of the request this task serves; None when the header is off."""


def spent(entry: Entry, seconds: float) -> None:
    """Add `seconds` to `entry` of the current request's Timings, if it keeps any."""
    timings = TIMINGS.get()
    if timings is not None:
        timings.add(entry, seconds)
