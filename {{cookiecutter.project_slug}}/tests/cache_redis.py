"""The tests' own corner of the Redis that REDIS_URL names: each test's keys under a prefix
of its own (the tables are new for every test; cached answers must be too), removed
after the session; and PrivateRedis, a server of a test's own to stop, freeze and restart.

With CI set, a Redis that does not answer fails the run instead of skipping it.
"""

import asyncio
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import pytest
from redis import Redis, RedisError

from {{ cookiecutter.package_name }}.perf_check import free_port

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
PREFIXES: list[str] = []


@cache
def reachable() -> str | None:
    """Why Redis is not usable, or None when it answers."""
    try:
        Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except RedisError as exc:
        return str(exc)
    return None


def cache_settings() -> dict[str, Any]:
    problem = reachable()
    if problem and os.environ.get("CI"):
        pytest.fail(f"Redis at {REDIS_URL} is required in CI and did not answer: {problem}")
    if problem:
        pytest.skip(f"Redis at {REDIS_URL} did not answer ({problem}); set REDIS_URL")
    PREFIXES.append(f"test-{secrets.token_hex(6)}:")
    return {"redis_url": REDIS_URL, "cache_key_prefix": PREFIXES[-1]}


def forget_cache() -> None:
    if not PREFIXES or reachable():
        return
    client = Redis.from_url(REDIS_URL)
    for prefix in PREFIXES:
        keys = list(client.scan_iter(match=prefix + "*", count=1000))
        if keys:
            client.delete(*keys)


class PrivateRedis:
    """A redis-server of a test's own, to stop, freeze and start again on the same port.

    `durable` keeps its data across a restart (an append-only file, synced on every
    write, in `directory`), as a production Redis with persistence does: versions and
    entries come back as they were. Otherwise it comes back empty.
    """

    def __init__(self, directory: Path, *, durable: bool = False) -> None:
        self.port = free_port()
        self.directory = directory
        self.durable = durable
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        server = shutil.which("redis-server")
        assert server, "redis-server is needed for this test"
        persistence = ["--appendonly", "yes", "--appendfsync", "always"] if self.durable else ["--appendonly", "no"]
        listen = ["--port", str(self.port), "--bind", "127.0.0.1"]
        self.process = subprocess.Popen(
            [server, *listen, "--save", "", "--dir", str(self.directory), *persistence], stdout=subprocess.DEVNULL
        )
        for _ in range(200):
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.05)
        raise AssertionError("private redis-server did not start")

    def freeze(self) -> None:
        """SIGSTOP: connections are still accepted (by the kernel), and nothing is answered."""
        assert self.process
        self.process.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        assert self.process
        self.process.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        if self.process:
            self.thaw()  # a stopped process would hold its SIGTERM until continued
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None


WAIT_SECONDS = 30.0
"""How long the cache may take to come back once Redis answers: generous, for a loaded CI."""


async def cache_back(client: httpx.AsyncClient) -> None:
    """Until the instance's readiness reports its cache in use again, which it is only once
    every invalidation it could not deliver has been."""
    deadline = time.monotonic() + WAIT_SECONDS
    while "degraded" in (await client.get("/health/ready")).json():
        assert time.monotonic() < deadline, f"the response cache was not back {WAIT_SECONDS:g} s after Redis"
        await asyncio.sleep(0.05)
