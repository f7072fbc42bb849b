"""Raw-socket helpers for the tests that speak HTTP byte by byte."""

from __future__ import annotations

import contextlib
import socket


def read_all(conn: socket.socket, timeout: float) -> bytes:
    """Everything the server sends until it closes the connection (or resets it); raises
    ``TimeoutError`` when nothing arrives for ``timeout`` seconds."""
    conn.settimeout(timeout)
    chunks = []
    with contextlib.suppress(ConnectionResetError):
        while chunk := conn.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)
