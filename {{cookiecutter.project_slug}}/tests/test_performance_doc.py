"""PERFORMANCE.md's "Common performance issues" maps each symptom of the guide to commands of
this project: every make target, setting, metric and module it names must exist."""

import re

import pytest
from prometheus_client import REGISTRY

from {{ cookiecutter.package_name }}.settings import Settings

from .conftest import PROJECT

PACKAGE_DIR = PROJECT / "src" / "{{ cookiecutter.package_name }}"


@pytest.fixture(scope="module")
def section() -> str:
    text = (PROJECT / "PERFORMANCE.md").read_text()
    start = text.index("## Common performance issues")
    return text[start : text.index("\n## ", start + 1)]


def test_each_symptom_of_the_guide_has_its_subsection(section: str) -> None:
    assert re.findall(r"^### (.+)$", section, re.MULTILINE) == ["Slow requests", "High CPU usage", "Memory growth"]


def test_every_make_target_it_names_exists(section: str) -> None:
    named = set(re.findall(r"\bmake ([a-z][a-z-]*)", section))
    targets = set(re.findall(r"^([a-z][a-z-]*):", (PROJECT / "Makefile").read_text(), re.MULTILINE))

    assert {"profile", "perf-check", "dev", "run", "bench"} <= named
    assert named <= targets, named - targets


def test_every_setting_it_names_is_a_setting(section: str) -> None:
    # Names set on a command line (`PROFILE=1 make dev`) or quoted on their own (`SLOW_QUERY_MS`).
    named = set(re.findall(r"\b([A-Z][A-Z_]{3,})=|`([A-Z][A-Z_]{3,})`", section))
    names = {name for pair in named for name in pair if name} - {"SQLALCHEMY_ECHO"}  # the guide's, quoted
    settings = {name.upper() for name in Settings.model_fields}
    make_variables = set(re.findall(r"\$\(([A-Z_]+)\)", (PROJECT / "Makefile").read_text()))

    assert {"SERVER_TIMING", "PROFILE", "SLOW_QUERY_MS", "DB_ECHO", "TRACEMALLOC"} <= names
    assert names <= settings | make_variables, names - settings - make_variables


def test_every_metric_it_names_is_exported(section: str) -> None:
    # Not a module path (`<package>.db`), which a log line names.
    named = set(re.findall(r"\b((?:graphql|db|worker)_[a-z_]+)\b(?!\.[a-z])", section))
    exported = set()
    for family in REGISTRY.collect():
        suffixes = {"counter": ["_total"], "histogram": ["_sum", "_count", "_bucket"]}.get(family.type, [])
        exported |= {family.name, *(family.name + suffix for suffix in suffixes)}

    assert named
    assert named <= exported, named - exported


def test_every_module_it_names_exists(section: str) -> None:
    named = set(re.findall(r"`([\w/]+\.py)`", section)) - {"profile_app.py"}  # the guide's script
    found = {str(path.relative_to(PACKAGE_DIR)) for path in PACKAGE_DIR.rglob("*.py")}
    found |= {path.name for path in PACKAGE_DIR.rglob("*.py")} | {"locustfile.py"}

    assert named
    assert named <= found, named - found
