"""Every supported combination bakes into a clean project whose own suite passes."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from .conftest import POSTGRES_URL, REDIS_URL, Bake, foreign_mentions, run, texts_of

SERVERS = {"DATABASE_URL": POSTGRES_URL, "REDIS_URL": REDIS_URL}

COMBINATIONS = [
    {"database": database, "cache_backend": cache, "schema_library": library}
    for database in ("sqlite", "postgresql")
    for cache in ("memory", "redis", "none")
    for library in ("ariadne", "strawberry")
]


def combination_id(answers: dict[str, str]) -> str:
    return "-".join(answers.values())


@pytest.mark.parametrize("answers", COMBINATIONS, ids=combination_id)
def test_combination_is_clean_and_its_suite_passes(bake: Bake, answers: dict[str, str]) -> None:
    project = bake(**answers)

    # `${{ … }}` is a GitHub Actions expression, not Jinja.
    unrendered = re.compile(r"(?<!\$)\{\{|\{%|cookiecutter\.")
    leftovers = [str(path) for path in texts_of(project) if unrendered.search(path.read_text())]
    assert leftovers == [], "unrendered Jinja"
    assert foreign_mentions(project, answers) == {}
    run(project, "ruff", "check", ".")
    run(project, "ruff", "format", "--check", ".")
    run(project, "mypy", "src", "tests", "bench", "locustfile.py")
    run(project, "actionlint", ".github/workflows/ci.yml")
    manifests = sorted(str(path) for path in (project / "deploy" / "kubernetes").glob("*.yaml"))
    run(project, "kubernetes-validate", "--strict", *(path for path in manifests if "kustomization" not in path))
    run_suite(project)


def run_suite(project: Path) -> None:
    """The generated suite, with CI=true: it fails, never skips, when its database or Redis does not
    answer. A suite takes 1-3 minutes on an idle machine; under load (two busy loops beside the two
    xdist workers) the slowest took over 5, so the guard against a hang is generous."""
    suite = run(
        project, "python", "-m", "pytest", "-q", "-p", "no:cacheprovider", env={"CI": "true", **SERVERS}, timeout=1800
    )
    assert " passed" in suite.stdout and "failed" not in suite.stdout


def test_a_suite_planned_for_a_larger_server_passes_on_the_one_it_finds(bake: Bake) -> None:
    """Answers for a server of 200 connections, a local one of PostgreSQL's default 100: the suite
    sizes its pools for the server it finds, as a user's first `make test` does."""
    project = bake(
        database="postgresql", cache_backend="redis", schema_library="strawberry",
        db_max_connections="200", cpu_cores="4", instances="3",
    )  # fmt: skip

    run_suite(project)


def gunicorn_workers(project: Path, **env: str) -> int:
    done = run(project, "python", "-c", "import runpy; print(runpy.run_path('gunicorn.conf.py')['workers'])", env=env)
    return int(done.stdout)


@pytest.mark.parametrize("cores", [1, 4, 64])
def test_gunicorn_runs_one_worker_per_core_unless_web_concurrency_says_otherwise(bake: Bake, cores: int) -> None:
    project = bake(cpu_cores=str(cores))

    assert gunicorn_workers(project) == cores
    assert gunicorn_workers(project, WEB_CONCURRENCY="3") == 3
    assert f"{cores} core(s) -> {cores} worker(s)" in (project / "gunicorn.conf.py").read_text()


def test_auto_cores_are_detected_when_gunicorn_starts(bake: Bake) -> None:
    project = bake(cpu_cores="auto")

    allowed = len(os.sched_getaffinity(0))
    assert 1 <= gunicorn_workers(project) <= allowed
    assert gunicorn_workers(project, CPU_CORES="2") == 2


def test_rendered_pool_numbers_fit_the_budget(bake: Bake) -> None:
    project = bake(cpu_cores="4", db_max_connections="60", instances="3", database="postgresql", cache_backend="none")

    shown = re.search(
        r"4 worker\(s\), each with pool_size (\d+) \+ max_overflow (\d+)", (project / "gunicorn.conf.py").read_text()
    )
    assert shown is not None
    per_worker = int(shown[1]) + int(shown[2])
    assert 3 * 4 * per_worker <= 60 - 6  # 10 % of the server's 60 stays in reserve
    assert f"DB_POOL_SIZE={shown[1]} DB_MAX_OVERFLOW={shown[2]}" in (project / ".env.example").read_text()


def test_a_start_with_overrides_beyond_the_budget_stops_with_one_line(bake: Bake) -> None:
    project = bake()

    done = run(
        project,
        "sh",
        "-c",
        "python -c \"import runpy; runpy.run_path('gunicorn.conf.py')\"; echo exit=$?",
        env={"DB_POOL_SIZE": "80"},
    )
    message = done.stderr.strip()
    assert "exit=1" in done.stdout
    assert len(message.splitlines()) == 1
    assert "db_max_connections=100" in message and "DB_POOL_SIZE" in message
