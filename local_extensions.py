"""Jinja filters that render numbers with the generated service's own tuning functions.

The formulas live once, in the generated `tuning.py`. This module loads that file
from the template checkout each time cookiecutter (or cruft) builds a Jinja
environment, so rendered numbers and the running service can never disagree. It
is loaded by path, not imported, because cruft keeps an imported module across
the two checkouts of an update (cruft/cruft#253); only this thin shim is cached.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

from jinja2 import Environment
from jinja2.ext import Extension

TUNING = Path(__file__).parent / "{{cookiecutter.project_slug}}" / "src" / "{{cookiecutter.package_name}}" / "tuning.py"
AUTO_EXAMPLES = (1, 2, 4, 8, 16, 32)
POD_CORES_FOR_AUTO = 2
"""With cpu_cores='auto', the CPU limit the Kubernetes manifests give a pod; the service reads it back."""


def load_tuning() -> ModuleType:
    spec = importlib.util.spec_from_file_location("_template_tuning", TUNING)
    assert spec is not None and spec.loader is not None, TUNING
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while it runs
    spec.loader.exec_module(module)
    return module


class TuningExtension(Extension):
    """Filters `tuning_plans`, `budget_error`, `budget_error_with_pool` and `pod_cores`, each taking
    the `cookiecutter` answers."""

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        tuning = load_tuning()

        def plan(answers: Mapping[str, Any], cores: int) -> Any:
            return tuning.plan_for(cores, int(answers["db_max_connections"]), int(answers["instances"]))

        def tuning_plans(answers: Mapping[str, Any]) -> list[tuple[int, Any]]:
            """(cores, plan) for the answered core count, or for typical ones when it is 'auto'."""
            if str(answers["cpu_cores"]) != "auto":
                cores = int(answers["cpu_cores"])
                return [(cores, plan(answers, cores))]
            plans = []
            for cores in AUTO_EXAMPLES:
                try:
                    plans.append((cores, plan(answers, cores)))
                except tuning.BudgetError:
                    break
            return plans

        def budget_error(answers: Mapping[str, Any]) -> str:
            """Why the answers cannot give every worker a connection, or '' when they can.

            Answers that are not numbers yet give '': the hook names those itself.
            With cpu_cores='auto' the smallest host (1 core) is checked here; the
            service checks the real core count again when it starts.
            """
            try:
                cores = 1 if str(answers["cpu_cores"]) == "auto" else int(answers["cpu_cores"])
                plan(answers, cores)
            except tuning.BudgetError as exc:
                return str(exc)
            except (ValueError, ArithmeticError):
                return ""
            return ""

        def budget_error_with_pool(answers: Mapping[str, Any], pool_size: int) -> str:
            """The service's refusal of DB_POOL_SIZE=`pool_size` on the first host tuning_plans shows."""
            cores = tuning_plans(answers)[0][0]
            try:
                tuning.plan_for(
                    cores, int(answers["db_max_connections"]), int(answers["instances"]), pool_size=pool_size
                )
            except tuning.BudgetError as exc:
                return str(exc)
            return ""

        def pod_cores(answers: Mapping[str, Any]) -> int:
            """The CPUs a Kubernetes pod gets: the answered core count, or POD_CORES_FOR_AUTO."""
            return POD_CORES_FOR_AUTO if str(answers["cpu_cores"]) == "auto" else int(answers["cpu_cores"])

        environment.filters["tuning_plans"] = tuning_plans
        environment.filters["pod_cores"] = pod_cores
        environment.filters["budget_error"] = budget_error
        environment.filters["budget_error_with_pool"] = budget_error_with_pool
