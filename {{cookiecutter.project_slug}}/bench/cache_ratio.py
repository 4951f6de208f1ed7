"""Cached against uncached throughput of one query, side by side in one run.

Starts the service twice under gunicorn.conf.py, once with the response cache
(CACHE_TTL_SECONDS as configured) and once without it (CACHE_TTL_SECONDS=0), and
alternates wrk runs against the two, so that whatever else the machine does hits
both alike. Needs wrk (Debian/Ubuntu: apt install wrk) and a seeded database
(make migrate seed). A benchmark, not a test: it prints, it asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
QUERY = "{ users { id name } }"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def service(cache_ttl: str | None) -> Iterator[str]:
    """The service under gunicorn; yields its base URL once it is ready."""
    bind = f"127.0.0.1:{free_port()}"
    env = {**os.environ, "BIND": bind}
    if cache_ttl is not None:
        env["CACHE_TTL_SECONDS"] = cache_ttl
    command = [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "{{ cookiecutter.package_name }}.app:create_app()"]
    server = subprocess.Popen(command, cwd=PROJECT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://{bind}"
    try:
        for _ in range(150):
            try:
                with urllib.request.urlopen(f"{base}/health/ready", timeout=1):
                    break
            except OSError:
                if server.poll() is not None:
                    reason = server.stderr.read().decode() if server.stderr else "the service did not start"
                    raise SystemExit(reason) from None
                time.sleep(0.2)
        yield base
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)


def find(pattern: str, text: str) -> re.Match[str]:
    match = re.search(pattern, text)
    if match is None:
        raise SystemExit(f"wrk printed something unexpected:\n{text}")
    return match


def wrk(url: str, seconds: int, connections: int) -> tuple[float, float, int]:
    """(requests/s, p99 ms, non-2xx responses and socket errors) of one wrk run."""
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rate = float(find(r"Requests/sec:\s+([\d.]+)", out)[1])
    latency = find(r"99%\s+([\d.]+)(us|ms|s)", out)
    p99 = float(latency[1]) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[latency[2]]
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sockets = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    errors = (int(non_2xx[1]) if non_2xx else 0) + (sum(map(int, sockets.groups())) if sockets else 0)
    return rate, p99, errors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10, help="length of each wrk run")
    parser.add_argument("--rounds", type=int, default=3, help="alternations of the two services")
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt install wrk (or your system's package), then run again")

    results: dict[str, list[tuple[float, float, int]]] = {"cached": [], "uncached": []}
    path = "/graphql?" + urllib.parse.urlencode({"query": QUERY})
    with service(None) as cached, service("0") as uncached:
        targets = {"cached": cached + path, "uncached": uncached + path}
        for url in targets.values():
            wrk(url, 2, args.connections)  # warm-up: imports, pools, and the first cache entry
        for round_ in range(1, args.rounds + 1):
            for name, url in targets.items():
                results[name].append(wrk(url, args.seconds, args.connections))
                rate, p99, errors = results[name][-1]
                print(f"round {round_} {name:>8}: {rate:9.1f} req/s  p99 {p99:7.1f} ms  errors {errors}")

    cached_rate = statistics.median(rate for rate, _, _ in results["cached"])
    uncached_rate = statistics.median(rate for rate, _, _ in results["uncached"])
    print(f"\n{QUERY}: cached {cached_rate:.1f} req/s, uncached {uncached_rate:.1f} req/s (medians)")
    print(f"cached / uncached = {cached_rate / uncached_rate:.2f}x")


if __name__ == "__main__":
    main()
