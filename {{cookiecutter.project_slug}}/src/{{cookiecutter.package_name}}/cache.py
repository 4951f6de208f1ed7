"""The response cache: keys, tags, and freshness that holds under concurrent writes.

Resolvers tag what they read (`users`, `user:7`, `posts`); a mutation bumps the
version of every tag it changes before it returns. An entry is served only while
the versions of all its tags are still those it was stored with.

A response computed while a write was under way must never be stored as fresh:
each request takes the global write generation before it reads anything, and its
response is stored only if the generation is unchanged when the tag versions are
read for the entry (one snapshot). A write bumps the generation first, then its
tags. So an entry is either stored with versions from before a write's tag bump
(and stops matching once the write returns), or computed entirely after the
write began, when its reads already saw the write's committed rows.

A backend (cache_{{ cookiecutter.cache_backend }}.py) only stores bytes and counters; this module
owns the protocol, and fails open: when a backend call fails, the request is answered
uncached, and the worker stops using the cache (no request waits on a backend that is
down) until no entry it could serve can be stale:

- a write whose invalidation cannot be delivered is still answered, since it is
  committed; the worker counts it as deferred;
- one task per worker tries the backend every RETRY_SECONDS. When it answers, the
  task bumps the write generation and EPOCH, a version every entry is stored with, in
  one transaction: every entry stored before then stops matching, whoever stored it
  and whichever writes it missed. Writes deferred while that transaction was under
  way get one more (they may have committed after it); then the worker uses the cache
  again. Entries stored from then on were computed after every deferred write had
  committed, as the generation, bumped in the same transaction, proves.

Every worker that saw a failure does this, whether it deferred writes or not: it
cannot know what other instances wrote meanwhile, nor which bumps a backend restarted
from its disk lost. A backend server that can restart with its data counts a restart
as a failure when it is next spoken to, so that an instance idle through the outage
does this too. What is left: an instance that saw no failure while the backend hung
(and so saw no restart) can serve an entry stored before the outage until the instance
that deferred the write has bumped the epoch, which that one tries every RETRY_SECONDS;
and a worker that exits before the backend answers again takes its deferred writes
with it (it logs how many): their entries may live out their TTL.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
import struct
import time
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from .logs import describe
from .monitoring import RESPONSE_CACHE, RESPONSE_CACHE_DEFERRED, RESPONSE_CACHE_PENDING, RESPONSE_CACHE_UP
from .timing import spent

log = logging.getLogger(__name__)

GENERATION = "*"
"""The version every write bumps, before its own tags."""
EPOCH = "*epoch"
"""A version every entry is stored with besides its tags' (no tag starts with `*`), bumped
when a worker uses the cache again after a failure: no entry from before still matches."""
RETRY_SECONDS = 0.05
"""While the backend fails, how often a worker's recovery task tries it again: after it answers,
how long another instance may serve what a deferred write changed. An attempt on a backend that
is down costs a refused connection, or a socket held for its timeout on one that hangs."""
BACKEND = "{{ cookiecutter.cache_backend }}"

T = TypeVar("T")

# A string or block string, kept as it is; or a run of what GraphQL ignores between
# tokens (white space, commas, comments), which becomes one space.
_INSIGNIFICANT = re.compile(r'("""(?:\\"""|(?!""")[\s\S])*"""|"(?:\\.|[^"\\\n])*")|(?:[\s,]|#[^\n\r]*)+')


def normalize_query(query: str) -> str:
    """The query text with every run of white space, commas and comments between tokens
    folded to one space, so that re-indented copies of a query share a cache entry."""
    return _INSIGNIFICANT.sub(lambda match: match.group(1) or " ", query).strip()


def response_key(query: str, variables: Any, operation_name: str | None, scope: str | None) -> str:
    """SHA-256 of the normalized query, the variables (keys sorted), the operation name
    and the caller's credentials, if any."""
    canonical = json.dumps(
        [normalize_query(query), variables or {}, operation_name, scope], sort_keys=True, separators=(",", ":")
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def auth_scope(authorization: str | None, cookie: str | None) -> str | None:
    """What separates one caller's cached answers from another's: a digest of their
    credentials, or None for anonymous requests, which all share entries."""
    if not authorization and not cookie:
        return None
    return hashlib.sha256(f"{authorization or ''}\0{cookie or ''}".encode()).hexdigest()


class EntryStore(Protocol):
    async def get(self, key: str) -> bytes | None: ...
    async def set(self, key: str, value: bytes, ttl_seconds: int) -> None: ...


class VersionStore(Protocol):
    async def read(self, names: Sequence[str]) -> list[int]:
        """The versions of `names`, read as one snapshot."""
        ...

    async def bump(self, names: Sequence[str]) -> None:
        """Increment each of `names`, in order."""
        ...


class Backend(Protocol):
    @property
    def entries(self) -> EntryStore: ...
    @property
    def versions(self) -> VersionStore: ...

    async def ping(self) -> None: ...
    async def close(self) -> None: ...


def _encode(tags: Sequence[str], versions: Sequence[int], body: bytes) -> bytes:
    header = json.dumps([list(tags), list(versions)]).encode()
    return struct.pack(">I", len(header)) + header + body


def _decode(entry: bytes) -> tuple[list[str], list[int], bytes]:
    (length,) = struct.unpack_from(">I", entry)
    tags, versions = json.loads(entry[4 : 4 + length])
    return tags, versions, entry[4 + length :]


@dataclass
class _Outage:
    """Since when, and why, a worker has not used the cache; and what it owes it."""

    reason: str
    started: float = field(default_factory=time.monotonic)
    deferred: int = 0
    """Writes committed meanwhile whose invalidation has not reached the backend."""


class ResponseCache:
    """Fresh-after-write response cache over a backend; `ResponseCache(None)` caches nothing."""

    def __init__(self, backend: Backend | None, ttl_seconds: int) -> None:
        self.backend = backend
        self.ttl_seconds = ttl_seconds
        self._outage: _Outage | None = None
        self._recovery: asyncio.Task[None] | None = None
        if backend is not None:
            RESPONSE_CACHE_UP.labels(BACKEND).set(1)

    @property
    def enabled(self) -> bool:
        return self.backend is not None and self.ttl_seconds > 0

    @property
    def in_use(self) -> bool:
        """Enabled, and not set aside for an outage: answers are being stored."""
        return self.enabled and self._outage is None

    async def _guarded(self, call: Callable[[], Awaitable[T]], fallback: T) -> T:
        """`call()`; or `fallback`, without asking the backend, from its first failure until
        the recovery task has made sure that nothing stored before it can be served."""
        if self._outage is not None:
            return fallback
        started = time.perf_counter()
        try:
            return await call()
        except Exception as exc:  # noqa: BLE001 - any cache failure must degrade to "uncached"
            RESPONSE_CACHE.labels("error").inc()
            self._fail(exc)
            return fallback
        finally:
            spent("cache", time.perf_counter() - started)

    def _fail(self, error: Exception) -> None:
        if self._outage is not None:  # a call that was under way when the outage began
            return
        outage = self._outage = _Outage(describe(error))
        # One line per outage, without a traceback: the reason is all there is to it.
        log.warning("response cache unavailable, answering uncached until it answers again: %s", outage.reason)
        RESPONSE_CACHE_UP.labels(BACKEND).set(0)
        self._recovery = asyncio.create_task(self._recover(outage), name="response cache recovery")

    async def _recover(self, outage: _Outage) -> None:
        """Until the backend answers, try it every RETRY_SECONDS; then retire every entry stored
        before now, and use the cache again."""
        assert self.backend is not None
        versions = self.backend.versions
        delivered = 0
        while True:
            deferred = outage.deferred
            try:
                # The generation too: a request that began before this bump stores nothing after it.
                await versions.bump([GENERATION, EPOCH])
            except Exception:  # noqa: BLE001 - still down; the outage was logged when it began
                await asyncio.sleep(RETRY_SECONDS)
                continue
            outage.deferred -= deferred
            delivered += deferred
            RESPONSE_CACHE_PENDING.dec(deferred)
            if not outage.deferred:  # else written while the bump was under way, perhaps committed after it
                break
        self._outage = None
        RESPONSE_CACHE_UP.labels(BACKEND).set(1)
        log.info(
            "response cache answers again after %.1f s; invalidations of %d writes delivered, "
            "entries cached before the outage retired",
            time.monotonic() - outage.started,
            delivered,
        )

    async def check(self) -> str | None:
        """Why answers are computed uncached, or None while the cache is in use (or there is
        none). Asks the backend while it is trusted, so that a readiness probe notices an
        outage that no request has met."""
        if self.backend is not None:
            await self._guarded(self.backend.ping, None)
        return self._outage.reason if self._outage is not None else None

    async def begin(self) -> int | None:
        """The write generation, taken before a request reads anything; None when caching is off."""
        if not self.enabled:
            return None
        assert self.backend is not None
        versions = self.backend.versions
        generation = await self._guarded(lambda: versions.read([GENERATION]), None)
        return generation[0] if generation else None

    async def get(self, key: str) -> bytes | None:
        """The cached body for `key` if every tag it was stored with is unchanged."""
        if not self.enabled:
            return None
        assert self.backend is not None
        backend = self.backend

        async def fresh_body() -> bytes | None:
            entry = await backend.entries.get(key)
            if entry is None:
                return None
            tags, versions, body = _decode(entry)
            return body if await backend.versions.read(tags) == versions else None

        return await self._guarded(fresh_body, None)

    async def put(self, key: str, body: bytes, tags: Collection[str], generation: int | None) -> None:
        """Store `body` unless a write has begun since `generation` was taken."""
        if generation is None or not self.enabled:
            return
        assert self.backend is not None
        backend = self.backend
        names = [*sorted(tags), EPOCH]

        async def store() -> None:
            *versions, now = await backend.versions.read([*names, GENERATION])
            if now == generation:
                await backend.entries.set(key, _encode(names, versions, body), self.ttl_seconds)
                RESPONSE_CACHE.labels("stored").inc()

        await self._guarded(store, None)

    async def invalidate(self, tags: Collection[str]) -> None:
        """Make every entry that read one of `tags` stale: the generation first, then the tags.
        While the backend fails, the write is deferred to the recovery's epoch bump."""
        if self.backend is None:
            return
        versions = self.backend.versions

        async def bump() -> bool:
            await versions.bump([GENERATION, *sorted(tags)])
            return True

        if await self._guarded(bump, False):
            return
        assert self._outage is not None
        self._outage.deferred += 1
        RESPONSE_CACHE_DEFERRED.inc()
        RESPONSE_CACHE_PENDING.inc()

    async def close(self) -> None:
        if self._recovery is not None:
            self._recovery.cancel()
            await asyncio.wait([self._recovery])
        if self._outage is not None and self._outage.deferred:
            log.error(
                "response cache still unavailable as this worker stops: invalidations of %d writes were not "
                "delivered, and answers cached before them may be served for up to %d s",
                self._outage.deferred,
                self.ttl_seconds,
            )
            RESPONSE_CACHE_PENDING.dec(self._outage.deferred)
        if self.backend is not None:
            await self.backend.close()
