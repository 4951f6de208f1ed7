"""A baked project serves GraphQL under gunicorn, the way `make migrate seed run` starts it."""

from __future__ import annotations

import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx

from .conftest import Bake, project_env, run


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_ready(base: str, server: subprocess.Popen[str], seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert server.poll() is None, server.communicate()
        try:
            if httpx.get(f"{base}/health/ready", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{base} not ready after {seconds} s")


def test_served_project_answers_queries_and_mutations(bake: Bake) -> None:
    project: Path = bake(cpu_cores="2")
    run(project, "alembic", "upgrade", "head")
    run(project, "python", "-m", "graphql_service", "seed", "--users", "20", "--posts-per-user", "3")
    base = f"http://127.0.0.1:{free_port()}"
    server = subprocess.Popen(
        ["python", "-m", "graphql_service", "serve"],
        cwd=project,
        env=project_env(BIND=base.removeprefix("http://")),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_ready(base, server)

        users = httpx.post(f"{base}/graphql", json={"query": "{ users { id name } }"}).json()
        created = httpx.post(
            f"{base}/graphql",
            json={
                "query": "mutation($n: String!, $e: String!) { createUser(name: $n, email: $e) { id name } }",
                "variables": {"n": "Grace", "e": "grace@example.com"},
            },
            follow_redirects=False,
        )
        after = httpx.get(f"{base}/graphql", params={"query": "{ users(limit: 1000) { name } }"}).json()
    finally:
        server.send_signal(signal.SIGTERM)
        output, _ = server.communicate(timeout=30)

    assert len(users["data"]["users"]) == 20
    assert created.status_code == 200
    assert created.json()["data"]["createUser"]["name"] == "Grace"
    assert after["data"]["users"][-1] == {"name": "Grace"}
    assert server.returncode == 0, output
    assert output.count("Booting worker") == 2
