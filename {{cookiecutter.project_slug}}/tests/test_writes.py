"""Writes are never lost or doubled: one transaction per mutation, committed before it
answers; a mutation that fails or is cut off leaves no row behind."""

import asyncio
import json
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from {{ cookiecutter.package_name }}.models import Post, User
from {{ cookiecutter.package_name }}.settings import Settings

from .conftest import serve
from .database_{{ cookiecutter.database }} import write_lock


async def rows(database_url: str) -> tuple[int, int]:
    """Users and posts as a new connection sees them: only what was committed."""
    engine = create_async_engine(database_url, poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            users = (await connection.execute(select(func.count()).select_from(User))).scalar_one()
            posts = (await connection.execute(select(func.count()).select_from(Post))).scalar_one()
    finally:
        await engine.dispose()
    return users, posts


def create_post(title: str, user_id: int = 1) -> dict[str, Any]:
    query = "mutation($u: ID!, $t: String!) { createPost(userId: $u, title: $t) { id } }"
    return {"query": query, "variables": {"u": user_id, "t": title}}


async def test_concurrent_identical_mutations_each_write_once(
    client: httpx.AsyncClient, db_with_users: Any, database_url: str
) -> None:
    before = await rows(database_url)

    answers = await asyncio.gather(*(client.post("/graphql", json=create_post("same")) for _ in range(10)))

    assert [answer.status_code for answer in answers] == [200] * 10
    assert len({answer.json()["data"]["createPost"]["id"] for answer in answers}) == 10
    assert await rows(database_url) == (before[0], before[1] + 10)


async def test_one_email_taken_by_concurrent_requests_is_written_once(
    client: httpx.AsyncClient, database_url: str
) -> None:
    query = 'mutation { createUser(name: "Di", email: "di@example.com") { id } }'

    answers = await asyncio.gather(*(client.post("/graphql", json={"query": query}) for _ in range(5)))

    taken = [a for a in answers if "is already taken" in a.text]
    assert [a.status_code for a in answers].count(200) == 1 and len(taken) == 4, [a.text for a in answers]
    assert await rows(database_url) == (1, 0)


async def test_a_mutation_that_answered_is_committed(client: httpx.AsyncClient, database_url: str) -> None:
    query = 'mutation { createUser(name: "Ed", email: "ed@example.com") { id } }'
    created = await client.post("/graphql", json={"query": query})

    assert created.status_code == 200
    assert await rows(database_url) == (1, 0)  # seen from another connection, without the service


async def test_a_mutation_blocked_past_the_timeout_fails_and_leaves_no_row(
    settings: Settings, db_with_users: Any, database_url: str
) -> None:
    """Blocked by another writer for longer than a request may run, the database gives up on the
    insert and it rolls back; the client is told, and nothing lands later behind its back."""
    before = await rows(database_url)
    impatient = settings.model_copy(update={"request_timeout_seconds": 0.5})
    async with serve(impatient) as client:
        async with write_lock(database_url):
            request = asyncio.create_task(client.post("/graphql", json=create_post("blocked")))
            await asyncio.sleep(1.5)  # past the timeout; the lock is then released
        blocked = await request
        await asyncio.sleep(0.5)  # a write still under way in the background would land by now
        after = await rows(database_url)
        later = await client.post("/graphql", json=create_post("later"))

    assert blocked.status_code == 503 and blocked.headers["retry-after"].isdigit(), blocked.text
    assert blocked.json()["errors"][0]["extensions"]["code"] == "SERVICE_UNAVAILABLE"
    assert after == before
    assert later.status_code == 200


async def test_a_refused_mutation_writes_nothing(client: httpx.AsyncClient, database_url: str) -> None:
    refused = await client.post("/graphql", json=create_post("orphan", user_id=999))

    assert "no user has this id" in refused.text
    assert await rows(database_url) == (0, 0)


async def test_a_lone_surrogate_is_bad_input_and_writes_nothing(client: httpx.AsyncClient, database_url: str) -> None:
    """JSON's \\ud800 escape carries half a UTF-16 pair that no database can store: the client's
    mistake, named, and not a fault."""
    query = 'mutation($name: String!) { createUser(name: $name, email: "ann@example.com") { id } }'
    body = json.dumps({"query": query, "variables": {"name": "Ann \ud800"}})  # ASCII: escaped

    response = await client.post("/graphql", content=body, headers={"content-type": "application/json"})

    [error] = response.json()["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT", error
    assert "U+D800, half of a UTF-16 surrogate pair, alone" in error["message"]
    assert await rows(database_url) == (0, 0)
