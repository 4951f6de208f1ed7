"""The service under gunicorn through its lifecycle: SIGTERM finishes what is in flight and
closes the pools; SIGHUP and max_requests replace workers while clients keep sending,
and not one request fails."""

import asyncio
import os
import signal
import time
from collections import Counter
from collections.abc import Callable

import httpx
import psutil

from {{ cookiecutter.package_name }}.perf_check import Served
from {{ cookiecutter.package_name }}.tuning import detect_cpu_cores

from .conftest import gunicorn
from .database_{{ cookiecutter.database }} import write_lock

QUERY = {"query": "{ users { id name } }"}


def log_text(served: Served) -> str:
    """What gunicorn has logged so far, read without moving the offset it writes at."""
    assert served.log is not None
    return os.pread(served.log.fileno(), 1 << 24, 0).decode(errors="replace")


def wait_for_log(served: Served, text: str, count: int = 1, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while log_text(served).count(text) < count:
        assert time.monotonic() < deadline, f"{text!r} x{count} not logged in {timeout} s:\n{log_text(served)}"
        time.sleep(0.1)


async def keep_sending(base: str, stop: asyncio.Event, outcomes: Counter[str], clients: int = 8) -> None:
    """Keep-alive clients sending one request after another until `stop`: each outcome counted."""

    async def client() -> None:
        async with httpx.AsyncClient(base_url=base, timeout=30) as session:
            while not stop.is_set():
                try:
                    response = await session.post("/graphql", json=QUERY)
                    outcomes[str(response.status_code)] += 1
                except httpx.HTTPError as error:
                    outcomes[type(error).__name__] += 1

    await asyncio.gather(*(client() for _ in range(clients)))


Step = tuple[Callable[[Counter[str]], bool], Callable[[], None]]
"""An action, and the state (given the outcomes so far) that must hold before it is taken."""


async def under_load(base: str, *steps: Step, until: Callable[[], bool], limit: float = 60) -> Counter[str]:
    """Load until `until()` holds (or `limit` seconds), taking each step in turn once its state holds."""
    stop, outcomes = asyncio.Event(), Counter[str]()
    load = asyncio.create_task(keep_sending(base, stop, outcomes))
    pending = list(steps)
    settled: int | None = None  # answers counted when `until()` held: 50 more follow, on the new workers
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if pending and pending[0][0](outcomes):
            pending.pop(0)[1]()
        elif not pending and settled is None and until():
            settled = sum(outcomes.values())
        elif settled is not None and sum(outcomes.values()) >= settled + 50:
            break
        else:
            await asyncio.sleep(0.1)
    stop.set()
    await load
    return outcomes


async def test_sighup_replaces_every_worker_without_a_failed_request(database_url: str, tables: None) -> None:
    with gunicorn(database_url, workers=2) as served:
        assert served.pid is not None
        wait_for_log(served, "Application startup complete", 2)

        def reload() -> None:
            os.kill(served.pid or 0, signal.SIGHUP)

        def started() -> int:  # 2 at start, 2 more for each reload, each up and serving
            return log_text(served).count("Application startup complete")

        def replaced_twice() -> bool:
            return started() >= 6

        # The second SIGHUP once the first one's workers serve: sent earlier, on a loaded machine,
        # it replaced workers that had not started yet.
        steps: list[Step] = [(lambda sent: sent["200"] >= 20, reload), (lambda _: started() >= 4, reload)]
        outcomes = await under_load(served.base, *steps, until=replaced_twice)
        assert replaced_twice(), log_text(served)

    assert set(outcomes) == {"200"}, outcomes
    assert outcomes["200"] > 50


def test_the_start_logs_the_plan_with_the_cores_it_detected(database_url: str, tables: None) -> None:
    with gunicorn(database_url, workers=1, CPU_CORES="auto") as served:
        wait_for_log(served, f"plan: {detect_cpu_cores()} core(s) detected (CPU_CORES=auto) -> 1 worker(s), each")


def test_ctrl_c_stops_every_worker_without_a_warning(database_url: str, tables: None) -> None:
    """A terminal's Ctrl-C reaches the master and every worker: each shuts down cleanly, and
    none is reported as killed by the signal."""
    with gunicorn(database_url, workers=2) as served:
        wait_for_log(served, "Application startup complete", 2)
        assert served.pid is not None
        for process in [psutil.Process(served.pid), *psutil.Process(served.pid).children()]:
            process.send_signal(signal.SIGINT)
        wait_for_log(served, "Shutting down: Master")

        assert log_text(served).count("Application shutdown complete") == 2
        assert "was sent SIGINT" not in log_text(served)
        assert "Error while closing socket" not in log_text(served)


async def test_max_requests_recycling_loses_no_request(database_url: str, tables: None) -> None:
    recycle = {"GUNICORN_CMD_ARGS": "--max-requests 200 --max-requests-jitter 0"}
    with gunicorn(database_url, workers=1, **recycle) as served:

        def recycled_twice() -> bool:
            return log_text(served).count("Application startup complete") >= 3

        outcomes = await under_load(served.base, until=recycled_twice)
        assert recycled_twice(), log_text(served)

    assert set(outcomes) == {"200"}, outcomes


async def test_sigterm_finishes_the_request_in_flight_then_closes_the_pools(database_url: str, tables: None) -> None:
    mutation = {"query": 'mutation { createUser(name: "Fay", email: "fay@example.com") { id name } }'}
    with gunicorn(database_url, workers=1) as served:
        async with httpx.AsyncClient(base_url=served.base, timeout=30) as client:
            async with write_lock(database_url):  # the mutation waits for the lock: in flight
                in_flight = asyncio.create_task(client.post("/graphql", json=mutation))
                await asyncio.sleep(0.5)
                os.kill(served.pid or 0, signal.SIGTERM)
                await asyncio.sleep(1)
                assert not in_flight.done(), "the request was answered before it could be in flight"
            answered = await in_flight
        await asyncio.to_thread(wait_for_log, served, "Shutting down: Master")
        log = log_text(served)

    assert answered.status_code == 200, answered.text
    assert answered.json()["data"]["createUser"]["name"] == "Fay"
    assert "Application shutdown complete" in log  # the lifespan ran: the pools are closed
    assert "Cancel" not in log and "Traceback" not in log, log


async def test_a_request_outliving_graceful_timeout_still_leaves_time_to_close_the_pools(
    database_url: str, tables: None
) -> None:
    mutation = {"query": 'mutation { createUser(name: "Gus", email: "gus@example.com") { id } }'}
    with gunicorn(database_url, workers=1, GUNICORN_CMD_ARGS="--graceful-timeout 7") as served:
        async with httpx.AsyncClient(base_url=served.base, timeout=30) as client:
            async with write_lock(database_url):  # held until gunicorn has given up on the request
                in_flight = asyncio.create_task(client.post("/graphql", json=mutation))
                await asyncio.sleep(0.5)
                os.kill(served.pid or 0, signal.SIGTERM)
                await asyncio.to_thread(wait_for_log, served, "Shutting down: Master", 1, 15)
            await asyncio.gather(in_flight, return_exceptions=True)  # cut off: it outlived graceful_timeout
        log = log_text(served)

    assert "Application shutdown complete" in log, log
