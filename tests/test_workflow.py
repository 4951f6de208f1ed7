"""The generated GitHub Actions workflow: valid for GitHub's schema and for actionlint, with the
services each bake needs and a scheduled check for template drift."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from .conftest import Bake, run

SERVICES = [(database, cache) for database in ("sqlite", "postgresql") for cache in ("memory", "redis", "none")]


def workflow(project: Path) -> dict[Any, Any]:
    loaded: dict[Any, Any] = yaml.safe_load((project / ".github" / "workflows" / "ci.yml").read_text())
    return loaded


@pytest.mark.parametrize(("database", "cache_backend"), SERVICES)
def test_the_workflow_validates_and_starts_what_the_bake_uses(bake: Bake, database: str, cache_backend: str) -> None:
    project = bake(database=database, cache_backend=cache_backend)

    # GitHub's workflow schema, as SchemaStore publishes it (vendored in check-jsonschema: no network),
    # then actionlint: expressions, contexts, action versions, job dependencies.
    run(project, "check-jsonschema", "--builtin-schema", "vendor.github-workflows", ".github/workflows/ci.yml")
    run(project, "actionlint", ".github/workflows/ci.yml")
    jobs = workflow(project)["jobs"]
    test = jobs["test"]
    expected = {"postgres"} if database == "postgresql" else set()
    expected |= {"redis"} if cache_backend == "redis" else set()
    assert set(test.get("services", {})) == expected
    assert ("DATABASE_URL" in test["env"]) == (database == "postgresql")
    assert ("REDIS_URL" in test["env"]) == (cache_backend == "redis")
    steps = {step.get("name"): step.get("run", "") for step in test["steps"]}
    assert {"Lint", "Type check", "Test"} <= set(steps)
    assert steps["Test"] == "make test" and steps["Install"] == "make install"
    assert "mypy" in steps["Type check"] and "ruff" in steps["Lint"]


def test_a_weekly_job_reports_template_drift(bake: Bake) -> None:
    flow = workflow(bake())

    assert flow[True]["schedule"]  # PyYAML reads the key `on` as True
    drift = flow["jobs"]["template-drift"]
    assert "schedule" in drift["if"]
    assert any("cruft check" in step.get("run", "") for step in drift["steps"])
    assert "schedule" in flow["jobs"]["test"]["if"]  # the weekly run checks drift only
