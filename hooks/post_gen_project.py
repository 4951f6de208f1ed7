"""Remove the files of the options not chosen, then print the next steps.

MANIFEST is the one place that says which generated files belong to which
answer. The hook only deletes: `cruft update` runs it again on every update.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

PACKAGE = Path("src") / "{{ cookiecutter.package_name }}"
TESTS = Path("tests")
ANSWERS = {
    "database": "{{ cookiecutter.database }}",
    "cache_backend": "{{ cookiecutter.cache_backend }}",
    "schema_library": "{{ cookiecutter.schema_library }}",
}

# (question, answer or answers) -> paths kept only when one of those answers was given.
MANIFEST: dict[tuple[str, str | tuple[str, ...]], list[Path]] = {
    ("database", "sqlite"): [PACKAGE / "db_sqlite.py", TESTS / "database_sqlite.py", TESTS / "test_db_sqlite.py"],
    ("database", "postgresql"): [
        PACKAGE / "db_postgresql.py",
        TESTS / "database_postgresql.py",
        TESTS / "test_db_postgresql.py",
        TESTS / "test_pgbouncer.py",
        Path("deploy") / "kubernetes" / "migrate-job.yaml",
    ],
    ("cache_backend", "memory"): [
        PACKAGE / "cache_memory.py",
        TESTS / "cache_memory.py",
        TESTS / "test_cache_memory.py",
    ],
    ("cache_backend", "redis"): [
        PACKAGE / "cache_redis.py",
        TESTS / "cache_redis.py",
        TESTS / "test_cache_redis.py",
        TESTS / "test_cache_outage.py",
    ],
    ("cache_backend", "none"): [PACKAGE / "cache_none.py", TESTS / "cache_none.py"],
    ("cache_backend", ("memory", "redis")): [TESTS / "test_cache_hits.py", TESTS / "test_single_flight.py"],
    ("schema_library", "ariadne"): [
        PACKAGE / "graphql" / "handler_ariadne.py",
        PACKAGE / "graphql" / "schema_ariadne.py",
    ],
    ("schema_library", "strawberry"): [
        PACKAGE / "graphql" / "handler_strawberry.py",
        PACKAGE / "graphql" / "schema_strawberry.py",
    ],
}


def remove_unselected() -> None:
    for (question, answers), paths in MANIFEST.items():
        if ANSWERS[question] in (answers if isinstance(answers, tuple) else (answers,)):
            continue
        for path in paths:
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink(missing_ok=True)


def next_steps() -> str:
    steps = ["cd {{ cookiecutter.project_slug }}"]
    if ANSWERS["database"] == "postgresql":
        steps.append(
            "createdb -h 127.0.0.1 -U postgres {{ cookiecutter.package_name }}  # once: the database DATABASE_URL names"
        )
    steps.append("make install migrate seed   # virtualenv in .venv, tables, 100 users x 10 posts")
    steps.append("make run                    # gunicorn on http://127.0.0.1:8000/graphql")
    return "\n".join(f"    {step}" for step in steps)


def rendered_to_be_compared() -> bool:
    """Whether this is one of the two renders `cruft update` makes to diff the old template against
    the new: it renders each into a fresh temporary directory (tempfile's `tmp...`) and throws it
    away, so next steps printed there would be printed twice, for folders the user never sees."""
    here = Path.cwd().resolve()
    return here.parent.parent == Path(tempfile.gettempdir()).resolve() and here.parent.name.startswith("tmp")


if __name__ == "__main__":
    remove_unselected()
    if rendered_to_be_compared():
        raise SystemExit(0)
    chosen = ", ".join(f"{question} {answer}" for question, answer in ANSWERS.items())
    print(f"""
Generated {{ cookiecutter.project_slug }}/ ({chosen}).

{next_steps()}

PERFORMANCE.md shows the workers and pool sizes computed for your answers.""")
