"""Profiling: `make profile` records a py-spy flame graph of the workers under a locust run;
with PROFILE=1, `?profile=text` or `?profile=html` answers pyinstrument's report of one request."""

import asyncio
import os
import re
import subprocess
import sys
from pathlib import Path

import {{ cookiecutter.package_name }}
from {{ cookiecutter.package_name }}.settings import Settings

from .conftest import PROJECT, serve, service_env

PACKAGE = {{ cookiecutter.package_name }}.__name__
QUERY = {"query": "query Profiled { users { name posts { title } } }"}


def test_make_profile_writes_a_flame_graph_of_the_projects_functions(
    database_url: str, db_with_users: None, tmp_path: Path
) -> None:
    output = tmp_path / "flame.svg"
    # What `make profile` runs, with a short run; WEB_CONCURRENCY: the test machine's cores may be few.
    command = [sys.executable, "-m", PACKAGE, "profile", "--seconds", "3", "--users", "4", "--output", str(output)]
    env = {**os.environ, **service_env(database_url), "WEB_CONCURRENCY": "2"}

    done = subprocess.run(command, cwd=PROJECT, env=env, capture_output=True, text=True, timeout=120, check=False)

    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert f"flame graph: {output}" in done.stdout
    svg = output.read_text()
    assert svg.lstrip().startswith("<?xml") and "</svg>" in svg
    # py-spy names each frame "function (path:line)": the endpoint's entry point is among them.
    functions = set(re.findall(rf"<title>([\w.]+) \({PACKAGE}/[\w/]+\.py:\d+\)", svg))
    assert "GraphQLEndpoint.handle" in functions, sorted(functions)


async def test_profile_text_answers_the_call_tree_of_the_request(settings: Settings, db_with_users: None) -> None:
    async with serve(settings.model_copy(update={"profile": True})) as client:
        response = await client.post("/graphql", params={"profile": "text"}, json=QUERY)

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert response.headers["x-profiled-status"] == "200"
    assert f"GraphQLEndpoint.handle  {PACKAGE}/graphql/endpoint.py" in response.text


async def test_profile_html_answers_pyinstrument_s_page(settings: Settings, db_with_users: None) -> None:
    async with serve(settings.model_copy(update={"profile": True})) as client:
        response = await client.get("/graphql", params={"profile": "html", **QUERY})

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["x-profiled-status"] == "200"
    assert "pyinstrument" in response.text


async def test_a_bad_profile_value_is_refused_naming_it(settings: Settings, tables: None) -> None:
    async with serve(settings.model_copy(update={"profile": True})) as client:
        response = await client.post("/graphql", params={"profile": "svg"}, json=QUERY)

    assert response.status_code == 400
    assert "profile='svg' is not valid" in response.json()["errors"][0]["message"]


async def test_without_profile_the_parameter_changes_nothing(settings: Settings, db_with_users: None) -> None:
    async with serve(settings) as client:
        response = await client.post("/graphql", params={"profile": "text"}, json=QUERY)

    assert response.status_code == 200
    assert "x-profiled-status" not in response.headers
    assert len(response.json()["data"]["users"]) == 3


async def test_concurrent_profiled_requests_each_get_their_report(settings: Settings, db_with_users: None) -> None:
    async with serve(settings.model_copy(update={"profile": True})) as client:
        responses = await asyncio.gather(
            *(client.post("/graphql", params={"profile": "text"}, json=QUERY) for _ in range(3))
        )

    assert [response.headers["x-profiled-status"] for response in responses] == ["200"] * 3
