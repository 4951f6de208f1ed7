"""Workers, connection-pool budget and CPU detection: the one home of these formulas.

Everything here is pure or reads only /proc and /sys. The template renders its
documentation with these same functions, and the service calls them at start-up,
so a number shown in gunicorn.conf.py, .env.example or PERFORMANCE.md is the
number the service runs with.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

MAX_CONNECTIONS_PER_WORKER = 30
"""An async worker runs one event loop: past ~30 connections (the guide's 20 + 10)
extra ones sit idle while each costs the server several MB."""


class BudgetError(ValueError):
    """The workers of every instance cannot get their pools within the server's limit."""


def workers_for(cores: int) -> int:
    """One async worker per core.

    Gunicorn's `2 x cores + 1` is for sync workers that block on I/O; an async
    worker overlaps I/O in its event loop and GraphQL execution is CPU-bound, so
    more workers than cores add context switches, memory and DB connections but no
    throughput (measured: PERFORMANCE.md, "Workers").
    """
    if cores < 1:
        raise ValueError(f"cores={cores} is not valid: a machine has at least 1 core")
    return cores


def reserved_connections(db_max_connections: int) -> int:
    """Connections left free for superuser slots, migrations and admin sessions:
    10 % of the server's limit, at least 3."""
    return max(3, math.ceil(db_max_connections / 10))


def allowed_connections(db_max_connections: int) -> int:
    """What the service's pools may open in all: the server's limit less the reserve."""
    return db_max_connections - reserved_connections(db_max_connections)


@dataclass(frozen=True)
class PoolBudget:
    """One worker's SQLAlchemy pool: `pool_size` kept open, `max_overflow` for bursts."""

    pool_size: int
    max_overflow: int

    @property
    def per_worker(self) -> int:
        return self.pool_size + self.max_overflow


def pool_budget(db_max_connections: int, instances: int, workers: int) -> PoolBudget:
    """Split what the server allows, less the reserve, evenly over every worker of
    every instance; two thirds stay open, one third is overflow.

    Raises BudgetError when a worker would get no connection at all.
    """
    available = allowed_connections(db_max_connections)
    per_worker = min(available // (instances * workers), MAX_CONNECTIONS_PER_WORKER)
    if per_worker < 1:
        raise BudgetError(
            f"{instances} instance(s) x {workers} worker(s) need at least "
            f"{instances * workers} database connections, one each, but "
            f"db_max_connections={db_max_connections} leaves {max(available, 0)} after "
            f"reserving {reserved_connections(db_max_connections)}"
        )
    pool_size = max(1, per_worker * 2 // 3)
    return PoolBudget(pool_size=pool_size, max_overflow=per_worker - pool_size)


@dataclass(frozen=True)
class Plan:
    """What one host runs with: its workers and each worker's pool."""

    workers: int
    pool: PoolBudget
    db_max_connections: int
    instances: int

    @property
    def reserve(self) -> int:
        return reserved_connections(self.db_max_connections)

    @property
    def total_connections(self) -> int:
        """Connections the whole fleet may open at its peak."""
        return self.instances * self.workers * self.pool.per_worker


def plan_for(
    cores: int,
    db_max_connections: int,
    instances: int,
    *,
    workers: int | None = None,
    pool_size: int | None = None,
    max_overflow: int | None = None,
) -> Plan:
    """Resolve workers and pool from the cores, letting explicit values win, and
    check that the fleet fits the server: instances x workers x (pool_size +
    max_overflow) <= db_max_connections - reserve.

    Raises BudgetError when it does not fit.
    """
    workers = workers if workers is not None else workers_for(cores)
    computed = pool_budget(db_max_connections, instances, workers)
    pool = PoolBudget(
        pool_size=pool_size if pool_size is not None else computed.pool_size,
        max_overflow=max_overflow if max_overflow is not None else computed.max_overflow,
    )
    plan = Plan(workers, pool, db_max_connections, instances)
    available = allowed_connections(db_max_connections)
    if plan.total_connections > available:
        raise BudgetError(
            f"{instances} instance(s) x {workers} worker(s) x pool {pool.pool_size} + "
            f"overflow {pool.max_overflow} = {plan.total_connections} connections, but "
            f"db_max_connections={db_max_connections} leaves {available} after "
            f"reserving {plan.reserve}"
        )
    return plan


def cores_from_quota(quota_us: int, period_us: int) -> int | None:
    """CPUs that a CFS quota grants, rounded up; None when there is no quota."""
    if quota_us <= 0 or period_us <= 0:
        return None
    return max(1, math.ceil(quota_us / period_us))


def cores_from_cpu_max(text: str) -> int | None:
    """Parse cgroup v2 `cpu.max` ("max 100000" or "150000 100000")."""
    quota, _, period = text.strip().partition(" ")
    if quota == "max" or not period:
        return None
    return cores_from_quota(int(quota), int(period))


def _cgroup_paths(proc_self_cgroup: Path) -> dict[str, str]:
    """Controller -> cgroup path of this process ("" is the cgroup v2 hierarchy)."""
    paths: dict[str, str] = {}
    try:
        lines = proc_self_cgroup.read_text().splitlines()
    except OSError:
        return paths
    for line in lines:
        _, controllers, path = line.split(":", 2)
        for controller in controllers.split(",") if controllers else [""]:
            paths[controller] = path
    return paths


def _first_existing(*candidates: Path) -> Path | None:
    return next((path for path in candidates if path.is_file()), None)


def quota_cores(
    cgroup_root: Path = Path("/sys/fs/cgroup"),
    proc_self_cgroup: Path = Path("/proc/self/cgroup"),
) -> int | None:
    """CPUs granted by this process's cgroup quota (v2 `cpu.max`, else v1 CFS), or None.

    Inside a container the cgroup namespace makes the process's own cgroup the
    mount's root, so the root is tried after the path /proc/self/cgroup names.
    """
    paths = _cgroup_paths(proc_self_cgroup)
    v2 = paths.get("", "/").lstrip("/")
    cpu_max = _first_existing(cgroup_root / v2 / "cpu.max", cgroup_root / "cpu.max")
    if cpu_max is not None:
        return cores_from_cpu_max(cpu_max.read_text())
    v1 = paths.get("cpu", "/").lstrip("/")
    for mount in ("cpu", "cpu,cpuacct"):
        quota = _first_existing(
            cgroup_root / mount / v1 / "cpu.cfs_quota_us",
            cgroup_root / mount / "cpu.cfs_quota_us",
        )
        if quota is not None:
            period = quota.with_name("cpu.cfs_period_us")
            return cores_from_quota(int(quota.read_text()), int(period.read_text()))
    return None


def detect_cpu_cores() -> int:
    """Cores this process may really use: the fewest of its CPU affinity and its
    cgroup quota, so that a container limited to 2 CPUs on a 64-core host gets 2."""
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    available = affinity or os.cpu_count() or 1
    quota = quota_cores()
    return min(available, quota) if quota is not None else available
