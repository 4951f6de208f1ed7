"""`perf-check` holds on a healthy service and names the item that breaks."""

import os
import subprocess
import sys

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from .cache_{{ cookiecutter.cache_backend }} import cache_settings
from .conftest import PROJECT

ITEMS = 9


def perf_check(database_url: str) -> subprocess.CompletedProcess[str]:
    """`python -m {{ cookiecutter.package_name }} perf-check`, short, on the tests' database."""
    env = {**os.environ, "DATABASE_URL": database_url, "PYTHONPATH": str(PROJECT / "src")}
    env.update({name.upper(): str(value) for name, value in cache_settings().items()})
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
    assert "failed: indexes on foreign keys" in done.stdout
