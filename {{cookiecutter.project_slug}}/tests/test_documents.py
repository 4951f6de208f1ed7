"""Each query text parsed and validated once, within bounds of length, of tokens and of memory."""

import gc
import tracemalloc

import httpx
import pytest
from graphql import parse
from prometheus_client import REGISTRY

from {{ cookiecutter.package_name }}.graphql import documents
from {{ cookiecutter.package_name }}.graphql.documents import MAX_QUERY_LENGTH, MAX_TOKENS
from {{ cookiecutter.package_name }}.settings import Settings

from .conftest import braced, graphql, serve


def lookups(cache: str, result: str) -> float:
    return REGISTRY.get_sample_value("graphql_document_cache_total", {"cache": cache, "result": result}) or 0


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


SHAPES = {
    "fields": "{ users { " + "id name " * 900 + "} }",
    "arguments": braced(*(f'u{n}: user(id: "{n}") ' + braced("id") for n in range(170))),
    "variables": "query($a: Int = 1, $b: String) { " + "users(limit: $a) { id } " * 190 + "}",
    "fragments": " ".join(["{ users { ...A } }", *(f"fragment F{n} on User " + braced("id ...A") for n in range(180))]),
    "strings": braced(*[f'user(id: "{"9" * 40}") ' + braced("id")] * 200),
    "comments": "{ users { id } }\n" + "# a comment\n" * 1_500,
}


@pytest.mark.parametrize("query", SHAPES.values(), ids=SHAPES.keys())
def test_a_parsed_document_holds_no_more_than_its_estimate(query: str) -> None:
    """The caches are bounded by this estimate, so it must not fall short of what parsing allocates."""
    gc.collect()
    tracemalloc.start()
    try:
        document = parse(query, max_tokens=MAX_TOKENS)
        held, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert held <= documents._document_size(document)


async def test_refused_documents_hold_no_more_memory_than_their_bound(
    settings: Settings, tables: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Distinct texts, each refused: their parsed documents (some 300 KB each here) were kept by the
    hundred; a refusal now keeps only its errors and its text, within its bound."""
    bound = 256 * 2**10
    monkeypatch.setattr(documents, "CACHED_REFUSALS_BYTES", bound)
    monkeypatch.setattr(documents, "PARSED_BYTES", bound)
    # Anonymous: operation names would add metrics' series (up to MAX_OPERATION_NAMES) to what is measured.
    floods = [braced(f"users(limit: {n + 1})", braced(*["id"] * 500, "nickname")) for n in range(120)]
    async with serve(settings) as client:
        await client.post("/graphql", json={"query": floods[0]})  # whatever the first request sets up
        gc.collect()
        tracemalloc.start()
        try:
            for query in floods[1:]:
                assert (await client.post("/graphql", json={"query": query})).status_code == 400
            gc.collect()
            held, _ = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()

    assert held <= 1.5 * bound  # the cache's own bound, and whatever else a request leaves behind
