import httpx
import pytest

from .conftest import graphql

CREATE_USER = "mutation($name: String!, $email: String!) { createUser(name: $name, email: $email) { id name email } }"


async def test_users_lists_seeded_users_with_their_posts(
    client: httpx.AsyncClient, db_with_users: tuple[int, int]
) -> None:
    body = await graphql(client, "{ users { id name posts { title author { id } } } }")

    users = body["data"]["users"]
    assert len(users) == db_with_users[0]
    assert [int(user["id"]) for user in users] == sorted(int(user["id"]) for user in users)
    for user in users:
        assert len(user["posts"]) == db_with_users[1] // db_with_users[0]
        assert {post["author"]["id"] for post in user["posts"]} == {user["id"]}


async def test_post_to_graphql_is_answered_without_redirect(client: httpx.AsyncClient) -> None:
    response = await client.post("/graphql", json={"query": "{ users { id } }"})

    assert response.status_code == 200
    assert response.json() == {"data": {"users": []}}


async def test_get_with_query_string_runs_the_query(client: httpx.AsyncClient, db_with_users: tuple[int, int]) -> None:
    response = await client.get("/graphql", params={"query": "{ users(limit: 2) { name } }"})

    assert response.status_code == 200
    assert len(response.json()["data"]["users"]) == 2


async def test_created_user_is_returned_by_later_queries(client: httpx.AsyncClient) -> None:
    created = (await graphql(client, CREATE_USER, name="Ada", email="ada@example.com"))["data"]["createUser"]

    fetched = await graphql(client, "query($id: ID!) { user(id: $id) { name email posts { id } } }", id=created["id"])
    assert fetched["data"]["user"] == {"name": "Ada", "email": "ada@example.com", "posts": []}


async def test_created_post_belongs_to_its_author(client: httpx.AsyncClient) -> None:
    user = (await graphql(client, CREATE_USER, name="Bo", email="bo@example.com"))["data"]["createUser"]

    body = await graphql(
        client,
        "mutation($u: ID!, $t: String!) { createPost(userId: $u, title: $t) { title author { name } } }",
        u=user["id"],
        t="Hello",
    )
    assert body["data"]["createPost"] == {"title": "Hello", "author": {"name": "Bo"}}


async def test_duplicate_email_is_rejected_by_name(client: httpx.AsyncClient) -> None:
    await graphql(client, CREATE_USER, name="Cy", email="cy@example.com")

    body = await graphql(client, CREATE_USER, name="Cy again", email="cy@example.com")

    assert body["data"] is None
    assert "email='cy@example.com' is already taken" in body["errors"][0]["message"]
    users = await graphql(client, "{ users { name } }")
    assert users["data"]["users"] == [{"name": "Cy"}]


@pytest.mark.parametrize(
    ("name", "email", "rule"),
    [
        ("", "x@example.com", "name=''"),
        ("X", "not-an-address", "email='not-an-address'"),
        ("X" * 201, "x@example.com", "1 to 200"),
    ],
)
async def test_bad_user_input_is_named_and_nothing_is_stored(
    client: httpx.AsyncClient, name: str, email: str, rule: str
) -> None:
    body = await graphql(client, CREATE_USER, name=name, email=email)

    assert rule in body["errors"][0]["message"]
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert (await graphql(client, "{ users { id } }"))["data"]["users"] == []


async def test_post_for_missing_user_names_the_id(client: httpx.AsyncClient) -> None:
    body = await graphql(client, 'mutation { createPost(userId: "2147483647", title: "x") { id } }')

    assert "userId='2147483647'" in body["errors"][0]["message"]


@pytest.mark.parametrize("limit", [0, -1, 1001, 2**31 - 1])
async def test_users_limit_outside_bounds_is_an_error_naming_it(client: httpx.AsyncClient, limit: int) -> None:
    body = await graphql(client, "query($l: Int!) { users(limit: $l) { id } }", l=limit)

    message = body["errors"][0]["message"]
    assert f"limit={limit}" in message
    assert "1 to 1000" in message


@pytest.mark.parametrize("limit", [1, 1000])
async def test_users_limit_bounds_are_inclusive(
    client: httpx.AsyncClient, db_with_users: tuple[int, int], limit: int
) -> None:
    body = await graphql(client, "query($l: Int!) { users(limit: $l) { id } }", l=limit)

    assert len(body["data"]["users"]) == min(limit, db_with_users[0])


async def test_null_limit_and_offset_mean_their_defaults(
    client: httpx.AsyncClient, db_with_users: tuple[int, int]
) -> None:
    body = await graphql(client, "query($l: Int, $o: Int) { users(limit: $l, offset: $o) { id } }", l=None, o=None)

    assert body == await graphql(client, "{ users { id } }")
    assert len(body["data"]["users"]) == db_with_users[0]


async def test_offset_pages_through_users(client: httpx.AsyncClient, db_with_users: tuple[int, int]) -> None:
    everyone = (await graphql(client, "{ users { id } }"))["data"]["users"]
    page = (await graphql(client, "{ users(limit: 2, offset: 1) { id } }"))["data"]["users"]

    assert page == everyone[1:3]


async def test_unknown_user_is_null_and_malformed_id_is_an_error(client: httpx.AsyncClient) -> None:
    missing = await graphql(client, '{ user(id: "999") { id } }')
    malformed = await graphql(client, '{ user(id: "abc") { id } }')

    assert missing == {"data": {"user": None}}
    assert "id='abc' is not a valid user id" in malformed["errors"][0]["message"]


BAD_IDS = ["abc", "0", "-1", "2147483648", "1" * 5_000, "\u0661\u0662", "\uff11\uff12", " 12", "1e3"]


@pytest.mark.parametrize("user_id", BAD_IDS)
async def test_an_id_is_ascii_digits_in_range_or_bad_input(
    client: httpx.AsyncClient, db_with_users: tuple[int, int], user_id: str
) -> None:
    """Never a fault (int() refuses thousands of digits), and never a user read from digits of
    another script (str.isdecimal takes Arabic-Indic "\u0661\u0662" for 12)."""
    body = await graphql(client, "query($id: ID!) { user(id: $id) { id } }", id=user_id)

    assert body["data"] == {"user": None}
    [error] = body["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT", error
    assert "is not a valid user id: use a whole number from 1 to 2147483647" in error["message"]


async def test_syntax_error_is_a_graphql_error(client: httpx.AsyncClient) -> None:
    response = await client.post("/graphql", json={"query": "{ users { id "})

    assert response.status_code == 400
    assert "Syntax Error" in response.json()["errors"][0]["message"]
