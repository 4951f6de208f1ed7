"""The template's environment can run every generated project's suite."""

from __future__ import annotations

import tomllib
from importlib.metadata import PackageNotFoundError, version

import pytest
from packaging.requirements import Requirement

from .conftest import Bake


# Two bakes that between them choose every option that brings a dependency.
@pytest.mark.parametrize(
    ("database", "cache_backend", "schema_library"),
    [("sqlite", "memory", "ariadne"), ("postgresql", "redis", "strawberry")],
)
def test_every_generated_dependency_is_installed_in_a_version_it_accepts(
    bake: Bake, database: str, cache_backend: str, schema_library: str
) -> None:
    project = bake(database=database, cache_backend=cache_backend, schema_library=schema_library)
    meta = tomllib.loads((project / "pyproject.toml").read_text())["project"]

    unmet = []
    for line in meta["dependencies"] + meta["optional-dependencies"]["dev"]:
        requirement = Requirement(line)
        try:
            installed = version(requirement.name)
        except PackageNotFoundError:
            unmet.append(f"{line} (missing)")
            continue
        if not requirement.specifier.contains(installed, prereleases=True):
            unmet.append(f"{line} (have {installed})")
    assert unmet == []
