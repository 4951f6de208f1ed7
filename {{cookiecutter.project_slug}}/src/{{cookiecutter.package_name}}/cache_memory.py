"""The memory backend: entries in each worker's own bounded TTL cache; tag versions
shared by every worker of the host through a memory-mapped file.

A worker's entries are its own, but a write on any worker must make them stale on
all of them, so the versions live outside the processes: a file of counters that
every worker maps. Increments hold an exclusive flock (released by the kernel if a
worker dies mid-way); reads hold a shared one. Both last microseconds, so taking
them on the event loop costs less than handing them to a thread would.
"""

from __future__ import annotations

import asyncio
import fcntl
import hashlib
import mmap
import os
import struct
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from cachetools import TTLCache

from .cache import Backend
from .settings import Settings

ENTRY_BYTES = 64 * 2**20
"""Response bytes each worker keeps at most; the least recently used go first."""
SLOTS = 65_536
"""Counters in the shared file. Tags share a slot by hash: a write to one then also
invalidates the other's entries (a spurious miss), never the reverse."""
VERSIONS_FILE = "RESPONSE_CACHE_VERSIONS"
"""Environment variable naming the shared file; gunicorn's master sets it for its workers."""

_COUNTER = struct.Struct("<q")


def create_versions_file() -> str:
    """A zeroed file of SLOTS counters; the caller shares its path and removes it."""
    handle, path = tempfile.mkstemp(prefix="response-cache-versions-")
    os.ftruncate(handle, SLOTS * _COUNTER.size)
    os.close(handle)
    return path


def prepare_host() -> None:
    """In gunicorn's master, before the fork: one versions file for all its workers."""
    os.environ[VERSIONS_FILE] = create_versions_file()


def cleanup_host() -> None:
    Path(os.environ.pop(VERSIONS_FILE, "")).unlink(missing_ok=True)


class MemoryEntries:
    def __init__(self, ttl_seconds: int) -> None:
        self._entries: TTLCache[str, bytes] = TTLCache(ENTRY_BYTES, ttl_seconds, getsizeof=len)

    async def get(self, key: str) -> bytes | None:
        return self._entries.get(key)

    async def set(self, key: str, value: bytes, ttl_seconds: int) -> None:
        if len(value) <= ENTRY_BYTES:
            self._entries[key] = value


class SharedVersions:
    def __init__(self, path: str) -> None:
        self._file = open(path, "r+b")  # noqa: SIM115 - kept open for the worker's life, closed in close()
        self._map = mmap.mmap(self._file.fileno(), SLOTS * _COUNTER.size)

    @staticmethod
    def _offset(name: str) -> int:
        digest = hashlib.blake2b(name.encode(), digest_size=8).digest()
        return int.from_bytes(digest) % SLOTS * _COUNTER.size

    @contextmanager
    def _locked(self, mode: int) -> Iterator[None]:
        fcntl.flock(self._file, mode)
        try:
            yield
        finally:
            fcntl.flock(self._file, fcntl.LOCK_UN)

    async def read(self, names: Sequence[str]) -> list[int]:
        with self._locked(fcntl.LOCK_SH):
            return [_COUNTER.unpack_from(self._map, self._offset(name))[0] for name in names]

    async def bump(self, names: Sequence[str]) -> None:
        with self._locked(fcntl.LOCK_EX):
            for name in names:
                offset = self._offset(name)
                _COUNTER.pack_into(self._map, offset, _COUNTER.unpack_from(self._map, offset)[0] + 1)

    def close(self) -> None:
        self._map.close()
        self._file.close()


class MemoryBackend:
    def __init__(self, settings: Settings) -> None:
        path = os.environ.get(VERSIONS_FILE)
        # Without gunicorn's master (uvicorn, tests) this process is the only worker.
        self._private = path is None
        self._path = path if path is not None else create_versions_file()
        self.entries = MemoryEntries(settings.cache_ttl_seconds)
        self.versions = SharedVersions(self._path)

    async def ping(self) -> None:
        """Memory is always there."""

    async def close(self) -> None:
        self.versions.close()
        if self._private:
            await asyncio.to_thread(Path(self._path).unlink, missing_ok=True)


async def open_backend(settings: Settings) -> Backend | None:
    if settings.instances > 1:
        raise ValueError(
            f"INSTANCES={settings.instances} with the memory cache: other hosts' writes could not "
            "invalidate this host's entries; generate the service with a cache shared by all instances, or none"
        )
    return MemoryBackend(settings)


NAME = "memory"
"""The backend's name, for reports."""
