import asyncio
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from {{ cookiecutter.package_name }} import cache
from {{ cookiecutter.package_name }}.perf_check import free_port
from {{ cookiecutter.package_name }}.settings import Settings

from .conftest import graphql, serve

USERS = "{ users { name } }"


async def test_a_write_on_one_instance_is_seen_by_another(settings: Settings, tables: None) -> None:
    async with serve(settings) as first, serve(settings) as second:
        await first.post("/graphql", json={"query": USERS})
        shared = await second.post("/graphql", json={"query": USERS})

        await graphql(second, 'mutation { createUser(name: "Cy", email: "cy@example.com") { id } }')
        after = await first.post("/graphql", json={"query": USERS})

    assert shared.headers["x-cache"] == "hit"
    assert after.json()["data"]["users"] == [{"name": "Cy"}]


class PrivateRedis:
    """A redis-server of this test's own, to stop and start again."""

    def __init__(self, directory: Path) -> None:
        self.port = free_port()
        self.directory = directory
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        server = shutil.which("redis-server")
        assert server, "redis-server is needed for this test"
        self.process = subprocess.Popen(
            [server, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            cwd=self.directory,
            stdout=subprocess.DEVNULL,
        )
        for _ in range(100):
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.05)
        raise AssertionError("private redis-server did not start")

    def stop(self) -> None:
        if self.process:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    server = PrivateRedis(tmp_path)
    server.start()
    yield server
    server.stop()


def errors_counted() -> float:
    return REGISTRY.get_sample_value("graphql_response_cache_total", {"result": "error"}) or 0


async def test_redis_down_means_uncached_answers_and_it_recovers_by_itself(
    settings: Settings, tables: None, private_redis: PrivateRedis, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cache, "BACKOFF_SECONDS", 0.5)
    own = settings.model_copy(update={"redis_url": f"redis://127.0.0.1:{private_redis.port}/0"})
    async with serve(own) as client:
        await client.post("/graphql", json={"query": USERS})
        assert (await client.post("/graphql", json={"query": USERS})).headers["x-cache"] == "hit"

        private_redis.stop()
        before = errors_counted()
        during = [await client.post("/graphql", json={"query": USERS}) for _ in range(5)]
        ready = await client.get("/health/ready")

        private_redis.start()
        await asyncio.sleep(0.6)  # past the backoff
        await client.post("/graphql", json={"query": USERS})
        recovered = await client.post("/graphql", json={"query": USERS})

    assert [(response.status_code, response.json()) for response in during] == [(200, {"data": {"users": []}})] * 5
    assert errors_counted() - before == 1  # one failed attempt, then the backoff: no request waits on Redis
    assert ready.status_code == 503
    assert "cache" in ready.json()["failed"]
    assert recovered.headers["x-cache"] == "hit"
