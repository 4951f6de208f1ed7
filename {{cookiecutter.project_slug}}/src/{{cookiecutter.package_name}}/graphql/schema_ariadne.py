"""The schema of schema.graphql, bound to its resolvers with Ariadne."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ariadne import MutationType, ObjectType, QueryType, load_schema_from_path, make_executable_schema
from graphql import GraphQLResolveInfo, GraphQLSchema, print_schema

from . import operations
from .context import RequestContext
from .loaders import PostRow, UserRow

query = QueryType()
mutation = MutationType()
user = ObjectType("User")
post = ObjectType("Post")


@query.field("users")
async def resolve_users(
    _: Any, info: GraphQLResolveInfo[RequestContext], limit: int | None, offset: int | None
) -> list[UserRow]:
    return await operations.list_users(info.context, limit, offset)


@query.field("user")
async def resolve_user(_: Any, info: GraphQLResolveInfo[RequestContext], id: str) -> UserRow | None:
    return await operations.get_user(info.context, id)


@mutation.field("createUser")
async def resolve_create_user(_: Any, info: GraphQLResolveInfo[RequestContext], name: str, email: str) -> UserRow:
    return await operations.create_user(info.context, name, email)


@mutation.field("createPost")
async def resolve_create_post(_: Any, info: GraphQLResolveInfo[RequestContext], user_id: str, title: str) -> PostRow:
    return await operations.create_post(info.context, user_id, title)


@user.field("posts")
async def resolve_posts(parent: UserRow, info: GraphQLResolveInfo[RequestContext]) -> list[PostRow]:
    return await operations.posts_of(info.context, parent)


@post.field("author")
async def resolve_author(parent: PostRow, info: GraphQLResolveInfo[RequestContext]) -> UserRow:
    return await operations.author_of(info.context, parent)


def make_schema() -> GraphQLSchema:
    type_defs = load_schema_from_path(str(Path(__file__).with_name("schema.graphql")))
    return make_executable_schema(type_defs, query, mutation, user, post, convert_names_case=True)


def printed_schema() -> str:
    return print_schema(make_schema())
