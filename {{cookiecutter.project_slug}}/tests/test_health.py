from pathlib import Path

import httpx
import pytest

from {{ cookiecutter.package_name }}.settings import load_settings

from .conftest import serve
from .database_{{ cookiecutter.database }} import after_failed_connect, unreachable_url


async def test_live_and_ready_answer_when_the_database_does(client: httpx.AsyncClient) -> None:
    live = await client.get("/health/live")
    ready = await client.get("/health/ready")

    assert (live.status_code, ready.status_code) == (200, 200)
    assert ready.json() == {"status": "ok"}


@pytest.mark.parametrize("app_env", ["development", "production"])
async def test_ready_is_503_and_names_the_database_when_it_cannot_connect(tmp_path: Path, app_env: str) -> None:
    url = unreachable_url(tmp_path)
    async with serve(load_settings(_env_file=None, database_url=url, app_env=app_env)) as client:
        live = await client.get("/health/live")
        ready = await client.get("/health/ready")
    after_failed_connect()

    assert live.status_code == 200
    assert ready.status_code == 503
    assert ready.json()["status"] == "unavailable"
    assert list(ready.json()["failed"]) == ["database"]
    if app_env == "production":  # what fails, not the driver's message, which names where it is
        assert ready.json() == {"status": "unavailable", "failed": {"database": "unavailable"}}
    else:
        assert ready.json()["failed"]["database"] != "unavailable"
