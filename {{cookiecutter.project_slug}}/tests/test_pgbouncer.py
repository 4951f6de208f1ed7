"""The service through PgBouncer in transaction pooling (Debian's pgbouncer, started here on a
free port): more concurrent requests than PgBouncer has server connections, all answered right."""

import asyncio
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import make_url

from {{ cookiecutter.package_name }}.perf_check import free_port
from {{ cookiecutter.package_name }}.seed import seed
from {{ cookiecutter.package_name }}.settings import Settings

from .conftest import graphql, serve
from .database_postgresql import as_postgres

SERVER_CONNECTIONS = 2
"""PgBouncer's default_pool_size here: far fewer server connections than the requests in flight."""


@pytest.fixture
def pgbouncer(database_url: str) -> Iterator[str]:
    """PgBouncer in transaction pooling in front of the tests' database; yields its URL."""
    program = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
    if not Path(program).exists():
        pytest.fail("pgbouncer is needed for this test: apt install pgbouncer")
    server = make_url(database_url)
    folder = Path(tempfile.mkdtemp(prefix="pgbouncer-"))
    port = free_port()
    (folder / "users.txt").write_text(f'"{server.username}" ""\n')
    (folder / "pgbouncer.ini").write_text(
        f"""[databases]
* = host={server.host} port={server.port or 5432}
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
auth_type = trust
auth_file = {folder / "users.txt"}
pool_mode = transaction
default_pool_size = {SERVER_CONNECTIONS}
max_client_conn = 100
server_reset_query_always = 1
logfile = {folder / "pgbouncer.log"}
"""
    )
    as_owner = as_postgres(folder, *folder.iterdir())
    process = subprocess.Popen([*as_owner, program, str(folder / "pgbouncer.ini")], stdout=subprocess.DEVNULL)
    try:
        for _ in range(100):  # until it listens
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.05)
        yield server.set(port=port).render_as_string(hide_password=False)
    finally:
        process.terminate()
        process.wait(timeout=10)
        shutil.rmtree(folder, ignore_errors=True)


async def test_many_requests_share_a_few_server_connections(settings: Settings, tables: None, pgbouncer: str) -> None:
    bounced = settings.model_copy(update={"database_url": pgbouncer, "db_pgbouncer": True})
    await seed(bounced, users=5, posts_per_user=2)
    query = "{ users { id name posts { title author { id } } } }"
    async with serve(bounced) as client:
        create = "mutation($title: String!) { createPost(userId: 1, title: $title) { id } }"
        writes = [client.post("/graphql", json={"query": create, "variables": {"title": f"t{n}"}}) for n in range(20)]
        # Variables it does not use give each read a cache key of its own: every one reaches the database.
        reads = [client.post("/graphql", json={"query": query, "variables": {"n": n}}) for n in range(20)]
        answers = await asyncio.gather(*writes, *reads)
        after = await graphql(client, "{ user(id: 1) { posts { id } } }")

    assert [answer.status_code for answer in answers] == [200] * 40, [a.text for a in answers if a.status_code != 200]
    assert all(len(answer.json()["data"]["users"]) == 5 for answer in answers[20:])
    assert len(after["data"]["user"]["posts"]) == 2 + 20


async def test_without_db_pgbouncer_the_service_cannot_connect_through_it(
    settings: Settings, tables: None, pgbouncer: str
) -> None:
    """PgBouncer refuses the statement_timeout startup parameter a direct connection carries."""
    direct = settings.model_copy(update={"database_url": pgbouncer})
    async with serve(direct) as client:
        response = await client.post("/graphql", json={"query": "{ users { id } }"})

    assert response.status_code == 503
