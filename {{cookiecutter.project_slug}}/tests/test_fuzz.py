"""Property-based fuzzing of /graphql: whatever a client sends, the answer is JSON with data or
errors, never a 500, a traceback or a fault. Documents come from the schema (hypothesis-graphql):
valid queries and mutations with arbitrary arguments, alone or in batches, and documents with one
violation each."""

import json
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_graphql import Mode, from_schema, queries

import {{ cookiecutter.package_name }}

SDL = (Path({{ cookiecutter.package_name }}.__file__).with_name("graphql") / "schema.graphql").read_text()
TEXT = st.lists(st.characters() | st.sampled_from(["\ud800", "\udbff", "\udc00", "\udfff"])).map("".join)
"""Any text, lone halves of UTF-16 pairs included, which JSON's escapes carry and no database stores.
(st.text drops them from any alphabet it is given.)"""
FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)


def assert_answered(response: httpx.Response) -> Any:
    """The JSON answer: an object with data or errors, or for a batch an array of them."""
    assert response.status_code in (200, 400, 405, 413), response.text
    assert response.headers["content-type"] == "application/json", response.text
    body = response.json()
    for answer in body if isinstance(body, list) else [body]:
        assert isinstance(answer, dict) and ("data" in answer or answer.get("errors")), body
    assert "Traceback" not in response.text
    assert "INTERNAL_SERVER_ERROR" not in response.text, "bad input must never reach a fault"
    return body


@FUZZ
@given(document=from_schema(SDL))
async def test_valid_operations_with_any_arguments(client: httpx.AsyncClient, document: str) -> None:
    body = assert_answered(await client.post("/graphql", json={"query": document}))

    for error in body.get("errors", ()):
        assert error["message"]  # every refusal says why


@FUZZ
@given(document=queries(SDL, mode=Mode.NEGATIVE))
async def test_operations_that_break_the_schema_are_refused(client: httpx.AsyncClient, document: str) -> None:
    response = await client.post("/graphql", json={"query": document})

    assert response.status_code == 400
    assert "data" not in assert_answered(response)


@FUZZ
@given(text=TEXT)
async def test_any_text_stored_by_a_mutation(client: httpx.AsyncClient, db_with_users: Any, text: str) -> None:
    """Text that reaches the database (a new user's name, a post's title) is stored or refused as input."""
    query = """
        mutation($text: String!, $email: String!) {
            createUser(name: $text, email: $email) { id }
            createPost(userId: 1, title: $text) { id }
        }
    """
    variables = {"text": text, "email": f"{uuid4().hex}@example.com"}
    body = json.dumps({"query": query, "variables": variables})  # ensure_ascii: a surrogate travels escaped
    assert_answered(await client.post("/graphql", content=body, headers={"content-type": "application/json"}))


@FUZZ
@given(body=JSON)
async def test_any_json_body(client: httpx.AsyncClient, body: Any) -> None:
    assert_answered(await client.post("/graphql", json=body))


@FUZZ
@given(batch=st.lists(from_schema(SDL).map(lambda document: {"query": document}), min_size=1, max_size=10))
async def test_batches_of_valid_operations(client: httpx.AsyncClient, batch: list[dict[str, str]]) -> None:
    answers = assert_answered(await client.post("/graphql", json=batch))

    assert isinstance(answers, list) and len(answers) == len(batch)


@FUZZ
@given(query=st.text(), variables=JSON, operation_name=st.none() | st.text(max_size=10))
async def test_any_query_text_and_variables(
    client: httpx.AsyncClient, query: str, variables: Any, operation_name: str | None
) -> None:
    body = {"query": query, "variables": variables, "operationName": operation_name}
    assert_answered(await client.post("/graphql", json=body))


@FUZZ
@given(content=st.binary(max_size=300), content_type=st.sampled_from(["application/json", "text/plain", ""]))
async def test_any_bytes(client: httpx.AsyncClient, content: bytes, content_type: str) -> None:
    assert_answered(await client.post("/graphql", content=content, headers={"content-type": content_type}))


@FUZZ
@given(params=st.dictionaries(st.sampled_from(["query", "variables", "operationName", "x"]), st.text(), max_size=4))
async def test_any_get_parameters(client: httpx.AsyncClient, params: dict[str, str]) -> None:
    assert_answered(await client.get("/graphql", params=params))
