"""The generated Dockerfile and docker-compose.yml pass their linters in every shape they take."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from .conftest import BIN, Bake

# Between them, every branch of the two files: each database, Redis or not, a core count or auto.
SHAPES = [
    {"database": "sqlite", "cache_backend": "memory", "cpu_cores": "2"},
    {"database": "postgresql", "cache_backend": "redis", "cpu_cores": "4"},
    {"database": "postgresql", "cache_backend": "none", "cpu_cores": "auto"},
]


@pytest.mark.parametrize("answers", SHAPES, ids=lambda answers: "-".join(answers.values()))
def test_dockerfile_and_compose_file_lint_clean(bake: Bake, answers: dict[str, str]) -> None:
    project = bake(**answers)
    compose = shutil.which("docker-compose")
    assert compose, "docker-compose is needed to validate docker-compose.yml (apt install docker-compose)"

    hadolint = subprocess.run(
        [str(BIN / "hadolint"), "--no-color", "Dockerfile"], cwd=project, capture_output=True, text=True
    )
    config = subprocess.run([compose, "config"], cwd=project, capture_output=True, text=True)

    assert hadolint.returncode == 0, hadolint.stdout + hadolint.stderr
    assert config.returncode == 0, config.stderr
    if answers["database"] == "postgresql":
        assert "max_connections=100" in config.stdout  # the server the pools were computed for
    if answers["cpu_cores"] != "auto":
        cores = answers["cpu_cores"]
        assert f"cpus: {cores}" in config.stdout or f"cpus: {float(cores)}" in config.stdout
