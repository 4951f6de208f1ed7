"""A Redis outage: a write acknowledged while Redis did not answer is seen by every
instance once it answers again, and the outage costs a log line, not one per request.

Two instances share a private Redis, as two hosts of a fleet would; each test waits
for a state the service reports (its readiness), never for a length of time.
"""

import asyncio
import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client import REGISTRY

from {{ cookiecutter.package_name }}.settings import Settings

from .cache_redis import WAIT_SECONDS, PrivateRedis, cache_back
from .conftest import serve

USERS = "{ users { name } }"
CREATE_USER = "mutation($name: String!, $email: String!) { createUser(name: $name, email: $email) { id } }"
OUTAGES: dict[str, tuple[Callable[[PrivateRedis], None], Callable[[PrivateRedis], None]]] = {
    "freeze": (PrivateRedis.freeze, PrivateRedis.thaw),  # SIGSTOP: a hung server, connections time out
    "restart": (PrivateRedis.stop, PrivateRedis.start),  # refused, then back with its data
}


@pytest.fixture
def durable_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    server = PrivateRedis(tmp_path, durable=True)
    server.start()
    yield server
    server.stop()


async def names(client: httpx.AsyncClient) -> tuple[list[str], str]:
    """The users' names an instance answers, and whether it answered from the cache."""
    response = await client.post("/graphql", json={"query": USERS})
    assert response.status_code == 200, response.text
    return [user["name"] for user in response.json()["data"]["users"]], response.headers["x-cache"]


async def create_user(client: httpx.AsyncClient, name: str) -> httpx.Response:
    variables = {"name": name, "email": f"{name.lower()}@example.com"}
    return await client.post("/graphql", json={"query": CREATE_USER, "variables": variables})


async def until_a_hit(client: httpx.AsyncClient) -> list[list[str]]:
    """Every answer an instance gives until it answers from its cache again."""
    deadline = time.monotonic() + WAIT_SECONDS
    answers: list[list[str]] = []
    while True:
        users, cache = await names(client)
        answers.append(users)
        if cache == "hit":
            return answers
        assert time.monotonic() < deadline, f"no cache hit {WAIT_SECONDS:g} s after Redis came back"
        await asyncio.sleep(0.05)


@pytest.mark.parametrize("outage", OUTAGES)
async def test_a_write_acknowledged_during_an_outage_is_seen_by_every_instance_once_redis_answers(
    settings: Settings, tables: None, durable_redis: PrivateRedis, outage: str
) -> None:
    begin, end = OUTAGES[outage]
    shared = settings.model_copy(update={"redis_url": durable_redis.url})
    async with serve(shared) as first, serve(shared) as second:
        await names(first)
        cached = [await names(first), await names(second)]

        begin(durable_redis)
        created = await create_user(first, "Cy")
        end(durable_redis)
        if outage == "freeze":
            # A hung server restarts nothing: the instance idle through it knows of no outage, and
            # is fresh once the writer has delivered, within RETRY_SECONDS of Redis answering. A
            # restarted one is asked at once: it must notice the restart itself.
            await cache_back(first)
        # Until each instance uses its cache again: every answer, hits included, has the write.
        after = [await until_a_hit(second), await until_a_hit(first)]

    assert cached == [([], "hit")] * 2
    assert created.status_code == 200 and created.json()["data"]["createUser"]["id"], created.text
    stale = [[users for users in answers if users != ["Cy"]] for answers in after]
    assert stale == [[], []], f"answers without the write, idle instance then writer: {stale}"


async def test_an_instance_idle_through_a_restart_retires_what_redis_held_before_it(
    settings: Settings, tables: None, durable_redis: PrivateRedis
) -> None:
    """The writer may stop before Redis is back, and its deferred invalidation with it; Redis
    comes back with the entries it held, and redis-py reconnects without a word. The instance
    that was idle all along must notice the restart itself."""
    shared = settings.model_copy(update={"redis_url": durable_redis.url})
    async with serve(shared) as idle:
        await names(idle)
        cached = await names(idle)
        async with serve(shared) as writer:
            durable_redis.stop()
            created = await create_user(writer, "Cy")
        durable_redis.start()
        after = await until_a_hit(idle)

    assert cached == ([], "hit")
    assert created.status_code == 200, created.text
    assert [users for users in after if users != ["Cy"]] == []


def deferred_counted() -> float:
    return REGISTRY.get_sample_value("response_cache_deferred_invalidations_total") or 0


async def test_an_outage_logs_one_line_however_many_writes_it_sees_and_one_when_it_ends(
    settings: Settings, tables: None, durable_redis: PrivateRedis, caplog: pytest.LogCaptureFixture
) -> None:
    logger = "{{ cookiecutter.package_name }}.cache"
    async with serve(settings.model_copy(update={"redis_url": durable_redis.url})) as client:
        await names(client)
        before = deferred_counted()
        with caplog.at_level(logging.INFO, logger=logger):
            durable_redis.stop()
            written = [await create_user(client, f"W{number}") for number in range(20)]
            during = [record for record in caplog.records if record.name == logger]
            durable_redis.start()
            await cache_back(client)
        records = [record for record in caplog.records if record.name == logger]
        users, _ = await names(client)

    assert [response.status_code for response in written] == [200] * 20
    assert [(record.levelname, record.exc_info) for record in during] == [("WARNING", None)]
    assert "ConnectionError" in during[0].getMessage()
    assert [record.levelname for record in records[1:]] == ["INFO"]
    assert "20 writes" in records[1].getMessage()
    assert deferred_counted() - before == 20
    assert len(users) == 20
