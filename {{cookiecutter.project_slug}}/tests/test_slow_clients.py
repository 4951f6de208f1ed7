"""The service's edge under gunicorn, driven with raw sockets: what the server does before
(and after) the app. A request head must arrive whole within CLIENT_TIMEOUT_SECONDS and
below MAX_HEADER_BYTES, a body may not pause longer than CLIENT_TIMEOUT_SECONDS, every
answer the server gives itself is JSON (protocol.py); answers do not name the server;
each service has a gunicorn control socket of its own (gunicorn.conf.py).

Waits are bounded by HANG, which only guards against a hang: a connection still open
after it is one the server held.
"""

import asyncio
import json
import os
import select
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
from gunicorn.ctl.client import ControlClient

from {{ cookiecutter.package_name }}.perf_check import Served

from .conftest import PROJECT, gunicorn, service_env
from .database_{{ cookiecutter.database }} import write_lock
from .test_lifecycle import log_text, wait_for_log

HANG = 30.0
"""Seconds after which a connection the server has not closed counts as held."""
LIMITS = {"CLIENT_TIMEOUT_SECONDS": "1", "MAX_HEADER_BYTES": "4096"}
HEAD = b"GET /health/live HTTP/1.1\r\nHost: test\r\n"
TYPENAME = b'{"query": "{ __typename }"}'


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def errors(self) -> list[dict[str, Any]]:
        """The JSON errors of an answer the service refused with: checks that it is JSON."""
        assert self.headers["content-type"] == "application/json", self
        errors: list[dict[str, Any]] = json.loads(self.body)["errors"]
        return errors


class Client:
    """One raw connection to the service."""

    def __init__(self, served: Served) -> None:
        host, _, port = served.base.removeprefix("http://").rpartition(":")
        self.sock = socket.create_connection((host, int(port)), timeout=HANG)
        self.buffer = b""

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *_: object) -> None:
        self.sock.close()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def answer(self) -> Answer:
        """The next whole answer on the connection."""
        while (answer := self._take()) is None:
            chunk = self._recv()
            assert chunk, f"the server closed the connection before answering: {self.buffer!r}"
            self.buffer += chunk
        return answer

    def answers_until_closed(self) -> list[Answer]:
        """Every answer still to come, once the server has closed the connection (within HANG)."""
        while chunk := self._recv():
            self.buffer += chunk
        answers = []
        while (answer := self._take()) is not None:
            answers.append(answer)
        assert not self.buffer, f"an incomplete answer: {self.buffer!r}"
        return answers

    def readable(self, seconds: float) -> bool:
        return bool(select.select([self.sock], [], [], seconds)[0])

    def _recv(self) -> bytes:
        try:
            return self.sock.recv(1 << 16)
        except TimeoutError:
            pytest.fail(f"the server held the connection open for {HANG:g} s")
        except ConnectionResetError:
            return b""  # closed with our bytes unread: what it sent before is already in self.buffer

    def _take(self) -> Answer | None:
        head, found, rest = self.buffer.partition(b"\r\n\r\n")
        if not found:
            return None
        status_line, *lines = head.decode("latin-1").split("\r\n")
        headers = {name.strip().lower(): value.strip() for name, _, value in (line.partition(":") for line in lines)}
        length = int(headers.get("content-length", "0"))
        if len(rest) < length:
            return None
        self.buffer = rest[length:]
        return Answer(int(status_line.split()[1]), headers, rest[:length])


def worker_pids(served: Served) -> set[int]:
    assert served.pid is not None
    return {child.pid for child in psutil.Process(served.pid).children()}


@pytest.fixture(scope="module")
def served(database_url: str) -> Iterator[Served]:
    """One service, with small limits, for the tests that leave it running."""
    with gunicorn(database_url, workers=1, **LIMITS) as served:
        yield served


# Heads


