"""A listening socket bound before the server that will use it starts (no uvicorn here:
``tufpi install`` binds its proxy's address before importing the server)."""

from __future__ import annotations

import socket
from typing import TypeAlias

# What ``listening_socket`` returns, for modules that take one and must not import the
# socket module themselves (the client's network boundary: tests/unit/client).
ListeningSocket: TypeAlias = socket.socket


def listening_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``host:port`` (IPv6 for an address with a colon; port 0: any
    free port) and listening, for ``uvicorn.Server.run(sockets=...)``: the caller learns
    at once whether the address is free, and which port it got.

    Raises:
        OSError: the address cannot be bound (in use, not this machine's).
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on connections whose socket says
    # so (base_events._set_nodelay); without it, a response's body waited for the client's
    # delayed ACK of its head, 40 ms per request on a kept-alive connection.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(2048)
    except OSError:
        sock.close()
        raise
    return sock
