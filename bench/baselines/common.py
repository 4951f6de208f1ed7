"""What the GraphQL baselines share: the database from BENCH_DATABASE_URL and the schema's SDL.

Each baseline runs under gunicorn with uvicorn-worker, one worker, as the generated
services do; the engine is made in the lifespan, after the fork.
"""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

# The generated services' own schema file, so that every baseline answers the same schema.
SDL = next((Path(__file__).resolve().parents[2]).glob("*/src/*/graphql/schema.graphql")).read_text()
POOL_SIZE = 10
"""Connections per baseline: every target of a run shares one PostgreSQL server."""


def database_url() -> str:
    """BENCH_DATABASE_URL: a SQLAlchemy URL with the asyncpg driver."""
    url = os.environ.get("BENCH_DATABASE_URL", "")
    if not url.startswith("postgresql+asyncpg://"):
        raise SystemExit(f"BENCH_DATABASE_URL={url!r} is not valid: use postgresql+asyncpg://user@host:port/database")
    return url


def engine() -> AsyncEngine:
    return create_async_engine(database_url(), pool_size=POOL_SIZE, max_overflow=0)