def test_a_head_sent_in_part_is_answered_408_and_closed(served: Served) -> None:
    with Client(served) as client:
        client.send(HEAD + b"X-Half: ")
        answers = client.answers_until_closed()

    assert [answer.status for answer in answers] == [408], answers
    assert "CLIENT_TIMEOUT_SECONDS=1" in answers[0].errors()[0]["message"]


def test_a_head_trickled_a_byte_at_a_time_is_closed_once_its_time_is_up(served: Served) -> None:
    """Each byte comes well within the limit; the head as a whole does not."""
    with Client(served) as client:
        client.send(HEAD + b"X-Slow: ")
        deadline = time.monotonic() + HANG
        while not client.readable(0.3):
            assert time.monotonic() < deadline, f"the server held a trickling head for {HANG:g} s"
            try:
                client.send(b"a")
            except OSError:  # closed between the check and the byte
                break
        answers = client.answers_until_closed()

    assert [answer.status for answer in answers] == [408], answers


def test_a_connection_that_sends_nothing_is_closed(served: Served) -> None:
    with Client(served) as client:
        assert client.answers_until_closed() == []


@pytest.mark.parametrize("after_a_request", [False, True], ids=["new", "kept-alive"])
def test_blank_lines_alone_do_not_hold_a_connection(served: Served, after_a_request: bool) -> None:
    """httptools skips CRLFs before a request without beginning one; they used to stop every timer."""
    with Client(served) as client:
        if after_a_request:
            client.send(HEAD + b"\r\n")
            assert client.answer().status == 200
        client.send(b"\r\n")
        answers = client.answers_until_closed()

    assert [answer.status for answer in answers] == [408], answers


def test_a_head_over_max_header_bytes_is_refused_431_and_the_worker_stays(served: Served) -> None:
    workers = worker_pids(served)
    with Client(served) as client:
        client.send(HEAD + b"X-Big: " + b"a" * 65_536 + b"\r\n\r\n")
        answers = client.answers_until_closed()

    assert [answer.status for answer in answers] == [431], answers
    assert "MAX_HEADER_BYTES=4096" in answers[0].errors()[0]["message"]
    assert httpx.get(f"{served.base}/health/live", timeout=HANG).status_code == 200
    assert worker_pids(served) == workers


def test_keep_alive_requests_with_a_large_allowed_header_and_idle_gaps_still_work(served: Served) -> None:
    """Idle time between requests is keep-alive's (10 s), not the head's limit (1 s here)."""
    large = b"X-Large: " + b"a" * 3_500 + b"\r\n"  # the whole head stays below MAX_HEADER_BYTES=4096
    post = b"POST /graphql HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
    with Client(served) as client:
        client.send(HEAD + large + b"\r\n")
        first = client.answer()
        time.sleep(1.5)
        client.send(post + b"Content-Length: %d\r\n\r\n" % len(TYPENAME) + TYPENAME)
        second = client.answer()
        time.sleep(1.5)
        client.send(HEAD + large + b"Connection: close\r\n\r\n")
        third = client.answer()
        assert client.answers_until_closed() == []

    assert [first.status, second.status, third.status] == [200, 200, 200]
    assert json.loads(second.body) == {"data": {"__typename": "Query"}}


def test_pipelined_requests_are_answered_in_order(served: Served) -> None:
    post = b"POST /graphql HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
    with Client(served) as client:
        client.send(
            HEAD + b"\r\n"
            + post + b"Content-Length: %d\r\n\r\n" % len(TYPENAME) + TYPENAME
            + HEAD + b"Connection: close\r\n\r\n"
        )  # fmt: skip
        answers = client.answers_until_closed()

    assert [answer.status for answer in answers] == [200, 200, 200], answers
    assert json.loads(answers[1].body) == {"data": {"__typename": "Query"}}


# Bodies


def stalled_post() -> bytes:
    """A POST whose body stops after its first bytes."""
    return (
        b"POST /graphql HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
        b'Content-Length: 100\r\n\r\n{"query": '
    )


