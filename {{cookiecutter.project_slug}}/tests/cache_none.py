"""No cache: nothing to set, nothing to clean."""

from typing import Any


def cache_settings() -> dict[str, Any]:
    return {}


def forget_cache() -> None:
    """Nothing was cached."""
