"""The running service serves exactly the schema of schema.graphql, the contract
clients code against, whatever the schema library that implements it."""

from pathlib import Path

import httpx
import pytest
from graphql import (
    GraphQLSchema,
    build_client_schema,
    build_schema,
    get_introspection_query,
    lexicographic_sort_schema,
    print_schema,
)

import {{ cookiecutter.package_name }}
from {{ cookiecutter.package_name }}.__main__ import main

from .conftest import graphql

SDL = Path({{ cookiecutter.package_name }}.__file__).with_name("graphql") / "schema.graphql"


def sorted_sdl(schema: GraphQLSchema) -> str:
    return print_schema(lexicographic_sort_schema(schema))


async def test_introspection_prints_the_schema_of_schema_graphql(client: httpx.AsyncClient) -> None:
    introspection = await graphql(client, get_introspection_query())

    assert sorted_sdl(build_client_schema(introspection["data"])) == sorted_sdl(build_schema(SDL.read_text()))


def test_the_schema_command_prints_the_served_schema(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema"]) == 0

    assert sorted_sdl(build_schema(capsys.readouterr().out)) == sorted_sdl(build_schema(SDL.read_text()))
