"""Ariadne the way the guide's snippets read.

One handler that parses and validates every request (ariadne.graphql), an ORM
query per user for `posts` (the N+1 the guide warns about, as a reader who did
not add DataLoaders writes it), and the guide's process-local cache keyed by
Python's hash() of the query text (GUIDE_CACHE_TTL seconds; 0 turns it off).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from ariadne import ObjectType, QueryType, graphql, make_executable_schema
from sqlalchemy import ForeignKey, String, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from .common import SDL, engine


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(320))


class Post(Base):
    __tablename__ = "posts"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(300))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))


query = QueryType()
user_type = ObjectType("User")


@query.field("users")
async def resolve_users(_: Any, info: Any, limit: int = 100, offset: int = 0) -> list[User]:
    session: AsyncSession = info.context["session"]
    return list(await session.scalars(select(User).order_by(User.id).limit(limit).offset(offset)))


@user_type.field("posts")
async def resolve_posts(user: User, info: Any) -> list[Post]:
    session: AsyncSession = info.context["session"]
    return list(await session.scalars(select(Post).where(Post.user_id == user.id).order_by(Post.id)))


schema = make_executable_schema(SDL, query, user_type)


class AsyncCache:
    """The guide's cache: a dict in this worker, entries stamped with when they were stored."""

    def __init__(self, ttl_seconds: float) -> None:
        self.cache: dict[str, tuple[Any, float]] = {}
        self.ttl = ttl_seconds

    async def get(self, key: str) -> Any:
        if key in self.cache:
            value, created_at = self.cache[key]
            if time.monotonic() - created_at < self.ttl:
                return value
            del self.cache[key]
        return None

    async def set(self, key: str, value: Any) -> None:
        self.cache[key] = (value, time.monotonic())


cache = AsyncCache(float(os.environ.get("GUIDE_CACHE_TTL", "0")))


async def graphql_handler(request: Request) -> JSONResponse:
    if request.method == "GET":
        variables = request.query_params.get("variables")
        data = {"query": request.query_params.get("query"), "variables": json.loads(variables) if variables else None}
    else:
        data = await request.json()
    cache_key = f"graphql:{hash(data.get('query'))}"
    if cache.ttl:
        cached = await cache.get(cache_key)
        if cached:
            return JSONResponse(cached)
    async with request.state.sessions() as session:
        success, result = await graphql(schema, data, context_value={"session": session})
    if cache.ttl and success:
        await cache.set(cache_key, result)
    return JSONResponse(result, status_code=200 if success else 400)


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Any]]:
    database = engine()
    yield {"sessions": async_sessionmaker(database, expire_on_commit=False)}
    await database.dispose()


app = Starlette(routes=[Route("/graphql", graphql_handler, methods=["GET", "POST"])], lifespan=lifespan)
