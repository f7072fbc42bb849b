"""The limits ``serve_app`` runs with, from the settings and this process's open-file limit
(tufpi.http.serving)."""

from __future__ import annotations

import asyncio
import logging
import resource
import socket

import pytest

from tufpi.config import Settings
from tufpi.http.limits import connection_budget
from tufpi.http.repeats import RepeatFilter
from tufpi.http.serving import open_files_limit, quiet_repeats, server_limits
from tufpi.http.sockets import listening_socket


def test_the_open_files_limit_is_the_soft_rlimit() -> None:
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    expected = 1 << 20 if soft == resource.RLIM_INFINITY else soft
    assert open_files_limit() == expected


def test_no_cap_set_means_what_the_open_file_limit_leaves_room_for() -> None:
    limits = server_limits(Settings(max_connections=0, header_timeout=7))
    assert limits.max_connections == connection_budget(open_files_limit())
    assert limits.header_timeout == 7


def test_a_cap_past_the_open_file_limit_is_kept_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    too_many = open_files_limit() + 1
    with caplog.at_level(logging.WARNING, logger="tufpi.server"):
        limits = server_limits(Settings(max_connections=too_many))
    assert limits.max_connections == too_many
    assert "connections past that fail at accept() (EMFILE)" in caplog.text


def test_repeats_are_quieted_once_per_logger() -> None:
    loggers = [logging.getLogger(n) for n in ("asyncio", "uvicorn.error", "tufpi.server")]
    before = {logger.name: list(logger.filters) for logger in loggers}
    try:
        quiet_repeats(60)
        quiet_repeats(60)
        for logger in loggers:
            assert len([f for f in logger.filters if isinstance(f, RepeatFilter)]) == 1
    finally:  # the loggers are the process's: leave them as they were
        for logger in loggers:
            logger.filters[:] = before[logger.name]


def _nodelay_of_accepted(listening: socket.socket) -> int:
    """TCP_NODELAY on the connection asyncio accepts on ``listening`` (as uvicorn's
    ``run(sockets=...)`` does)."""

    async def accept_one() -> int:
        accepted: asyncio.Future[int] = asyncio.get_running_loop().create_future()

        class Record(asyncio.Protocol):
            def connection_made(self, transport: asyncio.BaseTransport) -> None:
                sock = transport.get_extra_info("socket")
                accepted.set_result(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
                transport.close()

        server = await asyncio.get_running_loop().create_server(Record, sock=listening)
        async with server:
            _reader, writer = await asyncio.open_connection(*listening.getsockname()[:2])
            result = await asyncio.wait_for(accepted, 10)
            writer.close()
            return result

    return asyncio.run(accept_one())


def test_connections_on_a_listening_socket_send_without_delay() -> None:
    """Without TCP_NODELAY a response's body waits for the client's delayed ACK of its head:
    40 ms per request on a kept-alive connection (pip's 280 requests for a 56-wheel tree
    took 7.8 s through the proxy instead of 1.1 s)."""
    with listening_socket("127.0.0.1", 0) as sock:
        assert _nodelay_of_accepted(sock) != 0
    # What it guards against: a socket made without IPPROTO_TCP, as it was.
    plain = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    plain.bind(("127.0.0.1", 0))
    plain.listen()
    with plain:
        assert _nodelay_of_accepted(plain) == 0
