"""Upstream down (issue 14, item 3): a tufpi mirroring another real tufpi through a hostile
proxy that can make it answer 500, hang, send garbage, or stop. What tufpi holds keeps being
served and verified; what it does not hold gets a clear error naming upstream, within the
configured time; nothing partial is stored or signed.
"""

from __future__ import annotations

import contextlib
import hashlib
import time
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.support.hostile_http import Action, HostileServer, endless, trickle_body
from tests.support.proxy import verified_install
from tests.support.server import IndexServer, start
from tests.support.state import query
from tests.support.tuf_client import updater, wait_for_target
from tests.support.uploads import post_wheel, tiny_wheel
from tests.support.waiting import wait_until

PAGE_TIMEOUT = 3.0
# The most an answer may take when upstream hangs: its bound, and room for a loaded machine.
BOUND = PAGE_TIMEOUT + 5


@dataclass
class Setup:
    public: IndexServer  # the upstream: another tufpi
    hostile: HostileServer  # in front of it
    index: IndexServer  # the mirror
    held_url: str  # a mirrored file tufpi holds
    held_key: str
    unheld_url: str  # a mirrored file it lists but never downloaded
    unheld_key: str

    @property
    def upstream(self) -> str:
        return self.hostile.url + "simple/"


def _json(url: str) -> httpx.Response:
    return httpx.get(url, headers={"accept": "application/vnd.pypi.simple.v1+json"}, timeout=60)


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    root = tmp_path_factory.mktemp("down")
    with contextlib.ExitStack() as stack:
        public = start(root / "public")
        stack.callback(public.stop)
        token = public.new_user("publisher")
        with httpx.Client(timeout=30) as client:
            for name, version in (("down-held", "1.0"), ("down-listed", "1.0")):
                response = post_wheel(client, public.url, token, name, version)
                assert response.status_code == 200, response.text
        hostile = HostileServer(public.url)
        stack.callback(_close_once, hostile)
        index = start(
            root / "mirror",
            upstream=hostile.url + "simple/",
            upstream_refresh="0",
            upstream_connect_timeout="2",
            upstream_page_timeout=str(PAGE_TIMEOUT),
            upstream_file_timeout=str(PAGE_TIMEOUT),
        )
        stack.callback(index.stop)
        urls, keys = {}, {}
        for name in ("down-held", "down-listed"):
            response = _json(f"{index.url}simple/{name}/")
            assert response.status_code == 200, response.text
            [entry] = response.json()["files"]
            urls[name] = urllib.parse.urljoin(f"{index.url}simple/{name}/", entry["url"])
            keys[name] = entry["url"].removeprefix("../../")
        assert httpx.get(urls["down-held"], timeout=60).status_code == 200
        yield Setup(
            public,
            hostile,
            index,
            urls["down-held"],
            keys["down-held"],
            urls["down-listed"],
            keys["down-listed"],
        )


def _close_once(hostile: HostileServer) -> None:
    """Close ``hostile`` unless a test stopped it already."""
    if hostile.url not in _STOPPED:
        hostile.close()
        _STOPPED.add(hostile.url)


_STOPPED: set[str] = set()


def _status_500() -> Action:
    async def act(ex: object) -> None:
        await ex.send(ex.head(500, **{"content-length": "5"}) + b"oops\n")  # type: ignore[attr-defined]

    return act


def _garbage() -> Action:
    async def act(ex: object) -> None:
        body = b"\x00\xffthis is not a simple page{{{"
        head = ex.head(  # type: ignore[attr-defined]
            200,
            **{
                "content-type": "application/vnd.pypi.simple.v1+json",
                "content-length": str(len(body)),
            },
        )
        await ex.send(head + body)  # type: ignore[attr-defined]

    return act


def _hang() -> Action:
    async def act(ex: object) -> None:
        await ex.send(b"", 3600)  # type: ignore[attr-defined]  # nothing, until told to stop

    return act


MODES: dict[str, Callable[[], Action]] = {
    "500": _status_500,
    "garbage": _garbage,
    "hang": _hang,
    "endless": endless,  # the honest body, then zeros without end
    "trickle": lambda: trickle_body(0.5),  # the honest body, a byte every half second
}
# Too slow: 504; anything else upstream does wrong: 502. A body without end is cut at the
# byte cap (502) or, on a loaded machine, at the deadline first (504).
EXPECTED = {"hang": (504,), "trickle": (504,), "endless": (502, 504)}


