from typing import Any

import httpx
import pytest
from graphql import validate
from prometheus_client import REGISTRY

from {{ cookiecutter.package_name }}.graphql import documents
from {{ cookiecutter.package_name }}.graphql.documents import MAX_QUERY_LENGTH, MAX_TOKENS, DocumentCache

from .conftest import graphql


def lookups(cache: str, result: str) -> float:
    return REGISTRY.get_sample_value("graphql_document_cache_total", {"cache": cache, "result": result}) or 0


@pytest.fixture
def validations(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The query texts graphql-core really validates."""
    seen: list[str] = []

    def counting(schema: Any, document: Any, *args: Any) -> Any:
        seen.append(document.loc.source.body)
        return validate(schema, document, *args)

    monkeypatch.setattr(documents, "validate", counting)
    return seen


async def test_a_repeated_query_is_parsed_and_validated_once(client: httpx.AsyncClient, validations: list[str]) -> None:
    query = "query($limit: Int!) { users(limit: $limit) { id name } }"
    before = {(cache, result): lookups(cache, result) for cache in ("parse", "validate") for result in ("hit", "miss")}

    for limit in (1, 2, 3):  # other variables: the response cache cannot answer, the text is the same
        assert "errors" not in await graphql(client, query, limit=limit)

    after = {key: lookups(*key) - value for key, value in before.items()}
    assert after == {("parse", "miss"): 1, ("parse", "hit"): 2, ("validate", "miss"): 1, ("validate", "hit"): 2}
    assert validations == [query]


async def test_an_invalid_query_is_validated_once_and_answered_the_same(
    client: httpx.AsyncClient, validations: list[str]
) -> None:
    query = "{ users { nickname } }"

    first = await client.post("/graphql", json={"query": query})
    second = await client.post("/graphql", json={"query": query})

    assert first.status_code == second.status_code == 400
    assert first.json() == second.json()
    assert "nickname" in first.json()["errors"][0]["message"]
    assert validations == [query]


async def test_a_query_over_the_length_limit_is_refused_with_its_length(client: httpx.AsyncClient) -> None:
    query = "{ users { id } }" + " " * MAX_QUERY_LENGTH

    response = await client.post("/graphql", json={"query": query})

    assert response.status_code == 400
    assert f"{len(query)} characters long: send at most {MAX_QUERY_LENGTH}" in response.json()["errors"][0]["message"]


async def test_a_query_over_the_token_limit_is_refused_before_parsing_it_all(client: httpx.AsyncClient) -> None:
    query = "{ users { " + "id " * MAX_TOKENS + "} }"

    response = await client.post("/graphql", json={"query": query})

    assert response.status_code == 400
    assert f"more than {MAX_TOKENS} tokens" in response.json()["errors"][0]["message"]


def test_the_cache_keeps_at_most_its_bound_of_query_text(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(documents, "CACHED_TEXT", 1_000)
    cache = DocumentCache()
    first = "{ users { id } }"
    cache.parse(first)
    misses = lookups("parse", "miss")

    for n in range(200):  # about 5,000 characters of other queries
        cache.parse("{ users(limit: " + str(n + 1) + ") { id } }")
    cache.parse(first)

    assert lookups("parse", "miss") - misses == 201  # the first text was evicted and parsed again
