"""A baked project's own Makefile builds its virtualenv from PyPI and passes lint and tests."""

from __future__ import annotations

import subprocess

import pytest

from .conftest import Bake, project_env


@pytest.mark.slow
def test_make_lint_and_test_pass_in_a_fresh_project(bake: Bake) -> None:
    project = bake()
    env = project_env()
    del env["PYTHONPATH"]  # the project's own .venv must find its package by itself

    done = subprocess.run(["make", "lint", "test"], cwd=project, env=env, capture_output=True, text=True, timeout=900)

    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    assert " passed" in done.stdout
    assert (project / ".venv" / "bin" / "gunicorn").exists()
