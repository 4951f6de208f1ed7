"""`perf-check` holds on a healthy service and names the item that breaks."""

import os
import subprocess
import sys

from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from {{ cookiecutter.package_name }}.perf_check import MAX_RSS_SLOPE_MB, MEMORY_NOISE_MB, memory_verdict

from .cache_{{ cookiecutter.cache_backend }} import cache_settings
from .conftest import PROJECT
from .database_{{ cookiecutter.database }} import database_settings

ITEMS = 9


def perf_check(database_url: str) -> subprocess.CompletedProcess[str]:
    """`python -m {{ cookiecutter.package_name }} perf-check`, short, on the tests' database."""
    env = {**os.environ, "DATABASE_URL": database_url, "PYTHONPATH": str(PROJECT / "src")}
    env.update({name.upper(): str(value) for name, value in {**cache_settings(), **database_settings()}.items()})
    command = [sys.executable, "-m", "{{ cookiecutter.package_name }}", "perf-check", "--requests", "100", "--seconds", "1"]
    return subprocess.run(command, cwd=PROJECT, env=env, capture_output=True, text=True, timeout=120)


def test_every_item_holds_on_the_generated_service(database_url: str, db_with_users: tuple[int, int]) -> None:
    done = perf_check(database_url)

    lines = [line for line in done.stdout.splitlines() if line.startswith(("✅", "❌"))]
    assert done.returncode == 0, done.stdout + done.stderr
    assert len(lines) == ITEMS and all(line.startswith("✅") for line in lines), done.stdout
    assert f"{ITEMS} of {ITEMS} hold" in done.stdout


async def test_a_missing_foreign_key_index_fails_the_check_by_name(
    database_url: str, db_with_users: tuple[int, int]
) -> None:
    engine = create_async_engine(database_url, poolclass=NullPool)
    async with engine.begin() as connection:
        await connection.execute(text("DROP INDEX ix_posts_user_id"))
    await engine.dispose()

    done = perf_check(database_url)

    assert done.returncode == 1
    assert "❌ indexes on foreign keys: no index on posts.user_id" in done.stdout
    # Named in the summary too; whether a loaded machine also fails another item is not this test's business.
    assert "indexes on foreign keys" in done.stdout.rsplit("failed: ", 1)[-1]


BATCH = st.integers(min_value=10, max_value=200)
BASE_MB = st.floats(min_value=40, max_value=2000)
JITTER = st.lists(st.floats(min_value=0, max_value=MEMORY_NOISE_MB / 4), min_size=6, max_size=6)


@given(batch=BATCH, base=BASE_MB, step=st.floats(min_value=0, max_value=500), jitter=JITTER)
def test_growth_that_stops_early_is_not_a_leak(batch: int, base: float, step: float, jitter: list[float]) -> None:
    """A step (a new pool connection, a first burst of overlapping requests), then flat within noise."""
    samples = [(batch * (i + 1), base + (step if i else 0) + noise) for i, noise in enumerate(jitter)]

    assert memory_verdict(samples)[0]


@given(batch=BATCH, base=BASE_MB, jitter=JITTER, data=st.data())
def test_growth_with_every_request_is_a_leak(batch: int, base: float, jitter: list[float], data: st.DataObject) -> None:
    """Steady growth fast enough to clear the noise in the second half of the run fails, however noisy."""
    # The second half spans 3 batches; growing over MEMORY_NOISE_MB + jitter there is a leak.
    floor = max(MAX_RSS_SLOPE_MB / 1000, (MEMORY_NOISE_MB + MEMORY_NOISE_MB / 2) / (3 * batch)) * 1.01
    per_request = data.draw(st.floats(min_value=floor, max_value=1.0))
    samples = [(batch * (i + 1), base + per_request * batch * (i + 1) + noise) for i, noise in enumerate(jitter)]

    stable, slope, late = memory_verdict(samples)

    assert not stable, (slope, late)
