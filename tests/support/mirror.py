"""A tampering mirror for the attack tests (PEP 458's appendix).

A real HTTP server on 127.0.0.1 that forwards every GET to an index, honestly by default.
A test switches it to an attack by adding rules: each rule matches request paths and
rewrites the answer (other bytes, an edited or recorded older page, recorded older
metadata, a body that never ends, a body that trickles). Both clients go through it: plain
pip reads ``MIRROR/simple/`` and ``MIRROR/packages/``; ``tufpi install --index MIRROR``
reads ``MIRROR/tuf/`` and the consistent names ``<sha256>.<name>`` of the same targets.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx

JSON = "json"
HTML = "html"
_JSON_ACCEPT = "application/vnd.pypi.simple.v1+json"
_HTML_ACCEPT = "text/html"
_CONSISTENT_PAGE = re.compile(r"^[0-9a-f]{64}\.index\.(html|json)$")
# Upstream headers worth passing on; the body may be rewritten, so no ETag or length.
_PASSED_HEADERS = ("content-type", "cache-control", "location")


@dataclasses.dataclass(frozen=True)
class Moment:
    """What the index served at one moment: its metadata files, by name under ``/tuf/``,
    and the plain pages of some projects, by (project, JSON or HTML)."""

    tuf: dict[str, bytes]
    pages: dict[tuple[str, str], bytes]

    @property
    def timestamp_version(self) -> int:
        return int(json.loads(self.tuf["timestamp.json"])["signed"]["version"])


@dataclasses.dataclass(frozen=True)
class _Answer:
    status: int
    headers: dict[str, str]
    body: bytes


# An edit gets the request path (without the query) and the honest answer, fetched first.
Edit = Callable[[str, _Answer], _Answer]


@dataclasses.dataclass(frozen=True)
class Stream:
    """A body without a length: ``body`` (None: the honest one), then, if ``endless``,
    ``filler`` without end; ``chunk`` bytes every ``interval`` seconds."""

    body: bytes | None
    chunk: int
    interval: float
    endless: bool
    filler: bytes = b"\0"
    headers: dict[str, str] = dataclasses.field(default_factory=dict)


# A gzip member header (RFC 1952) with FCOMMENT set: a decoder skips the comment, up to a
# zero byte that never comes, and so turns endless bytes into no output at all.
_GZIP_ENDLESS_COMMENT = b"\x1f\x8b\x08\x10\0\0\0\0\0\xff"


@dataclasses.dataclass(frozen=True)
class _Rule:
    matches: Callable[[str], bool]
    action: Edit | Stream


def _media(answer: _Answer) -> str:
    return JSON if "json" in answer.headers.get("content-type", "") else HTML


def _is_file(filename: str) -> Callable[[str], bool]:
    """A distribution under its plain name or its consistent name ``<sha256>.<filename>``."""

    def matches(path: str) -> bool:
        if not path.startswith("/packages/"):
            return False
        last = path.rpartition("/")[2]
        return last == filename or (last[64:] == "." + filename and len(last) > 65)

    return matches


def _is_page(project: str, signed: bool) -> Callable[[str], bool]:
    """The plain page ``/simple/<project>/``; with ``signed``, its consistent names too."""

    def matches(path: str) -> bool:
        if path == f"/simple/{project}/":
            return True
        head, _, last = path.rpartition("/")
        return signed and head == f"/simple/{project}" and bool(_CONSISTENT_PAGE.match(last))

    return matches


def _page_media(path: str, answer: _Answer) -> str:
    """JSON or HTML: from a consistent page's name, else from what the index negotiated."""
    if path.endswith(".index.json"):
        return JSON
    if path.endswith(".index.html"):
        return HTML
    return _media(answer)


