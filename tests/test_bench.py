"""`make bench --quick` runs end to end: every target answers alike, and PostgreSQL counts the statements."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
from pathlib import Path

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


def block(path: Path, marker: str) -> str:
    text = path.read_text()
    return text[text.index(f"<!-- {marker}:begin -->") : text.index(f"<!-- {marker}:end -->")]


def markdown_rows(text: str) -> list[list[str]]:
    """The cells of the rows of the markdown tables in `text`, without their headers and rules."""
    rows = [[cell.strip() for cell in line.strip("|").split("|")] for line in text.splitlines() if line.startswith("|")]
    rule = [all(set(cell) <= {"-", ":"} for cell in row) for row in rows] + [False]
    return [row for i, row in enumerate(rows) if not rule[i] and not rule[i + 1]]


def test_the_generated_performance_figures_are_the_last_runs_of_readme() -> None:
    """What the generated PERFORMANCE.md measures comes from the `make bench` run README shows, not by hand."""
    readme, performance = WRITTEN
    runs = {(row[0], row[1]): row[2:6] for row in markdown_rows(block(readme, "bench")) if len(row) == 10}
    date = re.search(r"`make bench` on (\d{4}-\d\d-\d\d)", block(readme, "bench"))
    workers = markdown_rows(block(performance, "bench:workers"))
    cache = block(performance, "bench:cache")
    cached, uncached = markdown_rows(cache)
    defaults = [target for target, _ in runs if re.fullmatch(r"default bake, computed config \(\d+ workers\)", target)]
    default = defaults[0]
    ratio = re.search(r"\*\*([\d.]+)x\*\*", cache)

    assert date and workers and ratio
    for row in workers:
        assert row[1:5] == runs[f"{row[0]} worker(s)", "Q1 uncached"], row
    assert cached[1:4] == runs[default, "Q1 cached"][:3]
    assert uncached[1:4] == runs[f"{default}, uncached", "Q1 uncached"][:3]
    rates = [float(row[1].replace(",", "")) for row in (cached, uncached)]
    assert abs(float(ratio[1]) - rates[0] / rates[1]) <= 0.06  # both from medians; README's are rounded
    assert date[1] in block(performance, "bench:workers") and date[1] in cache
