"""``tufpi serve``'s limits, against a real server and raw sockets: clients trickling their
request head or body are cut off, idle connections past the cap do not stop service (or
get a plain 503 when every connection is busy), and a flood of connections at the
open-file limit writes a few lines of log, not megabytes, and the server serves again.

Before these limits, a head trickled a byte a second held its connection forever, and
300 idle connections against a 64-descriptor limit wrote 29 MB of tracebacks in 10 s
(``socket.accept() out of system resource``; see docs/benchmarks.md).
"""

from __future__ import annotations

import contextlib
import re
import select
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support import server as server_support
from tests.support.server import IndexServer
from tests.support.sockets import read_all
from tests.support.uploads import tiny_wheel
from tests.support.waiting import wait_until

HEADER_TIMEOUT = 3.0
BODY_TIMEOUT = 2.0
MAX_CONNECTIONS = 16


@pytest.fixture(scope="module")
def limited(
    database_url: str | None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[IndexServer]:
    srv = server_support.start(
        tmp_path_factory.mktemp("limited"),
        database_url,
        header_timeout=str(HEADER_TIMEOUT),
        body_timeout=str(BODY_TIMEOUT),
        body_min_rate="100",
        max_connections=str(MAX_CONNECTIONS),
    )
    try:
        yield srv
    finally:
        srv.stop()


def _address(server: IndexServer) -> tuple[str, int]:
    host, port = server.url.removeprefix("http://").strip("/").split(":")
    return host, int(port)


def _read_all(conn: socket.socket, timeout: float = 15) -> bytes:
    return read_all(conn, timeout)


def test_a_client_trickling_its_head_is_cut_off_while_another_is_served(
    limited: IndexServer,
) -> None:
    head = b"GET /simple/ HTTP/1.1\r\nHost: localhost\r\nAccept: text/html\r\n\r\n"
    with socket.create_connection(_address(limited)) as slow, httpx.Client(timeout=10) as other:
        start = time.monotonic()
        sent, served = 0, 0
        while sent < len(head) and not select.select([slow], [], [], 0)[0]:
            slow.sendall(head[sent : sent + 1])  # one byte a second
            sent += 1
            assert other.get(limited.simple).status_code == 200
            served += 1
            select.select([slow], [], [], 1.0)
        answer = _read_all(slow)
        took = time.monotonic() - start
    assert sent < len(head), "the trickled head was served"
    assert answer.startswith(b"HTTP/1.1 408 Request Timeout")
    assert b"the request head did not arrive within 3 s" in answer
    assert HEADER_TIMEOUT - 0.25 <= took < HEADER_TIMEOUT + 3  # asyncio's timers may run early
    assert served >= 2


def _upload_request(server: IndexServer, token: str, name: str) -> tuple[bytes, bytes]:
    """An upload as twine sends it: (request head, body), to send by hand."""
    filename, data = tiny_wheel(name, "1.0")
    fields = {
        ":action": "file_upload",
        "protocol_version": "1",
        "name": name,
        "version": "1.0",
        "filetype": "bdist_wheel",
        "pyversion": "py3",
        "metadata_version": "2.1",
    }
    request = httpx.Request(
        "POST",
        server.url + "legacy/",
        data=fields,
        files={"content": (filename, data, "application/octet-stream")},
        headers={"authorization": httpx.BasicAuth("__token__", token)._auth_header},
    )
    body = request.read()
    lines = [f"POST /legacy/ HTTP/1.1\r\nHost: {request.url.netloc.decode()}"]
    lines += [f"{k}: {v}" for k, v in request.headers.items() if k.lower() != "host"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode(), body


def test_a_slow_upload_that_keeps_flowing_is_accepted_and_a_stalled_one_is_cut_off(
    limited: IndexServer,
) -> None:
    token = limited.new_user("slow-uploader")
    head, body = _upload_request(limited, token, "slow-but-steady")
    with socket.create_connection(_address(limited)) as conn:
        start = time.monotonic()
        conn.sendall(head)
        for i in range(0, len(body), 100):  # 500 bytes a second, for longer than the window
            conn.sendall(body[i : i + 100])
            time.sleep(0.2)
        answer = _read_all(conn)
    assert time.monotonic() - start > BODY_TIMEOUT
    assert answer.startswith(b"HTTP/1.1 200"), answer[:300]

    head, body = _upload_request(limited, token, "stalled-upload")
    with socket.create_connection(_address(limited)) as conn:
        conn.sendall(head + body[:50])
        answer = _read_all(conn)
    assert answer.startswith(b"HTTP/1.1 408 Request Timeout")
    assert b"the request body arrived too slowly (0 bytes in 2 s" in answer
    with httpx.Client(timeout=10) as client:
        assert client.get(limited.simple + "slow-but-steady/").status_code == 200
        assert client.get(limited.simple + "stalled-upload/").status_code == 404
    # Cutting a client off is no server error: no traceback before the line of that 404.
    log = limited.data_dir / "serve.log"
    wait_until(lambda: "GET /simple/stalled-upload/" in log.read_text(), "no access log line")
    assert "Exception in ASGI application" not in log.read_text()


def _closed(conn: socket.socket) -> bool:
    """Whether the server has closed ``conn`` (without waiting)."""
    if not select.select([conn], [], [], 0)[0]:
        return False
    try:
        return conn.recv(1) == b""
    except ConnectionResetError:
        return True


def test_idle_connections_past_the_cap_do_not_stop_service(limited: IndexServer) -> None:
    with contextlib.ExitStack() as stack:
        idle = [stack.enter_context(socket.create_connection(_address(limited))) for _ in range(60)]
        with httpx.Client(timeout=10) as client:
            for _ in range(3):
                assert client.get(limited.simple).status_code == 200
        # Well before the head deadline, the server closed the idle connections waiting
        # longest, keeping at most MAX_CONNECTIONS open.
        wait_until(
            lambda: sum(map(_closed, idle)) >= len(idle) + 1 - MAX_CONNECTIONS,
            "idle connections past the cap were not closed",
            timeout=HEADER_TIMEOUT - 0.5,
        )
    assert "connection limit (16) reached" in (limited.data_dir / "serve.log").read_text()


def test_past_the_cap_with_every_connection_busy_a_client_gets_a_plain_503(
    limited: IndexServer,
) -> None:
    token = limited.new_user("busy-uploader")
    head, _ = _upload_request(limited, token, "busy")
    head = head.replace(b"\r\n\r\n", b"\r\nExpect: 100-continue\r\n\r\n")
    with contextlib.ExitStack() as stack:
        busy = [
            stack.enter_context(socket.create_connection(_address(limited)))
            for _ in range(MAX_CONNECTIONS)
        ]
        for conn in busy:
            conn.sendall(head)
        for conn in busy:  # each upload is under way: the app asked for its body
            conn.settimeout(10)
            assert conn.recv(100).startswith(b"HTTP/1.1 100 Continue")
        refused = httpx.get(limited.simple, timeout=10)
        assert refused.status_code == 503
        assert refused.reason_phrase == "Too many connections"
        assert refused.headers["retry-after"] == "1"
        assert "the server is at its connection limit" in refused.text
        # The stalled uploads are cut off, and the server serves again.
        assert all(_read_all(c).startswith(b"HTTP/1.1 408") for c in busy)
    assert httpx.get(limited.simple, timeout=10).status_code == 200


def _flood(address: tuple[str, int], count: int) -> list[socket.socket]:
    """``count`` connections that never send a byte, opened as fast as possible."""
    socks = []
    for _ in range(count):
        s = socket.socket()
        s.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            s.connect(address)
        socks.append(s)
    return socks


def _served(server: IndexServer) -> bool:
    try:
        return httpx.get(server.simple, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.mark.parametrize(
    ("max_connections", "signal"),
    [
        # The default: the cap fits under the descriptor limit.
        ("0", re.compile(r"connection limit \(\d+\) reached")),
        # A cap the descriptor limit cannot hold: accept() fails with EMFILE.
        ("1000", re.compile(r"socket\.accept\(\) out of system resource")),
    ],
)
def test_a_connection_flood_at_the_descriptor_limit_logs_little_and_service_resumes(
    own_database_url: str | None, tmp_path: Path, max_connections: str, signal: re.Pattern[str]
) -> None:
    server = server_support.start(
        tmp_path / "index",
        own_database_url,
        command_prefix=["prlimit", "--nofile=160", "--"],
        header_timeout=str(HEADER_TIMEOUT),
        max_connections=max_connections,
    )
    log = server.data_dir / "serve.log"
    try:
        before = log.stat().st_size
        flood = _flood(_address(server), 400)
        try:
            wait_until(lambda: signal.search(log.read_text()), "the flood did not reach the limit")
            # The flood stays open: the server frees its descriptors itself (the head
            # deadline, and the cap closing connections waiting longest), and serves again.
            wait_until(lambda: _served(server), "the server did not serve again", timeout=60)
        finally:
            for s in flood:
                s.close()
        assert _served(server)
        grew = log.stat().st_size - before
        flood_log = log.read_bytes()[before:].decode()
    finally:
        server.stop()
    assert grew < 16_000, flood_log[-3000:]
    assert flood_log.count("out of system resource") <= 1


def test_a_refused_upload_cannot_keep_its_connection_by_trickling_the_body(
    limited: IndexServer,
) -> None:
    # Without a valid token the upload is refused before its body is read; bytes sent after
    # that (fast enough for the body's minimum rate) do not keep the connection open.
    head, _ = _upload_request(limited, "not-a-token", "refused-trickle")
    with socket.create_connection(_address(limited)) as conn:
        conn.sendall(head)
        start = time.monotonic()
        received: list[bytes] = []

        def closed_after_more_bytes() -> bool:
            with contextlib.suppress(OSError):
                conn.sendall(b"x" * 50)  # 500 bytes a second, for ever
            if not select.select([conn], [], [], 0.1)[0]:
                return False
            received.append(chunk := conn.recv(65536))
            return not chunk

        wait_until(closed_after_more_bytes, "the trickle kept the connection open", interval=0)
        took = time.monotonic() - start
        answer = b"".join(received)
    assert answer.startswith(b"HTTP/1.1 401")
    assert took < HEADER_TIMEOUT + 3
