"""`make bench --quick` runs end to end: every target answers alike, and PostgreSQL counts the statements."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys

import asyncpg
import pytest

from .conftest import POSTGRES_URL, TEMPLATE, project_env

WRITTEN = (TEMPLATE / "README.md", next(TEMPLATE.glob("*cookiecutter.project_slug*/PERFORMANCE.md")))
TARGETS = (
    "raw ASGI", "Starlette + asyncpg REST", "guide-style Ariadne", "hand-tuned Ariadne",
    "Strawberry's own integration", "generated postgresql+none+ariadne", "generated postgresql+redis+ariadne",
    "generated postgresql+none+strawberry", "generated postgresql+redis+strawberry",
    "generated sqlite+memory+ariadne", "default bake, computed config",
)  # fmt: skip


Table = dict[tuple[str, str], list[str]]


async def bench_databases() -> list[str]:
    connection = await asyncpg.connect(POSTGRES_URL.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        rows = await connection.fetch("SELECT datname FROM pg_database WHERE datname LIKE 'bench_%'")
        return [row[0] for row in rows]
    finally:
        await connection.close()


@pytest.fixture
def table() -> Table:
    """The quick run's table: (target, query) -> its cells, in the order of the header."""
    before = [path.read_text() for path in WRITTEN]
    done = subprocess.run(
        [sys.executable, "bench/run.py", "--quick"], cwd=TEMPLATE, env=project_env(), capture_output=True,
        text=True, timeout=900,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert [path.read_text() for path in WRITTEN] == before, "a quick run must not write its figures anywhere"
    assert asyncio.run(bench_databases()) == [], "the run left databases behind"
    rows = [re.split(r"\s{2,}", line.strip()) for line in done.stdout.splitlines()]
    return {(row[0], row[1]): row[2:] for row in rows if len(row) == 10 and row[0] != "target"}


def test_every_target_runs_answers_alike_and_its_statements_are_counted(table: Table) -> None:
    statements = {key: cells[4] for key, cells in table.items()}
    errors = {key: cells[3] for key, cells in table.items()}

    assert {target for target, _ in table} >= {name for name in TARGETS if not name.startswith("default")}
    assert any(target.startswith("default bake, computed config") for target, _ in table)
    assert set(errors.values()) == {"0"}, errors
    # PostgreSQL's own counters: the guide's resolver per user against DataLoaders, and a cache hit
    assert statements["guide-style Ariadne", "Q2 uncached"] == "101"
    for target in ("generated postgresql+none+ariadne", "generated postgresql+none+strawberry", "hand-tuned Ariadne"):
        assert statements[target, "Q2 uncached"] == "2"
        assert statements[target, "Q1 uncached"] == "1"
    assert statements["generated postgresql+redis+ariadne", "Q1 cached"] == "0"
    assert statements["raw ASGI", "fixed bytes"] == "—"
