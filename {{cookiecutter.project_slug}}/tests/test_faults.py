"""Faults inside the service: a client gets JSON with an id that matches one log line,
never a traceback; production hides what the fault says; a busy pool answers 503."""

import asyncio
import logging
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from {{ cookiecutter.package_name }}.graphql import documents, operations
from {{ cookiecutter.package_name }}.settings import Settings, load_settings

from .conftest import serve, serve_app

SECRET = "db-7.internal:5432 user=svc"
"""What a fault's message might hold that no client should read in production."""


@pytest.fixture
def failing_resolver(monkeypatch: pytest.MonkeyPatch) -> None:
    async def list_users(*_: Any) -> None:
        raise RuntimeError(f"could not reach {SECRET}")

    monkeypatch.setattr(operations, "list_users", list_users)


def fault_lines(caplog: pytest.LogCaptureFixture, error_id: str) -> list[logging.LogRecord]:
    return [record for record in caplog.records if getattr(record, "error_id", None) == error_id]


@pytest.mark.parametrize("app_env", ["production", "development"])
async def test_a_resolver_fault_is_logged_once_under_the_id_the_client_gets(
    settings: Settings, tables: None, failing_resolver: None, caplog: pytest.LogCaptureFixture, app_env: str
) -> None:
    async with serve(settings.model_copy(update={"app_env": app_env})) as client:
        response = await client.post("/graphql", json={"query": "{ users { id } }"})

    assert response.status_code == 400  # no data: the one root field failed
    (error,) = response.json()["errors"]
    assert error["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    assert error["path"] == ["users"]
    assert "Traceback" not in response.text and 'File "' not in response.text
    (line,) = fault_lines(caplog, error["extensions"]["id"])
    assert line.exc_info is not None and SECRET in str(line.exc_info[1])
    assert (SECRET in error["message"]) == (app_env == "development")


async def test_bad_input_is_neither_masked_nor_logged_in_production(
    settings: Settings, tables: None, caplog: pytest.LogCaptureFixture
) -> None:
    async with serve(settings.model_copy(update={"app_env": "production"})) as client:
        response = await client.post("/graphql", json={"query": "{ users(limit: 0) { id } }"})

    assert response.json()["errors"][0]["message"] == "limit=0 is out of range: use 1 to 1000"
    assert not [record for record in caplog.records if record.levelno >= logging.ERROR]


async def test_a_fault_outside_graphql_is_a_json_500_with_an_id(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def parse(*_: Any) -> None:
        raise RuntimeError(SECRET)

    monkeypatch.setattr(documents.DocumentCache, "parse", parse)

    response = await client.post("/graphql", json={"query": "{ users { id } }"})

    assert response.status_code == 500
    assert response.headers["content-type"] == "application/json"
    (error,) = response.json()["errors"]
    assert SECRET not in response.text and "Traceback" not in response.text
    assert len(fault_lines(caplog, error["extensions"]["id"])) == 1


async def test_an_exhausted_pool_answers_503_with_retry_after_and_recovers(
    settings: Settings, tables: None, caplog: pytest.LogCaptureFixture
) -> None:
    fields = {**settings.model_dump(), "db_pool_size": 1, "db_max_overflow": 0, "db_pool_timeout": 0.3}
    one_connection = load_settings(_env_file=None, **fields)  # the plan is derived again
    async with serve_app(one_connection) as served:
        engine: AsyncEngine = served.state["engine"]
        async with engine.connect() as held:  # a slow request holding the only connection
            await held.exec_driver_sql("SELECT 1")
            started = asyncio.get_running_loop().time()
            busy = await served.client.post("/graphql", json={"query": "{ users { id } }"})
            waited = asyncio.get_running_loop().time() - started
            ready = await served.client.get("/health/ready")
        after = await served.client.post("/graphql", json={"query": "{ users { id } }"})

    assert busy.status_code == 503, busy.text
    assert busy.headers["retry-after"].isdigit()
    (error,) = busy.json()["errors"]
    assert error["extensions"]["code"] == "SERVICE_UNAVAILABLE"
    assert "DB_POOL_TIMEOUT" in error["message"]
    (line,) = fault_lines(caplog, error["extensions"]["id"])
    assert line.levelname == "WARNING" and line.exc_info is None  # the database's state, not a bug: no traceback
    assert waited >= 0.3  # it waited pool_timeout for a connection, then gave up
    assert ready.status_code == 503 and "database" in ready.json()["failed"]
    assert after.status_code == 200 and after.json() == {"data": {"users": []}}
