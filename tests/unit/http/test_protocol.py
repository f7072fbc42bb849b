"""tufpi's h11 protocol against uvicorn's, with raw sockets on a real uvicorn server.

Each attack first works against the protocol tufpi ran before (``ReasonH11Protocol``: a
client trickling its request head or body is served however long it takes), then fails
against ``LimitedH11Protocol``.
"""

from __future__ import annotations

import contextlib
import select
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import uvicorn

from tests.support.sockets import read_all
from tests.support.waiting import wait_until
from tufpi.http.limits import ServerLimits
from tufpi.http.protocol import ReasonH11Protocol, protocol_class

LIMITS = ServerLimits(
    header_timeout=1.0,
    body_timeout=1.0,
    body_min_rate=100,
    max_connections=4,
    log_repeat_interval=60,
)
# Cap tests: timeouts far longer than the test, so that only the cap closes connections.
CAP_LIMITS = ServerLimits(
    header_timeout=60, body_timeout=60, body_min_rate=1, max_connections=4, log_repeat_interval=60
)
HEAD = b"GET /x HTTP/1.1\r\nHost: localhost\r\nUser-Agent: trickler/1.0\r\n\r\n"


async def _echo(scope: Any, receive: Any, send: Any) -> None:
    """Reads the whole body, answers its length."""
    if scope["type"] != "http":
        return
    size, more = 0, True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
        size += len(message.get("body", b""))
        more = message.get("more_body", False)
    body = str(size).encode()
    headers = [(b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


@contextlib.contextmanager
def serving(http: type, app: Any = _echo) -> Iterator[int]:
    """A uvicorn server running ``app`` with ``http`` as its protocol in a thread; its port."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(app, http=http, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    wait_until(lambda: server.started, "the server did not start", timeout=10, interval=0.02)
    try:
        yield sock.getsockname()[1]
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def _trickle(port: int, data: bytes, step: float, then: bytes = b"") -> tuple[float, int, bytes]:
    """Send ``then`` at once and ``data`` a byte every ``step`` seconds, until the server
    answers or closes: (seconds it took, bytes of ``data`` sent, what the server sent)."""
    with socket.create_connection(("127.0.0.1", port)) as conn:
        start = time.monotonic()
        conn.sendall(then)
        sent = 0
        while sent < len(data):
            with contextlib.suppress(OSError):
                conn.sendall(data[sent : sent + 1])
                sent += 1
            if select.select([conn], [], [], step)[0]:
                break
        return time.monotonic() - start, sent, _read_all(conn)


def _read_all(conn: socket.socket, timeout: float = 10) -> bytes:
    return read_all(conn, timeout)


def test_a_trickled_head_is_served_by_the_old_protocol_and_cut_off_by_tufpis() -> None:
    with serving(ReasonH11Protocol) as port:
        took, sent, answer = _trickle(port, HEAD, 0.1)
    assert sent == len(HEAD)
    assert answer.startswith(b"HTTP/1.1 200")
    assert took > 4 * LIMITS.header_timeout  # held a connection as long as it liked

    with serving(protocol_class(LIMITS)) as port:
        took, sent, answer = _trickle(port, HEAD, 0.1)
    assert sent < len(HEAD)
    assert answer.startswith(b"HTTP/1.1 408 Request Timeout")
    assert b"the request head did not arrive within 1 s" in answer
    assert LIMITS.header_timeout <= took < 3 * LIMITS.header_timeout


def test_the_head_deadline_counts_again_from_the_end_of_each_response() -> None:
    with (
        serving(protocol_class(LIMITS)) as port,
        socket.create_connection(("127.0.0.1", port)) as c,
    ):
        for _ in range(3):  # a keep-alive client sending its requests at once is served
            c.sendall(HEAD)
            answer = b""
            while not answer.endswith(b"\r\n\r\n0"):
                answer += c.recv(65536)
            assert answer.startswith(b"HTTP/1.1 200")
        start = time.monotonic()
        c.sendall(HEAD[:5])
        answer = _read_all(c)
        assert answer.startswith(b"HTTP/1.1 408")
        assert time.monotonic() - start >= LIMITS.header_timeout * 0.9


def _post_head(length: int) -> bytes:
    return (f"POST /x HTTP/1.1\r\nHost: localhost\r\nContent-Length: {length}\r\n\r\n").encode()


def test_a_trickled_body_is_read_by_the_old_protocol_and_cut_off_by_tufpis() -> None:
    body = b"x" * 40
    with serving(ReasonH11Protocol) as port:
        took, sent, answer = _trickle(port, body, 0.1, then=_post_head(len(body)))
    assert (sent, answer.split(b"\r\n\r\n")[-1]) == (40, b"40")
    assert took > 3 * LIMITS.body_timeout

    with serving(protocol_class(LIMITS)) as port:
        took, sent, answer = _trickle(port, body, 0.1, then=_post_head(len(body)))
    assert sent < len(body)
    assert answer.startswith(b"HTTP/1.1 408 Request Timeout")
    assert b"the request body arrived too slowly" in answer
    assert took < 3 * LIMITS.body_timeout


def test_a_slow_body_that_keeps_flowing_is_read_to_the_end() -> None:
    chunk = b"y" * 300  # 3,000 bytes a second against a minimum of 100
    with (
        serving(protocol_class(LIMITS)) as port,
        socket.create_connection(("127.0.0.1", port)) as c,
    ):
        start = time.monotonic()
        c.sendall(_post_head(len(chunk) * 30))
        for _ in range(30):
            c.sendall(chunk)
            time.sleep(0.1)
        answer = _read_all(c, timeout=10)
    assert time.monotonic() - start > 2 * LIMITS.body_timeout
    assert answer.startswith(b"HTTP/1.1 200")
    assert answer.endswith(b"\r\n\r\n9000")


def _wait_closed(conn: socket.socket, timeout: float = 10) -> bool:
    """True once the server has closed ``conn`` (False if it is still open at the deadline)."""
    conn.settimeout(timeout)
    try:
        return conn.recv(65536) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def test_past_the_cap_idle_connections_make_room_for_a_request() -> None:
    with serving(protocol_class(CAP_LIMITS)) as port, contextlib.ExitStack() as stack:
        idle = [
            stack.enter_context(socket.create_connection(("127.0.0.1", port))) for _ in range(12)
        ]
        with socket.create_connection(("127.0.0.1", port)) as c:
            c.sendall(HEAD)
            assert c.recv(65536).startswith(b"HTTP/1.1 200")
        # The oldest idle connections were closed (long before their 60 s head deadline),
        # so that the cap held: 8 for the 8 idle ones past it, then one for the request.
        assert all(_wait_closed(s) for s in idle[:9])


def test_past_the_cap_with_every_connection_busy_a_new_one_gets_a_plain_503() -> None:
    busy_head = _post_head(1000).replace(b"\r\n\r\n", b"\r\nExpect: 100-continue\r\n\r\n")
    with serving(protocol_class(CAP_LIMITS)) as port, contextlib.ExitStack() as stack:
        busy = [
            stack.enter_context(socket.create_connection(("127.0.0.1", port))) for _ in range(4)
        ]
        for conn in busy:
            conn.sendall(busy_head)
            # The app reads the body: the request is under way, nothing to evict.
            assert conn.recv(100).startswith(b"HTTP/1.1 100")
        with socket.create_connection(("127.0.0.1", port)) as c:
            c.sendall(HEAD)
            answer = _read_all(c)
        assert answer.startswith(b"HTTP/1.1 503 Too many connections\r\n")
        assert b"retry-after: 1" in answer.lower()
        assert answer.endswith(b"the server is at its connection limit. Retry shortly.\n")


def test_a_request_head_sent_in_pieces_in_time_is_served() -> None:
    with serving(protocol_class(LIMITS)) as port:
        took, sent, answer = _trickle(port, HEAD, 0.005)
    assert sent == len(HEAD)
    assert answer.startswith(b"HTTP/1.1 200")
    assert took < LIMITS.header_timeout * 2


BIG = 32 * 1024 * 1024


async def _big(scope: Any, receive: Any, send: Any) -> None:
    """Answers 32 MiB, in 64 KiB pieces."""
    if scope["type"] != "http":
        return
    headers = [(b"content-length", str(BIG).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    piece = b"z" * 65536
    for _ in range(BIG // len(piece)):
        await send({"type": "http.response.body", "body": piece, "more_body": True})
    await send({"type": "http.response.body", "body": b""})


def _read_after_stalling(port: int, stall: float) -> int:
    """Ask for the big answer, read nothing for ``stall`` seconds, then read all: bytes got."""
    with socket.socket() as conn:
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        conn.connect(("127.0.0.1", port))
        conn.sendall(HEAD)
        time.sleep(stall)  # the attack: a client that does not read
        return len(_read_all(conn))


def test_a_client_not_reading_its_answer_is_kept_by_the_old_protocol_and_dropped_by_tufpis() -> (
    None
):
    with serving(ReasonH11Protocol, _big) as port:
        assert _read_after_stalling(port, 4 * LIMITS.body_timeout) > BIG  # head + the body
    with serving(protocol_class(LIMITS), _big) as port:
        assert _read_after_stalling(port, 4 * LIMITS.body_timeout) < BIG // 2
