"""The tests' own corner of the Redis that REDIS_URL names: each test's keys under a prefix
of its own (the tables are new for every test; cached answers must be too), removed
after the session.

With CI set, a Redis that does not answer fails the run instead of skipping it.
"""

import os
import secrets
from functools import cache
from typing import Any

import pytest
from redis import Redis, RedisError

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
PREFIXES: list[str] = []


@cache
def reachable() -> str | None:
    """Why Redis is not usable, or None when it answers."""
    try:
        Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except RedisError as exc:
        return str(exc)
    return None


def cache_settings() -> dict[str, Any]:
    problem = reachable()
    if problem and os.environ.get("CI"):
        pytest.fail(f"Redis at {REDIS_URL} is required in CI and did not answer: {problem}")
    if problem:
        pytest.skip(f"Redis at {REDIS_URL} did not answer ({problem}); set REDIS_URL")
    PREFIXES.append(f"test-{secrets.token_hex(6)}:")
    return {"redis_url": REDIS_URL, "cache_key_prefix": PREFIXES[-1]}


def forget_cache() -> None:
    if not PREFIXES or reachable():
        return
    client = Redis.from_url(REDIS_URL)
    for prefix in PREFIXES:
        keys = list(client.scan_iter(match=prefix + "*", count=1000))
        if keys:
            client.delete(*keys)
