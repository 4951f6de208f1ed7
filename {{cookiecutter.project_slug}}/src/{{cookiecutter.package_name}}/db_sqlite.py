"""SQLite through aiosqlite: the pragmas a concurrent async service needs, on every connection."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from .settings import Settings

PRAGMAS = (
    "journal_mode=WAL",  # readers never block the writer, nor the writer them
    "synchronous=NORMAL",  # with WAL: durable at checkpoints, no fsync per commit
    "foreign_keys=ON",  # off by default in SQLite
)


def connect_args(settings: Settings) -> dict[str, Any]:
    return {}


def configure(engine: AsyncEngine, settings: Settings) -> None:
    """Apply PRAGMAS to each new connection before the pool hands it out, and a busy_timeout:
    a writer waits for the lock instead of failing at once, but no longer than a request may run."""
    busy_timeout = f"busy_timeout={round(settings.request_timeout_seconds * 1000)}"

    @event.listens_for(engine.sync_engine, "connect")
    def apply_pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        for pragma in (*PRAGMAS, busy_timeout):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()


async def check_server(engine: AsyncEngine, settings: Settings) -> None:
    """SQLite is a file, not a server: it has no connection limit to check."""
