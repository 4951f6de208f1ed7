"""The async engine and sessions: this worker's share of the connection budget, monitored."""

from __future__ import annotations

import logging
import time
from typing import Any

from sqlalchemy import Connection, event, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import AsyncAdaptedQueuePool, ConnectionPoolEntry, NullPool

from .db_{{ cookiecutter.database }} import check_server, configure, connect_args
from .monitoring import (
    CURRENT_OPERATION,
    DB_SLOW_STATEMENTS,
    DB_STATEMENTS,
    POOL_CHECKED_OUT,
    POOL_CHECKOUT_WAIT,
    POOL_OVERFLOW,
    POOL_SIZE,
    operation_label,
)
from .settings import Settings
from .timing import spent

log = logging.getLogger(__name__)

POOL_RECYCLE_SECONDS = 1800
"""Shorter than the idle timeouts of common proxies and load balancers (often 1 h)."""
SHOWN_STATEMENT = 500
"""Characters of a slow statement its log line repeats."""
SLOW_CHECKOUT_SECONDS = 0.1
"""The guide's line for a slow query; a request that waits this long for a connection is as slow."""


class MonitoredPool(AsyncAdaptedQueuePool):
    """A queue pool that measures how long each checkout waited for a connection held by another.

    `_do_get` is the method SQLAlchemy's pool classes implement to hand out a
    connection; timing it here is the only place that sees the wait itself. Only a
    checkout that finds all pool_size + max_overflow connections open waits for one to
    come back; any other takes an idle one or opens one, and opening is no exhaustion
    (it was every first request's warning).
    """

    def __init__(self, creator: Any, pool_size: int = 5, max_overflow: int = 10, **kwargs: Any) -> None:
        super().__init__(creator, pool_size=pool_size, max_overflow=max_overflow, **kwargs)
        self.max_overflow = max_overflow

    def _do_get(self) -> ConnectionPoolEntry:
        if self.overflow() < self.max_overflow:  # an idle connection, or room to open one
            POOL_CHECKOUT_WAIT.observe(0.0)
            return super()._do_get()
        started = time.perf_counter()
        try:
            return super()._do_get()
        finally:
            waited = time.perf_counter() - started
            POOL_CHECKOUT_WAIT.observe(waited)
            if waited > SLOW_CHECKOUT_SECONDS:
                log.warning(
                    "waited %.3f s for a database connection (%d checked out, pool_size %d): the pool "
                    "is exhausted; raise DB_POOL_SIZE if the budget allows, or add capacity",
                    waited,
                    self.checkedout(),
                    self.size(),
                )


def make_engine(settings: Settings) -> AsyncEngine:
    """An engine whose pool is this worker's share of the budget; it connects lazily."""
    engine = create_async_engine(
        settings.database_url,
        poolclass=MonitoredPool,
        pool_size=settings.plan.pool.pool_size,
        max_overflow=settings.plan.pool.max_overflow,
        pool_timeout=settings.db_pool_timeout,
        pool_recycle=POOL_RECYCLE_SECONDS,
        pool_pre_ping=True,
        connect_args=connect_args(settings),
        echo=settings.db_echo,  # DB_ECHO=1: every statement, at INFO, on sqlalchemy.engine
    )
    configure(engine, settings)
    pool = engine.sync_engine.pool
    assert isinstance(pool, MonitoredPool)

    def report(*_: Any, returning: int = 0) -> None:
        POOL_SIZE.set(pool.size())
        POOL_CHECKED_OUT.set(pool.checkedout() - returning)
        POOL_OVERFLOW.set(max(pool.overflow(), 0))

    def checked_in(*_: Any) -> None:
        # SQLAlchemy sends `checkin` before it puts the connection back: it is still counted out.
        report(returning=1)

    def started(connection: Connection, *_: Any) -> None:
        DB_STATEMENTS.inc()
        connection.info.setdefault("started", []).append(time.perf_counter())

    def finished(connection: Connection, _cursor: Any, statement: str, *_: Any) -> None:
        seconds = time.perf_counter() - connection.info["started"].pop()
        spent("db", seconds)
        if seconds * 1000 >= settings.slow_query_ms:
            operation = CURRENT_OPERATION.get()
            DB_SLOW_STATEMENTS.labels(operation_label(operation)).inc()
            log.warning(
                "slow statement: %.1f ms (SLOW_QUERY_MS=%g) for operation %s: %s",
                seconds * 1000,
                settings.slow_query_ms,
                operation or "-",
                " ".join(statement.split())[:SHOWN_STATEMENT],
                extra={"duration_ms": round(seconds * 1000, 1), "operation": operation},
            )

    event.listen(pool, "checkout", report)
    event.listen(pool, "checkin", checked_in)
    event.listen(engine.sync_engine, "before_cursor_execute", started)
    event.listen(engine.sync_engine, "after_cursor_execute", finished)
    return engine


def make_sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    # expire_on_commit=False: resolvers read attributes after the session has closed.
    return async_sessionmaker(engine, expire_on_commit=False)


async def ping(engine: AsyncEngine) -> None:
    """Round-trip one statement; raises when the database does not answer."""
    async with engine.connect() as connection:
        await connection.execute(text("SELECT 1"))


async def verify_server(settings: Settings, engine: AsyncEngine | None = None) -> None:
    """Raise BudgetError when the database server cannot take the fleet's pools.

    A server that does not answer is logged, not fatal: the service starts, and
    /health/ready reports the database until it answers.
    """
    probe = engine or create_async_engine(
        settings.database_url, poolclass=NullPool, connect_args=connect_args(settings)
    )
    try:
        await check_server(probe, settings)
    except (OSError, SQLAlchemyError) as exc:
        log.warning("could not check the database's connection limit at start-up: %s", str(exc).splitlines()[0])
    finally:
        if engine is None:
            await probe.dispose()
