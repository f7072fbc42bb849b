"""``tufpi import URL`` reading a hostile index: every page and file bounded in time and
bytes, each refusal a skipped project or file with its reason in plain words, the import
going on with the rest, nothing partial left behind.

Each attack is shown twice. First what the importer did before (``UrlSource`` read with a
plain ``httpx.Client(timeout=60)``: a per-phase timeout that a trickle never trips, pages
read whole and decoded with no cap, files streamed with no cap), replayed in a thread the
test stops: still reading after twice the deadline, or holding many times the cap. Then
``tufpi import`` itself against the same server: refused within the deadline, in words.

The index (``tests.support.hostile_http``) serves pages a test writes: a good project, a page
trickled a byte per 0.2 s, a page without end, a gzip bomb page, files longer than their
listed size or without end, a trickled file, a file listed above the upload limit, and one
listed twice with two different sha256 values.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support import hostile_http
from tests.support.hostile_http import Action, HostileServer
from tests.support.importing import fresh_index, index_rows, run_import, storage_keys
from tests.support.uploads import tiny_wheel
from tests.support.waiting import wait_until
from tufpi.importer.inspect import Rejection, parse_filename
from tufpi.importer.model import Candidate, SkipReason
from tufpi.importer.sources import FetchError, UrlSource
from tufpi.upstream import UpstreamBounds, pages

PAGE_SECONDS = 2.0
FILE_SECONDS = 3.0
PAGE_MAX = 64 * 1024
UPLOAD_MAX = 1024 * 1024
# What the import may take beyond its deadlines: a tufpi process, its worker processes.
MARGIN = 25.0
SETTINGS = {
    "signer": "false",
    "upstream_page_timeout": f"{PAGE_SECONDS:g}",
    "upstream_file_timeout": f"{FILE_SECONDS:g}",
    "upstream_page_max_bytes": str(PAGE_MAX),
    "max_upload_bytes": str(UPLOAD_MAX),
}
_JSON = {"content-type": pages.JSON_TYPE}
_FILE = {"content-type": "application/octet-stream"}


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _entry(filename: str, data: bytes, size: int | None, where: str = "files") -> dict[str, Any]:
    entry: dict[str, Any] = {
        "filename": filename,
        "url": f"/{where}/{filename}",
        "hashes": {"sha256": _sha256(data)},
    }
    if size is not None:
        entry["size"] = size
    return entry


def _page(name: str, *entries: dict[str, Any]) -> bytes:
    return json.dumps({"meta": {"api-version": "1.1"}, "name": name, "files": entries}).encode()


class Index:
    """The hostile index's pages and files, and the attacks on them."""

    def __init__(self, server: HostileServer) -> None:
        self.server = server
        self.url = server.url + "simple/"
        self.wheels = {v: tiny_wheel("files-pkg", v) for v in ("1.0", "1.1", "1.2", "1.3", "1.4")}
        self.good = tiny_wheel("good", "1.0")
        self.twice = (tiny_wheel("twice", "1.0")[0], b"one file", b"another file")
        self.attacks: dict[str, Callable[[], Action]] = {
            "/simple/trickle/": lambda: hostile_http.trickle_body(0.2),
            "/simple/endless/": hostile_http.endless,
            "/simple/bomb/": hostile_http.bomb,
            self.file("1.0"): hostile_http.endless,
            self.file("1.1"): hostile_http.endless,
            self.file("1.2"): lambda: hostile_http.trickle_body(0.2),
        }

    def file(self, version: str) -> str:
        return f"/files/{self.wheels[version][0]}"

    def write(self) -> None:
        names = ["good", "trickle", "endless", "bomb", "files-pkg", "twice"]
        root = {"meta": {"api-version": "1.1"}, "projects": [{"name": n} for n in names]}
        self.server.serve("/simple/", json.dumps(root).encode(), _JSON)
        good_name, good_data = self.good
        self.server.serve("/simple/good/", _page("good", _entry(*self.good, len(good_data))), _JSON)
        self.server.serve(f"/files/{good_name}", good_data, _FILE)
        for name in ("trickle", "endless", "bomb"):  # honest pages, attacked
            self.server.serve(f"/simple/{name}/", _page(name), _JSON)
        w = self.wheels
        files = _page(
            "files-pkg",
            _entry(*w["1.0"], len(w["1.0"][1])),  # endless: more than listed
            _entry(*w["1.1"], None),  # endless, no size listed: cut at the upload limit
            _entry(*w["1.2"], len(w["1.2"][1])),  # trickled
            _entry(*w["1.3"], 2 * UPLOAD_MAX),  # listed above the upload limit
            _entry(*w["1.4"], len(w["1.4"][1]) + 10),  # shorter than listed
        )
        self.server.serve("/simple/files-pkg/", files, _JSON)
        for filename, data in w.values():
            self.server.serve(f"/files/{filename}", data, _FILE)
        name, one, another = self.twice
        twice = _page("twice", _entry(name, one, None, "a"), _entry(name, another, None, "b"))
        self.server.serve("/simple/twice/", twice, _JSON)
        self.server.serve(f"/a/{name}", one, _FILE)
        self.server.serve(f"/b/{name}", another, _FILE)

    def arm(self, path: str | None = None) -> None:
        """Attack ``path``, or every path an attack is written for."""
        for attacked, make in self.attacks.items():
            if path is None or path == attacked:
                self.server.attack(attacked, make())


