"""What `make bench` runs: bakes, services under gunicorn, PostgreSQL databases and their counters."""

from __future__ import annotations

import asyncio
import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import asyncpg
import httpx
import psutil
import redis

TEMPLATE = Path(__file__).resolve().parents[1]
PACKAGE = "graphql_service"  # the package name of a bake with the default project_name
POSTGRES = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
USERS, POSTS_PER_USER = 100, 10


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass(frozen=True)
class Service:
    """One gunicorn master on a loopback port, and what can be read off its workers."""

    base: str
    process: subprocess.Popen[bytes]

    def workers(self) -> list[psutil.Process]:
        return psutil.Process(self.process.pid).children()

    def worker_rss_mb(self) -> list[float]:
        return sorted(worker.memory_info().rss / 2**20 for worker in self.workers())

    def cpu_seconds(self) -> float:
        return sum(sum(worker.cpu_times()[:2]) for worker in self.workers())


@contextmanager
def gunicorn(args: list[str], cwd: Path, env: dict[str, str], ready_path: str) -> Iterator[Service]:
    """`python -m gunicorn ARGS` bound to a free port, until the block ends; ready when ready_path answers 200."""
    port = free_port()
    with tempfile.TemporaryFile() as log:
        environment = {**os.environ, **env, "BIND": f"127.0.0.1:{port}"}
        command = [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", *args]
        process = subprocess.Popen(command, cwd=cwd, env=environment, stdout=log, stderr=subprocess.STDOUT)
        service = Service(f"http://127.0.0.1:{port}", process)
        try:
            deadline = time.monotonic() + 60
            while not _answers(service.base + ready_path):
                if process.poll() is not None or time.monotonic() > deadline:
                    log.seek(0)
                    raise SystemExit(f"{' '.join(args)} did not start:\n{log.read().decode(errors='replace')}")
                time.sleep(0.2)
            yield service
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=60)


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def generated(project: Path, **env: str) -> AbstractContextManager[Service]:
    """A bake under its own gunicorn.conf.py, with `env` added to its settings.

    Without the access log and the Server-Timing header, as the baselines are, and as a
    production service runs by default (the bench's targets run in development mode).
    """
    environment = {"PYTHONPATH": str(project / "src"), "LOG_LEVEL": "WARNING", "SERVER_TIMING": "0", **env}
    return gunicorn(["-c", "gunicorn.conf.py", f"{PACKAGE}.app:create_app()"], project, environment, "/health/ready")


def baseline(module: str, ready_path: str, **env: str) -> AbstractContextManager[Service]:
    """One of bench/baselines/ under gunicorn with uvicorn-worker, one worker, no access log."""
    args = ["--worker-class", "uvicorn_worker.UvicornWorker", "--workers", "1", f"bench.baselines.{module}:app"]
    return gunicorn(args, TEMPLATE, env, ready_path)


def bake(into: Path, **answers: str) -> Path:
    """The template baked with `answers` (and defaults for the rest) under `into`."""
    output = into / ("-".join(answers.values()) or "default")
    command = ["-m", "cookiecutter", "--no-input", "--output-dir", str(output), str(TEMPLATE)]
    subprocess.run([sys.executable, *command, *(f"{key}={value}" for key, value in answers.items())],
                   check=True, capture_output=True)  # fmt: skip
    (project,) = output.iterdir()
    return project


