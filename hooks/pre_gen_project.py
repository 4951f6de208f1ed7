"""Check every answer before anything is generated.

Each bad answer prints one line (the key, the value, the rule) and the hook exits 1,
so cookiecutter removes the half-made directory. The connection budget is judged
by the generated service's own tuning functions (local_extensions.py), not
restated here.
"""

from __future__ import annotations

import json
import keyword
import re
import sys

# Jinja's tojson escapes every ' as \u0027, so a raw ''' string holds any answer; a
# """ string would not (an empty JSON string "" would close it). Keep the formatter off.
# fmt: off
ANSWERS: dict[str, str] = {
    key: str(value) for key, value in json.loads(r'''{{ cookiecutter | tojson }}''').items() if not key.startswith("_")
}
BUDGET_ERROR: str = json.loads(r'''{{ cookiecutter | budget_error | tojson }}''')
# fmt: on

CHOICES = {
    "database": ("sqlite", "postgresql"),
    "cache_backend": ("memory", "redis", "none"),
    "schema_library": ("ariadne", "strawberry"),
}
# Names the generated package must not shadow: what it imports, and what its tools import.
TAKEN_NAMES = {
    "aiodataloader", "aiosqlite", "alembic", "anyio", "ariadne", "asyncpg", "gunicorn", "graphql", "httpx",
    "hypothesis", "mypy", "psutil", "prometheus_client", "pydantic", "pydantic_settings", "pytest", "redis",
    "ruff", "sqlalchemy", "starlette", "strawberry", "tests", "uvicorn", "uvicorn_worker",
}  # fmt: skip


def whole_number(key: str, low: int, high: int | None = None) -> str | None:
    value = ANSWERS[key]
    bounds = f"from {low} to {high}" if high is not None else f"of at least {low}"
    if value.isdecimal() and int(value) >= low and (high is None or int(value) <= high):
        return None
    return f"{key}={value!r} is not valid: use a whole number {bounds}."


def problems() -> list[str]:
    found = []
    if not ANSWERS["project_name"].strip():
        found.append("project_name='' is not valid: give the project a name.")
    slug = ANSWERS["project_slug"]
    if not re.fullmatch(r"[a-z][a-z0-9-]+", slug):
        found.append(
            f"project_slug={slug!r} is not valid: use a lower-case letter, then lower-case letters, digits or dashes."
        )
    package = ANSWERS["package_name"]
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", package) or keyword.iskeyword(package):
        found.append(
            f"package_name={package!r} is not valid: use a Python identifier in lower case that is not a keyword."
        )
    elif package in sys.stdlib_module_names or package in TAKEN_NAMES:
        found.append(f"package_name={package!r} is not valid: it would shadow the module of that name; choose another.")
    email = ANSWERS["author_email"]
    if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", email):
        found.append(f"author_email={email!r} is not valid: use an address like you@example.com.")
    if ANSWERS["cpu_cores"] != "auto":
        problem = whole_number("cpu_cores", 1, 256)
        if problem:
            found.append(problem.removesuffix(".") + ", or 'auto'.")
    for key, choices in CHOICES.items():
        if ANSWERS[key] not in choices:
            found.append(f"{key}={ANSWERS[key]!r} is not valid: choose one of {', '.join(choices)}.")
    for problem in (
        whole_number("db_max_connections", 10),
        whole_number("instances", 1),
        whole_number("memory_warn_mb", 64),
    ):
        if problem:
            found.append(problem)
    # Rules between answers, judged whenever the answers they read are valid themselves: every
    # problem is reported in one run, not one more on each try.
    several = whole_number("instances", 1) is None and int(ANSWERS["instances"]) > 1
    if several and ANSWERS["cache_backend"] == "memory":
        found.append(
            f"cache_backend='memory' with instances={ANSWERS['instances']!r} is not valid: a write on one host "
            "could not invalidate the others' memory; choose cache_backend=redis (shared by every instance) or none."
        )
    if several and ANSWERS["database"] == "sqlite":
        found.append(
            f"database='sqlite' with instances={ANSWERS['instances']!r} is not valid: SQLite is a file on one host, "
            "which no other instance can reach; choose database=postgresql, or instances=1."
        )
    if BUDGET_ERROR:  # '' unless cpu_cores, instances and db_max_connections are numbers (local_extensions.py)
        found.append(
            f"cpu_cores={ANSWERS['cpu_cores']!r}, instances={ANSWERS['instances']!r} and "
            f"db_max_connections={ANSWERS['db_max_connections']!r} do not fit: {BUDGET_ERROR}. "
            "Raise db_max_connections, or lower instances or cpu_cores."
        )
    return found


if __name__ == "__main__":
    errors = problems()
    for error in errors:
        print(error, file=sys.stderr)
    sys.exit(1 if errors else 0)
