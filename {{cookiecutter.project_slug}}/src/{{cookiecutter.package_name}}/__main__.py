"""Command line: `python -m {{ cookiecutter.package_name }} serve|seed|schema|perf-check|profile`."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Callable
from pathlib import Path

from .settings import SettingsError, load_settings


def _count(minimum: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        if not text.isdecimal() or int(text) < minimum:
            raise argparse.ArgumentTypeError(f"{text!r} is not valid: use a whole number of at least {minimum}")
        return int(text)

    return parse


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m {{ cookiecutter.package_name }}")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run under gunicorn with gunicorn.conf.py (or uvicorn --reload)")
    serve.add_argument("--reload", action="store_true", help="development server that restarts on code changes")
    seed = commands.add_parser("seed", help="bulk-insert example users and posts, into a database without users")
    seed.add_argument("--users", type=_count(1), default=100)
    seed.add_argument("--posts-per-user", type=_count(0), default=10)
    existing = seed.add_mutually_exclusive_group()
    existing.add_argument("--add", action="store_true", help="insert them beside the users already there")
    existing.add_argument("--reset", action="store_true", help="delete every user and post first")
    commands.add_parser("schema", help="print the schema the service serves, in SDL")
    check = commands.add_parser("perf-check", help="verify the performance checklist against a running service")
    check.add_argument("--url", help="check the service at this URL instead of starting one here")
    check.add_argument("--requests", type=_count(50), default=500, help="requests for the cache and memory checks")
    check.add_argument("--seconds", type=_count(1), default=5, help="length of the load run")
    profile = commands.add_parser("profile", help="record a py-spy flame graph of the workers under a locust run")
    profile.add_argument("--seconds", type=_count(1), default=20, help="length of the locust run")
    profile.add_argument("--users", type=_count(1), default=20, help="locust users")
    profile.add_argument("--output", type=Path, help="the SVG to write (default: profiles/flame-<time>.svg)")
    args = parser.parse_args(argv)

    if args.command == "schema":
        from .graphql.schema_{{ cookiecutter.schema_library }} import printed_schema

        print(printed_schema())
        return 0

    try:
        settings = load_settings()
    except SettingsError as exc:
        print(exc, file=sys.stderr)
        return 1

    if args.command == "perf-check":
        from .perf_check import run as perf_check

        return perf_check(settings, args.url, args.requests, args.seconds)

    if args.command == "profile":
        from .flamegraph import run as profile_run

        return profile_run(args.seconds, args.users, args.output)

    if args.command == "seed":
        from .seed import count_users
        from .seed import seed as run_seed

        present = asyncio.run(count_users(settings))
        if present and not (args.add or args.reset):
            print(
                f"The database has {present} users already: nothing inserted (--add adds more, --reset replaces them)."
            )
            return 0
        users, posts = asyncio.run(run_seed(settings, args.users, args.posts_per_user, reset=args.reset))
        replaced = f", in place of {present} users and their posts" if args.reset and present else ""
        print(f"Inserted {users} users and {posts} posts{replaced}.")
        return 0

    if args.reload:
        import uvicorn

        from .logs import logging_config

        uvicorn.run(
            "{{ cookiecutter.package_name }}.app:create_app",
            factory=True,
            reload=True,
            reload_dirs=["src"],
            host=settings.host,
            port=settings.port,
            log_config=logging_config(settings),
            access_log=False,  # observe.py logs one line per request
        )
        return 0
    gunicorn = [sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py", "{{ cookiecutter.package_name }}.app:create_app()"]
    os.execv(sys.executable, gunicorn)


if __name__ == "__main__":
    sys.exit(main())
