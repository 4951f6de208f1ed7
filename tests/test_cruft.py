"""The template works under cruft, which clones it from git and keeps the link."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from .conftest import BIN, TEMPLATE, cookiecutter_cli, files_of, foreign_mentions, project_env, run, texts_of


def git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=Test", "-c", "user.email=test@example.com", *args],
        cwd=repo,
        check=True,
        capture_output=True,
    )


def cruft(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """The cruft command as a user runs it, with this environment's tools."""
    return subprocess.run(
        [str(BIN / "cruft"), *args], cwd=cwd, capture_output=True, text=True, env=project_env(), timeout=120
    )


def template_repo(tmp_path: Path) -> Path:
    """The template's working tree committed to a fresh git repository, as a user would clone it."""
    repo = tmp_path / "template"
    shutil.copytree(TEMPLATE, repo, ignore=shutil.ignore_patterns(".git", ".venv", "build", "__pycache__", ".*_cache"))
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "template")
    return repo


def test_cruft_create_renders_the_project_and_links_it_to_the_template(tmp_path: Path) -> None:
    repo = template_repo(tmp_path)
    out = tmp_path / "out"

    done = cruft("create", "--no-input", "--output-dir", str(out), "--extra-context", '{"cpu_cores": "4"}', str(repo))

    assert done.returncode == 0, done.stdout + done.stderr
    project = out / "graphql-service"
    link = json.loads((project / ".cruft.json").read_text())
    assert link["template"] == str(repo)
    assert len(link["commit"]) == 40
    assert link["context"]["cookiecutter"]["cpu_cores"] == "4"
    assert "4 core(s) -> 4 worker(s)" in (project / "gunicorn.conf.py").read_text()
    assert (project / "src" / "graphql_service" / "graphql" / "schema_ariadne.py").is_file()


def commit_all(repo: Path, message: str) -> None:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)


def test_cruft_update_renders_numbers_with_the_templates_new_formula_and_keeps_local_edits(tmp_path: Path) -> None:
    repo = template_repo(tmp_path)
    out = tmp_path / "out"
    created = cruft("create", "--no-input", "--output-dir", str(out), str(repo))
    assert created.returncode == 0, created.stdout + created.stderr
    project = out / "graphql-service"
    git(project, "init", "-q", "-b", "main")
    with (project / "Makefile").open("a") as makefile:
        makefile.write("# a local target of ours\n")
    commit_all(project, "generated, plus a local edit")
    tuning = repo / "{{cookiecutter.project_slug}}" / "src" / "{{cookiecutter.package_name}}" / "tuning.py"
    tuning.write_text(tuning.read_text().replace("MAX_CONNECTIONS_PER_WORKER = 30", "MAX_CONNECTIONS_PER_WORKER = 24"))
    commit_all(repo, "cap a worker's connections at 24")

    stale = cruft("check", cwd=project)
    update = cruft("update", "-y", cwd=project)

    assert stale.returncode != 0
    assert update.returncode == 0, update.stdout + update.stderr
    # The next steps are for the project made, not for the renders cruft compares and throws away.
    assert created.stdout.count("Generated graphql-service/") == 1 and "Generated" not in update.stdout
    # 2 cores, 90 connections allowed: 45 per worker, capped at 24 -> 16 open + 8 overflow.
    assert (
        "2 core(s) -> 2 worker(s), each with pool_size 16 + max_overflow 8"
        in (project / "gunicorn.conf.py").read_text()
    )
    assert "DB_POOL_SIZE=16 DB_MAX_OVERFLOW=8" in (project / ".env.example").read_text()
    assert (project / "Makefile").read_text().endswith("# a local target of ours\n")
    assert not [path for path in texts_of(project) if path.suffix == ".rej" or "<<<<<<<" in path.read_text()]
    check = cruft("check", cwd=project)
    assert check.returncode == 0, check.stdout


@pytest.mark.parametrize("answers", [(), ("database=postgresql", "cache_backend=redis", "schema_library=strawberry")])
def test_generation_is_deterministic(tmp_path: Path, answers: tuple[str, ...]) -> None:
    """The same answers render the same bytes, so `cruft update` shows only what the template changed."""
    for run_dir in ("first", "second"):
        done = cookiecutter_cli(tmp_path / run_dir, *answers)
        assert done.returncode == 0, done.stderr

    def tree(root: Path) -> dict[str, bytes]:
        return {str(path.relative_to(root)): path.read_bytes() for path in files_of(root)}

    assert tree(tmp_path / "first") == tree(tmp_path / "second")


# The default bake (sqlite, memory, ariadne) switched to another answer, and what must come with it.
SWITCHES = [
    ({"cache_backend": "redis"}, "cache_redis.py", "cache_memory.py", '"redis>='),
    ({"database": "postgresql"}, "db_postgresql.py", "db_sqlite.py", '"asyncpg>='),
    (
        {"schema_library": "strawberry"},
        "graphql/schema_strawberry.py",
        "graphql/schema_ariadne.py",
        '"strawberry-graphql>=',
    ),
]


@pytest.mark.parametrize(("change", "added", "removed", "dependency"), SWITCHES, ids=lambda value: str(value))
def test_cruft_update_switches_an_answer_cleanly_and_keeps_local_changes(
    tmp_path: Path, change: dict[str, str], added: str, removed: str, dependency: str
) -> None:
    repo = template_repo(tmp_path)
    created = cruft("create", "--no-input", "--output-dir", str(tmp_path / "out"), str(repo))
    assert created.returncode == 0, created.stdout + created.stderr
    project = tmp_path / "out" / "graphql-service"
    package = project / "src" / "graphql_service"
    git(project, "init", "-q", "-b", "main")
    with (project / "pyproject.toml").open("a") as pyproject:  # a file the switch changes too
        pyproject.write("# a local note of ours\n")
    (package / "local.py").write_text('"""A module of our own."""\n')
    commit_all(project, "generated, plus local changes")

    update = cruft("update", "-y", "--variables-to-update", json.dumps(change), cwd=project)

    assert update.returncode == 0, update.stdout + update.stderr
    answers = json.loads((project / ".cruft.json").read_text())["context"]["cookiecutter"]
    assert change.items() <= answers.items()
    assert (package / added).is_file() and not (package / removed).exists()
    assert dependency in (project / "pyproject.toml").read_text()
    assert foreign_mentions(project, answers) == {}  # nothing of the old answer is left
    leftovers = [str(path) for path in texts_of(project) if path.suffix == ".rej" or "<<<<<<<" in path.read_text()]
    assert leftovers == [], "conflicts"
    assert (project / "pyproject.toml").read_text().endswith("# a local note of ours\n")
    assert (package / "local.py").is_file()
    run(project, "ruff", "check", ".")
    run(project, "mypy", "src", "tests")
    commit_all(project, "switched")
    assert cruft("check", cwd=project).returncode == 0
