"""What the benchmarks share: the service under its gunicorn config, and wrk against it."""

from __future__ import annotations

import re
import resource
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from {{ cookiecutter.package_name }}.perf_check import Served, gunicorn

PROJECT = Path(__file__).resolve().parents[1]


@contextmanager
def service(**env: str) -> Iterator[Served]:
    """The service under gunicorn.conf.py with `env` added, as perf-check starts it."""
    with gunicorn(PROJECT, env) as served:
        yield served


@dataclass(frozen=True)
class Run:
    rate: float
    p50_ms: float
    p99_ms: float
    errors: int
    generator_cpu: float
    """Cores wrk kept busy on average: well under its thread count, it was not the bottleneck."""


def _find(pattern: str, text: str) -> re.Match[str]:
    match = re.search(pattern, text)
    if match is None:
        raise SystemExit(f"wrk printed something unexpected:\n{text}")
    return match


def _ms(match: re.Match[str]) -> float:
    return float(match[1]) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[match[2]]


def _children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def wrk(url: str, seconds: float, connections: int, threads: int = 2) -> Run:
    """One wrk run: requests/s, p50 and p99 latency, non-2xx responses plus socket errors, wrk's CPU."""
    before = _children_cpu_seconds()
    out = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds:g}s", "--latency", url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    generator_cpu = (_children_cpu_seconds() - before) / seconds
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sockets = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return Run(
        rate=float(_find(r"Requests/sec:\s+([\d.]+)", out)[1]),
        p50_ms=_ms(_find(r"50%\s+([\d.]+)(us|ms|s)", out)),
        p99_ms=_ms(_find(r"99%\s+([\d.]+)(us|ms|s)", out)),
        errors=(int(non_2xx[1]) if non_2xx else 0) + (sum(map(int, sockets.groups())) if sockets else 0),
        generator_cpu=generator_cpu,
    )


def require_wrk() -> None:
    if subprocess.run(["sh", "-c", "command -v wrk"], capture_output=True).returncode != 0:
        raise SystemExit("wrk is not installed: apt install wrk (or your system's package), then run again")
