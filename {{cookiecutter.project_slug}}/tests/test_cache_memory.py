import asyncio
import multiprocessing
from pathlib import Path

import pytest

from {{ cookiecutter.package_name }}.cache_memory import SharedVersions, create_versions_file, open_backend
from {{ cookiecutter.package_name }}.settings import Settings


def bump_in_another_process(path: str, name: str) -> None:
    asyncio.run(SharedVersions(path).bump([name]))


def test_a_bump_in_one_process_is_read_in_another() -> None:
    path = create_versions_file()
    try:
        mine = SharedVersions(path)
        before = asyncio.run(mine.read(["users", "posts"]))
        worker = multiprocessing.get_context("spawn").Process(target=bump_in_another_process, args=(path, "users"))
        worker.start()
        worker.join(timeout=30)
        after = asyncio.run(mine.read(["users", "posts"]))
        mine.close()
    finally:
        Path(path).unlink()

    assert worker.exitcode == 0
    assert after[0] == before[0] + 1
    assert after[1] == before[1]


async def test_several_instances_are_refused(settings: Settings) -> None:
    with pytest.raises(ValueError, match="INSTANCES=2 with the memory cache"):
        await open_backend(settings.model_copy(update={"instances": 2}))
