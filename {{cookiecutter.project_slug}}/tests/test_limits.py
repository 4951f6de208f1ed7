"""Abuse limits: what one request may send and ask for, and how long it may run.

Each limit answers with one error that names the measure and the limit, before
anything executes; an ordinary query stays far below all of them.
"""

from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from {{ cookiecutter.package_name }}.settings import Settings

from .conftest import graphql, serve

NESTED = "{ users { " + "posts { author { " * 4 + "posts { id }" + " } }" * 4 + " } }"
"""users, then posts and author four times, then posts { id }: 11 levels."""


async def errors_of(response: httpx.Response, status_code: int) -> list[str]:
    assert response.status_code == status_code, response.text
    body: dict[str, Any] = response.json()
    assert "data" not in body, "a refused operation never began to execute"
    return [error["message"] for error in body["errors"]]


async def test_the_benchmark_queries_pass_every_limit(client: httpx.AsyncClient, db_with_users: Any) -> None:
    answer = await graphql(client, "{ users { id posts { id author { name } } } }")

    assert len(answer["data"]["users"]) == 3


async def test_a_body_over_max_body_bytes_is_refused_with_413(settings: Settings, tables: None) -> None:
    small = settings.model_copy(update={"max_body_bytes": 2048})
    async with serve(small) as client:
        padded = {"query": "{ users { id } }", "variables": {"pad": "x" * 4096}}
        declared = await client.post("/graphql", json=padded)

        async def chunks() -> Any:  # no Content-Length: the body is counted as it arrives
            for _ in range(8):
                yield b" " * 1024

        streamed = await client.post("/graphql", content=chunks(), headers={"content-type": "application/json"})
        fits = await client.post("/graphql", json={"query": "{ users { id } }"})

    for response in (declared, streamed):
        assert response.status_code == 413, response.text
        assert "MAX_BODY_BYTES=2048" in response.json()["errors"][0]["message"]
    assert fits.status_code == 200


async def test_depth_is_limited(client: httpx.AsyncClient) -> None:
    messages = await errors_of(await client.post("/graphql", json={"query": NESTED}), 400)

    assert any("nests 11 levels deep: at most 10" in message for message in messages), messages


async def test_depth_counts_through_fragments(settings: Settings, tables: None) -> None:
    query = """
        query Deep { users { ...Posts } }
        fragment Posts on User { posts { author { ...Name } } }
        fragment Name on User { name }
    """
    async with serve(settings.model_copy(update={"graphql_max_depth": 3})) as client:
        messages = await errors_of(await client.post("/graphql", json={"query": query}), 400)

    assert messages == ["operation 'Deep' nests 4 levels deep: at most 3 are allowed"]


async def test_aliases_are_limited(client: httpx.AsyncClient) -> None:
    query = "{ " + " ".join(f"u{n}: user(id: {n}) " + "{ id }" for n in range(31)) + " }"

    messages = await errors_of(await client.post("/graphql", json={"query": query}), 400)

    assert messages == ["the operation uses 31 aliases: at most 30 are allowed"]


@pytest.mark.parametrize(
    ("query", "variables"),
    [
        ("{ users(limit: 1000) { posts { author { posts { id } } } } }", None),
        ("query Big($n: Int) { users(limit: $n) { posts { author { posts { id } } } } }", {"n": 5}),
        ("query Big($n: Int = 1000) { users(limit: $n) { posts { author { posts { id } } } } }", None),
    ],
)
async def test_cost_is_limited_by_what_the_lists_may_hold(
    client: httpx.AsyncClient, query: str, variables: dict[str, Any] | None
) -> None:
    """A variable counts as its default, or as the most `limit` allows: validation knows no values."""
    response = await client.post("/graphql", json={"query": query, "variables": variables})

    messages = await errors_of(response, 400)
    assert len(messages) == 1 and "at most 100,000 are allowed" in messages[0]


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(limit=st.integers(1, 1000), levels=st.integers(1, 4))
async def test_cost_grows_with_limit_and_nesting(client: httpx.AsyncClient, limit: int, levels: int) -> None:
    """users(limit: L) nested n deep in posts/author holds L * 10^n posts: refused exactly above the limit."""
    inner = "id"
    for _ in range(levels):
        inner = "posts { author { " + inner + " } }"
    query = "{ users(limit: " + str(limit) + ") { " + inner + " } }"
    # users: 1 field; level k: posts asked of L * 10^(k-1) users, author of L * 10^k posts; id of the last authors
    cost = 1 + sum(limit * 10 ** (k - 1) + limit * 10**k for k in range(1, levels + 1)) + limit * 10**levels

    response = await client.post("/graphql", json={"query": query})

    refused = "errors" in response.json() and any("values" in e["message"] for e in response.json()["errors"])
    assert refused == (cost > 100_000), (cost, response.text)


async def test_a_left_out_limit_costs_its_default(settings: Settings, tables: None) -> None:
    """users' `limit` defaults to 100 (schema.graphql): leaving it out costs what limit: 100 does."""
    async with serve(settings.model_copy(update={"graphql_max_cost": 101})) as client:  # the field, and 100 ids
        answers = [
            await client.post("/graphql", json={"query": "{ users" + limit + " { id } }"})
            for limit in ("", "(limit: 100)", "(limit: 101)")
        ]

    assert [answer.status_code for answer in answers] == [200, 200, 400], [answer.text for answer in answers]


async def test_a_request_running_past_the_timeout_is_cancelled_with_503(settings: Settings, db_with_users: Any) -> None:
    slow = settings.model_copy(update={"request_timeout_seconds": 0.000_001})
    async with serve(slow) as client:
        response = await client.post("/graphql", json={"query": "{ users { id posts { id } } }"})

    assert response.status_code == 503
    assert response.headers["retry-after"].isdigit()
    assert "REQUEST_TIMEOUT_SECONDS=1e-06" in response.json()["errors"][0]["message"]
    async with serve(settings) as client:  # nothing is left holding a connection or a lock
        assert len((await graphql(client, "{ users { id } }"))["data"]["users"]) == 3


async def test_missing_paths_and_methods_answer_json(client: httpx.AsyncClient) -> None:
    missing = await client.get("/nothing-here")
    put = await client.put("/graphql", json={"query": "{ users { id } }"})

    assert missing.status_code == 404 and "/nothing-here does not exist" in missing.json()["errors"][0]["message"]
    assert put.status_code == 405 and "PUT is not accepted by /graphql" in put.json()["errors"][0]["message"]
    assert "GET" in put.headers["allow"]
