"""The tests' own SQLite database: a file in a temporary directory."""

import sqlite3
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import make_url


def database_settings() -> dict[str, Any]:
    """Nothing to fit: SQLite has no connection limit."""
    return {}


@contextmanager
def make_test_database(tmp: pytest.TempPathFactory) -> Iterator[str]:
    yield f"sqlite+aiosqlite:///{tmp.mktemp('db') / 'test.db'}"


def unreachable_url(tmp: Path) -> str:
    """A database that cannot be opened: its directory does not exist."""
    return f"sqlite+aiosqlite:///{tmp / 'missing-dir' / 'db.sqlite'}"


def after_failed_connect() -> None:
    """aiosqlite stops a connection that failed to open without waiting for its worker
    thread (omnilib/aiosqlite#241); let the thread finish while the test's event loop
    can still take its reply, or it raises "Event loop is closed" in a later test."""
    for thread in threading.enumerate():
        if "_connection_worker_thread" in thread.name:
            thread.join(timeout=5)


@asynccontextmanager
async def write_lock(url: str) -> AsyncIterator[None]:
    """Another writer holding the database's write lock until the block ends."""
    connection = sqlite3.connect(make_url(url).database or "", isolation_level=None)
    try:
        connection.execute("BEGIN IMMEDIATE")
        yield
    finally:
        connection.close()  # rolls back: the lock is free
