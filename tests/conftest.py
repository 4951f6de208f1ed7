"""Bake the template and run what a user would run in the result."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

TEMPLATE = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
# Settings a developer's shell or CI may export; a bake must see only what a test sets.
SERVICE_ENV = (
    "APP_ENV", "BIND", "DATABASE_URL", "CPU_CORES", "WEB_CONCURRENCY", "INSTANCES",
    "DB_MAX_CONNECTIONS", "DB_POOL_SIZE", "DB_MAX_OVERFLOW", "DB_POOL_TIMEOUT",
    "CACHE_TTL_SECONDS", "REDIS_URL", "CACHE_KEY_PREFIX", "MEMORY_WARN_MB", "MEMORY_CHECK_SECONDS",
    "TRACEMALLOC", "LOG_LEVEL", "PROMETHEUS_MULTIPROC_DIR",
)  # fmt: skip

Bake = Callable[..., Path]

# The servers generated suites test against: each makes a PostgreSQL database of its own,
# and keeps its Redis keys under prefixes of its own.
POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


# Words that must not appear in the code and configuration of a bake that did not choose them.
FOREIGN = {
    ("database", "sqlite"): re.compile(r"sqlite", re.IGNORECASE),
    ("database", "postgresql"): re.compile(r"postgres|asyncpg", re.IGNORECASE),
    ("cache_backend", "redis"): re.compile(r"redis", re.IGNORECASE),
    ("schema_library", "ariadne"): re.compile(r"ariadne", re.IGNORECASE),
    ("schema_library", "strawberry"): re.compile(r"strawberry", re.IGNORECASE),
}
CODE = {".py", ".toml", ".ini", ".cfg", ".yml", ".yaml", ".mako", ".graphql", ".example"}


BINARY = {".gz"}
"""The suffixes of files kept as bytes: the explorer's compressed assets."""


def files_of(project: Path) -> list[Path]:
    return [path for path in project.rglob("*") if path.is_file() and not {".venv", ".git"} & set(path.parts)]


def texts_of(project: Path) -> list[Path]:
    return [path for path in files_of(project) if path.suffix not in BINARY]


def foreign_mentions(project: Path, answers: dict[str, str]) -> dict[str, list[str]]:
    """For each option not chosen, the code and configuration files that mention it."""
    found: dict[str, list[str]] = {}
    for (key, value), pattern in FOREIGN.items():
        if answers[key] != value:
            hits = [
                str(path.relative_to(project))
                for path in files_of(project)
                if (path.suffix in CODE or path.name == "Makefile") and pattern.search(path.read_text())
            ]
            if hits:
                found[f"{key}={value}"] = hits
    return found


def project_env(**extra: str) -> dict[str, str]:
    """The environment a generated project runs in: this venv first, its own src importable."""
    env = {key: value for key, value in os.environ.items() if key not in SERVICE_ENV}
    env["PATH"] = f"{BIN}{os.pathsep}{env['PATH']}"
    env["PYTHONPATH"] = "src"
    env.update(extra)
    return env


def run(
    project: Path, *command: str, env: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """Run a command in a baked project; fail the test with its output if it fails. `timeout` only
    guards against a hang: a loaded machine runs the same command several times slower."""
    done = subprocess.run(
        command, cwd=project, env=project_env(**(env or {})), capture_output=True, text=True, timeout=timeout
    )
    assert done.returncode == 0, f"{' '.join(command)} failed in {project}:\n{done.stdout}\n{done.stderr}"
    return done


@pytest.fixture
def bake(cookies: Any) -> Bake:
    """Bake with pytest-cookies; returns the project directory, failing on any error."""

    def bake_with(**answers: str) -> Path:
        result = cookies.bake(template=str(TEMPLATE), extra_context=answers)
        assert result.exception is None, f"{answers}: {result.exception!r}"
        assert result.exit_code == 0
        return Path(result.project_path)

    return bake_with


def cookiecutter_cli(output_dir: Path, *answers: str) -> subprocess.CompletedProcess[str]:
    """The cookiecutter command exactly as a user types it, answers as key=value."""
    command = [str(BIN / "cookiecutter"), "--no-input", "--output-dir", str(output_dir), str(TEMPLATE), *answers]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, env=project_env())


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Server:
    base: str
    output: str = ""
    returncode: int | None = None


@contextmanager
def serving(project: Path, package: str = "graphql_service", **env: str) -> Iterator[Server]:
    """A baked project under gunicorn, as `make run` starts it, until SIGTERM once the block ends."""
    server = Server(f"http://127.0.0.1:{free_port()}")
    process = subprocess.Popen(
        ["python", "-m", package, "serve"],
        cwd=project,
        env=project_env(BIND=server.base.removeprefix("http://"), **env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while not ready(server.base):
            assert process.poll() is None and time.monotonic() < deadline, process.communicate()
            time.sleep(0.2)
        yield server
    finally:
        process.send_signal(signal.SIGTERM)
        server.output, _ = process.communicate(timeout=30)
        server.returncode = process.returncode


def ready(base: str) -> bool:
    try:
        return httpx.get(f"{base}/health/ready", timeout=1).status_code == 200
    except httpx.TransportError:
        return False
