"""`make bench`: generated services against the guide's way and the ceilings, side by side in one run.

Bakes five combinations, seeds one PostgreSQL database with 100 users x 10 posts
and gives each target a copy of it (so that PostgreSQL counts each target's
statements apart), starts every target under gunicorn on loopback, and drives
each with wrk in turn, round after round, so that whatever else the machine does
hits all of them alike. Then the same for 1, cores and 2 x cores + 1 workers.
Prints one table and the ratios it holds the template to (Report.checks); the full run also
writes them into README.md. A benchmark, not a test: it asserts nothing.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import json
import math
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Callable
from contextlib import AbstractContextManager, ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # `bench.baselines` for gunicorn, `bench` here

from bench import services
from bench.services import Service

Q1 = "{ users { id name } }"
Q2 = "{ users { id name posts { id title } } }"
COUNTED_REQUESTS = 10
README = services.TEMPLATE / "README.md"
PERFORMANCE = next(services.TEMPLATE.glob("*cookiecutter.project_slug*/PERFORMANCE.md"))


def graphql(query: str) -> str:
    return "/graphql?" + urllib.parse.urlencode({"query": query})


@dataclass
class Measured:
    """One query against one target: every round's wrk run, and what PostgreSQL counted."""

    target: str
    label: str
    path: str
    runs: list[Any] = field(default_factory=list)
    server_cores: list[float] = field(default_factory=list)
    statements: float | None = None
    rss: list[float] = field(default_factory=list)  # of the target's workers, after all its runs

    def median(self, name: str) -> float:
        return float(statistics.median(getattr(run, name) for run in self.runs))

    @property
    def errors(self) -> int:
        return sum(run.errors for run in self.runs)


@dataclass
class Target:
    name: str
    start: Callable[[], AbstractContextManager[Service]]
    queries: dict[str, str]  # label: path
    database: str | None = None  # its own PostgreSQL database, whose statements are counted
    service: Service | None = None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 round of 2 s runs: a smoke run, not figures")
    parser.add_argument("--seconds", type=float, default=5, help="length of each wrk run")
    parser.add_argument("--rounds", type=int, default=3, help="runs of each target, interleaved")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections")
    args = parser.parse_args()
    if args.quick:
        args.seconds, args.rounds = 2, 1
    services.require_servers()
    cores = os.cpu_count() or 1

    databases = services.Databases()
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp, ExitStack() as cleanup:
        cleanup.callback(databases.drop)
        bakes = {
            combination: services.bake(Path(tmp), database=database, cache_backend=cache, schema_library=library)
            for combination in (
                "sqlite+memory+ariadne",
                "postgresql+redis+ariadne",
                "postgresql+none+ariadne",
                "postgresql+redis+strawberry",
                "postgresql+none+strawberry",
            )
            for database, cache, library in [combination.split("+")]
        }
        wrk = services.bake_harness(bakes["sqlite+memory+ariadne"]).wrk
        databases.seeded(bakes["postgresql+none+ariadne"])
        sqlite = f"sqlite+aiosqlite:///{bakes['sqlite+memory+ariadne']}/bench.db"
        services.migrate_and_seed(bakes["sqlite+memory+ariadne"], sqlite)

        def bake_env(combination: str, **env: str) -> dict[str, str]:
            """Every generated target alike: one worker, the baselines' 10 connections, its own keys."""
            settings = {"WEB_CONCURRENCY": "1", "DB_POOL_SIZE": "8", "DB_MAX_OVERFLOW": "2", **env}
            settings = {name: value for name, value in settings.items() if value}  # "": the computed value
            if "postgresql" in combination:
                settings.setdefault("DATABASE_URL", databases.clone(combination))
            else:
                settings["DATABASE_URL"] = sqlite
            if "redis" in combination:
                prefix = f"bench-{databases.run}-{len(databases.names)}:"
                cleanup.callback(services.forget_keys, prefix)
                settings |= {"REDIS_URL": services.REDIS_URL, "CACHE_KEY_PREFIX": prefix}
            return settings

        def generated(combination: str, name: str, queries: dict[str, str], **env: str) -> Target:
            settings = bake_env(combination, **env)
            database = settings["DATABASE_URL"] if "postgresql" in combination else None
            return Target(name, lambda: services.generated(bakes[combination], **settings), queries, database)

        def baseline(module: str, name: str, queries: dict[str, str], **env: str) -> Target:
            url = databases.clone(module)
            ready = next(iter(queries.values()))
            return Target(name, lambda: services.baseline(module, ready, BENCH_DATABASE_URL=url, **env), queries, url)

        uncached = {"Q1 uncached": graphql(Q1), "Q2 uncached": graphql(Q2)}
        cached = {"Q1 cached": graphql(Q1), "Q2 cached": graphql(Q2)}
        targets = [
            Target("raw ASGI", lambda: services.baseline("raw_asgi", "/"), {"fixed bytes": "/"}),
            baseline("rest_asyncpg", "Starlette + asyncpg REST", {"Q1 rows": "/users"}),
            baseline("guide_ariadne", "guide-style Ariadne", uncached),
            baseline("tuned_ariadne", "hand-tuned Ariadne", uncached),
            baseline("strawberry_default", "Strawberry's own integration", uncached),
            generated("postgresql+none+ariadne", "generated postgresql+none+ariadne", uncached),
            generated("postgresql+redis+ariadne", "generated postgresql+redis+ariadne", cached),
            generated("postgresql+none+strawberry", "generated postgresql+none+strawberry", uncached),
            generated("postgresql+redis+strawberry", "generated postgresql+redis+strawberry", cached),
            generated("sqlite+memory+ariadne", "generated sqlite+memory+ariadne", cached),
            generated(
                "sqlite+memory+ariadne",
                f"default bake, computed config ({cores} workers)",
                {"Q1 cached": graphql(Q1)},
                WEB_CONCURRENCY="",
            ),
            generated(
                "sqlite+memory+ariadne",
                f"default bake, computed config ({cores} workers), uncached",
                {"Q1 uncached": graphql(Q1)},
                WEB_CONCURRENCY="",
                CACHE_TTL_SECONDS="0",
            ),
        ]
        results = measure(targets, wrk, args)

        combination = "postgresql+none+ariadne"
        workers = [
            generated(combination, f"{count} worker(s)", {"Q1 uncached": graphql(Q1)}, WEB_CONCURRENCY=str(count))
            for count in sorted({1, cores, 2 * cores + 1})
        ]
        worker_results = measure(workers, wrk, args, count_statements=False)

    report = Report(results, worker_results, args, cores)
    print(report.text())
    if not args.quick:
        write_between(README, "bench", report.markdown())
        write_between(PERFORMANCE, "bench:workers", report.workers_markdown())
        write_between(PERFORMANCE, "bench:cache", report.cache_markdown())
        print(f"\nwritten into {README} and {PERFORMANCE}")


