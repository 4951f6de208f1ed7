"""The template's own code (hooks, Jinja extension, these tests) is as clean as what it renders."""

from __future__ import annotations

import subprocess

import pytest

from .conftest import BIN, TEMPLATE


@pytest.mark.parametrize(
    "command", [["ruff", "check", "."], ["ruff", "format", "--check", "."], ["mypy"]], ids=" ".join
)
def test_template_code_passes(command: list[str]) -> None:
    done = subprocess.run([str(BIN / command[0]), *command[1:]], cwd=TEMPLATE, capture_output=True, text=True)

    assert done.returncode == 0, done.stdout + done.stderr
