"""The memory monitor: a gauge per worker, and a warning above MEMORY_WARN_MB."""

import asyncio
import logging

import pytest

from {{ cookiecutter.package_name }}.memory import MemoryMonitor, monitor_memory
from {{ cookiecutter.package_name }}.settings import Settings


def test_a_sample_under_the_limit_logs_nothing(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        rss = MemoryMonitor(warn_mb=1_000_000).sample()

    assert rss > 10
    assert caplog.records == []


def test_a_sample_over_the_limit_warns_with_the_numbers(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        rss = MemoryMonitor(warn_mb=64).sample()

    assert rss > 64, "a Python worker with its dependencies loaded uses more than 64 MB"
    message = caplog.records[-1].getMessage()
    assert f"{rss:.0f} MB" in message and "above MEMORY_WARN_MB=64" in message
    assert "TRACEMALLOC=1" in message


async def test_the_lifespan_task_samples_and_lists_allocation_sites_with_tracemalloc(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    traced = settings.model_copy(update={"memory_warn_mb": 64, "memory_check_seconds": 0.05, "tracemalloc": True})
    warnings: list[str] = []
    with caplog.at_level(logging.WARNING):
        async with monitor_memory(traced):
            hoard = [bytearray(1024) for _ in range(20_000)]  # ~20 MB from one line of this file
            for _ in range(100):  # the task samples every MEMORY_CHECK_SECONDS: wait for two
                await asyncio.sleep(0.05)
                warnings = [record.getMessage() for record in caplog.records if "MEMORY_WARN_MB" in record.getMessage()]
                if len(warnings) >= 2:
                    break
    del hoard

    assert len(warnings) >= 2
    assert "test_memory.py:" in warnings[-1].splitlines()[1], "the largest allocation site comes first"
