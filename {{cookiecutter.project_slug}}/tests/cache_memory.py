"""The memory cache needs nothing from the tests: each app gets a private versions file."""

from typing import Any


def cache_settings() -> dict[str, Any]:
    return {}


def forget_cache() -> None:
    """Private versions files are removed when each app closes."""