def _timed(call: Callable[[], httpx.Response]) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = call()
    return response, time.monotonic() - started


def _check_served_and_refused(setup: Setup, expected: tuple[int, ...]) -> None:
    # What tufpi holds: the page and the file, from its storage.
    response, took = _timed(lambda: _json(f"{setup.index.url}simple/down-held/"))
    assert response.status_code == 200, response.text
    assert took < BOUND
    response = httpx.get(setup.held_url, timeout=60)
    assert response.status_code == 200
    # What it does not hold: a clear error naming upstream, in bounded time.
    response, took = _timed(lambda: _json(f"{setup.index.url}simple/never-mirrored/"))
    assert response.status_code in expected, response.text
    assert setup.upstream in response.text
    assert took < BOUND
    response, took = _timed(lambda: httpx.get(setup.unheld_url, timeout=60))
    assert response.status_code in expected, response.text
    assert setup.upstream in response.text
    assert took < BOUND
    # Nothing partial stored, nothing signed for it beyond its listing.
    assert not (setup.index.data_dir / "files" / setup.unheld_key).exists()
    rows = query(
        setup.index.database_url,
        "SELECT held FROM files WHERE path = :key",
        key=setup.unheld_key,
    )
    assert [bool(r[0]) for r in rows] == [False]
    assert query(
        setup.index.database_url,
        "SELECT sha512 FROM targets WHERE path = :key",
        key=setup.unheld_key,
    ) == [(None,)]
    assert query(
        setup.index.database_url,
        "SELECT count(*) FROM projects WHERE normalized_name = 'never-mirrored'",
    ) == [(0,)]


def test_upstream_yanks_and_core_metadata_are_carried_over(setup: Setup) -> None:
    # Upstream (another tufpi, JSON pages with sizes and PEP 658 metadata) yanks a release.
    setup.public.cli("yank", "down-listed", "1.0", "--reason", "broken build")

    def yanked() -> object:
        response = _json(f"{setup.index.url}simple/down-listed/")
        return response.json()["files"][0]["yanked"] if response.status_code == 200 else None

    assert wait_until(yanked, "upstream's yank was not carried over") == "broken build"
    page = _json(f"{setup.index.url}simple/down-listed/").json()
    assert page["tracks"] == [setup.upstream + "down-listed/"]
    # PEP 658 carried over: a file not held has its metadata fetched from upstream, checked
    # against the sha256 the (signed) page states, and stored, without the file itself.
    stated = page["files"][0]["core-metadata"]["sha256"]
    metadata = httpx.get(setup.unheld_url + ".metadata", timeout=60)
    assert metadata.status_code == 200
    assert hashlib.sha256(metadata.content).hexdigest() == stated
    assert b"Name: down-listed" in metadata.content
    assert not (setup.index.data_dir / "files" / setup.unheld_key).exists()
    # The held file's metadata was stored with it: served with upstream down too.
    assert (setup.index.data_dir / "files" / (setup.held_key + ".metadata")).is_file()


@pytest.mark.parametrize("mode", list(MODES))
def test_upstream_failing(setup: Setup, mode: str) -> None:
    setup.hostile.attack(lambda _path: True, MODES[mode]())
    try:
        expected = EXPECTED.get(mode, (502,))
        _check_served_and_refused(setup, expected)
    finally:
        setup.hostile.honest()


def test_upstream_stopped_the_verifying_client_still_installs(setup: Setup, tmp_path: Path) -> None:
    for target in (setup.held_key, "simple/down-held/index.json", "simple/down-held/index.html"):
        wait_for_target(setup.index, tmp_path, target)
    _close_once(setup.hostile)
    _check_served_and_refused(setup, (502, 504))
    assert verified_install(setup.index, tmp_path, "down-held") == {"down_held-1.0.dist-info"}
    client = updater(setup.index, tmp_path, "ng")
    client.refresh()
    info = client.get_targetinfo(setup.held_key)
    assert info is not None
    _filename, data = tiny_wheel("down-held", "1.0")
    assert Path(client.download_target(info, str(tmp_path / "f.whl"))).read_bytes() == data
