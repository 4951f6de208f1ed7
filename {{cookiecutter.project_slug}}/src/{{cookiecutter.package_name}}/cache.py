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
owns the protocol, and fails open: a backend error is a miss, logged once
per outage, and the backend is left alone for BACKOFF_SECONDS.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import struct
import time
from collections.abc import Awaitable, Callable, Collection, Sequence
from typing import Any, Protocol, TypeVar

from .monitoring import RESPONSE_CACHE
from .timing import spent

log = logging.getLogger(__name__)

GENERATION = "*"
"""The version every write bumps, before its own tags."""
BACKOFF_SECONDS = 5.0
"""After a backend error, requests skip the cache this long instead of each waiting on it."""

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


class ResponseCache:
    """Fresh-after-write response cache over a backend; `ResponseCache(None)` caches nothing."""

    def __init__(self, backend: Backend | None, ttl_seconds: int) -> None:
        self.backend = backend
        self.ttl_seconds = ttl_seconds
        self._down_until = 0.0

    @property
    def enabled(self) -> bool:
        return self.backend is not None and self.ttl_seconds > 0

    async def _guarded(self, call: Callable[[], Awaitable[T]], fallback: T) -> T:
        """`call()`, or `fallback` while the backend fails and for BACKOFF_SECONDS after."""
        if time.monotonic() < self._down_until:
            return fallback
        started = time.perf_counter()
        try:
            result = await call()
        except Exception as exc:  # noqa: BLE001 - any cache failure must degrade to "uncached"
            if self._down_until == 0.0:
                log.error("response cache unavailable, answering uncached: %s", exc)
            RESPONSE_CACHE.labels("error").inc()
            self._down_until = time.monotonic() + BACKOFF_SECONDS
            return fallback
        finally:
            spent("cache", time.perf_counter() - started)
        if self._down_until:
            log.warning("response cache answers again")
            self._down_until = 0.0
        return result

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
        names = sorted(tags)

        async def store() -> None:
            *versions, now = await backend.versions.read([*names, GENERATION])
            if now == generation:
                await backend.entries.set(key, _encode(names, versions, body), self.ttl_seconds)
                RESPONSE_CACHE.labels("stored").inc()

        await self._guarded(store, None)

    async def invalidate(self, tags: Collection[str]) -> None:
        """Make every entry that read one of `tags` stale: the generation first, then the tags."""
        if self.backend is None:
            return
        versions = self.backend.versions
        started = time.perf_counter()
        try:
            await versions.bump([GENERATION, *sorted(tags)])
        except Exception:
            # Cached entries under these tags may outlive this write by up to the TTL.
            log.exception("could not invalidate %s: cached answers may be stale for up to %d s", tags, self.ttl_seconds)
        finally:
            spent("cache", time.perf_counter() - started)

    async def ping(self) -> None:
        if self.backend is not None:
            await self.backend.ping()

    async def close(self) -> None:
        if self.backend is not None:
            await self.backend.close()
