"""What the benchmarks share: the service under its gunicorn config, and wrk against it."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psutil

PROJECT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass(frozen=True)
class Service:
    base: str
    pid: int

    def worker_rss_mb(self) -> list[float]:
        """The resident memory of each gunicorn worker, in MB."""
        children = psutil.Process(self.pid).children()
        return sorted(child.memory_info().rss / 2**20 for child in children)


@contextmanager
def service(**env: str) -> Iterator[Service]:
    """The service under gunicorn.conf.py with `env` added; yields it once it is ready.
    Its log goes to a file (a pipe nobody reads would fill and stall the workers)."""
    bind = f"127.0.0.1:{free_port()}"
    command = [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "{{ cookiecutter.package_name }}.app:create_app()"]
    with tempfile.TemporaryFile("w+") as log:
        server = subprocess.Popen(
            command, cwd=PROJECT, env={**os.environ, **env, "BIND": bind}, stdout=log, stderr=subprocess.STDOUT
        )
        base = f"http://{bind}"
        try:
            for _ in range(150):
                try:
                    with urllib.request.urlopen(f"{base}/health/ready", timeout=1):
                        break
                except OSError:
                    if server.poll() is not None:
                        log.seek(0)
                        raise SystemExit(log.read() or "the service did not start") from None
                    time.sleep(0.2)
            yield Service(base, server.pid)
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)


@dataclass(frozen=True)
class Run:
    rate: float
    p50_ms: float
    p99_ms: float
    errors: int


def _find(pattern: str, text: str) -> re.Match[str]:
    match = re.search(pattern, text)
    if match is None:
        raise SystemExit(f"wrk printed something unexpected:\n{text}")
    return match


def _ms(match: re.Match[str]) -> float:
    return float(match[1]) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[match[2]]


def wrk(url: str, seconds: int, connections: int) -> Run:
    """One wrk run: requests/s, p50 and p99 latency, and non-2xx responses plus socket errors."""
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sockets = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return Run(
        rate=float(_find(r"Requests/sec:\s+([\d.]+)", out)[1]),
        p50_ms=_ms(_find(r"50%\s+([\d.]+)(us|ms|s)", out)),
        p99_ms=_ms(_find(r"99%\s+([\d.]+)(us|ms|s)", out)),
        errors=(int(non_2xx[1]) if non_2xx else 0) + (sum(map(int, sockets.groups())) if sockets else 0),
    )


def require_wrk() -> None:
    if subprocess.run(["sh", "-c", "command -v wrk"], capture_output=True).returncode != 0:
        raise SystemExit("wrk is not installed: apt install wrk (or your system's package), then run again")
