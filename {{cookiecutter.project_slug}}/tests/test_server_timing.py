"""The Server-Timing header: parse, validate, execute, db and cache, with how many statements and
cache calls the request made; on in development, off in production unless SERVER_TIMING=1."""

import re

import httpx
import pytest

from {{ cookiecutter.package_name }}.settings import Settings

from .conftest import serve_app

QUERY = "query Timed($n: Int) { users(limit: $n) { name posts { title } } }"
ENTRY = re.compile(r'(?P<name>\w+);dur=(?P<dur>[\d.]+)(?:;desc="(?P<count>\d+) \w+")?')


def timings(response: httpx.Response) -> dict[str, tuple[float, int | None]]:
    """Each entry's milliseconds and count, in the header's order."""
    entries = {}
    for part in response.headers["server-timing"].split(", "):
        match = ENTRY.fullmatch(part)
        assert match, f"not a Server-Timing entry: {part!r}"
        entries[match["name"]] = (float(match["dur"]), int(match["count"]) if match["count"] else None)
    return entries


async def test_an_answer_says_where_its_time_went(
    settings: Settings, db_with_users: None, sql_statements: list[str]
) -> None:
    async with serve_app(settings) as served:
        sql_statements.clear()  # start-up's own statements are not the request's
        response = await served.client.post("/graphql", json={"query": QUERY, "variables": {"n": 3}})
        cached = served.state["cache"].enabled

    entries = timings(response)
    assert list(entries) == ["parse", "validate", "execute", "db", "cache"]
    assert entries["db"][1] == len(sql_statements) == 2  # the users, then their posts
    assert all(ms > 0 for ms, _ in (entries["parse"], entries["validate"], entries["execute"], entries["db"]))
    # The statements ran inside execution, which does not include validation.
    assert entries["execute"][0] + 0.01 >= entries["db"][0]
    # A miss asks the cache for the answer, and for the write generation before computing it.
    assert entries["cache"][1] == (3 if cached else 0)  # get, begin, put


async def test_a_cached_answer_shows_only_the_cache(settings: Settings, db_with_users: None) -> None:
    async with serve_app(settings) as served:
        body = {"query": QUERY, "variables": {"n": 2}}
        await served.client.post("/graphql", json=body)
        second = timings(await served.client.post("/graphql", json=body))
        cached = served.state["cache"].enabled

    if cached:
        assert [second[name][0] for name in ("parse", "validate", "execute", "db")] == [0.0] * 4
        assert (second["db"][1], second["cache"][1]) == (0, 1)
    else:  # computed again: statements, no cache calls
        assert (second["db"][1], second["cache"][1]) == (2, 0)


async def test_a_batch_sums_its_operations(settings: Settings, db_with_users: None, sql_statements: list[str]) -> None:
    async with serve_app(settings) as served:
        sql_statements.clear()
        batch = [{"query": QUERY, "variables": {"n": n}} for n in (1, 2, 3)]
        response = await served.client.post("/graphql", json=batch)

    assert timings(response)["db"][1] == len(sql_statements) == 6


@pytest.mark.parametrize(
    ("app_env", "server_timing", "shown"),
    [("production", None, False), ("production", True, True), ("development", False, False)],
)
async def test_the_header_follows_server_timing(
    settings: Settings, tables: None, app_env: str, server_timing: bool | None, shown: bool
) -> None:
    chosen = settings.model_copy(update={"app_env": app_env, "server_timing": server_timing})
    async with serve_app(chosen) as served:
        response = await served.client.post("/graphql", json={"query": "{ users { id } }"})

    assert response.status_code == 200
    assert ("server-timing" in response.headers) is shown


async def test_an_answer_that_measured_nothing_has_no_header(settings: Settings, tables: None) -> None:
    """The explorer page and a malformed request parse, validate and execute nothing: a header of
    zeros would only say so."""
    async with serve_app(settings) as served:
        page = await served.client.get("/graphql", headers={"accept": "text/html"})
        malformed = await served.client.post("/graphql", content=b"{", headers={"content-type": "application/json"})

    assert page.status_code == 200 and malformed.status_code == 400
    assert "server-timing" not in page.headers and "server-timing" not in malformed.headers
