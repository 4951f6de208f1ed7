"""`make bench`: the service under its computed gunicorn config, driven by wrk on loopback.

For three queries — one answered from the response cache, the same one computed
every time, and a nested one — prints requests/s, p50 and p99 latency, errors and
the resident memory of each worker after the run. Needs wrk (apt install wrk) and
a seeded database (make migrate seed). A benchmark, not a test: it asserts nothing.
"""

from __future__ import annotations

import argparse
import urllib.parse

from harness import require_wrk, service, wrk

QUERIES = {
    "cached": "{ users { id name } }",
    "uncached": "{ users { id name } }",
    "nested": "{ users(limit: 10) { id posts { title author { name } } } }",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10, help="length of each wrk run")
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    require_wrk()

    print(f"{'query':>8} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>6} {'wrk cores':>9}  worker RSS (MB)")
    with service() as cached, service(CACHE_TTL_SECONDS="0") as uncached:
        for name, query in QUERIES.items():
            target = cached if name == "cached" else uncached
            url = target.base + "/graphql?" + urllib.parse.urlencode({"query": query})
            wrk(url, 2, args.connections)  # warm-up: imports, pools, the first cache entry
            run = wrk(url, args.seconds, args.connections)
            rss = ", ".join(f"{mb:.0f}" for mb in target.worker_rss_mb())
            figures = f"{run.rate:9.1f} {run.p50_ms:8.1f} {run.p99_ms:8.1f} {run.errors:>6} {run.generator_cpu:9.2f}"
            print(f"{name:>8} {figures}  {rss}")


if __name__ == "__main__":
    main()