@pytest.fixture
def index() -> Iterator[Index]:
    with hostile_http.running() as server:
        written = Index(server)
        written.write()
        yield written


def _old_reader(
    index: Index, path: str, *, seconds: float = 0.0, nbytes: int = 0, endless: bool = True
) -> int:
    """Replay how ``UrlSource`` read ``path`` before (httpx, ``timeout=60`` per phase, the body
    decoded with no cap; ``.text`` for a page, the whole stream for a file) in a thread: it is
    still reading after ``seconds`` of the attack, or has decoded more than ``nbytes``; then
    the test stops it. The decoded bytes it had. ``endless``: the server is still sending
    then (not so for a gzip bomb, whole in 2 MB: the reader is the one still busy)."""
    index.arm(path)
    decoded = [0]
    stop = threading.Event()
    errors: list[BaseException] = []

    def read() -> None:
        headers = {"Accept": pages.ACCEPT}
        try:
            with (
                httpx.Client(timeout=60, follow_redirects=True, headers=headers) as client,
                client.stream("GET", index.server.url + path.lstrip("/")) as response,
            ):
                for piece in response.iter_bytes():
                    decoded[0] += len(piece)
                    if stop.is_set():
                        return
        except httpx.HTTPError as e:
            errors.append(e)

    thread = threading.Thread(target=read, daemon=True)
    thread.start()

    def shown() -> bool:
        attacks = index.server.attacks_on(path)
        if not thread.is_alive() or not attacks:
            return not thread.is_alive()
        return decoded[0] > nbytes if nbytes else attacks[-1].running_for >= seconds

    wait_until(shown, f"the old reader on {path} to run past the bounds", timeout=60)
    assert thread.is_alive(), f"the old reader stopped by itself: {errors} after {decoded[0]} B"
    if endless:
        assert index.server.attacks_on(path)[-1].ended is None  # still connected, still served
    stop.set()
    index.server.honest()  # ends the attack, forgets the rules
    thread.join(10)
    assert not thread.is_alive()
    return decoded[0]


def test_the_old_reader_hangs_or_fills_memory(index: Index) -> None:
    """The path tufpi import took before: every attack holds it past twice its deadline or
    makes it decode many times the cap (and it would go on: the test stops it)."""
    _old_reader(index, "/simple/trickle/", seconds=2 * PAGE_SECONDS)
    _old_reader(index, index.file("1.2"), seconds=2 * FILE_SECONDS)
    assert _old_reader(index, "/simple/endless/", nbytes=100 * PAGE_MAX) > 100 * PAGE_MAX
    bomb = _old_reader(index, "/simple/bomb/", nbytes=100 * PAGE_MAX, endless=False)
    assert bomb > 100 * PAGE_MAX
    listed = len(index.wheels["1.0"][1])
    assert _old_reader(index, index.file("1.0"), nbytes=100 * listed) > 100 * listed
    assert _old_reader(index, index.file("1.1"), nbytes=4 * UPLOAD_MAX) > 4 * UPLOAD_MAX


