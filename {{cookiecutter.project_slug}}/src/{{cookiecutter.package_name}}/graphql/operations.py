"""What the schema's fields do, independent of the schema library that binds them.

Every bad argument becomes a GraphQLError that names the value and the rule. Reads
tag what they depend on, and writes invalidate what they changed, after their
transaction commits and before the mutation answers (cache.py says why that order).
"""

from __future__ import annotations

import re
from typing import cast

from graphql import GraphQLError
from sqlalchemy.exc import IntegrityError

from ..models import Post, User
from .context import RequestContext
from .loaders import USERS, PostRow, UserRow, fetch

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
MAX_ID = 2**31 - 1  # ids are 32-bit INTEGER columns
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
CONTROL = re.compile(r"[\x00-\x1f\x7f]")
SURROGATE = re.compile(r"[\ud800-\udfff]")
"""Half of a UTF-16 pair: JSON's `\\ud800` escape lets a client send one alone, and no
database (nor UTF-8) can store it."""
ID = re.compile(r"[0-9]{1,10}")
"""ASCII digits, and no more of them than MAX_ID has: `str.isdecimal` also takes "١٢", and
int() of thousands of digits costs time before it fails."""


def bad_input(message: str) -> GraphQLError:
    return GraphQLError(message, extensions={"code": "BAD_USER_INPUT"})


def parse_id(value: str | int, kind: str) -> int:
    text = str(value)
    if not ID.fullmatch(text) or not 1 <= int(text) <= MAX_ID:
        raise bad_input(f"id={text!r} is not a valid {kind} id: use a whole number from 1 to {MAX_ID}")
    return int(text)


def checked_text(field: str, value: str, max_length: int) -> str:
    stripped = value.strip()
    if not 1 <= len(stripped) <= max_length:
        raise bad_input(f"{field}={value!r} is not valid: use 1 to {max_length} characters")
    control = CONTROL.search(stripped)
    if control:  # some databases cannot store NUL, and no control character belongs in a name or a title
        code = f"U+{ord(control[0]):04X}"
        raise bad_input(f"{field}={value!r} is not valid: it holds the control character {code}")
    surrogate = SURROGATE.search(stripped)
    if surrogate:
        code = f"U+{ord(surrogate[0]):04X}"
        raise bad_input(f"{field}={value!r} is not valid: it holds {code}, half of a UTF-16 surrogate pair, alone")
    return stripped


async def list_users(context: RequestContext, limit: int | None, offset: int | None) -> list[UserRow]:
    """A page of users by id; a null `limit` or `offset` means its default, as when left out."""
    limit = DEFAULT_LIMIT if limit is None else limit
    offset = 0 if offset is None else offset
    if not 1 <= limit <= MAX_LIMIT:
        raise bad_input(f"limit={limit} is out of range: use 1 to {MAX_LIMIT}")
    if offset < 0:
        raise bad_input(f"offset={offset} is out of range: use 0 or more")
    context.read("users")
    return cast("list[UserRow]", await fetch(context.engine, USERS.order_by(User.id).limit(limit).offset(offset)))


async def get_user(context: RequestContext, user_id: str) -> UserRow | None:
    user_key = parse_id(user_id, "user")
    context.read(f"user:{user_key}")
    return await context.loaders.user.load(user_key)


async def posts_of(context: RequestContext, user: UserRow) -> list[PostRow]:
    context.read("posts")
    return await context.loaders.posts_by_user.load(user["id"])


async def author_of(context: RequestContext, post: PostRow) -> UserRow:
    context.read(f"user:{post['user_id']}")
    author = await context.loaders.user.load(post["user_id"])
    if author is None:  # the foreign key forbids it; say so rather than answer a null author
        raise GraphQLError(f"post {post['id']} has no author: user {post['user_id']} does not exist")
    return author


async def create_user(context: RequestContext, name: str, email: str) -> UserRow:
    user = User(name=checked_text("name", name, 200), email=checked_text("email", email, 320))
    if not EMAIL.match(user.email):
        raise bad_input(f"email={email!r} is not valid: use an address like name@example.com")
    try:
        async with context.sessions.begin() as session:
            session.add(user)
    except IntegrityError:
        raise bad_input(f"email={user.email!r} is already taken: use another address") from None
    await context.wrote("users", f"user:{user.id}")
    return UserRow(id=user.id, name=user.name, email=user.email)


async def create_post(context: RequestContext, user_id: str, title: str) -> PostRow:
    author_id = parse_id(user_id, "user")
    post = Post(title=checked_text("title", title, 300), user_id=author_id)
    async with context.sessions.begin() as session:
        if await session.get(User, author_id) is None:
            raise bad_input(f"userId={user_id!r} is not valid: no user has this id")
        session.add(post)
    await context.wrote("posts")
    return PostRow(id=post.id, title=post.title, user_id=post.user_id)
