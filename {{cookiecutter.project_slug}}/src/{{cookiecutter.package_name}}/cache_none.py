"""No response cache: every request is computed (parse and validation caches still apply)."""

from __future__ import annotations

from .cache import Backend
from .settings import Settings


def prepare_host() -> None:
    """Nothing to share between workers."""


def cleanup_host() -> None:
    """Nothing was shared."""


async def open_backend(settings: Settings) -> Backend | None:
    return None


NAME = "none"
"""The backend's name, for reports."""