class Mirror:
    """Forward to ``upstream``; rewrite what the current rules say. Thread-safe."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/") + "/"
        self.client = httpx.Client(timeout=30, follow_redirects=False)
        self._rules: list[_Rule] = []
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self.requests: list[str] = []
        mirror = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                mirror._handle(self)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/"
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="tampering-mirror", daemon=True
        )

    # ----- switching attacks -----

    def honest(self) -> None:
        """Forward everything unchanged (the default)."""
        with self._lock:
            self._rules.clear()
            self.requests.clear()

    def _add(self, matches: Callable[[str], bool], action: Edit | Stream) -> None:
        with self._lock:
            self._rules.append(_Rule(matches, action))

    def replace_file(self, filename: str, data: bytes) -> None:
        """Serve ``data`` for the distribution ``filename`` (plain and consistent names)."""
        self._add(_is_file(filename), lambda _p, a: dataclasses.replace(a, body=data))

    def edit_page(self, project: str, edit: Callable[[bytes], bytes], *, signed: bool) -> None:
        """Rewrite the project's page: the plain one pip reads, and with ``signed`` also the
        consistent page targets (``<sha256>.index.html/json``) a TUF client reads."""
        self._add(
            _is_page(project, signed), lambda _p, a: dataclasses.replace(a, body=edit(a.body))
        )

    def serve_pages(self, project: str, pages: dict[str, bytes], *, signed: bool) -> None:
        """Serve ``pages`` (by JSON/HTML) as the project's page (see ``edit_page``)."""

        self._add(
            _is_page(project, signed),
            lambda path, a: dataclasses.replace(a, body=pages[_page_media(path, a)]),
        )

    def replace_metadata(self, name: str, data: bytes) -> None:
        """Serve ``data`` as ``/tuf/<name>``."""
        self._add(lambda path: path == f"/tuf/{name}", lambda _p, a: _Answer(200, a.headers, data))

    def replay(self, moment: Moment, *, pages: bool = True) -> None:
        """Serve a recorded moment: its metadata files, and (``pages``) its plain pages."""
        for name, data in moment.tuf.items():
            self.replace_metadata(name, data)
        if pages:
            for project in {p for p, _ in moment.pages}:
                recorded = {m: b for (p, m), b in moment.pages.items() if p == project}
                self.serve_pages(project, recorded, signed=False)

    def invent(self, path: str, body: bytes, content_type: str) -> None:
        """Answer ``path`` with ``body``, whatever the index says (even 404)."""
        headers = {"content-type": content_type}
        self._add(lambda p: p == path, lambda _p, _a: _Answer(200, headers, body))

    def endless_file(self, filename: str, chunk: int = 64 * 1024, interval: float = 0.05) -> None:
        """The distribution's bytes, then zeros without end, ``chunk`` bytes per tick (about
        1.3 MB/s by default: enough to be endless, little enough not to fill the disk)."""
        self._add(_is_file(filename), Stream(None, chunk, interval, endless=True))

    def endless_metadata(self, name: str, *, gzip: bool = False) -> None:
        """``/tuf/<name>`` without end: its bytes then zeros or, with ``gzip``, a gzip
        header whose comment never ends (endless bytes that decode to nothing)."""
        if gzip:
            stream = Stream(
                _GZIP_ENDLESS_COMMENT,
                16 * 1024,
                0.01,
                endless=True,
                filler=b"x",
                headers={"content-encoding": "gzip"},
            )
        else:
            stream = Stream(None, 16 * 1024, 0.01, endless=True)
        self._add(lambda path: path == f"/tuf/{name}", stream)

    def trickle_file(self, filename: str, interval: float = 0.25) -> None:
        """The distribution's real bytes, one every ``interval`` seconds (slow retrieval)."""
        self._add(_is_file(filename), Stream(None, 1, interval, endless=False))

    # ----- recording -----

    def record(self, *projects: str) -> Moment:
        """The index's metadata now (timestamp, its snapshot, every role the snapshot names)
        and the plain pages of ``projects``, read straight from the index."""
        timestamp = self._get("tuf/timestamp.json")
        snapshot_version = json.loads(timestamp)["signed"]["meta"]["snapshot.json"]["version"]
        snapshot_name = f"{snapshot_version}.snapshot.json"
        snapshot = self._get("tuf/" + snapshot_name)
        tuf = {"timestamp.json": timestamp, snapshot_name: snapshot}
        for role, meta in json.loads(snapshot)["signed"]["meta"].items():
            name = f"{meta['version']}.{role}"
            tuf[name] = self._get("tuf/" + name)
        pages = {}
        for project in projects:
            pages[project, JSON] = self._get(f"simple/{project}/", accept=_JSON_ACCEPT)
            pages[project, HTML] = self._get(f"simple/{project}/", accept=_HTML_ACCEPT)
        return Moment(tuf, pages)

    def _get(self, path: str, accept: str | None = None) -> bytes:
        headers = {"accept": accept} if accept else {}
        response = self.client.get(self.upstream + path, headers=headers)
        response.raise_for_status()
        return response.content

    # ----- serving -----

    def _rule_for(self, path: str) -> Edit | Stream | None:
        with self._lock:
            self.requests.append(path)
            for rule in reversed(self._rules):  # the newest rule wins
                if rule.matches(path):
                    return rule.action
        return None

    def _forward(self, handler: BaseHTTPRequestHandler) -> _Answer:
        headers = {}
        if accept := handler.headers.get("accept"):
            headers["accept"] = accept
        try:
            response = self.client.get(self.upstream + handler.path.lstrip("/"), headers=headers)
        except httpx.HTTPError as e:
            return _Answer(502, {"content-type": "text/plain"}, f"mirror: {e}\n".encode())
        kept = {k: v for k, v in response.headers.items() if k in _PASSED_HEADERS}
        if "location" in kept and kept["location"].startswith(self.upstream):
            kept["location"] = self.url + kept["location"].removeprefix(self.upstream)
        return _Answer(response.status_code, kept, response.content)

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        path = handler.path.partition("?")[0]
        action = self._rule_for(path)
        answer = self._forward(handler)
        try:
            if isinstance(action, Stream):
                self._stream(handler, action, answer.body)
                return
            if action is not None:
                answer = action(path, answer)
            handler.send_response(answer.status)
            for name, value in answer.headers.items():
                handler.send_header(name, value)
            handler.send_header("content-length", str(len(answer.body)))
            handler.end_headers()
            handler.wfile.write(answer.body)
        except (BrokenPipeError, ConnectionResetError):
            handler.close_connection = True

    def _stream(self, handler: BaseHTTPRequestHandler, stream: Stream, honest: bytes) -> None:
        """A body without a length, ended only by closing the connection."""
        handler.close_connection = True
        handler.send_response(200)
        handler.send_header("content-type", "application/octet-stream")
        for name, value in stream.headers.items():
            handler.send_header(name, value)
        handler.send_header("connection", "close")
        handler.end_headers()
        handler.wfile.flush()
        data = honest if stream.body is None else stream.body
        while not self._closed.is_set():
            if not data:
                if not stream.endless:
                    return
                data = stream.filler * stream.chunk
            handler.wfile.write(data[: stream.chunk])
            handler.wfile.flush()
            data = data[stream.chunk :]
            time.sleep(stream.interval)

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        self._closed.set()
        self._server.shutdown()
        self._server.server_close()
        self.client.close()


@contextlib.contextmanager
def running(upstream: str) -> Iterator[Mirror]:
    """A started mirror of ``upstream``, closed afterwards."""
    mirror = Mirror(upstream)
    mirror.start()
    try:
        yield mirror
    finally:
        mirror.close()
