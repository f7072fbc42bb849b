"""Another host, beside the index: a real HTTP server on 127.0.0.1 that serves files from a
directory and records every path asked of it (what a direct URL dependency points to)."""

from __future__ import annotations

import contextlib
import functools
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path


class PayloadHost:
    """A running static file server; ``requests`` lists each path requested, in order."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.requests: list[str] = []
        self._lock = threading.Lock()
        handler = functools.partial(_Handler, self, directory=str(directory))
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/"

    def record(self, path: str) -> None:
        with self._lock:
            self.requests.append(path)

    def requested(self) -> list[str]:
        with self._lock:
            return list(self.requests)

    def forget(self) -> None:
        with self._lock:
            self.requests.clear()


class _Handler(http.server.SimpleHTTPRequestHandler):
    def __init__(self, host: PayloadHost, *args: object, **kwargs: object) -> None:
        self._host = host
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]

    def do_GET(self) -> None:
        self._host.record(self.path)
        super().do_GET()

    def do_HEAD(self) -> None:
        self._host.record(self.path)
        super().do_HEAD()

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextlib.contextmanager
def serving(directory: Path) -> Iterator[PayloadHost]:
    """A ``PayloadHost`` for ``directory``, running for the duration."""
    host = PayloadHost(directory)
    thread = threading.Thread(target=host._server.serve_forever, name="payload-host", daemon=True)
    thread.start()
    try:
        yield host
    finally:
        host._server.shutdown()
        host._server.server_close()
        thread.join(timeout=10)
