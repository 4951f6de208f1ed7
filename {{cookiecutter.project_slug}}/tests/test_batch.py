"""Batched operations: a POST whose body is a JSON array runs each operation as a request of its
own (context, DataLoaders, cache lookup), queries concurrently and each mutation alone in its
place, and answers an array in the same order."""

import asyncio
from collections.abc import AsyncIterator
from typing import Any
from uuid import uuid4

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client import REGISTRY
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from {{ cookiecutter.package_name }}.cache import ResponseCache
from {{ cookiecutter.package_name }}.graphql.documents import DocumentCache
from {{ cookiecutter.package_name }}.graphql.endpoint import GraphQLEndpoint
from {{ cookiecutter.package_name }}.settings import Settings

from .conftest import graphql, serve

NESTED = "query Nested($n: Int) { users(limit: $n) { name posts { title } } }"
CREATE = "mutation Create($name: String!, $email: String!) { createUser(name: $name, email: $email) { id } }"
NAMES = "query Names { users { name } }"


def create(name: str) -> dict[str, Any]:
    return {"query": CREATE, "variables": {"name": name, "email": f"{name}@example.com"}}


async def test_a_batch_answers_each_operation_as_it_would_alone(client: httpx.AsyncClient, db_with_users: None) -> None:
    operations = [
        {"query": NESTED, "variables": {"n": 2}},
        {"query": "query One($id: ID!) { user(id: $id) { name } }", "variables": {"id": "2"}},
        {"query": "{ nope }"},
        {"query": "query A { users { id } } query B { posts { id } }", "operationName": "B"},
    ]

    batch = await client.post("/graphql", json=operations)
    alone = [await client.post("/graphql", json=operation) for operation in operations]

    assert batch.status_code == 200
    assert batch.headers["content-type"] == "application/json"
    assert batch.json() == [response.json() for response in alone]


async def test_each_operation_has_its_own_dataloaders(
    client: httpx.AsyncClient, db_with_users: None, sql_statements: list[str]
) -> None:
    await client.post("/graphql", json={"query": NESTED, "variables": {"n": 3}})
    alone = len(sql_statements)  # the users, then all their posts in one statement
    sql_statements.clear()

    # Other limits than above, so that nothing comes from the response cache.
    await client.post("/graphql", json=[{"query": NESTED, "variables": {"n": n}} for n in (1, 2)])

    # Loaders shared between the two would have fetched both operations' posts in one statement.
    assert alone == 2
    assert len(sql_statements) == 2 * alone


async def test_mutations_run_in_order_and_what_follows_sees_them(client: httpx.AsyncClient, tables: None) -> None:
    batch = [create("ann"), {"query": NAMES}, create("bob"), {"query": NAMES}]

    answers = (await client.post("/graphql", json=batch)).json()

    assert [answer["data"]["createUser"]["id"] for answer in answers[::2]] == ["1", "2"]
    # The same query twice: its first answer, cached, must not be served after the write.
    assert answers[1]["data"]["users"] == [{"name": "ann"}]
    assert answers[3]["data"]["users"] == [{"name": "ann"}, {"name": "bob"}]


async def test_a_bad_operation_gets_its_own_error_and_the_others_answer(
    client: httpx.AsyncClient, db_with_users: None
) -> None:
    batch = [{"query": NAMES}, 7, {"query": ""}, {"query": NAMES, "variables": [1]}, create("cy")]

    response = await client.post("/graphql", json=batch)

    assert response.status_code == 200
    first, *refused, created = response.json()
    assert len(first["data"]["users"]) == 3
    assert created["data"]["createUser"]["id"] == "4"
    messages = [answer["errors"][0]["message"] for answer in refused]
    assert [message.partition(" ")[0].rstrip(":") for message in messages] == ["batch[1]", "batch[2]", "batch[3]"]
    assert "JSON number" in messages[0]
    assert "query=''" in messages[1]
    assert "variables=[1]" in messages[2]


