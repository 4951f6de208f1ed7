"""Cached against uncached throughput of one query, side by side in one run.

Starts the service twice under gunicorn.conf.py, once with the response cache
(CACHE_TTL_SECONDS as configured) and once without it (CACHE_TTL_SECONDS=0), and
alternates wrk runs against the two, so that whatever else the machine does hits
both alike. Needs wrk (Debian/Ubuntu: apt install wrk) and a seeded database
(make migrate seed). A benchmark, not a test: it prints, it asserts nothing.
"""

from __future__ import annotations

import argparse
import statistics
import urllib.parse

from harness import Run, require_wrk, service, wrk

QUERY = "{ users { id name } }"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10, help="length of each wrk run")
    parser.add_argument("--rounds", type=int, default=3, help="alternations of the two services")
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    require_wrk()

    results: dict[str, list[Run]] = {"cached": [], "uncached": []}
    path = "/graphql?" + urllib.parse.urlencode({"query": QUERY})
    with service() as cached, service(CACHE_TTL_SECONDS="0") as uncached:
        targets = {"cached": cached.base + path, "uncached": uncached.base + path}
        for url in targets.values():
            wrk(url, 2, args.connections)  # warm-up: imports, pools, and the first cache entry
        for round_ in range(1, args.rounds + 1):
            for name, url in targets.items():
                run = wrk(url, args.seconds, args.connections)
                results[name].append(run)
                print(f"round {round_} {name:>8}: {run.rate:9.1f} req/s  p99 {run.p99_ms:7.1f} ms  errors {run.errors}")

    cached_rate = statistics.median(run.rate for run in results["cached"])
    uncached_rate = statistics.median(run.rate for run in results["uncached"])
    print(f"\n{QUERY}: cached {cached_rate:.1f} req/s, uncached {uncached_rate:.1f} req/s (medians)")
    print(f"cached / uncached = {cached_rate / uncached_rate:.2f}x")


if __name__ == "__main__":
    main()
