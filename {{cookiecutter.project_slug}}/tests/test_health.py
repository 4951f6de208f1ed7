import threading
from pathlib import Path

import httpx
from asgi_lifespan import LifespanManager

from {{ cookiecutter.package_name }}.app import create_app
from {{ cookiecutter.package_name }}.settings import load_settings


async def test_live_and_ready_answer_when_the_database_does(client: httpx.AsyncClient) -> None:
    live = await client.get("/health/live")
    ready = await client.get("/health/ready")

    assert (live.status_code, ready.status_code) == (200, 200)


def join_sqlite_workers() -> None:
    """aiosqlite stops a connection that failed to open without waiting for its worker
    thread (omnilib/aiosqlite#241); let the thread finish while this test's event loop
    can still take its reply, or it raises "Event loop is closed" in a later test."""
    for thread in threading.enumerate():
        if "_connection_worker_thread" in thread.name:
            thread.join(timeout=5)


async def test_ready_is_503_and_names_the_database_when_it_cannot_connect(tmp_path: Path) -> None:
    unreachable = f"sqlite+aiosqlite:///{tmp_path / 'missing-dir' / 'db.sqlite'}"
    app = create_app(load_settings(_env_file=None, database_url=unreachable))

    async with (
        LifespanManager(app) as manager,
        httpx.AsyncClient(transport=httpx.ASGITransport(app=manager.app), base_url="http://test") as client,
    ):
        live = await client.get("/health/live")
        ready = await client.get("/health/ready")
    join_sqlite_workers()

    assert live.status_code == 200
    assert ready.status_code == 503
    assert ready.json()["status"] == "unavailable"
    assert "database" in ready.json()["failed"]
