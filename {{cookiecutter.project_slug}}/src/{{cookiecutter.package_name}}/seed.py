"""Bulk-insert example data: one executemany per table, never a loop of INSERTs."""

from __future__ import annotations

from sqlalchemy import delete, func, insert, select

from .db import make_engine, make_sessions
from .models import Post, User
from .settings import Settings


async def count_users(settings: Settings) -> int:
    engine = make_engine(settings)
    try:
        async with engine.connect() as connection:
            return await connection.scalar(select(func.count()).select_from(User)) or 0
    finally:
        await engine.dispose()


async def seed(settings: Settings, users: int, posts_per_user: int, *, reset: bool = False) -> tuple[int, int]:
    """Add `users` users with `posts_per_user` posts each, one bulk INSERT per table;
    returns the rows inserted. With `reset`, every user and post goes first, in the
    same transaction.

    Emails continue after the highest existing id, so seeding twice adds more data
    instead of failing on the unique email constraint.
    """
    engine = make_engine(settings)
    try:
        async with make_sessions(engine).begin() as session:
            if reset:
                await session.execute(delete(Post))
                await session.execute(delete(User))
            start = await session.scalar(select(func.coalesce(func.max(User.id), 0))) or 0
            emails = [f"user{n}@example.com" for n in range(start + 1, start + users + 1)]
            user_rows = [{"name": f"User {n}", "email": email} for n, email in enumerate(emails, start + 1)]
            await session.execute(insert(User), user_rows)
            # The new ids are read back by email, not with RETURNING: with RETURNING some
            # drivers can only insert one row per statement.
            new_ids = {
                email: user_id
                for user_id, email in await session.execute(select(User.id, User.email).where(User.id > start))
            }
            post_rows = [
                {"title": f"Post {p} of user {new_ids[email]}", "user_id": new_ids[email]}
                for email in emails
                for p in range(1, posts_per_user + 1)
            ]
            if post_rows:
                await session.execute(insert(Post), post_rows)
    finally:
        await engine.dispose()
    return len(user_rows), len(post_rows)
