"""`perf-check`: the guide's performance checklist, verified against a running service.

Starts the service under gunicorn.conf.py (or checks one at --url), drives it,
and prints one ✅/❌ line per item with the evidence; the exit status is 1 when
any item fails. Counts come from the service's own /metrics, so checking a
service that also serves other traffic can blame it for that traffic's work.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import httpx
import psutil
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import inspect
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from .cache_{{ cookiecutter.cache_backend }} import NAME as CACHE_BACKEND
from .db import verify_server
from .settings import Settings
from .tuning import BudgetError

NESTED = "query PerfNested($n: Int) { users(limit: $n) { id posts { title author { name } } } }"
REPEATED = "query PerfUsers($n: Int) { users(limit: $n) { id name } }"
MAX_NESTED_STATEMENTS = 3
"""users, their posts, the posts' authors: one statement per level, however many rows."""
MAX_RSS_SLOPE_MB = 1.0
"""MB of resident memory per 1,000 requests that still counts as stable (1 KB a request)."""
MEMORY_NOISE_MB = 2.0
"""Growth the allocator's arenas alone can show over the second half of a short run."""


@dataclass(frozen=True)
class Item:
    name: str
    ok: bool
    evidence: str

    def __str__(self) -> str:
        return f"{'✅' if self.ok else '❌'} {self.name}: {self.evidence}"


@dataclass(frozen=True)
class Served:
    base: str
    pid: int | None  # the gunicorn master, when this process started it
    log: IO[str] | None

    def worker_rss_mb(self) -> list[float]:
        """Each gunicorn worker's resident memory in MB; none known when not started here."""
        if self.pid is None:
            return []
        return sorted(child.memory_info().rss / 2**20 for child in psutil.Process(self.pid).children())


