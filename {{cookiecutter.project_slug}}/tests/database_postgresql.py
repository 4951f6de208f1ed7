"""The tests' own PostgreSQL database, made on the server DATABASE_URL names and dropped after.

The database DATABASE_URL names is never touched: tests drop and create tables.
With CI set, a server that does not answer fails the run instead of skipping it.
"""

import asyncio
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import make_url, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

SERVER = make_url(os.environ.get("DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"))


async def admin(statement: str) -> None:
    """Run one statement in the server's maintenance database, outside a transaction."""
    engine = create_async_engine(
        SERVER.set(database="postgres"), poolclass=NullPool, isolation_level="AUTOCOMMIT", connect_args={"timeout": 5}
    )
    try:
        async with engine.connect() as connection:
            await connection.execute(text(statement))
    finally:
        await engine.dispose()


@contextmanager
def make_test_database(_tmp: pytest.TempPathFactory) -> Iterator[str]:
    name = f"test_{{ cookiecutter.package_name }}_{secrets.token_hex(4)}"
    try:
        asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    except (OSError, SQLAlchemyError) as exc:
        server = SERVER.render_as_string(hide_password=True)
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL at {server} is required in CI and did not answer: {str(exc).splitlines()[0]}")
        pytest.skip(f"PostgreSQL at {server} did not answer ({str(exc).splitlines()[0]}); set DATABASE_URL")
    try:
        yield SERVER.set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def unreachable_url(_tmp: Path) -> str:
    """A server that refuses the connection: nothing listens on port 1."""
    return SERVER.set(port=1).render_as_string(hide_password=False)


def after_failed_connect() -> None:
    """asyncpg leaves nothing behind a refused connection."""
