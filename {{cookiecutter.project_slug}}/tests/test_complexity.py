"""What validating a document may cost: documents whose validation would hold a worker
are refused before graphql-core's rules run (complexity.py), with an error that names
the limit; ordinary queries, fragments and repeated fields included, pass untouched.
"""

import asyncio
from typing import Any

import httpx
import psutil
import pytest
from graphql import parse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from {{ cookiecutter.package_name }}.graphql.complexity import (
    MAX_FIELD_PAIRS,
    MAX_NESTING,
    MAX_NUMBER_LENGTH,
    MAX_SELECTIONS,
    too_complex,
)
from {{ cookiecutter.package_name }}.graphql.documents import MAX_TOKENS

from .conftest import braced, graphql, gunicorn
from .test_lifecycle import log_text, wait_for_log
from .test_slow_clients import worker_pids

FLOOD_CPU_SECONDS = 3.0
"""What 34 refused 5 KB documents, and the probes meanwhile, may cost the workers: measured 0.95 s,
most of it parsing (2,000 tokens at most, documents.py). Validating them took 1-2 s each."""
FLOOD_RSS_MB = 48
"""What a worker's RSS may grow by under a flood of refused texts: its caches' bounds (documents.py,
46 MB by their estimate, 4 MB of them for refusals), measured +20 MB."""


def overlapping(name: str) -> str:
    """About 5 KB within every limit of the parser and of limits.py, whose validation took 1-2 s:
    one fragment of 275 identical nested selections, which the overlapping-fields rule compares
    pairwise: 37,675 pairs of `posts`, and as many of `author` and of `id` below them."""
    return (
        f"query {name} "
        + braced('user(id: "1") ' + braced("...Posts"))
        + " fragment Posts on User "
        + braced(*["posts { author { id } }"] * 275)
    )


def doubling(levels: int) -> str:
    """Under 2 KB: fragments A(n) and B(n) each spread both A(n + 1) and B(n + 1), so the operation
    selects 2**levels fields once they are expanded (walked at each spread, a billion steps)."""
    fragments = [
        f"fragment {name}{n} on User " + braced(f"...A{n + 1}", f"...B{n + 1}") for n in range(levels) for name in "AB"
    ]
    last = [f"fragment {name}{levels} on User " + braced("id") for name in "AB"]
    return " ".join(["{ users { ...A0 } }", *fragments, *last])


def chained(links: int) -> str:
    """Fragments that each nest two selection sets and spread the next: 2 * links levels deep."""
    fragments = [
        f"fragment F{n} on User " + braced("posts", braced("author", braced(f"...F{n + 1}"))) for n in range(links)
    ]
    return " ".join(["{ users { ...F0 } }", *fragments, f"fragment F{links} on User " + braced("id")])


def refusal(response: httpx.Response) -> dict[str, Any]:
    """The one error a refused document is answered with."""
    assert response.status_code == 400, response.text
    body = response.json()
    assert "data" not in body and len(body["errors"]) == 1, body
    error: dict[str, Any] = body["errors"][0]
    return error


