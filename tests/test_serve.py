"""A baked project serves GraphQL under gunicorn, the way `make migrate seed run` starts it."""

from __future__ import annotations

from pathlib import Path

import httpx

from .conftest import Bake, run, serving


def test_served_project_answers_queries_and_mutations(bake: Bake) -> None:
    project: Path = bake(cpu_cores="2")
    run(project, "alembic", "upgrade", "head")
    run(project, "python", "-m", "graphql_service", "seed", "--users", "20", "--posts-per-user", "3")
    with serving(project) as server:
        base = server.base
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

    assert len(users["data"]["users"]) == 20
    assert created.status_code == 200
    assert created.json()["data"]["createUser"]["name"] == "Grace"
    assert after["data"]["users"][-1] == {"name": "Grace"}
    assert server.returncode == 0, server.output
    assert server.output.count("Booting worker") == 2
