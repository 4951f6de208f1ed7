from contextlib import AsyncExitStack

from sqlalchemy import text

from {{ cookiecutter.package_name }}.db import make_engine
from {{ cookiecutter.package_name }}.settings import Settings

PRAGMAS = ("journal_mode", "busy_timeout", "synchronous", "foreign_keys")


async def test_every_pooled_connection_has_the_concurrency_pragmas(settings: Settings) -> None:
    engine = make_engine(settings)
    try:
        async with AsyncExitStack() as stack:
            # Two connections open at once: the second is new, and must get them too.
            connections = [await stack.enter_async_context(engine.connect()) for _ in range(2)]
            seen = [
                {name: (await connection.execute(text(f"PRAGMA {name}"))).scalar_one() for name in PRAGMAS}
                for connection in connections
            ]
    finally:
        await engine.dispose()

    # a writer waits for the lock as long as a request may run; synchronous=1 is NORMAL
    busy_timeout = settings.request_timeout_seconds * 1000
    assert seen == [{"journal_mode": "wal", "busy_timeout": busy_timeout, "synchronous": 1, "foreign_keys": 1}] * 2
