"""The REST ceiling: Starlette and a bare asyncpg pool answering Q1's rows as JSON."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from .common import POOL_SIZE, database_url


async def users(request: Request) -> JSONResponse:
    rows = await request.state.pool.fetch("SELECT id, name FROM users ORDER BY id LIMIT 100")
    return JSONResponse({"data": {"users": [{"id": str(row["id"]), "name": row["name"]} for row in rows]}})


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[dict[str, asyncpg.Pool]]:
    dsn = database_url().replace("postgresql+asyncpg://", "postgresql://")
    async with asyncpg.create_pool(dsn, min_size=POOL_SIZE, max_size=POOL_SIZE) as pool:
        yield {"pool": pool}


app = Starlette(routes=[Route("/users", users)], lifespan=lifespan)
