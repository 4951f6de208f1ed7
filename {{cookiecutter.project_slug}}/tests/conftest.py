import os
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from graphql import validate
from sqlalchemy import Engine, event
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool
from starlette.types import Receive, Scope, Send

from {{ cookiecutter.package_name }}.app import create_app
from {{ cookiecutter.package_name }}.graphql import documents
from {{ cookiecutter.package_name }}.models import Base
from {{ cookiecutter.package_name }}.perf_check import Served as GunicornServed
from {{ cookiecutter.package_name }}.perf_check import gunicorn as start_gunicorn
from {{ cookiecutter.package_name }}.seed import seed
from {{ cookiecutter.package_name }}.settings import Settings, load_settings

from .cache_{{ cookiecutter.cache_backend }} import cache_settings, forget_cache
from .database_{{ cookiecutter.database }} import database_settings, make_test_database

PROJECT = Path(__file__).resolve().parents[1]
SETTINGS_ENV = (
    "APP_ENV", "BIND", "DATABASE_URL", "CPU_CORES", "WEB_CONCURRENCY", "INSTANCES",
    "DB_MAX_CONNECTIONS", "DB_POOL_SIZE", "DB_MAX_OVERFLOW", "DB_POOL_TIMEOUT",
    "CACHE_TTL_SECONDS", "CACHE_KEY_PREFIX", "MEMORY_WARN_MB", "MEMORY_CHECK_SECONDS", "TRACEMALLOC",
    "LOG_LEVEL", "PROMETHEUS_MULTIPROC_DIR", "REQUEST_TIMEOUT_SECONDS", "MAX_BODY_BYTES", "GRAPHQL_MAX_DEPTH",
    "GRAPHQL_MAX_ALIASES", "GRAPHQL_MAX_COST", "GUNICORN_CMD_ARGS", "DB_PGBOUNCER",
    "SLOW_QUERY_MS", "DB_ECHO", "MAX_BATCH_SIZE", "SERVER_TIMING", "PROFILE",
    "MAX_HEADER_BYTES", "CLIENT_TIMEOUT_SECONDS", "METRICS_ALLOW",
)  # fmt: skip


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Tests see only the settings they set themselves, never the developer's shell."""
    for name in SETTINGS_ENV:
        monkeypatch.delenv(name, raising=False)
    yield


@pytest.fixture(scope="session", autouse=True)
def cache_keys() -> Iterator[None]:
    """Whatever the tests cached outside this process is gone after the session."""
    yield
    forget_cache()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A database of the tests' own for this session, removed after it."""
    with make_test_database(tmp_path_factory) as url:
        yield url


@pytest.fixture
def validations(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The query texts graphql-core's validation rules really run on."""
    seen: list[str] = []

    def counting(schema: Any, document: Any, *args: Any) -> Any:
        seen.append(document.loc.source.body)
        return validate(schema, document, *args)

    monkeypatch.setattr(documents, "validate", counting)
    return seen


@pytest.fixture
def settings(database_url: str) -> Settings:
    return load_settings(_env_file=None, database_url=database_url, **cache_settings(), **database_settings())


@pytest.fixture
async def tables(database_url: str) -> None:
    """Empty tables, made from the models for each test."""
    engine = create_async_engine(database_url, poolclass=NullPool)
    async with engine.begin() as connection:
        await connection.run_sync(Base.metadata.drop_all)
        await connection.run_sync(Base.metadata.create_all)
    await engine.dispose()


@dataclass
class Served:
    client: httpx.AsyncClient
    state: dict[str, Any]
    """What the lifespan yielded: the engine, the cache..."""


@asynccontextmanager
async def serve_app(settings: Settings, client: tuple[str, int] = ("127.0.0.1", 40000)) -> AsyncIterator[Served]:
    """One instance of the service, its lifespan running, driven over HTTP from `client`'s address."""
    app = create_app(settings)
    async with LifespanManager(app) as manager:
        state = manager._state

        async def one_request(scope: Scope, receive: Receive, send: Send) -> None:
            # A copy of the lifespan state for each request, as uvicorn makes it:
            # asgi-lifespan would hand every request the same dict.
            await app({**scope, "state": dict(state)}, receive, send)

        transport = httpx.ASGITransport(app=one_request, client=client)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as session:
            yield Served(session, state)


@asynccontextmanager
async def serve(settings: Settings, client: tuple[str, int] = ("127.0.0.1", 40000)) -> AsyncIterator[httpx.AsyncClient]:
    async with serve_app(settings, client) as served:
        yield served.client


@pytest.fixture
async def client(settings: Settings, tables: None) -> AsyncIterator[httpx.AsyncClient]:
    async with serve(settings) as client:
        yield client


@pytest.fixture
async def db_with_users(settings: Settings, tables: None) -> tuple[int, int]:
    """3 users with 2 posts each."""
    return await seed(settings, users=3, posts_per_user=2)


@pytest.fixture
def sql_statements() -> Iterator[list[str]]:
    """Every SQL statement any engine sends while the test runs."""
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    event.listen(Engine, "before_cursor_execute", record)
    yield statements
    event.remove(Engine, "before_cursor_execute", record)


def braced(*selections: str) -> str:
    """A selection set of `selections`: query texts built in code without f-strings' doubled braces."""
    return "{ " + " ".join(selections) + " }"


async def graphql(client: httpx.AsyncClient, query: str, **variables: Any) -> dict[str, Any]:
    """The JSON answer to one POST: 200 with data, 400 when `data` is null or absent."""
    response = await client.post("/graphql", json={"query": query, "variables": variables})
    assert response.status_code == (200 if response.json().get("data") is not None else 400), response.text
    body: dict[str, Any] = response.json()
    return body


def service_env(database_url: str) -> dict[str, str]:
    """What a service started in a process of its own needs to use the tests' database and cache."""
    settings = {name.upper(): str(value) for name, value in {**cache_settings(), **database_settings()}.items()}
    source = os.pathsep.join(filter(None, [str(PROJECT / "src"), os.environ.get("PYTHONPATH")]))
    return {"DATABASE_URL": database_url, "PYTHONPATH": source, **settings}


@contextmanager
def gunicorn(database_url: str, workers: int, **env: str) -> Iterator[GunicornServed]:
    """The service under gunicorn.conf.py with `workers` workers, once ready: its base URL, pid and log."""
    with start_gunicorn(PROJECT, {**service_env(database_url), "WEB_CONCURRENCY": str(workers), **env}) as served:
        yield served
