"""Identical queries that miss the cache together in a worker: computed once, and none
answered later than REQUEST_TIMEOUT_SECONDS for having waited for another."""

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from {{ cookiecutter.package_name }}.cache import ResponseCache
from {{ cookiecutter.package_name }}.graphql import operations
from {{ cookiecutter.package_name }}.settings import Settings

from .conftest import Served, serve_app
from .test_cache_hits import Outage

TIMEOUT = 1.0
"""REQUEST_TIMEOUT_SECONDS here: short, since every held-up query is answered when it runs out."""
USERS = {"query": "{ users { id name } }"}


class HeldUp:
    """operations.list_users as a locked table makes it: it never returns. Counts its calls."""

    def __init__(self) -> None:
        self.calls = 0

    async def __call__(self, *_: Any) -> None:
        self.calls += 1
        await asyncio.Event().wait()


@pytest.fixture
def held_up(monkeypatch: pytest.MonkeyPatch) -> HeldUp:
    list_users = HeldUp()
    monkeypatch.setattr(operations, "list_users", list_users)
    return list_users


@pytest.fixture
async def served(settings: Settings, tables: None) -> AsyncIterator[Served]:
    """The service with a response cache and REQUEST_TIMEOUT_SECONDS=TIMEOUT."""
    async with serve_app(settings.model_copy(update={"request_timeout_seconds": TIMEOUT})) as served:
        yield served


async def until(condition: Callable[[], bool]) -> None:
    """Wait for `condition`; fail if it has not come about after a long while."""
    for _ in range(1000):
        if condition():
            return
        await asyncio.sleep(0.01)
    pytest.fail("the state the test waits for never came about")


async def answered_in(client: httpx.AsyncClient) -> tuple[int, float]:
    """The status of USERS's answer, and the seconds it took."""
    started = time.monotonic()
    response = await client.post("/graphql", json=USERS)
    return response.status_code, time.monotonic() - started


async def test_identical_queries_held_up_share_one_503_within_the_timeout(served: Served, held_up: HeldUp) -> None:
    answers = await asyncio.gather(*(answered_in(served.client) for _ in range(4)))

    assert [status for status, _ in answers] == [503] * 4
    assert held_up.calls == 1
    # In turn, the last would have waited out three timeouts before its own: 4 s here.
    assert max(seconds for _, seconds in answers) < 3 * TIMEOUT


async def test_a_waiter_leads_when_its_leader_is_cancelled_and_the_others_follow_it(
    served: Served, held_up: HeldUp, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache: ResponseCache = served.state["cache"]
    get, misses = cache.get, []

    async def noting_misses(key: str) -> bytes | None:
        body = await get(key)
        misses.append(key)  # the request then leads the key's flight, or joins it, before it next waits
        return body

    monkeypatch.setattr(cache, "get", noting_misses)
    leader = asyncio.create_task(served.client.post("/graphql", json=USERS))
    await until(lambda: held_up.calls == 1)
    waiters = [asyncio.create_task(served.client.post("/graphql", json=USERS)) for _ in range(2)]
    await until(lambda: len(misses) == 3)

    leader.cancel()  # as when its client leaves
    answers = await asyncio.gather(*waiters)

    assert [answer.status_code for answer in answers] == [503, 503]
    assert held_up.calls == 2  # the leader's, and the one waiter's that led after it


async def test_identical_mutations_sent_together_never_wait_for_each_other(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    create_user = HeldUp()
    monkeypatch.setattr(operations, "create_user", create_user)
    mutation = {"query": 'mutation { createUser(name: "Ann", email: "ann@example.com") { id } }'}

    sent = [asyncio.create_task(served.client.post("/graphql", json=mutation)) for _ in range(2)]
    await until(lambda: create_user.calls == 2)

    for request in sent:
        request.cancel()
    await asyncio.gather(*sent, return_exceptions=True)


async def test_while_the_cache_is_set_aside_identical_queries_do_not_wait_for_one_another(
    settings: Settings, tables: None, held_up: HeldUp
) -> None:
    """No answer is stored during an outage, so a waiter would find none: it would wait out the
    first request, then compute its own all the same."""
    outage = Outage()
    async with serve_app(settings.model_copy(update={"request_timeout_seconds": 60})) as served:
        cache: ResponseCache = served.state["cache"]
        assert cache.backend is not None
        cache.backend = outage.wrap(cache.backend)
        outage.on = True
        await served.client.get("/health/ready")  # which asks the backend, and meets the outage
        assert not cache.in_use

        sent = [asyncio.create_task(served.client.post("/graphql", json=USERS)) for _ in range(2)]
        await until(lambda: held_up.calls == 2)  # both at once, neither waiting for the other's 60 s

        for request in sent:
            request.cancel()
        await asyncio.gather(*sent, return_exceptions=True)
        outage.on = False  # for the backend to close
