"""An Ariadne bake and a Strawberry bake are the same service: the same schema, and
the same status and JSON for every request, good or bad, sent to both side by side."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
from graphql import build_client_schema, build_schema, get_introspection_query, lexicographic_sort_schema, print_schema

from .conftest import Bake, run, serving

CREATE_USER = "mutation($n: String!, $e: String!) { createUser(name: $n, email: $e) { id name email posts { id } } }"
CREATE_POST = "mutation($u: ID!, $t: String!) { createPost(userId: $u, title: $t) { id title author { id name } } }"
JSON = {"content-type": "application/json"}

# (method, request arguments): in order, so that writes and the reads after them match too.
REQUESTS: list[tuple[str, dict[str, Any]]] = [
    ("POST", {"json": {"query": "{ users { id name email posts { id title author { id } } } }"}}),
    ("POST", {"json": {"query": "query($l: Int, $o: Int) { users(limit: $l, offset: $o) { id } }",
                       "variables": {"l": 2, "o": 1}}}),
    ("POST", {"json": {"query": "{ users(limit: null) { id } }"}}),
    ("POST", {"json": {"query": '{ user(id: "2") { name posts { title } } }'}}),
    ("POST", {"json": {"query": '{ user(id: "999") { name } }'}}),
    ("POST", {"json": {"query": '{ user(id: "abc") { name } }'}}),
    ("POST", {"json": {"query": "{ users(limit: 0) { id } }"}}),
    ("POST", {"json": {"query": "{ users(offset: -1) { id } }"}}),
    ("POST", {"json": {"query": '{ users(limit: "x") { id } }'}}),
    ("POST", {"json": {"query": "{ users { nickname } }"}}),
    ("POST", {"json": {"query": "{ users { id "}}),
    ("POST", {"json": {"query": "query($l: Int!) { users(limit: $l) { id } }"}}),
    ("POST", {"json": {"query": "query($l: Int!) { users(limit: $l) { id } }", "variables": {"l": "ten"}}}),
    ("POST", {"json": {"query": CREATE_USER, "variables": {"n": "Ada", "e": "ada@example.com"}}}),
    ("POST", {"json": {"query": CREATE_USER, "variables": {"n": "Ada", "e": "ada@example.com"}}}),
    ("POST", {"json": {"query": CREATE_USER, "variables": {"n": "", "e": "bad"}}}),
    ("POST", {"json": {"query": CREATE_POST, "variables": {"u": "1", "t": "Hello"}}}),
    ("POST", {"json": {"query": CREATE_POST, "variables": {"u": "2147483647", "t": "Hello"}}}),
    ("POST", {"json": {"query": '{ user(id: "1") { posts { title } } }'}}),
    ("POST", {"json": {"query": "query A { users { id } } query B { users { name } }"}}),
    ("POST", {"json": {"query": "query A { users { id } } query B { users { name } }", "operationName": "B"}}),
    ("POST", {"json": {"query": "query A { users { id } }", "operationName": "C"}}),
    ("POST", {"json": {"query": "{ __typename users(limit: 1) { __typename } }"}}),
    ("POST", {"content": '{"query": "{ users { id }', "headers": JSON}),
    ("POST", {"content": '{"query": "{ users { id } }"}', "headers": {"content-type": "text/plain"}}),
    ("POST", {"content": '[{"query": "{ users { id } }"}]', "headers": JSON}),
    ("POST", {"json": [{"query": CREATE_USER, "variables": {"n": "Bo", "e": "bo@example.com"}},
                       {"query": "{ users { name } }"}, 7, {"query": "{ users { nickname } }"}]}),
    ("POST", {"json": [{"query": "{ users { id } }"}] * 11}),
    ("POST", {"json": []}),
    ("POST", {"json": {"query": 5}}),
    ("POST", {"json": {"query": "{ users { id } }", "variables": [1]}}),
    ("GET", {"params": {"query": "{ users(limit: 2) { name } }"}}),
    ("GET", {"params": {"query": CREATE_USER, "variables": '{"n": "Eve", "e": "eve@example.com"}'}}),
    ("GET", {"params": {"query": "{ users { id } }", "variables": "{"}}),
    ("GET", {}),
    ("PUT", {"json": {"query": "{ users { id } }"}}),
]  # fmt: skip


def started(bake: Bake, library: str) -> Path:
    project = bake(schema_library=library, cpu_cores="1")
    run(project, "alembic", "upgrade", "head")
    run(project, "python", "-m", "graphql_service", "seed", "--users", "4", "--posts-per-user", "2")
    return project


def answers(base: str) -> list[tuple[int, str, Any]]:
    found = []
    with httpx.Client(base_url=base) as client:
        for method, arguments in REQUESTS:
            response = client.request(method, "/graphql", **arguments)
            body = response.json() if response.headers.get("content-type") == "application/json" else response.text
            found.append((response.status_code, response.headers.get("content-type"), body))
    return found


def served_schema(base: str) -> str:
    introspection = httpx.post(f"{base}/graphql", json={"query": get_introspection_query()}).json()
    return print_schema(lexicographic_sort_schema(build_client_schema(introspection["data"])))


def test_both_schema_libraries_serve_the_same_schema_and_answers(bake: Bake) -> None:
    ariadne, strawberry = started(bake, "ariadne"), started(bake, "strawberry")

    with serving(ariadne) as one, serving(strawberry) as other:
        schemas = served_schema(one.base), served_schema(other.base)
        replies = answers(one.base), answers(other.base)

    sdl = (ariadne / "src" / "graphql_service" / "graphql" / "schema.graphql").read_text()
    assert schemas[0] == schemas[1] == print_schema(lexicographic_sort_schema(build_schema(sdl)))
    for request, first, second in zip(REQUESTS, *replies, strict=True):
        assert first == second, request
    statuses = {status for status, _, _ in replies[0]}
    assert statuses == {200, 400, 405}  # the list holds good requests, bad ones and refused methods