def test_a_body_that_stalls_is_answered_408_and_closed(served: Served) -> None:
    with Client(served) as client:
        client.send(stalled_post())
        answers = client.answers_until_closed()

    assert [answer.status for answer in answers] == [408], answers
    assert "CLIENT_TIMEOUT_SECONDS=1" in answers[0].errors()[0]["message"]


@pytest.mark.parametrize("client_leaves", [False, True], ids=["stalls", "closes"])
def test_a_body_cut_short_is_not_a_fault_but_a_499_line(served: Served, client_leaves: bool) -> None:
    """The client stopped sending (and the server closed), or closed the connection itself: nothing
    in the service failed. The access line says so as nginx would, 499."""
    before = len(log_text(served))
    lines = log_text(served).count("POST /graphql 499 ")
    with Client(served) as client:
        client.send(stalled_post())
        if not client_leaves:
            client.answers_until_closed()
    wait_for_log(served, "POST /graphql 499 ", lines + 1)  # the app has finished with the request
    log = log_text(served)[before:]

    assert "fault" not in log and "Traceback" not in log and " 500 " not in log, log


def test_a_body_that_keeps_arriving_slowly_is_read_whole(database_url: str) -> None:
    """The limit is on each pause in a body, not on the body's whole time: here 6 pauses of
    0.5 s, 3 s in all, with CLIENT_TIMEOUT_SECONDS=2 (a margin for a loaded machine)."""
    body = json.dumps({"query": "{ __typename }", "variables": {"pad": "a" * 300_000}}).encode()
    with gunicorn(database_url, workers=1, CLIENT_TIMEOUT_SECONDS="2") as served, Client(served) as client:
        client.send(b"POST /graphql HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n")
        client.send(b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body))
        for start in range(0, len(body), 50_000):
            time.sleep(0.5)
            client.send(body[start : start + 50_000])
        answers = client.answers_until_closed()

    assert [answer.status for answer in answers] == [200], answers


async def test_a_pipelined_body_waiting_its_turn_is_not_timed(served: Served, database_url: str, tables: None) -> None:
    """While the server does not read (here: a pipelined request waits for the one before it),
    the client's body cannot be late."""
    mutation = json.dumps({"query": 'mutation { createUser(name: "Jo", email: "jo@example.com") { id } }'}).encode()
    post = b"POST /graphql HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
    with Client(served) as client:
        async with write_lock(database_url):  # the mutation waits, and the request after it with it
            client.send(post + b"Content-Length: %d\r\n\r\n" % len(mutation) + mutation)
            client.send(post + b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(TYPENAME) + TYPENAME[:5])
            await asyncio.sleep(3)  # three times CLIENT_TIMEOUT_SECONDS
            client.send(TYPENAME[5:])
        answers = await asyncio.to_thread(client.answers_until_closed)

    assert [answer.status for answer in answers] == [200, 200], answers
    assert json.loads(answers[1].body) == {"data": {"__typename": "Query"}}


# The server's other answers


def test_answers_do_not_name_the_server(served: Served) -> None:
    with Client(served) as client:
        client.send(HEAD + b"Connection: close\r\n\r\n")
        answer = client.answer()

    assert answer.status == 200
    assert "server" not in answer.headers, answer.headers
    assert "date" in answer.headers


def test_a_request_that_is_not_http_is_refused_as_json(served: Served) -> None:
    with Client(served) as client:
        client.send(b"NOT HTTP AT ALL\r\n\r\n")
        answers = client.answers_until_closed()

    assert [answer.status for answer in answers] == [400], answers
    assert answers[0].errors()


# Shutdown


def test_sigterm_closes_a_connection_mid_head_at_once(database_url: str) -> None:
    """Nothing was promised to a client that had not sent its head: the worker does not wait on it."""
    with gunicorn(database_url, workers=1, CLIENT_TIMEOUT_SECONDS="120") as served:
        with Client(served) as client:
            client.send(HEAD + b"X-Half: ")
            os.kill(served.pid or 0, signal.SIGTERM)
            answers = client.answers_until_closed()
        wait_for_log(served, "Shutting down: Master", timeout=HANG)

    assert answers == []