@contextmanager
def gunicorn(
    project: Path, env: Mapping[str, str] | None = None, wrap: Sequence[str] = (), log: IO[str] | None = None
) -> Iterator[Served]:
    """The service under the project's gunicorn.conf.py, with `env` added, on a free port, until the block ends.

    `wrap` is a command that runs gunicorn as its child (py-spy, for `make profile`): it is
    gunicorn that is stopped at the end, and then the wrapper is awaited. What they print
    goes to `log`, or to a temporary file that the end of the block removes.
    """
    with nullcontext(log) if log is not None else tempfile.TemporaryFile("w+") as log:
        port = free_port()
        command = [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", f"{__package__}.app:create_app()"]
        server = subprocess.Popen(
            [*wrap, *command],
            cwd=project,
            env={**os.environ, **(env or {}), "BIND": f"127.0.0.1:{port}"},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 30
            while not _ready(base):
                if server.poll() is not None or time.monotonic() > deadline:
                    log.seek(0)
                    raise SystemExit(f"the service did not start:\n{log.read()}")
                time.sleep(0.2)
            yield Served(base, _master(server, wrapped=bool(wrap)), log)
        finally:
            if server.poll() is None:
                with suppress(ProcessLookupError):
                    os.kill(_master(server, wrapped=bool(wrap)), signal.SIGTERM)
            server.wait(timeout=30)


def _master(server: subprocess.Popen[bytes], wrapped: bool) -> int:
    """gunicorn's master: the process started, or the child of the command that wraps it."""
    children = psutil.Process(server.pid).children() if wrapped else []
    return children[0].pid if children else server.pid


def free_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _ready(base: str) -> bool:
    try:
        return httpx.get(f"{base}/health/ready", timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def metric(text: str, name: str, **labels: str) -> float:
    """The sum of the samples called `name` whose labels include `labels`."""
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name and labels.items() <= sample.labels.items()
    )


def worker_pids(text: str) -> set[str]:
    return {
        sample.labels["pid"]
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "worker_resident_memory_bytes"
    }


class Checker:
    def __init__(self, settings: Settings, served: Served, client: httpx.AsyncClient) -> None:
        self.settings = settings
        self.served = served
        self.client = client

    async def metrics(self) -> str:
        return (await self.client.get("/metrics")).text

    async def query(self, query: str, n: int, miss: bool = False) -> httpx.Response:
        # An extra variable the operation ignores but the response cache's key includes: a sure
        # miss, in this run and in any earlier one (a shared cache outlives the service).
        variables = {"n": n, "nonce": uuid.uuid4().hex} if miss else {"n": n}
        return await self.client.post("/graphql", json={"query": query, "variables": variables})

    async def workers(self) -> Item:
        planned = self.settings.plan.workers
        running = len(worker_pids(await self.metrics()))
        for _ in range(50):  # workers that are still starting report once their lifespan runs
            if running >= planned:
                break
            await asyncio.sleep(0.2)
            running = len(worker_pids(await self.metrics()))
        cores = self.settings.cpu_cores
        return Item(
            "workers",
            running == planned,
            f"{running} running, {planned} planned for CPU_CORES={cores}: one async worker per core",
        )

    async def pool_budget(self) -> Item:
        plan = self.settings.plan
        share = (
            f"{plan.instances} instance(s) x {plan.workers} worker(s) x {plan.pool.per_worker} "
            f"(pool {plan.pool.pool_size} + overflow {plan.pool.max_overflow}) = {plan.total_connections}"
        )
        try:
            await verify_server(self.settings)
        except BudgetError as exc:
            return Item("connection pool budget", False, str(exc))
        limit = f"DB_MAX_CONNECTIONS={plan.db_max_connections} less {plan.reserve} reserved"
        return Item("connection pool budget", True, f"{share}, within {limit}")

    async def nested_statements(self) -> Item:
        before = metric(await self.metrics(), "db_statements_total")
        response = await self.query(NESTED, 20, miss=True)
        statements = metric(await self.metrics(), "db_statements_total") - before
        users = len(response.json().get("data", {}).get("users") or [])
        ok = response.status_code == 200 and 0 < statements <= MAX_NESTED_STATEMENTS
        return Item(
            "no N+1",
            ok,
            f"users→posts→author for {users} users took {statements:.0f} SQL statement(s) "
            f"(at most {MAX_NESTED_STATEMENTS})",
        )

    async def counts(self, name: str, **labels: str) -> dict[str, float]:
        text = await self.metrics()
        return {result: metric(text, name, result=result, **labels) for result in ("hit", "miss")}

    async def caches(self, requests: int) -> list[Item]:
        before = await self.counts("graphql_document_cache_total", cache="parse")
        for _ in range(requests):
            await self.query(REPEATED, 10, miss=True)  # one text: parsed once, never answered from cache
        after = await self.counts("graphql_document_cache_total", cache="parse")
        hits, lookups = after["hit"] - before["hit"], sum(after.values()) - sum(before.values())
        items = [
            Item("parse cache", lookups > 0 and hits / lookups >= 0.5, f"{hits:.0f} hits in {lookups:.0f} lookups")
        ]
        if CACHE_BACKEND == "none":
            items.append(Item("response cache", True, "not chosen (cache_backend=none): every request is computed"))
            return items
        if not self.settings.cache_ttl_seconds:
            items.append(Item("response cache", False, "turned off by CACHE_TTL_SECONDS=0"))
            return items
        before = await self.counts("graphql_response_cache_total")
        for i in range(requests):
            await self.query(REPEATED, 10 + i % 2)  # two variable sets, each repeated
        after = await self.counts("graphql_response_cache_total")
        hits, lookups = after["hit"] - before["hit"], sum(after.values()) - sum(before.values())
        evidence = f"{hits:.0f} hits in {lookups:.0f} lookups for 2 queries asked {requests} times"
        items.append(Item("response cache", lookups > 0 and hits / lookups >= 0.5, evidence))
        return items

    async def memory(self, requests: int) -> Item:
        """RSS after each of 6 batches of requests, after a warm-up batch; judged by `memory_verdict`."""
        batch = max(requests // 6, 1)
        samples: list[tuple[int, float]] = []
        for done in range(0, 7 * batch, batch):  # the first batch warms imports and caches up
            await asyncio.gather(*(self.query(NESTED, i % 50 + 1) for i in range(batch)))
            rss = sum(self.served.worker_rss_mb())
            if self.served.pid is None:  # not started here: the service's own gauge, as of its last sample
                rss = metric(await self.metrics(), "worker_resident_memory_bytes") / 2**20
            if done:
                samples.append((done, rss))
        ok, slope, late = memory_verdict(samples)
        return Item(
            "memory stable",
            ok,
            f"workers' RSS {samples[0][1]:.1f} → {samples[-1][1]:.1f} MB over {5 * batch} requests after "
            f"{2 * batch} to warm up ({slope:+.2f} MB per 1,000, {late:+.1f} MB in the second half; a leak "
            f"is over {MAX_RSS_SLOPE_MB:g} MB per 1,000 and still over {MEMORY_NOISE_MB:g} MB in the second half)",
        )

    async def load(self, seconds: float, connections: int = 8) -> Item:
        """`connections` clients sending a mix of cached and uncached queries for `seconds`."""
        done = errors = 0
        deadline = time.monotonic() + seconds

        async def client(index: int) -> None:
            nonlocal done, errors
            while time.monotonic() < deadline:
                query, n = (REPEATED, 10) if index % 2 else (NESTED, done % 20 + 1)
                try:
                    response = await self.query(query, n, miss=not index % 2)
                    failed = response.status_code != 200 or "errors" in response.json()
                except httpx.HTTPError:
                    failed = True
                done += 1
                errors += failed

        started = time.monotonic()
        await asyncio.gather(*(client(i) for i in range(connections)))
        rate = done / (time.monotonic() - started)
        evidence = f"{done} requests in {seconds:g} s by {connections} clients, {rate:.0f} req/s, {errors} errors"
        return Item("load", errors == 0 and done > 0, evidence)

    async def indexes(self) -> Item:
        engine = create_async_engine(self.settings.database_url, poolclass=NullPool)
        try:
            async with engine.connect() as connection:
                missing, covered = await connection.run_sync(_foreign_key_indexes)
        finally:
            await engine.dispose()
        evidence = ", ".join(covered) or "no foreign keys"
        if missing:
            evidence = f"no index on {', '.join(missing)}" + (f" (indexed: {evidence})" if covered else "")
        return Item("indexes on foreign keys", not missing, evidence)

    async def observability(self) -> Item:
        text = await self.metrics()
        counted = metric(text, "graphql_requests_total")
        problems = [] if counted else ["/metrics counts no GraphQL request"]
        access_lines = 0
        if self.served.log is not None:
            self.served.log.seek(0)
            access_lines = sum(".access" in line and "/graphql" in line for line in self.served.log)
            if not access_lines:
                problems.append("no access line was logged")
        logs = f"{access_lines} access lines" if self.served.log is not None else "logs not visible from here"
        evidence = f"/metrics counted {counted:.0f} GraphQL requests; {logs}; LOG_LEVEL={self.settings.log_level}"
        return Item("logging and metrics", not problems, "; ".join(problems) or evidence)


def memory_verdict(samples: list[tuple[int, float]]) -> tuple[bool, float, float]:
    """(stable, MB per 1,000 requests, MB grown over the second half) of (requests, RSS MB) samples.

    A leak grows with every request, so it shows in the slope *and* keeps growing to the end.
    Growth that stops (a pool opening one more connection, an arena filling up the first
    time several requests overlap) shows in the slope of a short run but not in its second half.
    """
    slope = statistics.linear_regression([x for x, _ in samples], [y for _, y in samples]).slope * 1000
    late = samples[-1][1] - samples[(len(samples) - 1) // 2][1]
    return slope <= MAX_RSS_SLOPE_MB or late <= MEMORY_NOISE_MB, slope, late


def _foreign_key_indexes(connection: Connection) -> tuple[list[str], list[str]]:
    """(foreign-key columns no index starts with, the ones covered and by what)."""
    inspector = inspect(connection)
    missing: list[str] = []
    covered: list[str] = []
    for table in inspector.get_table_names():
        leading = {tuple(index["column_names"][:1]): index["name"] for index in inspector.get_indexes(table)}
        primary = inspector.get_pk_constraint(table)["constrained_columns"]
        for key in inspector.get_foreign_keys(table):
            columns = tuple(key["constrained_columns"][:1])
            name = f"{table}.{', '.join(key['constrained_columns'])}"
            if columns in leading:
                covered.append(f"{name} ({leading[columns]})")
            elif list(columns) == primary[:1]:
                covered.append(f"{name} (primary key)")
            else:
                missing.append(name)
    return missing, covered


async def check(settings: Settings, served: Served, requests: int, seconds: float) -> list[Item]:
    async with httpx.AsyncClient(base_url=served.base, timeout=30) as client:
        checker = Checker(settings, served, client)
        items = [await checker.workers(), await checker.pool_budget(), await checker.nested_statements()]
        items += await checker.caches(requests // 5)
        items += [await checker.memory(requests), await checker.load(seconds), await checker.indexes()]
        items.append(await checker.observability())
    return items


def run(settings: Settings, url: str | None, requests: int, seconds: float) -> int:
    """Print one line per item; 0 when every item holds, else 1."""
    if url is not None:
        items = asyncio.run(check(settings, Served(url.rstrip("/"), None, None), requests, seconds))
    else:
        project = Path.cwd()
        if not (project / "gunicorn.conf.py").is_file():
            print(f"no gunicorn.conf.py in {project}: run perf-check in the project, or give --url", file=sys.stderr)
            return 1
        # The monitor samples often enough to see the run; this process reads RSS itself anyway.
        with gunicorn(project, {"MEMORY_CHECK_SECONDS": "0.5"}) as served:
            items = asyncio.run(check(settings, served, requests, seconds))
    for item in items:
        print(item)
    failed = [item.name for item in items if not item.ok]
    print(f"\n{len(items) - len(failed)} of {len(items)} hold" + (f"; failed: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0
