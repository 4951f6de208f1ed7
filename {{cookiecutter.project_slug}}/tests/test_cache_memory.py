import asyncio
import multiprocessing
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from {{ cookiecutter.package_name }}.cache_memory import SharedVersions, create_versions_file, open_backend
from {{ cookiecutter.package_name }}.settings import Settings

PROJECT = Path(__file__).resolve().parents[1]
CREATE_USER = "mutation($name: String!, $email: String!) { createUser(name: $name, email: $email) { id } }"


def bump_in_another_process(path: str, name: str) -> None:
    asyncio.run(SharedVersions(path).bump([name]))


def test_a_bump_in_one_process_is_read_in_another() -> None:
    path = create_versions_file()
    try:
        mine = SharedVersions(path)
        before = asyncio.run(mine.read(["users", "posts"]))
        worker = multiprocessing.get_context("spawn").Process(target=bump_in_another_process, args=(path, "users"))
        worker.start()
        worker.join(timeout=30)
        after = asyncio.run(mine.read(["users", "posts"]))
        mine.close()
    finally:
        Path(path).unlink()

    assert worker.exitcode == 0
    assert after[0] == before[0] + 1
    assert after[1] == before[1]


async def test_several_instances_are_refused(settings: Settings) -> None:
    with pytest.raises(ValueError, match="INSTANCES=2 with the memory cache"):
        await open_backend(settings.model_copy(update={"instances": 2}))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def three_workers(database_url: str, tables: None) -> Iterator[str]:
    """The service under gunicorn with 3 workers, each with its own memory cache."""
    bind = f"127.0.0.1:{free_port()}"
    env = {**os.environ, "DATABASE_URL": database_url, "WEB_CONCURRENCY": "3", "BIND": bind}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT / "src"), env.get("PYTHONPATH")]))
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "{{ cookiecutter.package_name }}.app:create_app()"],
        cwd=PROJECT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://{bind}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/health/ready", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.2)
    else:
        server.kill()
        raise AssertionError(server.communicate()[0])
    yield base
    server.send_signal(signal.SIGTERM)
    server.communicate(timeout=30)


def test_no_worker_serves_a_read_older_than_a_finished_write(three_workers: str) -> None:
    outcomes: set[str] = set()
    stale: list[tuple[int, int]] = []
    with httpx.Client(
        base_url=three_workers, headers={"connection": "close"}
    ) as client:  # a new connection, any worker
        for written in range(1, 16):
            created = client.post(
                "/graphql",
                json={"query": CREATE_USER, "variables": {"name": f"n{written}", "email": f"u{written}@example.com"}},
            )
            assert created.json()["data"]["createUser"]["id"]
            for _ in range(6):
                response = client.get("/graphql", params={"query": "{ users(limit: 1000) { id } }"})
                outcomes.add(response.headers.get("x-cache", ""))
                count = len(response.json()["data"]["users"])
                if count != written:
                    stale.append((written, count))

    assert stale == []
    assert outcomes == {"hit", "miss"}  # the cache was really in play