def measure(
    targets: list[Target], wrk: Callable[..., Any], args: argparse.Namespace, count_statements: bool = True
) -> list[Measured]:
    """Start every target, count its statements, then run wrk against each in turn, round after round."""
    results = [Measured(target.name, label, path) for target in targets for label, path in target.queries.items()]
    by_target = {target.name: target for target in targets}
    with ExitStack() as running:
        for target in targets:
            target.service = running.enter_context(target.start())
        for result in results:  # warm-up: imports, pools, the first cache entry
            wrk(url(by_target[result.target], result.path), 1, args.connections, threads=1)
        if count_statements:
            count(targets, results, by_target)
        for round_ in range(args.rounds):
            order = results[round_ % len(results) :] + results[: round_ % len(results)]
            for result in order:
                service = by_target[result.target].service
                assert service is not None
                before = service.cpu_seconds()
                result.runs.append(
                    wrk(url(by_target[result.target], result.path), args.seconds, args.connections, threads=1)
                )
                result.server_cores.append((service.cpu_seconds() - before) / args.seconds)
                print(f"  {result.target} | {result.label}: {result.runs[-1].rate:.0f} req/s", file=sys.stderr)
        rss = {target.name: target.service.worker_rss_mb() for target in targets if target.service is not None}
        for result in results:
            result.rss = rss[result.target]
    return results


def url(target: Target, path: str) -> str:
    assert target.service is not None
    return target.service.base + path


def count(targets: list[Target], results: list[Measured], by_target: dict[str, Target]) -> None:
    """SQL statements per request, as PostgreSQL counts them: a target's queries one after another,
    each asked COUNTED_REQUESTS times, all targets at once, with the counters flushed in between."""
    passes = max(len(target.queries) for target in targets)
    answers: dict[str, bytes] = {}  # every target must answer a query alike, or the comparison means nothing
    for index in range(passes):
        batch = [result for result in results if list(by_target[result.target].queries).index(result.label) == index]
        databases = {result.target: by_target[result.target].database for result in batch}
        counted = {target: database for target, database in databases.items() if database is not None}
        time.sleep(services.STATS_FLUSH_SECONDS)
        before = {target: services.table_scans(database) for target, database in counted.items()}
        with httpx.Client(timeout=30) as client:
            for result in batch:
                for _ in range(COUNTED_REQUESTS):
                    response = client.get(url(by_target[result.target], result.path))
                    first = answers.setdefault(result.label.split()[0], response.content)
                    if response.status_code != 200 or json.loads(response.content) != json.loads(first):
                        raise SystemExit(
                            f"{result.target} answered {result.label} unlike the others: {response.text[:300]}"
                        )
        time.sleep(services.STATS_FLUSH_SECONDS)
        for result in batch:
            if result.target in counted:
                scans = services.table_scans(counted[result.target]) - before[result.target]
                result.statements = scans / COUNTED_REQUESTS


