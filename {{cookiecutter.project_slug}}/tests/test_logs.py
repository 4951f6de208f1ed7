"""Logs: JSON lines in production, readable ones in development, one access line per request."""

import json
import logging
import os
import subprocess
import sys

import httpx
import pytest

from .conftest import PROJECT, graphql

EMIT = (
    "import logging, logging.config\n"
    "from {{ cookiecutter.package_name }}.logs import logging_config\n"
    "from {{ cookiecutter.package_name }}.settings import load_settings\n"
    "logging.config.dictConfig(logging_config(load_settings(_env_file=None, app_env='{env}')))\n"
    "logging.getLogger('{{ cookiecutter.package_name }}.access').info("
    "'POST /graphql 200', extra=dict(operation='Q', duration_ms=1.5))\n"
)


def emitted(app_env: str) -> str:
    env = {**os.environ, "PYTHONPATH": str(PROJECT / "src")}
    script = EMIT.replace("{env}", app_env)
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True)
    return done.stderr.strip().splitlines()[-1]


def test_production_logs_are_json_lines_with_their_fields() -> None:
    line = json.loads(emitted("production"))

    assert line["level"] == "INFO"
    assert line["logger"] == "{{ cookiecutter.package_name }}.access"
    assert (line["message"], line["operation"], line["duration_ms"]) == ("POST /graphql 200", "Q", 1.5)


def test_development_logs_are_readable_lines() -> None:
    line = emitted("development")

    assert "INFO" in line and "{{ cookiecutter.package_name }}.access: POST /graphql 200" in line
    with pytest.raises(ValueError):
        json.loads(line)


async def test_each_request_logs_one_access_line_with_operation_and_cache(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="{{ cookiecutter.package_name }}.access"):
        await graphql(client, "query Listed { users { id } }")

    lines = [record for record in caplog.records if record.name == "{{ cookiecutter.package_name }}.access"]
    assert len(lines) == 1
    fields = vars(lines[0])  # the `extra` fields a JSON formatter writes out
    assert (fields["method"], fields["path"], fields["status"]) == ("POST", "/graphql", 200)
    assert (fields["operation"], fields["cache"]) == ("Listed", {{ '"miss"' if cookiecutter.cache_backend != "none" else "None" }})
    assert fields["duration_ms"] > 0
    assert "operation=Listed" in lines[0].getMessage()
