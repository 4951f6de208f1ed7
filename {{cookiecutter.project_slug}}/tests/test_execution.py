"""FastExecutor answers exactly what graphql-core's own executor answers, with fewer steps."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

from graphql import Executor, GraphQLSchema, build_schema, execute, parse
from graphql.execution import MiddlewareManager
from hypothesis import given, settings
from hypothesis import strategies as st

from {{ cookiecutter.package_name }}.graphql.execution import FastExecutor

SDL = """
type Query { rows: [Row!]!, maybeRows: [Row] }
type Row { id: ID!, name: String!, note: String, count: Int, flag: Boolean!, ratio: Float, child: Row, kids: [Row!] }
"""
QUERIES = (
    "{ rows { id name } }",
    "{ rows { id name note count flag ratio } }",
    "{ maybeRows { id note kids { id name } } }",
    "{ rows { ...F child { id count } } } fragment F on Row { a: id b: name }",
    "query($skip: Boolean = true) { rows { id name @skip(if: $skip) note @include(if: $skip) } }",
    "{ rows { id __typename kids { __typename name flag } } }",
)
# What rows hold in practice, and what the scalars refuse: nulls in non-null fields,
# numbers out of Int's range, a float where an ID belongs, methods where values belong.
VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**40), max_value=2**40),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=5),
    st.just(lambda: "called"),
)
FIELDS = ("id", "name", "note", "count", "flag", "ratio")


@st.composite
def rows(draw: st.DrawFn, depth: int = 2) -> Any:
    values = {field: draw(VALUES) for field in FIELDS}
    if depth:
        values["child"] = draw(st.none() | rows(depth=depth - 1))
        values["kids"] = draw(st.none() | st.lists(rows(depth=depth - 1), max_size=3))
    as_dict = draw(st.booleans())
    return values if as_dict else SimpleNamespace(**values)


SCHEMA: GraphQLSchema = build_schema(SDL)


class Counting(FastExecutor):
    """Counts the resolve infos graphql-core builds: one per field it executes itself."""

    built = 0

    def build_resolve_info(self, *args: Any, **kwargs: Any) -> Any:
        Counting.built += 1
        return super().build_resolve_info(*args, **kwargs)


def answer(
    query: str, root: dict[str, Any], executor: type[Executor[Any]] | None, middleware: Any = None
) -> dict[str, Any]:
    result = execute(SCHEMA, parse(query), root_value=root, executor_class=executor, middleware=middleware)
    assert not asyncio.iscoroutine(result)
    return dict(result.formatted)  # type: ignore[union-attr]


@settings(max_examples=150, deadline=None)
@given(query=st.sampled_from(QUERIES), top=st.lists(rows(), max_size=4), maybe=st.lists(st.none() | rows(), max_size=4))
def test_the_same_answer_and_errors_as_graphql_core(query: str, top: list[Any], maybe: list[Any]) -> None:
    root = {"rows": top, "maybeRows": maybe}

    assert answer(query, root, FastExecutor) == answer(query, root, None)


def test_plain_fields_of_a_list_skip_graphql_cores_steps() -> None:
    root = {"rows": [{"id": n, "name": f"row {n}", "count": n} for n in range(100)]}
    Counting.built = 0

    data = answer("{ rows { id name count } }", root, Counting)["data"]

    assert data["rows"][99] == {"id": "99", "name": "row 99", "count": 99}
    assert Counting.built == 1  # `rows` itself; none of the 300 plain fields of its rows


def test_a_middleware_sees_every_field_and_an_empty_one_changes_nothing() -> None:
    root = {"rows": [{"id": n, "name": f"row {n}"} for n in range(10)]}
    seen: list[str] = []

    def spy(next_: Any, source: Any, info: Any, **args: Any) -> Any:
        seen.append(info.field_name)
        return next_(source, info, **args)

    query = "{ rows { id name } }"
    Counting.built = 0
    answer(query, root, Counting, MiddlewareManager())
    assert Counting.built == 1

    assert answer(query, root, Counting, MiddlewareManager(spy)) == answer(query, root, None)
    assert seen.count("name") == 10
