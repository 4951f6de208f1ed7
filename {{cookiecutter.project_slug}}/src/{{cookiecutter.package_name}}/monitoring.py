"""Metrics the service keeps about itself; `/metrics` exposes them."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

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
