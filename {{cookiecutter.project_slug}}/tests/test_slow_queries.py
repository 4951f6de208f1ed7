"""Query analysis: statements slower than SLOW_QUERY_MS are always logged, with their duration
and the GraphQL operation that sent them, and counted; DB_ECHO=1 logs every statement."""

import logging

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import text

from {{ cookiecutter.package_name }}.db import make_engine
from {{ cookiecutter.package_name }}.monitoring import CURRENT_OPERATION, operation_label
from {{ cookiecutter.package_name }}.settings import Settings

from .conftest import serve

# Portable SQL that takes a while: a recursive count to a million.
SLOW = "WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < 1000000) SELECT count(*) FROM c"


def slow_counted(operation: str) -> float:
    # Its label, as the metrics name it (past 100 names a worker has seen, "other").
    labels = {"operation": operation_label(operation)}
    return REGISTRY.get_sample_value("db_slow_statements_total", labels) or 0


def slow_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [record.getMessage() for record in caplog.records if record.getMessage().startswith("slow statement")]


async def test_a_slow_statement_is_logged_with_its_duration_and_operation(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    engine = make_engine(settings.model_copy(update={"slow_query_ms": 20}))
    before = slow_counted("Report")
    try:
        CURRENT_OPERATION.set("Report")
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
            await connection.execute(text(SLOW))
    finally:
        await engine.dispose()

    (line,) = slow_lines(caplog)  # SELECT 1 is fast
    assert "(SLOW_QUERY_MS=20) for operation Report: WITH RECURSIVE" in line
    assert float(line.split()[2]) >= 20  # "slow statement: 123.4 ms ..."
    assert slow_counted("Report") - before == 1


async def test_the_operation_name_reaches_the_log_from_a_request(
    settings: Settings, db_with_users: None, caplog: pytest.LogCaptureFixture
) -> None:
    everything_slow = settings.model_copy(update={"slow_query_ms": 0})
    async with serve(everything_slow) as client:
        await client.post("/graphql", json={"query": "query Everyone { users { id posts { id } } }"})

    # The users, then every user's posts in one statement (the DataLoader): both named.
    # Start-up's own statements (the server check) belong to no operation.
    request = [line for line in slow_lines(caplog) if "FROM users" in line or "FROM posts" in line]
    assert len(request) == 2
    assert all("for operation Everyone:" in line for line in request), request


async def test_ordinary_statements_log_nothing_by_default(
    settings: Settings, tables: None, caplog: pytest.LogCaptureFixture
) -> None:
    assert settings.slow_query_ms == 100  # the guide's threshold
    async with serve(settings) as served:
        await served.post("/graphql", json={"query": "{ users { id } }"})

    assert slow_lines(caplog) == []


async def test_db_echo_logs_every_statement(settings: Settings, caplog: pytest.LogCaptureFixture) -> None:
    engine = make_engine(settings.model_copy(update={"db_echo": True}))
    try:
        with caplog.at_level(logging.INFO, logger="sqlalchemy.engine"):
            async with engine.connect() as connection:
                await connection.execute(text("SELECT 42"))
    finally:
        await engine.dispose()

    assert any(record.getMessage() == "SELECT 42" for record in caplog.records)
