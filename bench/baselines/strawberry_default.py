"""Strawberry's own Starlette integration, as its documentation shows it, with a DataLoader.

strawberry.asgi.GraphQL with a context getter that makes the request's DataLoader;
every request is parsed and validated by Strawberry. The bar for the generated
Strawberry service.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import strawberry
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette
from starlette.routing import Route
from strawberry.asgi import GraphQL
from strawberry.dataloader import DataLoader
from strawberry.types import Info

from .common import engine


@strawberry.type
class Post:
    id: strawberry.ID
    title: str
    author_id: strawberry.Private[int]

    @strawberry.field
    async def author(self, info: Info) -> User:
        raise NotImplementedError("not part of the benchmark's queries")


@strawberry.type
class User:
    id: strawberry.ID
    name: str
    email: str

    @strawberry.field
    async def posts(self, info: Info) -> list[Post]:
        loaded: list[Post] = await info.context["posts"].load(int(self.id))
        return loaded


async def load_posts(database: AsyncEngine, user_ids: list[int]) -> list[list[Post]]:
    by_user: defaultdict[int, list[Post]] = defaultdict(list)
    statement = text("SELECT id, title, user_id FROM posts WHERE user_id = ANY(:ids) ORDER BY id")
    async with database.connect() as connection:
        for row in await connection.execute(statement, {"ids": user_ids}):
            by_user[row.user_id].append(Post(id=strawberry.ID(str(row.id)), title=row.title, author_id=row.user_id))
    return [by_user[user_id] for user_id in user_ids]


@strawberry.type
class Query:
    @strawberry.field
    async def users(self, info: Info, limit: int | None = 100, offset: int | None = 0) -> list[User]:
        database: AsyncEngine = info.context["engine"]
        statement = text("SELECT id, name, email FROM users ORDER BY id LIMIT :limit OFFSET :offset")
        async with database.connect() as connection:
            rows = await connection.execute(statement, {"limit": limit, "offset": offset})
            return [User(id=strawberry.ID(str(row.id)), name=row.name, email=row.email) for row in rows]

    @strawberry.field
    async def user(self, info: Info, id: strawberry.ID) -> User | None:
        raise NotImplementedError("not part of the benchmark's queries")


class App(GraphQL[dict[str, Any], None]):
    async def get_context(self, request: Any, response: Any) -> dict[str, Any]:
        database: AsyncEngine = request.state.engine
        return {"engine": database, "posts": DataLoader(load_fn=lambda ids: load_posts(database, ids))}


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Any]]:
    database = engine()
    yield {"engine": database}
    await database.dispose()


schema = strawberry.Schema(query=Query)
app = Starlette(routes=[Route("/graphql", App(schema))], lifespan=lifespan)