@dataclass
class Check:
    what: str
    value: float
    goal: float
    unit: str = "x"
    at_most: bool = False

    @property
    def ok(self) -> bool:
        return self.value <= self.goal if self.at_most else self.value >= self.goal

    def line(self) -> str:
        sign = "≤" if self.at_most else "≥"
        mark = "✅" if self.ok else "❌"
        return f"{mark} {self.what}: {self.value:.2f}{self.unit} (target {sign} {self.goal:g}{self.unit})"


class Report:
    def __init__(self, results: list[Measured], workers: list[Measured], args: argparse.Namespace, cores: int) -> None:
        self.results, self.workers, self.args, self.cores = results, workers, args, cores

    def get(self, target: str, label: str) -> Measured:
        return next(m for m in self.results if m.target.startswith(target) and m.label == label)

    def ratio(self, what: str, first: Measured, second: Measured, goal: float) -> Check:
        rate = second.median("rate")
        return Check(what, first.median("rate") / rate if rate else math.nan, goal)

    def checks(self) -> list[Check]:
        ours, guide, tuned = "generated postgresql+none+ariadne", "guide-style Ariadne", "hand-tuned Ariadne"
        raw = self.get("raw ASGI", "fixed bytes")
        default = self.get("default bake, computed config", "Q1 cached")
        default_uncached = self.get("default bake, computed config", "Q1 uncached")
        checks = [
            self.ratio(
                "uncached Q1, generated / hand-tuned Ariadne",
                self.get(ours, "Q1 uncached"),
                self.get(tuned, "Q1 uncached"),
                1.0,
            ),
            self.ratio(
                "uncached Q1, generated / guide-style",
                self.get(ours, "Q1 uncached"),
                self.get(guide, "Q1 uncached"),
                1.6,
            ),
            self.ratio(
                "uncached Q2, generated / guide-style",
                self.get(ours, "Q2 uncached"),
                self.get(guide, "Q2 uncached"),
                3.0,
            ),
            self.ratio(
                "cached Q1, memory backend / raw ASGI", self.get("generated sqlite+memory", "Q1 cached"), raw, 0.35
            ),
            self.ratio(
                "cached Q1, Redis backend / raw ASGI",
                self.get("generated postgresql+redis+ariadne", "Q1 cached"),
                raw,
                0.25,
            ),
        ]
        for query in ("Q1 uncached", "Q2 uncached"):
            checks.append(
                self.ratio(
                    f"{query}, generated Strawberry / Strawberry's own integration",
                    self.get("generated postgresql+none+strawberry", query),
                    self.get("Strawberry's own integration", query),
                    1.5,
                )
            )
        for name, measured in (("cached", default), ("uncached", default_uncached)):
            checks += [
                Check(f"default bake, computed config, Q1 {name}: req/s", measured.median("rate"), 1000, " req/s"),
                Check(f"default bake, computed config, Q1 {name}: errors", measured.errors, 0, "", at_most=True),
                Check(
                    f"default bake, computed config, Q1 {name}: p99",
                    measured.median("p99_ms"),
                    100,
                    " ms",
                    at_most=True,
                ),
            ]
        for target in (ours, "generated postgresql+none+strawberry"):
            checks.append(
                Check(
                    f"SQL statements per Q2, {target}",
                    self.get(target, "Q2 uncached").statements or 0,
                    2,
                    "",
                    at_most=True,
                )
            )
        checks.append(
            Check(
                "SQL statements per Q2, guide-style (for reference)",
                self.get(guide, "Q2 uncached").statements or 0,
                101,
                "",
            )
        )
        return checks

    def rows(self, results: list[Measured]) -> list[list[str]]:
        rows = []
        for m in results:
            statements = "—" if m.statements is None else f"{m.statements:g}"
            rss = "/".join(f"{mb:.0f}" for mb in m.rss)
            rows.append(
                [
                    m.target,
                    m.label,
                    f"{m.median('rate'):,.0f}",
                    f"{m.median('p50_ms'):.1f}",
                    f"{m.median('p99_ms'):.1f}",
                    str(m.errors),
                    statements,
                    rss,
                    f"{statistics.median(m.server_cores):.2f}",
                    f"{max(run.generator_cpu for run in m.runs):.2f}",
                ]
            )
        return rows

    HEADER: ClassVar[list[str]] = [
        "target",
        "query",
        "req/s",
        "p50 ms",
        "p99 ms",
        "errors",
        "SQL/req",
        "RSS MB/worker",
        "server cores",
        "wrk cores",
    ]

    def text(self) -> str:
        lines = [self.setup(), ""]
        for results in (self.results, self.workers):
            table = [self.HEADER, *self.rows(results)]
            widths = [max(len(row[i]) for row in table) for i in range(len(self.HEADER))]
            lines += [
                "  ".join(
                    cell.rjust(w) if i > 1 else cell.ljust(w)
                    for i, (cell, w) in enumerate(zip(row, widths, strict=True))
                )
                for row in table
            ]
            lines.append("")
        lines += [check.line() for check in self.checks()]
        return "\n".join(lines)

    def markdown(self) -> str:
        lines = [self.setup(), ""]
        for results in (self.results, self.workers):
            lines += ["| " + " | ".join(self.HEADER) + " |", "|" + "---|" * len(self.HEADER)]
            lines += ["| " + " | ".join(row) + " |" for row in self.rows(results)]
            lines.append("")
        lines += ["Targets (`Report.checks` in `bench/run.py`), from the table above:", ""]
        lines += [f"- {check.line()}" for check in self.checks()]
        return "\n".join(lines)

    def workers_markdown(self) -> str:
        """The worker-count experiment, for the generated PERFORMANCE.md."""
        lines = [
            "| workers | req/s | p50 ms | p99 ms | errors | RSS MB, all workers | server cores |",
            "|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for m in self.workers:
            rss = sum(m.rss)
            lines.append(
                f"| {m.target.split()[0]} | {m.median('rate'):,.0f} | {m.median('p50_ms'):.1f} | "
                f"{m.median('p99_ms'):.1f} | {m.errors} | {rss:.0f} | {statistics.median(m.server_cores):.2f} |"
            )
        lines += ["", f"{self.conditions()}."]
        return "\n".join(lines)

    def cache_markdown(self) -> str:
        """The default bake's Q1 cached and uncached (memory cache, computed workers), for the generated
        PERFORMANCE.md: the same runs as README's rows."""
        default = f"default bake, computed config ({self.cores} workers)"
        cached, uncached = self.get(default, "Q1 cached"), self.get(f"{default}, uncached", "Q1 uncached")
        lines = [f"| `{Q1}` | req/s | p50 ms | p99 ms |", "|---|---:|---:|---:|"]
        for name, m in (("cached", cached), ("uncached (`CACHE_TTL_SECONDS=0`)", uncached)):
            lines.append(f"| {name} | {m.median('rate'):,.0f} | {m.median('p50_ms'):.1f} | {m.median('p99_ms'):.1f} |")
        ratio = cached.median("rate") / uncached.median("rate")
        lines += ["", f"Cached / uncached: **{ratio:.1f}x**, {self.cores} workers (computed); {self.conditions()}."]
        return "\n".join(lines)

    def conditions(self) -> str:
        return (
            f"{self.cores} cores, {cpu_model()}; medians of {self.args.rounds} runs of {self.args.seconds:g} s, "
            f"wrk 1 thread, {self.args.connections} connections; {datetime.date.today().isoformat()}"
        )

    def setup(self) -> str:
        versions = ", ".join(
            f"{name} {importlib.metadata.version(name)}"
            for name in (
                "starlette",
                "ariadne",
                "strawberry-graphql",
                "graphql-core",
                "sqlalchemy",
                "asyncpg",
                "uvicorn",
                "gunicorn",
                "redis",
            )
        )
        wrk = subprocess.run(["wrk", "--version"], capture_output=True, text=True).stdout.split(" [")[0].strip()
        return (
            f"`make bench` on {datetime.date.today().isoformat()}: {cpu_model()}, {self.cores} cores, "
            f"{memory_gib():.0f} GiB, {platform.system()} {platform.release()}; Python {platform.python_version()}, "
            f"{services.server_versions()}, {wrk}; {versions}. Each figure is the median of {self.args.rounds} "
            f"runs of {self.args.seconds:g} s by wrk (1 thread, {self.args.connections} connections) on loopback, "
            f"targets interleaved; one worker each unless named. SQL/req: table scans PostgreSQL counted over "
            f"{COUNTED_REQUESTS} requests. server/wrk cores: CPU time over wall time of the service's workers "
            f"and of wrk (wrk well under 1 core: the generator was not the bottleneck)."
        )


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return re.sub(r"\s+", " ", line.split(":", 1)[1]).strip()
    return platform.processor() or platform.machine()


def memory_gib() -> float:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30


def write_between(path: Path, marker: str, markdown: str) -> None:
    """Replace what lies between `<!-- marker:begin -->` and `<!-- marker:end -->` in `path`."""
    text = path.read_text()
    begin, end = f"<!-- {marker}:begin -->", f"<!-- {marker}:end -->"
    start, stop = text.index(begin) + len(begin), text.index(end)
    path.write_text(text[:start] + "\n" + markdown + "\n" + text[stop:])


if __name__ == "__main__":
    main()
