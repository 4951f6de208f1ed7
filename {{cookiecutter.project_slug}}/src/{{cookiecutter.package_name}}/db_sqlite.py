"""SQLite through aiosqlite: the pragmas a concurrent async service needs, on every connection."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from .tuning import Plan

PRAGMAS = (
    "journal_mode=WAL",  # readers never block the writer, nor the writer them
    "busy_timeout=5000",  # a writer waits up to 5 s for the lock instead of failing at once
    "synchronous=NORMAL",  # with WAL: durable at checkpoints, no fsync per commit
    "foreign_keys=ON",  # off by default in SQLite
)
CONNECT_ARGS: dict[str, Any] = {}


def configure(engine: AsyncEngine) -> None:
    """Apply PRAGMAS to each new connection before the pool hands it out."""

    @event.listens_for(engine.sync_engine, "connect")
    def apply_pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        for pragma in PRAGMAS:
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()


async def check_server(engine: AsyncEngine, plan: Plan) -> None:
    """SQLite is a file, not a server: it has no connection limit to check."""