async def test_a_batch_of_refusals_answers_400(client: httpx.AsyncClient) -> None:
    response = await client.post("/graphql", json=[7, {"query": "{ nope }"}])

    assert response.status_code == 400
    assert all("data" not in answer and answer["errors"] for answer in response.json())


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(size=st.integers(min_value=0, max_value=14))
async def test_max_batch_size_bounds_a_batch_and_an_oversized_one_runs_nothing(
    client: httpx.AsyncClient, size: int
) -> None:
    maximum = 10  # MAX_BATCH_SIZE's default
    before = len((await graphql(client, NAMES))["data"]["users"])

    response = await client.post("/graphql", json=[create(uuid4().hex) for _ in range(size)])

    after = len((await graphql(client, NAMES))["data"]["users"])
    if 1 <= size <= maximum:
        assert response.status_code == 200
        assert len(response.json()) == size
        assert after - before == size
    else:
        assert response.status_code == 400
        (error,) = response.json()["errors"]
        assert f"holds {size} operations" in error["message"] and "MAX_BATCH_SIZE" in error["message"]
        assert after == before


async def test_batches_can_be_switched_off(settings: Settings, tables: None) -> None:
    async with serve(settings.model_copy(update={"max_batch_size": 0})) as client:
        refused = await client.post("/graphql", json=[{"query": NAMES}])
        alone = await client.post("/graphql", json={"query": NAMES})

    assert refused.status_code == 400
    assert "MAX_BATCH_SIZE=0" in refused.json()["errors"][0]["message"]
    assert alone.status_code == 200


def counted(operation: str) -> float:
    return REGISTRY.get_sample_value("graphql_requests_total", {"operation": operation, "outcome": "ok"}) or 0


async def test_each_operation_of_a_batch_is_counted_on_its_own(client: httpx.AsyncClient, tables: None) -> None:
    before = counted("BatchCountedA"), counted("BatchCountedB")
    batch = [{"query": f"query BatchCounted{name} " + "{ users { id } }"} for name in "AB"]

    await client.post("/graphql", json=batch * 2)

    assert (counted("BatchCountedA") - before[0], counted("BatchCountedB") - before[1]) == (2, 2)


# The scheduling itself, with a stand-in for the schema library that records what overlaps.


class Recorder:
    def __init__(self) -> None:
        self.running: set[str] = set()
        self.events: list[str] = []
        self.query_pairs = asyncio.Barrier(2)  # two queries side by side, or the wait times out

    async def handle(self, request: Request) -> Response:
        name = (await request.json())["operationName"]
        self.running.add(name)
        self.events.append(f"start {name}")
        if name.startswith("mutation"):
            assert self.running == {name}, f"{name} ran beside {self.running - {name}}"
            await asyncio.sleep(0.01)
        else:
            async with asyncio.timeout(5):
                await self.query_pairs.wait()
        self.running.discard(name)
        self.events.append(f"end {name}")
        return JSONResponse({"data": {"name": name}})


@pytest.fixture
async def recorded() -> AsyncIterator[tuple[Recorder, httpx.AsyncClient]]:
    recorder = Recorder()
    endpoint = GraphQLEndpoint(
        recorder.handle, DocumentCache(), explorer=False, timeout=10, max_batch_size=10, server_timing=False
    )
    app = Starlette(routes=[Route("/graphql", endpoint.handle, methods=["POST"])])

    async def with_state(scope: Scope, receive: Receive, send: Send) -> None:
        await app({**scope, "state": {"cache": ResponseCache(None, 0)}}, receive, send)

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=with_state), base_url="http://test") as client:
        yield recorder, client


async def test_queries_run_side_by_side_and_a_mutation_alone_in_its_place(
    recorded: tuple[Recorder, httpx.AsyncClient],
) -> None:
    recorder, client = recorded
    names = ["query0", "query1", "mutation2", "mutation3", "query4", "query5"]
    selection = "{ users { id } }"
    batch = [{"query": f"{name.rstrip('012345')} {name} {selection}", "operationName": name} for name in names]

    response = await client.post("/graphql", json=batch)

    assert [answer["data"]["name"] for answer in response.json()] == names
    position = {event: index for index, event in enumerate(recorder.events)}
    # Everything before a mutation has ended when it starts; nothing after it starts before it ends.
    assert max(position["end query0"], position["end query1"]) < position["start mutation2"]
    assert position["end mutation2"] < position["start mutation3"]
    assert position["end mutation3"] < min(position["start query4"], position["start query5"])
