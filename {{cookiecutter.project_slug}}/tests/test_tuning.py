import math
import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from {{ cookiecutter.package_name }}.tuning import (
    MAX_CONNECTIONS_PER_WORKER,
    BudgetError,
    cores_from_cpu_max,
    cores_from_quota,
    detect_cpu_cores,
    plan_for,
    pool_budget,
    quota_cores,
    reserved_connections,
    workers_for,
)

cores = st.integers(1, 256)
max_connections = st.integers(10, 20_000)
instances = st.integers(1, 200)


@given(cores)
def test_one_async_worker_per_core(n: int) -> None:
    assert workers_for(n) == n


@given(max_connections)
def test_reserve_is_a_tenth_and_never_below_three(limit: int) -> None:
    reserve = reserved_connections(limit)

    assert reserve >= 3
    assert reserve >= limit / 10
    assert reserve < limit


@given(max_connections, instances, cores)
def test_a_computed_pool_always_fits_or_is_refused(limit: int, hosts: int, workers: int) -> None:
    available = limit - reserved_connections(limit)
    try:
        pool = pool_budget(limit, hosts, workers)
    except BudgetError:
        assert hosts * workers > available
        return
    assert pool.pool_size >= 1
    assert pool.max_overflow >= 0
    assert pool.per_worker <= MAX_CONNECTIONS_PER_WORKER
    assert hosts * workers * pool.per_worker <= available


@given(max_connections, instances, cores)
def test_the_pool_uses_the_budget_up_to_the_per_worker_cap(limit: int, hosts: int, workers: int) -> None:
    available = limit - reserved_connections(limit)
    if hosts * workers > available:
        return
    pool = pool_budget(limit, hosts, workers)

    assert pool.per_worker == min(available // (hosts * workers), MAX_CONNECTIONS_PER_WORKER)


@given(max_connections, instances, cores, st.integers(1, 100), st.integers(0, 100))
def test_overrides_are_kept_exactly_or_refused(limit: int, hosts: int, workers: int, size: int, overflow: int) -> None:
    try:
        plan = plan_for(1, limit, hosts, workers=workers, pool_size=size, max_overflow=overflow)
    except BudgetError as error:
        assert f"db_max_connections={limit}" in str(error)
        return
    assert (plan.workers, plan.pool.pool_size, plan.pool.max_overflow) == (workers, size, overflow)
    assert plan.total_connections <= limit - plan.reserve


def test_too_many_workers_for_the_server_is_refused_with_the_arithmetic() -> None:
    with pytest.raises(BudgetError, match=r"need at least 200 database connections"):
        pool_budget(db_max_connections=100, instances=50, workers=4)


@given(st.integers(1, 10**7), st.integers(1_000, 10**6))
def test_a_cfs_quota_grants_its_cpus_rounded_up(quota: int, period: int) -> None:
    granted = cores_from_quota(quota, period)

    assert granted == max(1, math.ceil(quota / period))
    assert cores_from_cpu_max(f"{quota} {period}\n") == granted


@pytest.mark.parametrize("text", ["max 100000", "max 100000\n"])
def test_cpu_max_without_limit_grants_nothing(text: str) -> None:
    assert cores_from_cpu_max(text) is None


def test_no_cfs_quota_grants_nothing() -> None:
    assert cores_from_quota(-1, 100_000) is None


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_cgroup_v2_quota_is_read_from_the_process_cgroup(tmp_path: Path) -> None:
    write(tmp_path / "proc" / "cgroup", "0::/kubepods/pod1\n")
    write(tmp_path / "fs" / "kubepods" / "pod1" / "cpu.max", "250000 100000\n")

    assert quota_cores(tmp_path / "fs", tmp_path / "proc" / "cgroup") == 3


def test_cgroup_v2_namespace_root_is_used_inside_a_container(tmp_path: Path) -> None:
    write(tmp_path / "proc" / "cgroup", "0::/\n")
    write(tmp_path / "fs" / "cpu.max", "200000 100000\n")

    assert quota_cores(tmp_path / "fs", tmp_path / "proc" / "cgroup") == 2


def test_cgroup_v1_cfs_quota_is_read(tmp_path: Path) -> None:
    write(tmp_path / "proc" / "cgroup", "4:cpu,cpuacct:/docker/abc\n1:name=systemd:/\n")
    write(tmp_path / "fs" / "cpu,cpuacct" / "cpu.cfs_quota_us", "150000\n")
    write(tmp_path / "fs" / "cpu,cpuacct" / "cpu.cfs_period_us", "100000\n")

    assert quota_cores(tmp_path / "fs", tmp_path / "proc" / "cgroup") == 2


def test_no_cgroup_files_means_no_quota(tmp_path: Path) -> None:
    assert quota_cores(tmp_path / "fs", tmp_path / "missing") is None


def test_detected_cores_never_exceed_the_cpus_this_process_may_use() -> None:
    allowed = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()

    assert 1 <= detect_cpu_cores() <= (allowed or 1)
