"""The HTTP contract of /graphql, whatever the schema library: every malformed request
gets one JSON error naming what was wrong, before any GraphQL work is done."""

from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from {{ cookiecutter.package_name }}.settings import Settings

from .conftest import graphql, serve

CREATE_USER = 'mutation { createUser(name: "Ann", email: "ann@example.com") { id } }'


async def refusal(response: httpx.Response, status_code: int = 400) -> str:
    assert response.status_code == status_code, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert list(body) == ["errors"] and len(body["errors"]) == 1
    message: str = body["errors"][0]["message"]
    return message


@pytest.mark.parametrize(
    ("content", "headers", "named"),
    [
        ('{"query": "{ users { id }', {"content-type": "application/json"}, "not valid JSON"),
        ('{"query": "{ users { id } }"}', {"content-type": "text/plain"}, "Content-Type 'text/plain'"),
        ('{"query": "{ users { id } }"}', {}, "Content-Type '(none)'"),
        ("[]", {"content-type": "application/json"}, "the batch holds 0 operations"),
        ('"{ users { id } }"', {"content-type": "application/json"}, "a JSON string"),
        ('{"query": 5}', {"content-type": "application/json"}, "query=5"),
        ('{"query": "  "}', {"content-type": "application/json"}, "query='  '"),
        ('{"variables": {}}', {"content-type": "application/json"}, "query=None"),
        ('{"query": "{ users { id } }", "variables": [1]}', {"content-type": "application/json"}, "variables=[1]"),
        ('{"query": "{ users { id } }", "operationName": 7}', {"content-type": "application/json"}, "operationName=7"),
    ],
)
async def test_a_malformed_post_is_refused_naming_what_is_wrong(
    client: httpx.AsyncClient, content: str, headers: dict[str, str], named: str
) -> None:
    response = await client.post("/graphql", content=content, headers=headers)

    assert named in await refusal(response)


async def test_a_long_bad_value_is_shortened_in_the_message(client: httpx.AsyncClient) -> None:
    response = await client.post("/graphql", json={"query": "{ users { id } }", "variables": ["x" * 10_000]})

    message = await refusal(response)
    assert message.startswith("variables=['xxx") and "..." in message
    assert len(message) < 200


async def test_get_needs_a_query_and_json_variables(client: httpx.AsyncClient) -> None:
    assert "needs a `query` parameter" in await refusal(await client.get("/graphql"))
    bad_variables = await client.get("/graphql", params={"query": "{ users { id } }", "variables": "{x"})
    assert "variables='{x' is not valid JSON" in await refusal(bad_variables)


async def test_get_refuses_a_mutation_with_405_and_stores_nothing(client: httpx.AsyncClient) -> None:
    response = await client.get("/graphql", params={"query": CREATE_USER})

    assert "send a mutation by POST" in await refusal(response, 405)
    assert response.headers["allow"] == "POST"
    assert (await graphql(client, "{ users { id } }"))["data"]["users"] == []


@pytest.mark.parametrize("method", ["PUT", "DELETE", "HEAD", "OPTIONS"])
async def test_other_methods_are_not_allowed_and_allow_lists_what_is(client: httpx.AsyncClient, method: str) -> None:
    """HEAD too: Starlette would offer it beside GET, and the schema libraries refuse it."""
    response = await client.request(method, "/graphql", params={"query": "{ __typename }"})

    assert response.status_code == 405
    assert response.headers["allow"] == "GET, POST"
    if method != "HEAD":  # a HEAD answer has no body
        assert f"{method} is not accepted by /graphql: use GET, POST" in await refusal(response, 405)


async def test_a_trailing_slash_is_not_redirected_to_the_clients_host(client: httpx.AsyncClient) -> None:
    """Starlette's 307 would send the client to whatever host its Host header named."""
    response = await client.post("/graphql/", json={"query": "{ __typename }"}, headers={"host": "evil.example"})

    assert "/graphql/ does not exist" in await refusal(response, 404)
    assert "location" not in response.headers


@pytest.mark.parametrize("path", ["/health/live", "/metrics"])
async def test_head_is_answered_where_get_is_offered(client: httpx.AsyncClient, path: str) -> None:
    get, head = await client.get(path), await client.head(path)

    assert (head.status_code, head.content) == (200, b"")
    assert head.headers["content-type"] == get.headers["content-type"]


@pytest.mark.parametrize(
    ("query", "name", "named"),
    [
        ("query A { users { id } } query B { user(id: 1) { id } }", None, "holds 2 operations"),
        ("query A { users { id } } query B { user(id: 1) { id } }", "C", "operationName='C' names no operation"),
        ("{ users { id } }", "A", "leave it out"),
        ("fragment F on User { id }", None, "holds no operation"),
    ],
)
async def test_the_operation_to_run_must_be_clear(
    client: httpx.AsyncClient, query: str, name: str | None, named: str
) -> None:
    response = await client.post("/graphql", json={"query": query, "operationName": name})

    assert named in await refusal(response)


async def test_operation_name_picks_one_of_several(client: httpx.AsyncClient, db_with_users: tuple[int, int]) -> None:
    query = 'query All { users { id } } query One { user(id: "1") { id } }'

    response = await client.post("/graphql", json={"query": query, "operationName": "One"})

    assert response.json() == {"data": {"user": {"id": "1"}}}


async def test_development_has_the_explorer_and_introspection(client: httpx.AsyncClient) -> None:
    page = await client.get("/graphql", headers={"accept": "text/html"})
    typename = await graphql(client, "{ __schema { queryType { name } } }")

    assert page.status_code == 200 and "<html" in page.text.lower()
    assert typename["data"]["__schema"]["queryType"]["name"] == "Query"


async def test_production_has_neither_explorer_nor_introspection(settings: Settings, tables: None) -> None:
    async with serve(settings.model_copy(update={"app_env": "production"})) as client:
        page = await client.get("/graphql", headers={"accept": "text/html"})
        introspection = await client.post("/graphql", json={"query": "{ __schema { queryType { name } } }"})
        query = await client.post("/graphql", json={"query": "{ users { id } }"})

    assert "needs a `query` parameter" in await refusal(page)
    assert introspection.status_code == 400
    assert "introspection has been disabled" in introspection.json()["errors"][0]["message"]
    assert "'__schema'" in introspection.json()["errors"][0]["message"]
    assert query.json() == {"data": {"users": []}}


@pytest.mark.parametrize(("env", "suggested"), [("development", True), ("production", False)])
async def test_field_suggestions_are_made_in_development_only(
    settings: Settings, tables: None, env: str, suggested: bool
) -> None:
    """A suggestion names fields the query did not: in production it would read the schema out to anyone."""
    async with serve(settings.model_copy(update={"app_env": env})) as client:
        misspelt = await client.post("/graphql", json={"query": "{ usrs { id } }"})
        again = await client.post("/graphql", json={"query": "{ usrs { id } }"})  # the verdict, cached

    for response in (misspelt, again):
        (error,) = response.json()["errors"]
        assert "Cannot query field 'usrs' on type 'Query'." in error["message"]
        assert ("'users'" in error["message"]) is suggested


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=10), children, max_size=3),
    max_leaves=8,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.dictionaries(st.sampled_from(["query", "variables", "operationName", "extra"]), JSON, max_size=4))
async def test_any_json_body_is_answered_with_json_never_a_server_error(client: httpx.AsyncClient, body: Any) -> None:
    response = await client.post("/graphql", json=body)

    assert response.status_code in (200, 400)
    assert "errors" in response.json() or "data" in response.json()
