"""The generated Kubernetes manifests: valid for the API, probing the health endpoints, and
sized so that the most pods the autoscaler may run stay within the connection budget."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from .conftest import Bake, run

KUBERNETES_VERSION = "1.30.0"
"""The oldest Kubernetes the manifests are checked against (the oldest the project still supports)."""
ANSWERS = [
    {"database": "sqlite", "cache_backend": "memory", "cpu_cores": "2", "instances": "1"},
    {"database": "postgresql", "cache_backend": "redis", "cpu_cores": "4", "instances": "6"},
    {"database": "postgresql", "cache_backend": "none", "cpu_cores": "auto", "instances": "3"},
    {"database": "postgresql", "cache_backend": "none", "cpu_cores": "1", "instances": "2"},
]


def manifests(project: Path) -> dict[str, dict[str, Any]]:
    folder = project / "deploy" / "kubernetes"
    return {path.stem: yaml.safe_load(path.read_text()) for path in sorted(folder.glob("*.yaml"))}


def baked_tuning(project: Path) -> ModuleType:
    """The bake's own tuning.py: the functions its service runs."""
    spec = importlib.util.spec_from_file_location("baked_tuning", project / "src" / "graphql_service" / "tuning.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("answers", ANSWERS, ids=lambda answers: "-".join(answers.values()))
def test_the_manifests_validate_and_keep_the_fleet_within_the_budget(bake: Bake, answers: dict[str, str]) -> None:
    project = bake(**answers)
    found = manifests(project)
    resources = [name for name in found if name != "kustomization"]

    run(
        project / "deploy" / "kubernetes",
        "kubernetes-validate",
        "--strict",
        "-k",
        KUBERNETES_VERSION,
        *(f"{name}.yaml" for name in resources),
    )
    assert sorted(found["kustomization"]["resources"]) == sorted(f"{name}.yaml" for name in resources)
    assert ("migrate-job" in found) == (answers["database"] == "postgresql")

    pod = found["deployment"]["spec"]["template"]["spec"]
    web = pod["containers"][0]
    cores = int(web["resources"]["limits"]["cpu"])
    assert web["resources"]["requests"] == web["resources"]["limits"]
    if answers["cpu_cores"] != "auto":
        assert cores == int(answers["cpu_cores"])
    assert web["readinessProbe"]["httpGet"]["path"] == "/health/ready"
    assert web["livenessProbe"]["httpGet"]["path"] == "/health/live"
    setting = re.search(r"^graceful_timeout = (\d+)", (project / "gunicorn.conf.py").read_text(), re.MULTILINE)
    assert setting, "gunicorn.conf.py sets graceful_timeout"
    graceful = int(setting[1])
    assert pod["terminationGracePeriodSeconds"] > graceful + int(web["lifecycle"]["preStop"]["exec"]["command"][1])

    hpa = found["hpa"]["spec"]
    config = found["configmap"]["data"]
    assert hpa["minReplicas"] <= found["deployment"]["spec"]["replicas"] <= hpa["maxReplicas"]
    assert int(config["INSTANCES"]) >= hpa["maxReplicas"]  # every pod the autoscaler may start is counted
    if answers["database"] == "sqlite":
        assert hpa["maxReplicas"] == 1  # each pod would have a database of its own
    tuning = baked_tuning(project)
    plan = tuning.plan_for(cores, int(config["DB_MAX_CONNECTIONS"]), int(config["INSTANCES"]))
    fleet = hpa["maxReplicas"] * plan.workers * plan.pool.per_worker
    assert fleet <= tuning.allowed_connections(int(config["DB_MAX_CONNECTIONS"]))
