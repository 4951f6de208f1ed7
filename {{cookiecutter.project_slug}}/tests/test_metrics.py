"""/metrics: what the service counts about itself, and the fleet's sum under gunicorn."""

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from prometheus_client import CollectorRegistry, generate_latest

from {{ cookiecutter.package_name }} import monitoring
from {{ cookiecutter.package_name }}.monitoring import (
    MAX_OPERATION_NAMES,
    WorkersCollector,
    archive_dead_worker,
    operation_label,
)
from {{ cookiecutter.package_name }}.perf_check import metric, worker_pids
from {{ cookiecutter.package_name }}.settings import Settings

from .conftest import PROJECT, graphql, gunicorn, serve


def requests_counted(text: str, operation: str, outcome: str) -> float:
    return metric(text, "graphql_requests_total", operation=operation, outcome=outcome)


async def test_metrics_count_requests_by_operation_and_outcome(client: httpx.AsyncClient) -> None:
    before = (await client.get("/metrics")).text

    for _ in range(3):
        await graphql(client, "query ListUsers { users { id } }")
    await client.post("/graphql", json={"query": "query Broken { users { nickname } }"})
    await client.post("/graphql", content="{", headers={"content-type": "application/json"})

    after = (await client.get("/metrics")).text
    for operation, outcome, requests in [("ListUsers", "ok", 3), ("Broken", "error", 1), ("anonymous", "refused", 1)]:
        counted = requests_counted(after, operation, outcome) - requests_counted(before, operation, outcome)
        assert counted == requests, (operation, outcome)


async def test_metrics_show_statements_latency_and_memory(client: httpx.AsyncClient) -> None:
    await graphql(client, "query Nested { users { posts { author { name } } } }")

    text = (await client.get("/metrics")).text

    assert metric(text, "db_statements_total") >= 1
    assert metric(text, "graphql_request_duration_seconds_count", operation="Nested") >= 1
    assert metric(text, "worker_resident_memory_bytes") > 10 * 1024 * 1024


@pytest.mark.parametrize(
    ("app_env", "allow", "address", "status"),
    [
        ("development", None, "203.0.113.7", 200),
        ("production", None, "203.0.113.7", 403),
        ("production", None, "10.1.2.3", 200),
        ("production", None, "::1", 200),
        ("production", "192.0.2.0/24, 127.0.0.1", "192.0.2.9", 200),
        ("production", "192.0.2.0/24, 127.0.0.1", "10.1.2.3", 403),
        ("development", "192.0.2.0/24", "203.0.113.7", 403),
    ],
)
async def test_metrics_answer_only_the_networks_allowed(
    settings: Settings, tables: None, app_env: str, allow: str | None, address: str, status: int
) -> None:
    """Metrics name client-chosen operation names and each worker's memory: in production, by
    default, only loopback and private networks (where one's own Prometheus is) may read them."""
    configured = settings.model_copy(update={"app_env": app_env, "metrics_allow": allow})
    async with serve(configured, client=(address, 40000)) as client:
        response = await client.get("/metrics")
        graphql_answer = await client.post("/graphql", json={"query": "{ __typename }"})

    assert response.status_code == status, response.text
    if status == 403:
        assert response.json()["errors"][0]["message"].startswith(f"/metrics is not open to {address}")
        assert "graphql_requests_total" not in response.text
    else:
        assert "graphql_requests_total" in response.text
    assert graphql_answer.status_code == 200  # only /metrics is guarded


def test_operation_names_cannot_grow_the_metrics_without_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    # The names this test invents fill the worker's labels: they are not left for the tests after it.
    monkeypatch.setattr(monitoring, "_operation_names", set())
    labels = {operation_label(f"Invented{n}") for n in range(MAX_OPERATION_NAMES * 2)}

    assert len(labels) <= MAX_OPERATION_NAMES + 1
    assert operation_label("not a name; DROP") == "other"


def test_three_workers_report_the_sum_of_what_each_served(database_url: str, tables: None) -> None:
    requests = 30
    with gunicorn(database_url, workers=3) as served:
        base = served.base
        # A new connection per request, so that the kernel spreads them over the workers.
        for n in range(requests):
            response = httpx.post(
                f"{base}/graphql",
                json={"query": "query Counted($n: Int) { users(limit: $n) { id } }", "variables": {"n": n + 1}},
                headers={"connection": "close"},
            )
            assert response.status_code == 200
        scrapes = [httpx.get(f"{base}/metrics", headers={"connection": "close"}).text for _ in range(6)]

    for text in scrapes:  # whichever worker answered the scrape
        assert requests_counted(text, "Counted", "ok") == requests
        assert len(worker_pids(text)) == 3


def test_a_dead_workers_counts_are_kept_and_its_files_folded(tmp_path: Path) -> None:
    """Three short-lived 'workers' count requests; each is archived when it exits."""
    script = (
        "from {{ cookiecutter.package_name }}.monitoring import GRAPHQL_REQUESTS, WORKER_RSS\n"
        "GRAPHQL_REQUESTS.labels('Counted', 'ok').inc(5)\n"
        "WORKER_RSS.set(1)\n"
    )
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path), "PYTHONPATH": str(PROJECT / "src")}
    for _ in range(3):
        subprocess.run([sys.executable, "-c", script], env=env, check=True)
    pids = sorted({path.stem.rpartition("_")[2] for path in tmp_path.glob("counter_*.db")})
    for pid in pids:
        archive_dead_worker(int(pid), tmp_path)

    assert sorted(path.name for path in tmp_path.iterdir()) == ["counter_archive.db", "histogram_archive.db"]
    (tmp_path / "counter_4242.db").touch()  # a worker caught creating its file (client_python#1199)

    registry = CollectorRegistry()
    registry.register(WorkersCollector(tmp_path))
    text = generate_latest(registry).decode()
    assert requests_counted(text, "Counted", "ok") == 15
