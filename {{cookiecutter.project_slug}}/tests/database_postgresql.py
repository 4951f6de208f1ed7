"""The tests' own PostgreSQL database, made on the server DATABASE_URL names and dropped after.

The database DATABASE_URL names is never touched: tests drop and create tables.
With CI set, a server that does not answer fails the run instead of skipping it.
"""

import asyncio
import functools
import os
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import make_url, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from {{ cookiecutter.package_name }}.perf_check import free_port

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


MAX_CONNECTIONS = os.environ.get("DB_MAX_CONNECTIONS")
"""The documented override, read before the tests clear the environment (conftest.py)."""


async def server_max_connections() -> int:
    engine = create_async_engine(SERVER.set(database="postgres"), poolclass=NullPool, connect_args={"timeout": 5})
    try:
        async with engine.connect() as connection:
            return int((await connection.execute(text("SHOW max_connections"))).scalar_one())
    finally:
        await engine.dispose()


@functools.cache
def database_settings() -> dict[str, Any]:
    """What the tests' services are told of the server: DB_MAX_CONNECTIONS as the environment
    sets it, else the server's own max_connections where it is below the answers' (a default
    PostgreSQL allows 100), so that the suite passes on the server it finds."""
    if MAX_CONNECTIONS is not None:
        return {"db_max_connections": int(MAX_CONNECTIONS)}
    limit = min(asyncio.run(server_max_connections()), {{ cookiecutter.db_max_connections }})
    return {"db_max_connections": limit}


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


@asynccontextmanager
async def write_lock(url: str) -> AsyncIterator[None]:
    """Another transaction holding a lock on the tables that blocks every write until the block ends."""
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.begin() as connection:
            await connection.execute(text("LOCK TABLE users, posts IN EXCLUSIVE MODE"))
            yield
            await connection.rollback()
    finally:
        await engine.dispose()


def unreachable_url(_tmp: Path) -> str:
    """A server that refuses the connection: nothing listens on port 1."""
    return SERVER.set(port=1).render_as_string(hide_password=False)


def after_failed_connect() -> None:
    """asyncpg leaves nothing behind a refused connection."""


def as_postgres(*paths: Path) -> list[str]:
    """The prefix that runs a server program as `postgres` when the tests run as root (PostgreSQL
    and PgBouncer refuse to run as root), once `paths` are handed to it; none otherwise."""
    if os.geteuid() != 0:
        return []
    for path in paths:
        shutil.chown(path, "postgres")
    return ["runuser", "-u", "postgres", "--"]


class PrivateServer:
    """A PostgreSQL cluster of this test's own (initdb, pg_ctl) on a free port, to stop and start again.

    PostgreSQL refuses to run as root; as root, the cluster runs as the `postgres` user.
    """

    def __init__(self) -> None:
        self.directory = Path(tempfile.mkdtemp(prefix="pg-"))
        self.data = self.directory / "data"
        self.port = free_port()
        self.as_owner = as_postgres(self.directory)
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync")

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, program: str, *args: str) -> None:
        found = shutil.which(program) or next(iter(sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{program}"))), None)
        if found is None:
            pytest.fail(f"{program} is needed for this test: install PostgreSQL's server package")
        subprocess.run([*self.as_owner, str(found), *args], check=True, capture_output=True, timeout=60)

    def start(self) -> None:
        options = f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 -c fsync=off"
        # max_connections as the answers planned for: the service checks its budget against it.
        options += " -c max_connections={{ cookiecutter.db_max_connections }}"
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.directory / "log"), "-o", options, "-w", "start")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def remove(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self.stop()
        shutil.rmtree(self.directory, ignore_errors=True)


@contextmanager
def private_server() -> Iterator[PrivateServer]:
    server = PrivateServer()
    try:
        server.start()
        yield server
    finally:
        server.remove()