def test_sigterm_with_a_stalled_body_answers_json_and_does_not_wait_for_graceful_timeout(database_url: str) -> None:
    env = {**LIMITS, "GUNICORN_CMD_ARGS": "--graceful-timeout 60"}
    with gunicorn(database_url, workers=1, **env) as served:
        with Client(served) as client:
            client.send(stalled_post())
            os.kill(served.pid or 0, signal.SIGTERM)
            answers = client.answers_until_closed()
        wait_for_log(served, "Shutting down: Master", timeout=HANG)  # not graceful_timeout's 60 s

    assert [answer.status for answer in answers] == [408], answers
    assert answers[0].errors()


def test_a_request_cut_off_at_graceful_timeout_is_answered_json_500(database_url: str) -> None:
    """uvicorn's own last-resort 500 (the app's task cancelled) is JSON like every other answer.
    Here the request waits for a body that a long CLIENT_TIMEOUT_SECONDS lets it wait for, and
    graceful_timeout (7 s, of which 2 s for requests) runs out first."""
    env = {"CLIENT_TIMEOUT_SECONDS": "120", "GUNICORN_CMD_ARGS": "--graceful-timeout 7"}
    with gunicorn(database_url, workers=1, **env) as served:
        with Client(served) as client:
            client.send(stalled_post())
            os.kill(served.pid or 0, signal.SIGTERM)
            answers = client.answers_until_closed()
        wait_for_log(served, "Shutting down: Master", timeout=HANG)
        log = log_text(served)

    assert [answer.status for answer in answers] == [500], log
    assert answers[0].errors()[0]["extensions"]["code"] == "INTERNAL_SERVER_ERROR"


# gunicorn's control socket


def effective_control_socket(database_url: str, bind: str, runtime_dir: str) -> str:
    """The control_socket gunicorn takes from gunicorn.conf.py for a service bound to `bind`."""
    env = {**os.environ, **service_env(database_url), "BIND": bind, "XDG_RUNTIME_DIR": runtime_dir}
    command = [sys.executable, "-m", "gunicorn", "--print-config", "-c", "gunicorn.conf.py"]
    printed = subprocess.run(
        [*command, "{{ cookiecutter.package_name }}.app:create_app()"],
        cwd=PROJECT, env=env, capture_output=True, text=True, check=True, timeout=HANG,
    ).stdout  # fmt: skip
    return next(line.partition("=")[2].strip() for line in printed.splitlines() if line.startswith("control_socket "))


def test_each_port_has_its_own_control_socket(database_url: str) -> None:
    with tempfile.TemporaryDirectory(prefix="ctl-") as runtime_dir:
        first = effective_control_socket(database_url, "127.0.0.1:18001", runtime_dir)
        second = effective_control_socket(database_url, "127.0.0.1:18002", runtime_dir)

    assert first == os.path.join(runtime_dir, "{{ cookiecutter.package_name }}-18001.ctl")
    assert second == os.path.join(runtime_dir, "{{ cookiecutter.package_name }}-18002.ctl")


def test_two_services_side_by_side_each_answer_on_their_own_control_socket(database_url: str) -> None:
    # A short directory: a unix socket's path may not pass 107 bytes.
    with tempfile.TemporaryDirectory(prefix="ctl-") as runtime_dir:
        env = {"XDG_RUNTIME_DIR": runtime_dir}
        with gunicorn(database_url, workers=1, **env) as one, gunicorn(database_url, workers=1, **env) as two:
            for served in (one, two):
                port = served.base.rpartition(":")[2]
                path = Path(runtime_dir) / f"{{ cookiecutter.package_name }}-{port}.ctl"
                deadline = time.monotonic() + HANG
                while not path.exists():
                    assert time.monotonic() < deadline, f"no control socket at {path}:\n{log_text(served)}"
                    time.sleep(0.1)
                with ControlClient(str(path), timeout=HANG) as client:
                    listeners = client.send_command("show listeners")["listeners"]
                assert [listener["address"] for listener in listeners] == [served.base]
