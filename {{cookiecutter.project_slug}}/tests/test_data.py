from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, event, func, inspect, select
from sqlalchemy.ext.asyncio import create_async_engine

from {{ cookiecutter.package_name }} import seed as seed_module
from {{ cookiecutter.package_name }}.db import make_engine
from {{ cookiecutter.package_name }}.models import Base, Post, User
from {{ cookiecutter.package_name }}.seed import seed
from {{ cookiecutter.package_name }}.settings import Settings

PROJECT = Path(__file__).resolve().parents[1]


async def test_seed_inserts_users_and_posts_and_can_run_twice(settings: Settings, tables: None) -> None:
    assert await seed(settings, users=5, posts_per_user=3) == (5, 15)
    assert await seed(settings, users=2, posts_per_user=0) == (2, 0)

    engine = create_async_engine(settings.database_url)
    async with engine.connect() as connection:
        users = await connection.scalar(select(func.count()).select_from(User))
        posts = await connection.scalar(select(func.count()).select_from(Post))
    await engine.dispose()
    assert (users, posts) == (7, 15)


async def test_seed_sends_one_bulk_insert_per_table(
    settings: Settings, tables: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    inserts: list[str] = []

    def counting_engine(s: Settings) -> Any:
        engine = make_engine(s)

        @event.listens_for(engine.sync_engine, "before_cursor_execute")
        def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
            if statement.lstrip().upper().startswith("INSERT"):
                inserts.append(statement.split("(")[0])

        return engine

    monkeypatch.setattr(seed_module, "make_engine", counting_engine)

    await seed(settings, users=200, posts_per_user=4)

    assert len(inserts) == 2, inserts


def test_migrations_build_the_schema_the_models_describe(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'migrated.db'}"
    config = Config(str(PROJECT / "alembic.ini"))
    config.set_main_option("sqlalchemy.url", url.replace("sqlite://", "sqlite+aiosqlite://"))

    command.upgrade(config, "head")

    engine = create_engine(url)
    with engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []
        assert "ix_posts_user_id" in {index["name"] for index in inspect(connection).get_indexes("posts")}
    engine.dispose()