def bake_harness(project: Path) -> ModuleType:
    """A bake's own bench/harness.py (its wrk runner), loaded with the bake's package importable."""
    sys.path.insert(0, str(project / "src"))
    spec = importlib.util.spec_from_file_location("bake_harness", project / "bench" / "harness.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def in_project(project: Path, *command: str, **env: str) -> None:
    """A command of a bake's, in the bake, with its package importable; its output only if it fails."""
    environment = {**os.environ, "PYTHONPATH": str(project / "src"), **env}
    done = subprocess.run([sys.executable, *command], cwd=project, env=environment, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"{' '.join(command)} failed in {project}:\n{done.stdout}{done.stderr}")


def migrate_and_seed(project: Path, url: str) -> None:
    """The bake's migrations and seed command on the database at `url`: 100 users x 10 posts."""
    in_project(project, "-m", "alembic", "upgrade", "head", DATABASE_URL=url)
    counts = ["--users", str(USERS), "--posts-per-user", str(POSTS_PER_USER)]
    in_project(project, "-m", PACKAGE, "seed", *counts, DATABASE_URL=url)


def require_servers() -> None:
    """PostgreSQL and Redis answer, or one line says which does not and how to start it."""
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt install wrk (or your system's package), then run again")
    try:
        asyncio.run(sql(POSTGRES, "SELECT 1"))
    except (OSError, asyncpg.PostgresError) as exc:
        raise SystemExit(f"PostgreSQL at BENCH_POSTGRES_URL={POSTGRES!r} does not answer: {exc}") from None
    try:
        redis.Redis.from_url(REDIS_URL).ping()
    except redis.RedisError as exc:
        raise SystemExit(f"Redis at BENCH_REDIS_URL={REDIS_URL!r} does not answer: {exc}") from None


async def sql(url: str, statement: str) -> list[asyncpg.Record]:
    connection = await asyncpg.connect(url)
    try:
        return await connection.fetch(statement)
    finally:
        await connection.close()


def database_url(name: str, driver: str = "postgresql") -> str:
    """POSTGRES with another database name (and driver, for SQLAlchemy)."""
    server = POSTGRES.rsplit("/", 1)[0]
    return f"{server.replace('postgresql://', f'{driver}://', 1)}/{name}"


class Databases:
    """One seeded database, cloned for each target so that PostgreSQL counts each target's
    statements apart; all dropped at the end."""

    def __init__(self) -> None:
        self.run = uuid.uuid4().hex[:8]
        self.seed = f"bench_{self.run}_seed"
        self.names: list[str] = []

    def seeded(self, project: Path) -> None:
        """The seed database, by a PostgreSQL bake's own migrations and seed command."""
        self._create(self.seed)
        migrate_and_seed(project, database_url(self.seed, "postgresql+asyncpg"))

    def clone(self, target: str) -> str:
        """A copy of the seed database for `target`; its SQLAlchemy URL."""
        name = f"bench_{self.run}_{len(self.names)}"
        self._create(name, template=self.seed)
        return database_url(name, "postgresql+asyncpg")

    def _create(self, name: str, template: str = "template1") -> None:
        asyncio.run(sql(POSTGRES, f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
        self.names.append(name)

    def drop(self) -> None:
        for name in reversed(self.names):
            asyncio.run(sql(POSTGRES, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def table_scans(url: str) -> int:
    """Scans PostgreSQL has counted on the database's tables: one per statement of these queries,
    each of which reads one table once. Counters reach the view when a backend flushes them."""
    url = url.replace("postgresql+asyncpg://", "postgresql://", 1)
    statement = "SELECT coalesce(sum(seq_scan + coalesce(idx_scan, 0)), 0) AS scans FROM pg_stat_user_tables"
    return int(asyncio.run(sql(url, statement))[0]["scans"])


STATS_FLUSH_SECONDS = 11
"""A PostgreSQL 15 backend that flushed its counters less than 1 s ago flushes again
after 10 s idle (PGSTAT_IDLE_INTERVAL): counts read sooner may miss the last requests."""


def server_versions() -> str:
    postgres = asyncio.run(sql(POSTGRES, "SHOW server_version"))[0][0].split()[0]
    info = redis.Redis.from_url(REDIS_URL).info("server")
    return f"PostgreSQL {postgres}, Redis {info['redis_version']}"


def forget_keys(prefix: str) -> None:
    client = redis.Redis.from_url(REDIS_URL)
    for key in client.scan_iter(f"{prefix}*"):
        client.delete(key)
