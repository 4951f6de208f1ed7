"""Load test: `make loadtest` runs it headless for a bounded time against a running service;
`.venv/bin/locust -f locustfile.py --host http://127.0.0.1:8000` opens locust's web UI instead.

Weighted like a read-mostly API: lists, one user, nested posts, and a rare write. Each
request sends its own variables, so that some are answered from the response cache and
some are not; an answer with `errors` counts as a failure, not only a non-2xx status.
"""

from __future__ import annotations

import random
import uuid
from typing import Any

from locust import FastHttpUser, between, task

SEEDED_USERS = 100
"""`make seed` inserts this many users by default (ids 1 to 100)."""


class GraphQLUser(FastHttpUser):
    wait_time = between(0.05, 0.2)

    def graphql(self, label: str, query: str, variables: dict[str, Any]) -> None:
        with self.client.post(
            "/graphql", json={"query": query, "variables": variables}, name=label, catch_response=True
        ) as response:
            try:
                body = response.json()
            except ValueError:
                response.failure(f"{response.status_code}: not JSON")
                return
            if response.status_code != 200 or "errors" in body:
                response.failure(f"{response.status_code}: {body.get('errors')}")

    @task(10)
    def list_users(self) -> None:
        query = "query Users($n: Int) { users(limit: $n) { id name } }"
        self.graphql("users", query, {"n": random.choice([10, 50, 100])})

    @task(5)
    def one_user(self) -> None:
        query = "query User($id: ID!) { user(id: $id) { id name email } }"
        self.graphql("user", query, {"id": random.randint(1, SEEDED_USERS)})

    @task(3)
    def nested(self) -> None:
        query = "query Nested($n: Int) { users(limit: $n) { id posts { title author { name } } } }"
        self.graphql("users→posts→author", query, {"n": random.choice([5, 10])})

    @task(1)
    def create_user(self) -> None:
        mutation = "mutation Create($name: String!, $email: String!) { createUser(name: $name, email: $email) { id } }"
        token = uuid.uuid4().hex[:12]
        self.graphql("createUser", mutation, {"name": f"Load {token}", "email": f"load-{token}@example.com"})
