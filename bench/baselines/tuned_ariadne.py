"""Ariadne as a reader who tuned it by hand would write it: the bar for the generated service.

DataLoaders for `posts`, parse and validation results kept in LRU caches keyed by
the query text, plain rows from SQLAlchemy Core instead of ORM objects, and orjson
for the response. No response cache, no limits, no metrics, no logs.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from functools import lru_cache, partial
from inspect import isawaitable
from typing import Any

import orjson
from aiodataloader import DataLoader
from ariadne import ObjectType, QueryType, make_executable_schema
from graphql import DocumentNode, GraphQLError, execute, parse, validate
from sqlalchemy import column, select, table
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .common import SDL, engine

users = table("users", column("id"), column("name"), column("email"))
posts = table("posts", column("id"), column("title"), column("user_id"))

query = QueryType()
user_type = ObjectType("User")


@query.field("users")
async def resolve_users(_: Any, info: Any, limit: int = 100, offset: int = 0) -> Sequence[Any]:
    database: AsyncEngine = info.context["engine"]
    async with database.connect() as connection:
        result = await connection.execute(select(users).order_by(users.c.id).limit(limit).offset(offset))
        return result.mappings().all()


@user_type.field("posts")
async def resolve_posts(user: Any, info: Any) -> Any:
    return await info.context["posts"].load(user["id"])


async def load_posts(database: AsyncEngine, user_ids: Sequence[int]) -> list[list[Any]]:
    by_user: defaultdict[int, list[Any]] = defaultdict(list)
    async with database.connect() as connection:
        result = await connection.execute(select(posts).where(posts.c.user_id.in_(user_ids)).order_by(posts.c.id))
        for post in result.mappings():
            by_user[post["user_id"]].append(post)
    return [by_user[user_id] for user_id in user_ids]


schema = make_executable_schema(SDL, query, user_type)


@lru_cache(maxsize=256)
def parsed(text: str) -> DocumentNode:
    return parse(text)


@lru_cache(maxsize=256)
def validation_errors(text: str) -> tuple[GraphQLError, ...]:
    return tuple(validate(schema, parsed(text)))


def answer(body: dict[str, Any], status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


async def graphql_handler(request: Request) -> Response:
    if request.method == "GET":
        variables = request.query_params.get("variables")
        data: dict[str, Any] = {
            "query": request.query_params.get("query"),
            "variables": json.loads(variables) if variables else None,
        }
    else:
        data = await request.json()
    text = data.get("query") or ""
    try:
        document = parsed(text)
    except GraphQLError as error:
        return answer({"errors": [error.formatted]}, 400)
    if errors := validation_errors(text):
        return answer({"errors": [error.formatted for error in errors]}, 400)
    database = request.state.engine
    context = {"engine": database, "posts": DataLoader(partial(load_posts, database))}
    result = execute(schema, document, variable_values=data.get("variables"), context_value=context)
    if isawaitable(result):
        result = await result
    return answer(dict(result.formatted))


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Any]]:
    database = engine()
    yield {"engine": database}
    await database.dispose()


app = Starlette(routes=[Route("/graphql", graphql_handler, methods=["GET", "POST"])], lifespan=lifespan)
