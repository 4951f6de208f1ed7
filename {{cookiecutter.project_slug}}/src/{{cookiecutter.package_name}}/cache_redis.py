"""The Redis backend: entries and tag versions in Redis, shared by every worker of every instance.

redis-py's defaults (seconds of socket timeout, several retries with backoff) would
turn an outage into seconds of latency per request; here a call gets one short
attempt, and after a failure requests stop asking until ResponseCache's recovery
task has found Redis answering again (cache.py).

A Redis restarted from its disk answers with what it held before, without the bumps
of writes that could not reach it meanwhile, and redis-py reconnects to it without a
word: a worker idle through the restart would serve those entries. So each new
connection reads the server's run id (`INFO server`), and one that differs from the
last seen fails as an outage does: the worker retires every earlier entry before it
uses the cache again.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence

from redis.asyncio import Connection, Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError

from .cache import Backend
from .settings import Settings

log = logging.getLogger(__name__)

TIMEOUT_SECONDS = 0.25
"""Connect and socket timeout: a cache that answers slower than this is no help to a request."""


def prepare_host() -> None:
    """Nothing to share between workers: Redis is shared already."""


def cleanup_host() -> None:
    """Nothing was shared."""


class ServerRestarted(RedisConnectionError):
    """The server answers from another run than before: what it holds may predate writes."""


class ServerRuns:
    """The run id of the server this worker last connected to, checked on every new connection."""

    def __init__(self) -> None:
        self.run_id: str | None = None
        self.checked = True
        """False once the server refused INFO (an ACL, a proxy): restarts then go unnoticed."""

    async def connect(self, connection: Connection) -> None:
        """redis-py's handshake, then the run id; a ServerRestarted when it changed."""
        await connection.on_connect()
        if not self.checked:
            return
        await connection.send_command("INFO", "server")
        try:
            info = await connection.read_response()
        except ResponseError as error:
            self.checked = False
            log.warning(
                "Redis refused INFO (%s): a restart of it will not be noticed, and until a worker that "
                "deferred a write delivers it, answers cached before the restart may be served",
                error,
            )
            return
        text = info.decode() if isinstance(info, bytes) else str(info)
        run_id = next((line.partition(":")[2].strip() for line in text.splitlines() if line.startswith("run_id:")), "")
        known, self.run_id = self.run_id, run_id
        if known is not None and known != run_id:
            raise ServerRestarted(f"Redis restarted (run {known[:8]} is now {run_id[:8]})")


class RedisEntries:
    def __init__(self, client: Redis, prefix: str) -> None:
        self._client = client
        self._prefix = prefix

    async def get(self, key: str) -> bytes | None:
        value = await self._client.get(self._prefix + key)
        return value if isinstance(value, bytes) else None

    async def set(self, key: str, value: bytes, ttl_seconds: int) -> None:
        await self._client.set(self._prefix + key, value, ex=ttl_seconds)


def version_lifetime(settings: Settings) -> int:
    """Seconds a tag's version outlives its last bump. Once it is gone it reads 0 again, which an
    entry stored before the bump (with the version before it) would match: so longer than any
    entry lives (CACHE_TTL_SECONDS) and than any request takes between reading the generation
    and storing its answer (REQUEST_TIMEOUT_SECONDS), and a minute more. Without a lifetime every
    user ever written left a key behind for good."""
    return settings.cache_ttl_seconds + math.ceil(settings.request_timeout_seconds) + 60


class RedisVersions:
    def __init__(self, client: Redis, prefix: str, lifetime: int) -> None:
        self._client = client
        self._prefix = prefix
        self._lifetime = lifetime

    async def read(self, names: Sequence[str]) -> list[int]:
        values = await self._client.mget([self._prefix + name for name in names])
        return [int(value or 0) for value in values]

    async def bump(self, names: Sequence[str]) -> None:
        async with self._client.pipeline(transaction=True) as pipeline:
            for name in names:
                pipeline.incr(self._prefix + name)
                pipeline.expire(self._prefix + name, self._lifetime)
            await pipeline.execute()


class RedisBackend:
    def __init__(self, settings: Settings) -> None:
        self._client = Redis.from_url(
            settings.redis_url,
            socket_timeout=TIMEOUT_SECONDS,
            socket_connect_timeout=TIMEOUT_SECONDS,
            retry=Retry(NoBackoff(), 0),
            redis_connect_func=ServerRuns().connect,
        )
        prefix = settings.cache_key_prefix
        self.entries = RedisEntries(self._client, prefix + "response:")
        self.versions = RedisVersions(self._client, prefix + "version:", version_lifetime(settings))

    async def ping(self) -> None:
        await self._client.ping()

    async def close(self) -> None:
        await self._client.aclose()


async def open_backend(settings: Settings) -> Backend | None:
    """A client that connects on first use, so a Redis that is down does not stop the start."""
    return RedisBackend(settings)


NAME = "redis"
"""The backend's name, for reports."""
