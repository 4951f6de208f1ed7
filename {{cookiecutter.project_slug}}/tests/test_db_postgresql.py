import asyncio
import os
import runpy
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from {{ cookiecutter.package_name }}.db import verify_server
from {{ cookiecutter.package_name }}.models import Base
from {{ cookiecutter.package_name }}.seed import seed
from {{ cookiecutter.package_name }}.settings import Settings, load_settings
from {{ cookiecutter.package_name }}.tuning import BudgetError

from .cache_{{ cookiecutter.cache_backend }} import cache_settings
from .conftest import PROJECT, serve, serve_app
from .database_postgresql import database_settings, private_server


def oversized(database_url: str) -> Settings:
    """Settings whose own budget fits a claimed 10,000 connections, more than the server has."""
    return load_settings(_env_file=None, database_url=database_url, db_max_connections=10_000, web_concurrency=50)


async def test_a_fleet_larger_than_the_servers_max_connections_is_refused(database_url: str) -> None:
    with pytest.raises(BudgetError, match=r"PostgreSQL's max_connections=\d+ allows \d+") as refused:
        await verify_server(oversized(database_url))

    assert "DB_MAX_CONNECTIONS=" in str(refused.value)


async def test_the_app_does_not_start_when_the_server_cannot_take_its_pools(database_url: str) -> None:
    with pytest.raises(BudgetError):
        async with serve(oversized(database_url)):
            pass


async def test_a_fleet_within_the_servers_limit_starts(settings: Settings) -> None:
    await verify_server(settings)


def test_gunicorn_refuses_to_start_with_one_line(database_url: str) -> None:
    script = "import runpy; runpy.run_path('gunicorn.conf.py')['on_starting'](None)"
    env = {**os.environ, "DATABASE_URL": database_url, "DB_MAX_CONNECTIONS": "10000", "WEB_CONCURRENCY": "50"}
    done = subprocess.run([sys.executable, "-c", script], cwd=PROJECT, env=env, capture_output=True, text=True)

    assert done.returncode == 1
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "PostgreSQL's max_connections=" in done.stderr


def test_gunicorn_starts_when_the_budget_fits_and_cleans_up_on_exit(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    for name, value in database_settings().items():  # the server's own limit, when below the answers'
        monkeypatch.setenv(name.upper(), str(value))
    monkeypatch.chdir(PROJECT)
    before = set(os.environ)
    hooks = runpy.run_path("gunicorn.conf.py")

    hooks["on_starting"](None)
    hooks["on_exit"](None)

    assert set(os.environ) == before  # nothing the master set for its workers is left behind


async def test_a_database_outage_is_503_then_recovers_by_itself(tmp_path: Path) -> None:
    """The server stops under a running service and comes back: no crash, clean errors, no restart needed."""
    with private_server() as server:
        own = load_settings(_env_file=None, database_url=server.url, **cache_settings())
        async with serve_app(own) as served:
            engine: AsyncEngine = served.state["engine"]
            async with engine.begin() as connection:
                await connection.run_sync(Base.metadata.create_all)
            await seed(own, users=2, posts_per_user=1)
            client = served.client
            before = await client.post("/graphql", json={"query": "{ users { name } }"})

            await asyncio.to_thread(server.stop)
            down = await client.post("/graphql", json={"query": "{ user(id: 1) { name posts { title } } }"})
            down_ready = await client.get("/health/ready")

            await asyncio.to_thread(server.start)
            after = await client.post("/graphql", json={"query": "{ user(id: 2) { name } }"})
            after_ready = await client.get("/health/ready")

    assert before.status_code == 200
    assert down.status_code == 503 and down.headers["retry-after"].isdigit()
    assert {error["extensions"]["code"] for error in down.json()["errors"]} == {"SERVICE_UNAVAILABLE"}
    assert "the database is unavailable" in down.json()["errors"][0]["message"]
    assert down_ready.status_code == 503 and list(down_ready.json()["failed"]) == ["database"]
    assert after.json() == {"data": {"user": {"name": "User 2"}}}  # pre-ping replaced the dead connections
    assert after_ready.status_code == 200
