import asyncio
import logging
import os
import subprocess
import sys
import time
from typing import Any

import httpx
import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from prometheus_client import REGISTRY
from sqlalchemy import Connection, event, func, inspect, select, text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from {{ cookiecutter.package_name }}.db import SLOW_CHECKOUT_SECONDS, make_engine
from {{ cookiecutter.package_name }}.models import Base, Post, User
from {{ cookiecutter.package_name }}.seed import seed
from {{ cookiecutter.package_name }}.settings import Settings

from .conftest import PROJECT, graphql
from .database_{{ cookiecutter.database }} import make_test_database

NESTED = "query($limit: Int!) { users(limit: $limit) { id posts { id author { name } } } }"
CHECKOUTS = "db_pool_checkout_wait_seconds_count"
WAITED = "db_pool_checkout_wait_seconds_sum"


async def statements_for(client: httpx.AsyncClient, sql_statements: list[str], limit: int) -> int:
    """Statements for NESTED; each `limit` is a response cache key of its own, so it executes."""
    sql_statements.clear()
    body = await graphql(client, NESTED, limit=limit)
    assert "errors" not in body
    return len(sql_statements)


async def test_nested_query_costs_the_same_statements_for_5_and_50_users(
    client: httpx.AsyncClient, settings: Settings, sql_statements: list[str]
) -> None:
    await seed(settings, users=5, posts_per_user=3)
    for_5 = await statements_for(client, sql_statements, limit=1000)
    await seed(settings, users=45, posts_per_user=3)
    for_50 = await statements_for(client, sql_statements, limit=999)

    assert for_5 == for_50
    assert for_50 <= 3


async def count_rows(settings: Settings) -> tuple[int, int]:
    engine = create_async_engine(settings.database_url, poolclass=NullPool)
    async with engine.connect() as connection:
        users = await connection.scalar(select(func.count()).select_from(User))
        posts = await connection.scalar(select(func.count()).select_from(Post))
    await engine.dispose()
    return users or 0, posts or 0


async def test_seed_adds_data_each_time_it_runs(settings: Settings, tables: None) -> None:
    assert await seed(settings, users=5, posts_per_user=3) == (5, 15)
    assert await seed(settings, users=2, posts_per_user=0) == (2, 0)

    assert await count_rows(settings) == (7, 15)


def seed_command(database_url: str, *options: str) -> str:
    """`python -m {{ cookiecutter.package_name }} seed`, small, on the tests' database: what it printed."""
    env = {**os.environ, "DATABASE_URL": database_url, "PYTHONPATH": str(PROJECT / "src")}
    command = [sys.executable, "-m", "{{ cookiecutter.package_name }}", "seed", "--users", "3", "--posts-per-user", "2"]
    done = subprocess.run([*command, *options], cwd=PROJECT, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


async def test_the_seed_command_run_twice_seeds_once_unless_told_to_add_or_reset(
    database_url: str, settings: Settings, tables: None
) -> None:
    runs = {"first": seed_command(database_url), "again": seed_command(database_url)}
    after_again = await count_rows(settings)
    runs["add"] = seed_command(database_url, "--add")
    after_add = await count_rows(settings)
    runs["reset"] = seed_command(database_url, "--reset")

    assert after_again == (3, 6)
    assert "has 3 users already: nothing inserted" in runs["again"]
    assert after_add == (6, 12)
    assert "in place of 6 users" in runs["reset"]
    assert await count_rows(settings) == (3, 6)


async def test_seed_inserts_ten_thousand_users_in_bulk(
    settings: Settings, tables: None, sql_statements: list[str]
) -> None:
    await seed(settings, users=10_000, posts_per_user=1)

    inserts = [statement for statement in sql_statements if statement.lstrip().upper().startswith("INSERT")]
    assert await count_rows(settings) == (10_000, 10_000)
    # One executemany per table; a driver may page it (SQLAlchemy's insertmanyvalues: 1,000
    # rows a page), but never one statement per row.
    assert len(inserts) <= 20, len(inserts)


async def test_pool_reports_checkouts_and_warns_when_one_waits(
    database_url: str, tables: None, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings(_env_file=None, database_url=database_url, db_pool_size=1, db_max_overflow=0)
    engine = make_engine(settings)
    before = REGISTRY.get_sample_value(CHECKOUTS) or 0
    try:
        async with engine.connect():
            waiting = asyncio.create_task(engine.connect().__aenter__())
            await asyncio.sleep(0.3)
        second = await waiting
        await second.close()
    finally:
        await engine.dispose()

    assert (REGISTRY.get_sample_value(CHECKOUTS) or 0) >= before + 2
    assert any("waited" in record.getMessage() and record.levelno == logging.WARNING for record in caplog.records)


async def test_opening_a_connection_is_not_waiting_for_one(
    database_url: str, tables: None, caplog: pytest.LogCaptureFixture
) -> None:
    """Every start's first requests open connections: that took a warning of exhaustion when slow."""
    settings = Settings(_env_file=None, database_url=database_url, db_pool_size=2, db_max_overflow=0)
    engine = make_engine(settings)

    def slow_connect(*_: object) -> None:
        time.sleep(SLOW_CHECKOUT_SECONDS * 2)  # then the driver connects as usual

    event.listen(engine.sync_engine, "do_connect", slow_connect)
    waited = REGISTRY.get_sample_value(WAITED) or 0
    try:
        async with engine.connect(), engine.connect():
            pass
    finally:
        await engine.dispose()

    assert not any("waited" in record.getMessage() for record in caplog.records)
    assert (REGISTRY.get_sample_value(WAITED) or 0) == waited


async def test_no_connection_counts_as_checked_out_once_returned(settings: Settings, tables: None) -> None:
    """SQLAlchemy sends `checkin` before the connection is back: the gauge read one too many at rest."""
    engine = make_engine(settings)
    try:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
            during = REGISTRY.get_sample_value("db_pool_checked_out")
        after = REGISTRY.get_sample_value("db_pool_checked_out")
    finally:
        await engine.dispose()

    assert (during, after) == (1, 0)


def test_migrations_build_the_models_schema_on_an_empty_database(tmp_path_factory: pytest.TempPathFactory) -> None:
    with make_test_database(tmp_path_factory) as url:
        config = Config(str(PROJECT / "alembic.ini"))
        config.set_main_option("sqlalchemy.url", url)

        command.upgrade(config, "head")

        differences, indexes = asyncio.run(compare_with_models(url))
    assert differences == []
    assert "ix_posts_user_id" in indexes


async def compare_with_models(url: str) -> tuple[list[Any], set[str]]:
    def compare(connection: Connection) -> tuple[list[Any], set[str]]:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
        indexes = {index["name"] or "" for index in inspect(connection).get_indexes("posts")}
        return differences, indexes

    engine = create_async_engine(url, poolclass=NullPool)
    async with engine.connect() as connection:
        result = await connection.run_sync(compare)
    await engine.dispose()
    return result