@pytest.mark.parametrize(
    ("query", "measure"),
    [
        (overlapping("Flood"), f"compares about {3 * (275 * 274 // 2):,} pairs of fields: at most {MAX_FIELD_PAIRS:,}"),
        (braced('user(id: "1")', braced(*["id"] * 1_900)), f"about {1_900 * 1_899 // 2:,} pairs of fields"),
        (doubling(30), f"selects {2**30 + 1:,} fields once its fragments are expanded: at most {MAX_SELECTIONS:,}"),
        (chained(MAX_NESTING // 2), f"more than {MAX_NESTING} levels deep through its fragments"),
    ],
    ids=["overlapping-fragment", "repeated-id", "doubling-fragments", "chained-fragments"],
)
async def test_a_document_too_costly_to_validate_is_refused_before_any_rule_runs(
    client: httpx.AsyncClient, validations: list[str], query: str, measure: str
) -> None:
    error = refusal(await client.post("/graphql", json={"query": query}))

    assert measure in error["message"]
    assert error["extensions"]["code"] == "QUERY_TOO_COMPLEX"
    assert validations == []


async def test_validation_stopped_by_its_error_limit_says_so(client: httpx.AsyncClient) -> None:
    """graphql-core stops at 100 errors with a bare "Validation aborted."."""
    query = "{ users { " + " ".join(f"unknown{n}" for n in range(150)) + " } }"

    errors = (await client.post("/graphql", json={"query": query})).json()["errors"]

    assert len(errors) == 101
    assert errors[-1]["message"] == "validation stopped after 100 errors: correct these and send the query again"
    assert not any("aborted" in error["message"] for error in errors)


async def test_a_number_no_argument_can_take_is_bad_input(client: httpx.AsyncClient) -> None:
    """Python's int() refuses 5,000 digits with an error of its own, which named neither rule nor value."""
    error = refusal(await client.post("/graphql", json={"query": "{ users(limit: " + "9" * 5_000 + ") { id } }"}))

    assert error["message"] == f"a number literal of 5,000 characters: at most {MAX_NUMBER_LENGTH} are allowed"
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["locations"] == [{"line": 1, "column": 16}]


async def test_ordinary_queries_with_fragments_and_repeated_fields_pass(
    client: httpx.AsyncClient, db_with_users: Any
) -> None:
    query = """
        query Feed { users { ...Person posts { id ...Post author { ...Person } } } }
        fragment Person on User { id name }
        fragment Post on Post { id title author { id } }
    """

    answer = await graphql(client, query)

    assert "errors" not in answer and len(answer["data"]["users"]) == 3


NAMES = st.sampled_from(["id", "name", "email", "title", "posts", "author", "users"])


@st.composite
def selections(draw: st.DrawFn, depth: int = 0) -> str:
    """A selection set whose fields each have an alias of their own, as real queries repeat fields."""
    fields = []
    for n in range(draw(st.integers(1, 6))):
        name = draw(NAMES)
        below = draw(selections(depth + 1)) if depth < 3 and draw(st.booleans()) else ""
        fields.append(f"a{depth}_{n}: {name} {below}")
    return "{ " + " ".join(fields) + " }"


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(selection=selections(), spreads=st.integers(0, 20))
def test_distinct_aliases_never_count_as_pairs(selection: str, spreads: int) -> None:
    """Fields under distinct aliases are never compared, however the fragments holding them are spread."""
    spread = " ".join(["...F"] * spreads)
    document = parse("query " + braced("users", braced("...F", spread)) + " fragment F on User " + selection)

    assert too_complex(document) is None


async def test_a_flood_of_costly_documents_leaves_every_worker_alive_and_live(database_url: str, tables: None) -> None:
    """24 at once and a batch of 10, each of a name of its own so that no cache helps: before this
    bound they cost a worker 1-2 s of CPU each, held both until gunicorn killed them, and left
    /health/live unanswered for 11 s. The whole flood now costs the workers less CPU than
    FLOOD_CPU_SECONDS, so no request waits on it longer: a measure a loaded machine leaves true,
    where a probe's wall time would not."""
    with gunicorn(database_url, workers=2) as served:
        wait_for_log(served, "Application startup complete", 2)  # both workers, their start's CPU spent
        workers = worker_pids(served)
        async with httpx.AsyncClient(base_url=served.base, timeout=60) as session:
            cpu = workers_cpu_seconds(workers)
            flood = [session.post("/graphql", json={"query": overlapping(f"Flood{n}")}) for n in range(24)]
            batch = session.post("/graphql", json=[{"query": overlapping(f"Batch{n}")} for n in range(10)])
            done = asyncio.Event()
            probes = asyncio.create_task(live_probes(session, done))
            *refused, batched = await asyncio.gather(*flood, batch)
            done.set()
            answered = await probes
            spent = workers_cpu_seconds(workers) - cpu

        assert {refusal(response)["extensions"]["code"] for response in refused} == {"QUERY_TOO_COMPLEX"}
        assert batched.status_code == 400, batched.text  # every operation refused
        assert {answer["errors"][0]["extensions"]["code"] for answer in batched.json()} == {"QUERY_TOO_COMPLEX"}
        assert spent < FLOOD_CPU_SECONDS
        assert answered > 0
        assert worker_pids(served) == workers
        assert "WORKER TIMEOUT" not in log_text(served)


def workers_cpu_seconds(pids: set[int]) -> float:
    times = [psutil.Process(pid).cpu_times() for pid in pids]
    return sum(cpu.user + cpu.system for cpu in times)


async def live_probes(session: httpx.AsyncClient, done: asyncio.Event) -> int:
    """How many times /health/live answered, asked one after another until `done`."""
    answered = 0
    while not done.is_set():
        assert (await session.get("/health/live")).status_code == 200
        answered += 1
    return answered


async def test_a_flood_of_distinct_refused_documents_leaves_a_worker_its_memory(
    database_url: str, tables: None
) -> None:
    """400 texts of ~6 KB of repeated fields, each refused, each of a name of its own: their parsed
    documents were kept by the hundred (800 grew a worker from 127 to 700 MB)."""
    floods = [f"query Flood{n} " + braced("users", braced(*["id"] * (MAX_TOKENS - 10))) for n in range(400)]
    with gunicorn(database_url, workers=1) as served:
        async with httpx.AsyncClient(base_url=served.base, timeout=60) as session:
            await session.post("/graphql", json={"query": floods[0]})  # whatever the first request sets up
            (before,) = served.worker_rss_mb()

            async def send(queries: list[str]) -> None:
                for query in queries:
                    assert (await session.post("/graphql", json={"query": query})).status_code == 400

            await asyncio.gather(*(send(floods[1 + n :: 8]) for n in range(8)))
            (after,) = served.worker_rss_mb()

    print(f"worker RSS {before:.0f} MB -> {after:.0f} MB")
    assert after - before <= FLOOD_RSS_MB
