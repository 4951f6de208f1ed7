"""The memory monitor: every worker samples its own RSS and says when it grows too large.

The lifespan runs it as a background task. Each sample sets the
`worker_resident_memory_bytes` gauge (one series per live worker) and, above
MEMORY_WARN_MB, logs a warning; with TRACEMALLOC=1 the warning lists the
allocation sites that hold the most memory, which is where a leak shows first.
"""

from __future__ import annotations

import asyncio
import logging
import os
import tracemalloc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

import psutil

from .monitoring import WORKER_RSS
from .settings import Settings

log = logging.getLogger(__name__)
TOP_SITES = 10
"""Allocation sites a warning lists when tracemalloc is on."""
MB = 1024 * 1024


def top_allocation_sites(limit: int = TOP_SITES) -> list[str]:
    """The lines that hold the most traced memory, largest first, as `file:line size count`."""
    snapshot = tracemalloc.take_snapshot().filter_traces([tracemalloc.Filter(False, tracemalloc.__file__)])
    return [
        f"{stat.traceback[0].filename}:{stat.traceback[0].lineno} {stat.size / 1024:.0f} KiB in {stat.count} blocks"
        for stat in snapshot.statistics("lineno")[:limit]
    ]


class MemoryMonitor:
    def __init__(self, warn_mb: int) -> None:
        self.warn_mb = warn_mb
        self._process = psutil.Process(os.getpid())

    def sample(self) -> float:
        """This worker's RSS in MB, now; a warning when it is above the limit."""
        rss = self._process.memory_info().rss
        WORKER_RSS.set(rss)
        mb = rss / MB
        if mb > self.warn_mb:
            sites = top_allocation_sites() if tracemalloc.is_tracing() else []
            log.warning(
                "worker %d uses %.0f MB of memory (RSS), above MEMORY_WARN_MB=%d%s",
                self._process.pid,
                mb,
                self.warn_mb,
                "".join(f"\n  {site}" for site in sites) or " (TRACEMALLOC=1 lists where it is allocated)",
            )
        return mb

    async def run(self, interval: float) -> None:
        while True:
            self.sample()
            await asyncio.sleep(interval)


@asynccontextmanager
async def monitor_memory(settings: Settings) -> AsyncIterator[MemoryMonitor]:
    """Sample every MEMORY_CHECK_SECONDS while the block runs; tracemalloc on with TRACEMALLOC=1."""
    started_tracing = settings.tracemalloc and not tracemalloc.is_tracing()
    if started_tracing:
        tracemalloc.start()
    monitor = MemoryMonitor(settings.memory_warn_mb)
    task = asyncio.create_task(monitor.run(settings.memory_check_seconds), name="memory-monitor")
    try:
        yield monitor
    finally:
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task
        if started_tracing:
            tracemalloc.stop()
