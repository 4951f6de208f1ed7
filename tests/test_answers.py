"""The prompts of cookiecutter.json, and how bad answers are refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .conftest import TEMPLATE, Bake, cookiecutter_cli

PROMPTS = [
    "project_name", "project_slug", "package_name", "description", "author_name", "author_email",
    "cpu_cores", "database", "cache_backend", "schema_library", "db_max_connections", "instances", "memory_warn_mb",
]  # fmt: skip


def test_prompts_are_the_designed_ones_in_order() -> None:
    keys = [key for key in json.loads((TEMPLATE / "cookiecutter.json").read_text()) if not key.startswith("_")]

    assert keys == PROMPTS


def test_slug_and_package_name_derive_from_the_project_name(bake: Bake) -> None:
    project = bake(project_name="Orders API v2")

    assert project.name == "orders-api-v2"
    assert (project / "src" / "orders_api_v2" / "app.py").is_file()


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("project_name=", "project_name=''"),
        ("project_slug=My_Service", "project_slug='My_Service'"),
        ("project_slug=9lives", "project_slug='9lives'"),
        ("package_name=class", "package_name='class'"),
        ("package_name=my-service", "package_name='my-service'"),
        ("package_name=json", "package_name='json'"),
        ("package_name=starlette", "package_name='starlette'"),
        ("author_email=nobody", "author_email='nobody'"),
        ("cpu_cores=abc", "cpu_cores='abc' is not valid: use a whole number from 1 to 256, or 'auto'."),
        ("cpu_cores=0", "cpu_cores='0'"),
        ("cpu_cores=257", "cpu_cores='257'"),
        ("cpu_cores=2.5", "cpu_cores='2.5'"),
        ("db_max_connections=9", "db_max_connections='9' is not valid: use a whole number of at least 10."),
        ("db_max_connections=lots", "db_max_connections='lots'"),
        ("instances=0", "instances='0' is not valid: use a whole number of at least 1."),
        ("memory_warn_mb=-5", "memory_warn_mb='-5'"),
        ("memory_warn_mb=big", "memory_warn_mb='big'"),
    ],
)
def test_a_bad_answer_is_named_and_nothing_is_generated(tmp_path: Path, answer: str, expected: str) -> None:
    done = cookiecutter_cli(tmp_path, answer)

    assert done.returncode != 0
    assert expected in done.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "answers",
    [
        ("cpu_cores=64", "instances=2", "db_max_connections=100", "cache_backend=none"),
        ("cpu_cores=auto", "instances=100", "db_max_connections=100", "cache_backend=none"),
        ("cpu_cores=8", "instances=10", "db_max_connections=50", "cache_backend=none"),
    ],
)
def test_answers_that_leave_a_worker_without_a_connection_are_refused(tmp_path: Path, answers: tuple[str, ...]) -> None:
    done = cookiecutter_cli(tmp_path, *answers)

    assert done.returncode != 0
    assert "do not fit" in done.stderr
    assert "db_max_connections=" in done.stderr
    assert list(tmp_path.iterdir()) == []


def test_a_memory_cache_on_several_hosts_is_refused_in_favour_of_redis(tmp_path: Path) -> None:
    done = cookiecutter_cli(tmp_path, "cache_backend=memory", "instances=3")

    assert done.returncode != 0
    assert "cache_backend='memory' with instances='3' is not valid" in done.stderr
    assert "cache_backend=redis" in done.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("key", "value"), [("database", "mysql"), ("cache_backend", "memcached")])
def test_an_unknown_choice_is_refused_by_name(tmp_path: Path, key: str, value: str) -> None:
    done = cookiecutter_cli(tmp_path, f"{key}={value}")

    assert done.returncode != 0
    assert value in done.stderr
    assert list(tmp_path.iterdir()) == []


def test_sqlite_on_several_instances_is_refused(tmp_path: Path) -> None:
    done = cookiecutter_cli(tmp_path, "database=sqlite", "cache_backend=redis", "instances=3")

    assert done.returncode != 0
    assert done.stderr.strip().splitlines() == [
        "database='sqlite' with instances='3' is not valid: SQLite is a file on one host, which no other instance "
        "can reach; choose database=postgresql, or instances=1."
    ]
    assert list(tmp_path.iterdir()) == []


def test_rules_between_answers_are_reported_with_the_other_problems(tmp_path: Path) -> None:
    done = cookiecutter_cli(tmp_path, "cache_backend=memory", "instances=3", "memory_warn_mb=1", "cpu_cores=abc")

    lines = done.stderr.strip().splitlines()
    assert [line.split(" is not valid")[0] for line in lines] == [
        "cpu_cores='abc'", "memory_warn_mb='1'", "cache_backend='memory' with instances='3'",
        "database='sqlite' with instances='3'",
    ]  # fmt: skip


def test_every_bad_answer_is_reported_at_once(tmp_path: Path) -> None:
    done = cookiecutter_cli(tmp_path, "cpu_cores=abc", "instances=0")

    assert "cpu_cores='abc'" in done.stderr
    assert "instances='0'" in done.stderr
