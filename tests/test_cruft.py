"""The template works under cruft, which clones it from git and keeps the link."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from .conftest import BIN, TEMPLATE, project_env


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
    # 2 cores, 90 connections allowed: 45 per worker, capped at 24 -> 16 open + 8 overflow.
    assert (
        "2 core(s) -> 2 worker(s), each with pool_size 16 + max_overflow 8"
        in (project / "gunicorn.conf.py").read_text()
    )
    assert "DB_POOL_SIZE=16 DB_MAX_OVERFLOW=8" in (project / ".env.example").read_text()
    assert (project / "Makefile").read_text().endswith("# a local target of ours\n")
    check = cruft("check", cwd=project)
    assert check.returncode == 0, check.stdout
