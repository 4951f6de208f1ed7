"""The async engine and session factory, sized by the connection budget."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from .settings import Settings

POOL_RECYCLE_SECONDS = 1800
"""Shorter than the idle timeouts of common proxies and load balancers (often 1 h)."""


def make_engine(settings: Settings) -> AsyncEngine:
    """An engine whose pool is this worker's share of the budget; it connects lazily."""
    return create_async_engine(
        settings.database_url,
        pool_size=settings.plan.pool.pool_size,
        max_overflow=settings.plan.pool.max_overflow,
        pool_timeout=settings.db_pool_timeout,
        pool_recycle=POOL_RECYCLE_SECONDS,
        pool_pre_ping=True,
    )


def make_sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    # expire_on_commit=False: resolvers read attributes after the session has closed.
    return async_sessionmaker(engine, expire_on_commit=False)


async def ping(engine: AsyncEngine) -> None:
    """Round-trip one statement; raises when the database does not answer."""
    async with engine.connect() as connection:
        await connection.execute(text("SELECT 1"))