def _reasons(summary: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """The last path segment (a project, a filename) -> (reason, detail) of each skip."""
    return {
        s["location"].rstrip("/").rpartition("/")[2]: (s["reason"], s["detail"])
        for s in summary["skipped"]
    }


def _expected(index: Index) -> dict[str, tuple[SkipReason, str]]:
    """Where -> (reason, a pattern of the detail) of each refusal."""
    names = {v: re.escape(name) for v, (name, _data) in index.wheels.items()}
    sizes = {v: len(data) for v, (_name, data) in index.wheels.items()}
    late = r"^sent \d+ bytes in [\d.]+ s and had not finished by the {} s allowed \({}\)$"
    name, one, another = index.twice
    return {
        "trickle": (SkipReason.TOO_SLOW, late.format(2, "the page of 'trickle'")),
        "endless": (SkipReason.TOO_BIG, r"^sent more than 65536 bytes \(the page of 'endless'\)$"),
        "bomb": (SkipReason.TOO_BIG, r"^sent more than 65536 bytes \(the page of 'bomb'\)$"),
        index.wheels["1.0"][0]: (
            SkipReason.TOO_BIG,
            rf"^sent more than {sizes['1.0']} bytes \(file {names['1.0']}\); "
            rf"its page lists {sizes['1.0']} bytes$",
        ),
        index.wheels["1.1"][0]: (
            SkipReason.TOO_BIG,
            rf"^sent more than 1 MiB \(file {names['1.1']}\)$",
        ),
        index.wheels["1.2"][0]: (SkipReason.TOO_SLOW, late.format(3, f"file {names['1.2']}")),
        index.wheels["1.3"][0]: (
            SkipReason.TOO_BIG,
            rf"^its page lists it at {2 * UPLOAD_MAX} bytes, more than the {UPLOAD_MAX} bytes "
            r"a file may have here \(max_upload_bytes\)$",
        ),
        index.wheels["1.4"][0]: (
            SkipReason.UNREADABLE,
            rf"^sent {sizes['1.4']} bytes, its page lists {sizes['1.4'] + 10} "
            rf"\(file {names['1.4']}\)$",
        ),
        name: (
            SkipReason.AMBIGUOUS,
            rf"^listed more than once with different hash values \(sha256:{_sha256(one)}, "
            rf"sha256:{_sha256(another)}\): which file is meant cannot be told, so none is "
            r"taken$",
        ),
    }


def test_tufpi_import_refuses_each_attack_and_imports_the_rest(
    database_url: str | None, tmp_path: Path, index: Index
) -> None:
    index.arm()
    with fresh_index(database_url, tmp_path / "index", **SETTINGS) as srv:
        started = time.monotonic()
        result, summary = run_import(srv, index.url)
        took = time.monotonic() - started
        assert result.returncode == 0, result.stdout + result.stderr
        assert took < FILE_SECONDS + MARGIN, f"the import took {took:.1f} s"
        assert summary["imported"] == 1  # good-1.0: the import went on past every refusal
        skips = _reasons(summary)
        expected = _expected(index)
        assert set(skips) == set(expected), skips
        for where, (reason, detail) in expected.items():
            assert skips[where][0] == str(reason), (where, skips[where])
            assert re.match(detail, skips[where][1]), (where, skips[where][1])
        # Refused before a byte was asked for: above the limit, or ambiguous.
        requested = index.server.requests
        assert index.file("1.3") not in requested
        assert not any(p.endswith(index.twice[0]) for p in requested)
        # Nothing of a refused file is stored, signed or left in the scratch space.
        files = index_rows(srv.database_url)["files"]
        assert [row[2] for row in files] == [index.good[0]]
        stored = [k for k in storage_keys(srv) if k.startswith("packages/")]
        assert stored
        assert all(index.good[0] in k for k in stored), stored
        assert list(srv.data_dir.rglob("download-*")) == []


def test_a_download_cut_at_its_listed_size_leaves_nothing(tmp_path: Path, index: Index) -> None:
    """The file the page lists at N bytes, sent without end: cut at N, its partial download
    deleted at once (before, the whole stream was written to the staging directory)."""
    index.arm(index.file("1.0"))
    filename, data = index.wheels["1.0"]
    dist = parse_filename(filename)
    assert not isinstance(dist, Rejection)
    candidate = Candidate(
        index.server.url + index.file("1.0").lstrip("/"),
        dist,
        ("sha256", _sha256(data)),
        size=len(data),
    )
    staging = tmp_path / "staging"
    staging.mkdir()
    source = UrlSource(index.url, UpstreamBounds(file_seconds=FILE_SECONDS))
    try:
        with pytest.raises(FetchError) as caught:
            source.fetch(candidate, staging)
    finally:
        source.close()
    assert caught.value.reason == SkipReason.TOO_BIG
    assert str(caught.value).endswith(f"its page lists {len(data)} bytes")
    assert list(staging.iterdir()) == []
    # The server had more to send: the cut was the client's.
    assert index.server.attacks_on(index.file("1.0"))[0].sent > len(data)


def test_a_trickled_list_of_projects_stops_the_import_in_words(
    database_url: str | None, tmp_path: Path, index: Index
) -> None:
    """Nothing can be listed without the root page: the import stops, within the time one
    file may take, saying why (before: a byte every 0.2 s kept it waiting for as long as the
    page lasted)."""
    index.server.attack("/simple/", hostile_http.trickle_body(0.2))
    with fresh_index(database_url, tmp_path / "index", **SETTINGS) as srv:
        started = time.monotonic()
        result, _summary = run_import(srv, index.url)
        took = time.monotonic() - started
        assert result.returncode != 0
        said = " ".join((result.stdout + result.stderr).split())
        assert re.search(
            rf"index {re.escape(index.url)} sent \d+ bytes in [\d.]+ s and had not finished "
            r"by the 3 s allowed \(the list of projects\)",
            said,
        ), said
        assert took < FILE_SECONDS + MARGIN, f"the import took {took:.1f} s"
        assert index_rows(srv.database_url)["files"] == []
