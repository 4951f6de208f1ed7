"""Metrics the service keeps about itself, and `/metrics`, which exposes them.

Under gunicorn every worker writes its metrics to files in PROMETHEUS_MULTIPROC_DIR
(gunicorn.conf.py sets it up), and `/metrics`, whichever worker answers it, reads
them all: the fleet's totals, not one worker's.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Awaitable, Callable, Iterable, Sequence
from contextlib import suppress
from contextvars import ContextVar
from ipaddress import IPv4Network, IPv6Network, ip_address
from pathlib import Path

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.metrics_core import Metric
from prometheus_client.mmap_dict import MmapedDict
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import Response

from .refusal import Refusal

# "livesum": under gunicorn each worker has its own pool; the fleet view is their sum.
POOL_SIZE = Gauge("db_pool_size", "Connections the pool keeps open", multiprocess_mode="livesum")
POOL_CHECKED_OUT = Gauge("db_pool_checked_out", "Connections in use", multiprocess_mode="livesum")
POOL_OVERFLOW = Gauge("db_pool_overflow", "Connections open beyond pool_size", multiprocess_mode="livesum")
POOL_CHECKOUT_WAIT = Histogram(
    "db_pool_checkout_wait_seconds",
    "Time a request waited for a pooled connection",
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
DOCUMENT_CACHE = Counter(
    "graphql_document_cache_total",
    "Lookups in the parsed-document and validation caches",
    ["cache", "result"],
)
RESPONSE_CACHE = Counter(
    "graphql_response_cache_total",
    "Response cache outcomes: hit, miss, stored, error",
    ["result"],
)
# Labelled by backend, though a worker has one: an unlabelled gauge is written (0) by every
# process that imports this module, gunicorn's master included, which serves nothing
# and would hold "livemin" at 0 for good.
RESPONSE_CACHE_UP = Gauge(
    "response_cache_up",
    "1 while the response cache is in use; 0 while its backend fails and answers are computed "
    "uncached (the lowest of the workers')",
    ["backend"],
    multiprocess_mode="livemin",
)
RESPONSE_CACHE_PENDING = Gauge(
    "response_cache_pending_invalidations",
    "Writes committed while the response cache was unreachable whose invalidation has not reached it yet",
    multiprocess_mode="livesum",
)
RESPONSE_CACHE_DEFERRED = Counter(
    "response_cache_deferred_invalidations_total",
    "Writes whose invalidation waited for the response cache to answer again",
)
GRAPHQL_REQUESTS = Counter(
    "graphql_requests_total",
    "GraphQL requests (each operation of a batch on its own) by operation name and outcome: "
    "ok, error (an answer with errors), refused (malformed)",
    ["operation", "outcome"],
)
GRAPHQL_LATENCY = Histogram(
    "graphql_request_duration_seconds",
    "Time to answer a GraphQL request, by operation name",
    ["operation"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
DB_STATEMENTS = Counter("db_statements_total", "SQL statements sent to the database")
DB_SLOW_STATEMENTS = Counter(
    "db_slow_statements_total",
    "SQL statements that took SLOW_QUERY_MS or longer, by the GraphQL operation that sent them",
    ["operation"],
)
WORKER_RSS = Gauge("worker_resident_memory_bytes", "Resident memory of each worker", multiprocess_mode="liveall")

CURRENT_OPERATION: ContextVar[str | None] = ContextVar("current_operation", default=None)
"""The GraphQL operation this task serves, for what the database layer logs and counts."""

OPERATION_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
MAX_OPERATION_NAMES = 100
"""Distinct operation names a worker labels; later ones count as `other`, so that
clients cannot grow the metrics without bound by inventing names."""
_operation_names: set[str] = set()


def operation_label(name: str | None) -> str:
    if name is None:
        return "anonymous"
    if name in _operation_names:
        return name
    if OPERATION_NAME.fullmatch(name) and len(_operation_names) < MAX_OPERATION_NAMES:
        _operation_names.add(name)
        return name
    return "other"


def count_operation(name: str | None, outcome: str, seconds: float) -> None:
    """One GraphQL operation answered: a request, or one operation of a batch."""
    label = operation_label(name)
    GRAPHQL_REQUESTS.labels(label, outcome).inc()
    GRAPHQL_LATENCY.labels(label).observe(seconds)


def metrics_directory() -> Path | None:
    """Where gunicorn's workers write their metrics (PROMETHEUS_MULTIPROC_DIR), if they do."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    return Path(directory) if directory else None


class WorkersCollector(Collector):
    """MultiProcessCollector's merge, passing over a file in the instant its worker has created
    it empty, where prometheus-client would fail the whole scrape (client_python#1199)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def collect(self) -> Iterable[Metric]:
        files = []
        for path in self.directory.glob("*.db"):
            with suppress(FileNotFoundError):  # a live gauge of a worker that has just exited
                if path.stat().st_size:
                    files.append(str(path))
        merged: Iterable[Metric] = MultiProcessCollector.merge(files, accumulate=True)
        return merged


def metrics_for(networks: Sequence[IPv4Network | IPv6Network]) -> Callable[[Request], Awaitable[Response]]:
    """GET /metrics for clients from `networks` (METRICS_ALLOW): the metrics name client-chosen
    operation names and each worker's memory, which are nobody else's business."""

    async def metrics(request: Request) -> Response:
        if not _allowed(request, networks):
            host = request.client.host if request.client else "?"
            message = f"/metrics is not open to {host}: only to the networks in METRICS_ALLOW"
            return Refusal.because(message, 403, code="FORBIDDEN").response()
        registry = REGISTRY
        directory = metrics_directory()
        if directory is not None:  # this process's metrics, or under gunicorn every worker's, merged
            registry = CollectorRegistry()
            registry.register(WorkersCollector(directory))
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return metrics


def _allowed(request: Request, networks: Sequence[IPv4Network | IPv6Network]) -> bool:
    if request.client is None:
        return True  # a unix socket: a process on this host
    try:
        address = ip_address(request.client.host)  # behind a proxy, uvicorn has put X-Forwarded-For's here
    except ValueError:
        return False
    return any(address in network for network in networks)


def prepare_directory(directory: Path) -> None:
    """Before the workers start: an empty directory, so no old run's numbers are counted."""
    if directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(parents=True)


def archive_dead_worker(pid: int, directory: Path) -> None:
    """When a worker exits: drop its live gauges, and fold its counters and histograms into
    one archive file per kind, so that totals keep counting what it served while the
    directory holds a bounded number of files however often workers are recycled."""
    mark_process_dead(pid, str(directory))
    for kind in ("counter", "histogram"):
        dead = directory / f"{kind}_{pid}.db"
        if not dead.exists() or not dead.stat().st_size:  # empty: it died creating it
            dead.unlink(missing_ok=True)
            continue
        # The file name makes MultiProcessCollector read it as one more process of this kind.
        archive = MmapedDict(str(directory / f"{kind}_archive.db"))
        try:
            for key, value, timestamp, _ in MmapedDict.read_all_values_from_file(str(dead)):
                archive.write_value(key, archive.read_value(key)[0] + value, timestamp)
        finally:
            archive.close()
        dead.unlink()
