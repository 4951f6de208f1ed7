"""DataLoaders that batch the nested fields of one request into one query each."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from functools import partial

from aiodataloader import DataLoader
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ..models import Post, User

Sessions = async_sessionmaker[AsyncSession]


async def load_users(sessions: Sessions, ids: Sequence[int]) -> list[User | None]:
    async with sessions() as session:
        users = {user.id: user for user in await session.scalars(select(User).where(User.id.in_(ids)))}
    return [users.get(user_id) for user_id in ids]


async def load_posts_by_user(sessions: Sessions, user_ids: Sequence[int]) -> list[list[Post]]:
    by_user: defaultdict[int, list[Post]] = defaultdict(list)
    async with sessions() as session:
        for post in await session.scalars(select(Post).where(Post.user_id.in_(user_ids)).order_by(Post.id)):
            by_user[post.user_id].append(post)
    return [by_user[user_id] for user_id in user_ids]


class Loaders:
    """Built for each request and dropped with it: a loader's cache must never
    outlive the request, or it would serve rows another request has changed."""

    def __init__(self, sessions: Sessions) -> None:
        self.user = DataLoader[int, User | None](partial(load_users, sessions))
        self.posts_by_user = DataLoader[int, list[Post]](partial(load_posts_by_user, sessions))
