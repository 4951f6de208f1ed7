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

    done = subprocess.run(
        [
            str(BIN / "cruft"),
            "create",
            "--no-input",
            "--output-dir",
            str(out),
            "--extra-context",
            '{"cpu_cores": "4"}',
            str(repo),
        ],
        capture_output=True,
        text=True,
        env=project_env(),
        timeout=120,
    )

    assert done.returncode == 0, done.stdout + done.stderr
    project = out / "graphql-service"
    link = json.loads((project / ".cruft.json").read_text())
    assert link["template"] == str(repo)
    assert len(link["commit"]) == 40
    assert link["context"]["cookiecutter"]["cpu_cores"] == "4"
    assert "4 core(s) -> 4 worker(s)" in (project / "gunicorn.conf.py").read_text()
    assert (project / "src" / "graphql_service" / "graphql" / "ariadne_schema.py").is_file()
