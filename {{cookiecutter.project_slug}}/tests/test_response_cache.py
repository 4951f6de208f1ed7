"""Response cache rules that hold for every backend, `none` included."""

import httpx
from graphql import parse, print_ast
from graphql.language import Lexer, Source, TokenKind
from hypothesis import given
from hypothesis import strategies as st

from {{ cookiecutter.package_name }}.cache import auth_scope, normalize_query, response_key

from .conftest import graphql

CREATE_USER = "mutation($n: String!, $e: String!) { createUser(name: $n, email: $e) { id } }"
QUERIES = [
    "{ users(limit: 2, offset: 1) { id name posts { title } } }",
    "query Named($id: ID!) { user(id: $id) { name, email } }",
    'mutation { createUser(name: "two  spaces,\\n and a comma", email: "a@b.co") { id } }',
    '{ user(id: "1") { name } } # trailing comment',
    'query { user(id: """block\\n  string, kept""") { name } }',
]
separators = st.lists(st.sampled_from([" ", "\n", "\t", ",", "  ", " # note\n"]), min_size=1, max_size=3).map("".join)


def relayout(query: str, gaps: list[str]) -> str:
    """The same tokens with other white space, commas and comments between them."""
    lexer, tokens = Lexer(Source(query)), []
    token = lexer.advance()
    while token.kind != TokenKind.EOF:
        tokens.append(query[token.start : token.end])
        token = lexer.advance()
    return "".join(text + gaps[index % len(gaps)] for index, text in enumerate(tokens))


@given(st.sampled_from(QUERIES), st.lists(separators, min_size=1, max_size=8))
def test_normalizing_keeps_the_document_and_ignores_layout(query: str, gaps: list[str]) -> None:
    other = relayout(query, gaps)

    assert print_ast(parse(normalize_query(query))) == print_ast(parse(query))
    assert normalize_query(other) == normalize_query(relayout(query, [" "]))


def test_strings_keep_their_white_space_and_commas() -> None:
    assert normalize_query('{ a(s: "x  ,  y") }') != normalize_query('{ a(s: "x , y") }')


@given(st.dictionaries(st.text(min_size=1, max_size=5), st.integers(), max_size=5))
def test_variable_order_does_not_change_the_key(variables: dict[str, int]) -> None:
    reordered = dict(reversed(list(variables.items())))

    assert response_key("{ a }", variables, None, None) == response_key("{ a }", reordered, None, None)


def test_variables_operation_name_and_credentials_each_change_the_key() -> None:
    base = response_key("{ a }", {"x": 1}, None, None)

    assert response_key("{ a }", {"x": 2}, None, None) != base
    assert response_key("{ a }", {"x": 1}, "A", None) != base
    assert response_key("{ a }", {"x": 1}, None, auth_scope("Bearer t", None)) != base
    assert auth_scope(None, None) is None
    assert auth_scope("Bearer a", None) != auth_scope("Bearer b", None)
    assert auth_scope(None, "session=1") != auth_scope(None, "session=2")


async def test_a_mutation_is_never_answered_from_the_cache(client: httpx.AsyncClient) -> None:
    first = await graphql(client, CREATE_USER, n="Ann", e="ann@example.com")
    second = await graphql(client, CREATE_USER, n="Ann", e="ann@example.com")

    assert first["data"]["createUser"]["id"]
    assert "already taken" in second["errors"][0]["message"]


async def test_a_write_is_seen_by_the_next_read(client: httpx.AsyncClient) -> None:
    query = "{ users { name posts { title } } }"
    assert (await graphql(client, query))["data"]["users"] == []

    created = await graphql(client, CREATE_USER, n="Bea", e="bea@example.com")
    after_user = await graphql(client, query)
    await graphql(
        client,
        'mutation($u: ID!) { createPost(userId: $u, title: "First") { id } }',
        u=created["data"]["createUser"]["id"],
    )
    after_post = await graphql(client, query)

    assert after_user["data"]["users"] == [{"name": "Bea", "posts": []}]
    assert after_post["data"]["users"] == [{"name": "Bea", "posts": [{"title": "First"}]}]
