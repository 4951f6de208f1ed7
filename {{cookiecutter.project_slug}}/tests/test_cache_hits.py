"""What a caching backend adds: hits that skip all work, and invalidation that
reaches every worker."""

import asyncio
import time
from collections.abc import Iterator
from typing import Any, cast

import httpx
import pytest
from prometheus_client import REGISTRY

from {{ cookiecutter.package_name }}.cache import Backend, ResponseCache
from {{ cookiecutter.package_name }}.settings import Settings

from .conftest import graphql, gunicorn, serve_app

CREATE_USER = "mutation($name: String!, $email: String!) { createUser(name: $name, email: $email) { id } }"

USERS = "{ users { id name } }"

OUTCOMES = ("hit", "miss")


async def post(client: httpx.AsyncClient, query: str, **headers: str) -> httpx.Response:
    return await client.post("/graphql", json={"query": query}, headers=headers)


async def test_a_repeated_query_is_a_hit_that_runs_no_sql(
    client: httpx.AsyncClient, db_with_users: tuple[int, int], sql_statements: list[str]
) -> None:
    first = await post(client, USERS)
    sql_statements.clear()
    second = await post(client, USERS)

    assert (first.headers["x-cache"], second.headers["x-cache"]) == ("miss", "hit")
    assert second.json() == first.json()
    assert sql_statements == []


async def test_a_reindented_copy_of_a_query_is_a_hit(client: httpx.AsyncClient, db_with_users: tuple[int, int]) -> None:
    await post(client, USERS)

    again = await post(client, "{\n  users {\n    id,\n    name\n  }\n}\n")

    assert again.headers["x-cache"] == "hit"


async def test_credentials_separate_cached_answers(client: httpx.AsyncClient, db_with_users: tuple[int, int]) -> None:
    await post(client, USERS)

    alice = await post(client, USERS, authorization="Bearer alice")
    alice_again = await post(client, USERS, authorization="Bearer alice")
    bob = await post(client, USERS, authorization="Bearer bob")

    assert [alice.headers["x-cache"], alice_again.headers["x-cache"], bob.headers["x-cache"]] == ["miss", "hit", "miss"]


def cache_outcomes() -> dict[str, float]:
    """The response cache's lookups so far, by outcome."""
    counted = (REGISTRY.get_sample_value("graphql_response_cache_total", {"result": result}) for result in OUTCOMES)
    return {result: value or 0 for result, value in zip(OUTCOMES, counted, strict=True)}


async def test_a_mutation_is_neither_a_hit_nor_a_miss(client: httpx.AsyncClient, tables: None) -> None:
    """A write is never cached: its answer says nothing of the cache, and the hit rate is the queries'."""
    before = cache_outcomes()
    created = await client.post(
        "/graphql", json={"query": CREATE_USER, "variables": {"name": "Ada", "email": "ada@example.com"}}
    )

    assert created.status_code == 200 and created.json()["data"]["createUser"]["id"]
    assert "x-cache" not in created.headers
    assert cache_outcomes() == before


async def test_a_mutation_invalidates_what_it_changed_and_only_that(
    client: httpx.AsyncClient, db_with_users: tuple[int, int]
) -> None:
    one_user = '{ user(id: "1") { name } }'
    await post(client, USERS)
    await post(client, one_user)

    await graphql(client, 'mutation { createUser(name: "New", email: "new@example.com") { id } }')
    users = await post(client, USERS)
    user_one = await post(client, one_user)

    assert users.headers["x-cache"] == "miss"
    assert users.json()["data"]["users"][-1]["name"] == "New"
    assert user_one.headers["x-cache"] == "hit"


async def test_a_new_post_reaches_a_cached_nested_answer(
    client: httpx.AsyncClient, db_with_users: tuple[int, int]
) -> None:
    nested = '{ user(id: "1") { posts { title } } }'
    before = (await post(client, nested)).json()["data"]["user"]["posts"]

    await graphql(client, 'mutation { createPost(userId: "1", title: "Fresh") { id } }')
    after = await post(client, nested)

    assert after.headers["x-cache"] == "miss"
    assert after.json()["data"]["user"]["posts"] == [*before, {"title": "Fresh"}]


async def test_concurrent_misses_for_one_query_compute_it_once(
    client: httpx.AsyncClient, db_with_users: tuple[int, int], sql_statements: list[str]
) -> None:
    responses = await asyncio.gather(*(post(client, USERS) for _ in range(10)))

    assert sorted(response.headers["x-cache"] for response in responses) == ["hit"] * 9 + ["miss"]
    assert len({response.text for response in responses}) == 1
    assert len(sql_statements) == 1


class Outage:
    """While `on`, every call to a backend it wraps fails, as a cache server that does not answer does."""

    on = False

    def wrap(self, backend: Backend) -> Backend:
        return cast(Backend, _Failing(backend, self))


class _Failing:
    def __init__(self, target: object, outage: Outage) -> None:
        self._target = target
        self._outage = outage

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._target, name)
        if not callable(value):
            return _Failing(value, self._outage)  # the backend's entries and versions

        async def call(*args: Any) -> Any:
            if self._outage.on:
                raise ConnectionError("no answer (the test's outage)")
            return await value(*args)

        return call


async def test_a_write_acknowledged_while_the_cache_fails_is_in_every_answer_after_it(
    settings: Settings, tables: None
) -> None:
    outage = Outage()
    async with serve_app(settings) as served:
        client, cache = served.client, served.state["cache"]
        assert isinstance(cache, ResponseCache) and cache.backend is not None
        cache.backend = outage.wrap(cache.backend)
        await post(client, USERS)
        cached = await post(client, USERS)

        outage.on = True
        created = await graphql(client, 'mutation { createUser(name: "Cy", email: "cy@example.com") { id } }')
        degraded = (await client.get("/health/ready")).json()
        outage.on = False
        # Until the cache is in use again: every answer on the way, and the first hit, has the write.
        counts: list[int] = []
        deadline = time.monotonic() + 30
        while True:
            answer = await post(client, USERS)
            counts.append(len(answer.json()["data"]["users"]))
            if answer.headers["x-cache"] == "hit":
                break
            assert time.monotonic() < deadline, "the cache was not used again"
            await asyncio.sleep(0.05)

    assert cached.headers["x-cache"] == "hit"
    assert created["data"]["createUser"]["id"]
    assert degraded["status"] == "degraded"
    assert counts == [1] * len(counts)


@pytest.fixture
def three_workers(database_url: str, tables: None) -> Iterator[str]:
    """The service under gunicorn.conf.py with 3 workers, each with its own cache client."""
    with gunicorn(database_url, workers=3) as served:
        base = served.base
        yield base


def test_no_worker_serves_a_read_older_than_a_finished_write(three_workers: str) -> None:
    outcomes: set[str] = set()
    stale: list[tuple[int, int]] = []
    # A new connection for every request, so that the kernel hands them to any worker.
    with httpx.Client(base_url=three_workers, headers={"connection": "close"}) as client:
        for written in range(1, 16):
            created = client.post(
                "/graphql",
                json={"query": CREATE_USER, "variables": {"name": f"n{written}", "email": f"u{written}@example.com"}},
            )
            assert created.json()["data"]["createUser"]["id"]
            for _ in range(6):
                response = client.get("/graphql", params={"query": "{ users(limit: 1000) { id } }"})
                outcomes.add(response.headers.get("x-cache", ""))
                count = len(response.json()["data"]["users"])
                if count != written:
                    stale.append((written, count))

    assert stale == []
    assert outcomes == {"hit", "miss"}  # the cache was really in play
