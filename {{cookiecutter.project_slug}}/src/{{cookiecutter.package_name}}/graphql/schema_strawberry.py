"""The schema of schema.graphql, written code-first with Strawberry.

The types wrap the rows operations.py answers: each keeps its row (Private, so not
in the schema) for the nested resolvers, which go through the same operations and DataLoaders
as every other schema library.
"""

from __future__ import annotations

import strawberry

from . import operations
from .context import RequestContext
from .loaders import PostRow, UserRow

Info = strawberry.Info[RequestContext, None]


@strawberry.type
class User:
    id: strawberry.ID
    name: str
    email: str
    row: strawberry.Private[UserRow]

    @classmethod
    def of(cls, row: UserRow) -> User:
        return cls(id=strawberry.ID(str(row["id"])), name=row["name"], email=row["email"], row=row)

    @strawberry.field
    async def posts(self, info: Info) -> list[Post]:
        return [Post.of(post) for post in await operations.posts_of(info.context, self.row)]


@strawberry.type
class Post:
    id: strawberry.ID
    title: str
    row: strawberry.Private[PostRow]

    @classmethod
    def of(cls, row: PostRow) -> Post:
        return cls(id=strawberry.ID(str(row["id"])), title=row["title"], row=row)

    @strawberry.field
    async def author(self, info: Info) -> User:
        return User.of(await operations.author_of(info.context, self.row))


@strawberry.type
class Query:
    @strawberry.field
    async def users(
        self, info: Info, limit: int | None = operations.DEFAULT_LIMIT, offset: int | None = 0
    ) -> list[User]:
        return [User.of(user) for user in await operations.list_users(info.context, limit, offset)]

    @strawberry.field
    async def user(self, info: Info, id: strawberry.ID) -> User | None:
        user = await operations.get_user(info.context, id)
        return User.of(user) if user is not None else None


@strawberry.type
class Mutation:
    @strawberry.mutation
    async def create_user(self, info: Info, name: str, email: str) -> User:
        return User.of(await operations.create_user(info.context, name, email))

    @strawberry.mutation
    async def create_post(self, info: Info, user_id: strawberry.ID, title: str) -> Post:
        return Post.of(await operations.create_post(info.context, user_id, title))


def printed_schema() -> str:
    """The schema these types make, in SDL: the `schema` command prints it for schema.graphql."""
    return strawberry.Schema(query=Query, mutation=Mutation).as_str()
