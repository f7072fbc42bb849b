"""``--allow-unpublished`` against a tampering mirror: it adds to the signed page only files
of releases the signed page lacks, from the index's own origin, with the sha256 the index
states (checked when served); it never replaces or shadows a signed file.

Before, with the flag, any file missing from the signed page made the proxy pass the whole
unsigned page through: its entries could point a signed filename at other bytes (the only
check, the sha256 in the path, was the attacker's choice) or at another host, and a project
the index never had installed straight from there. Each test shows plain pip, through the
same mirror, fooled.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support import clients
from tests.support.dists import make_dists
from tests.support.proxy import proxy
from tests.support.proxy_attacks import (
    JSON_ACCEPT,
    HostileMirror,
    file_path,
    hostile_mirror,
    other_host,
    published_root,
)
from tests.support.server import IndexServer

PROJECT = "ua-lib"
WHEEL = "ua_lib-1.0-py3-none-any.whl"


@pytest.fixture(scope="module")
def root(index_server: IndexServer, workdir: Path) -> Path:
    return published_root(index_server, workdir, "unpublished-user", [(PROJECT, "1.0", [])])


@pytest.fixture
def mirror(index_server: IndexServer) -> Iterator[HostileMirror]:
    with hostile_mirror(index_server.url) as mirror:
        yield mirror


def _content_path(data: bytes, filename: str) -> str:
    """Where the index would keep ``data`` (``packages/aa/bb/rest/filename``)."""
    h = hashlib.sha256(data).hexdigest()
    return f"packages/{h[:2]}/{h[2:4]}/{h[4:]}/{filename}"


def _entry(filename: str, url: str, data: bytes) -> dict[str, Any]:
    """A page entry for ``data``, with no PEP 658 file (pip reads the wheel's metadata)."""
    return {
        "filename": filename,
        "url": url,
        "hashes": {"sha256": hashlib.sha256(data).hexdigest()},
        "core-metadata": False,
        "dist-info-metadata": False,
    }


def _wheel(workdir: Path, version: str, summary: str) -> bytes:
    dists = make_dists(workdir / summary.replace(" ", "-"), PROJECT, version, summary=summary)
    return next(p for p in dists if p.name.endswith(".whl")).read_bytes()


def _edit_json(edit: Callable[[dict[str, Any]], None]) -> Callable[[bytes], bytes]:
    """Edit the JSON form of a page (the HTML form is left as it is)."""

    def apply(body: bytes) -> bytes:
        if not body.startswith(b"{"):
            return body
        page = json.loads(body)
        edit(page)
        return json.dumps(page).encode()

    return apply


def _summary(target: Path) -> str:
    """The installed distribution's summary (where the test marks its bytes)."""
    metadata = next(target.glob("ua_lib-*.dist-info")) / "METADATA"
    line = next(x for x in metadata.read_text().splitlines() if x.startswith("Summary: "))
    return line.removeprefix("Summary: ")


def _installed(target: Path) -> set[str]:
    return {p.name for p in target.glob("*.dist-info")}


def _trust(root: Path) -> list[str]:
    return ["--root", str(root), "--allow-unpublished"]


def test_a_signed_file_is_not_replaced(
    index_server: IndexServer, root: Path, workdir: Path, mirror: HostileMirror, tmp_path: Path
) -> None:
    """(a) The mirror points the signed wheel's entry at other bytes (its sha256 in the path
    and on the page) and adds a pending release so the page differs: the verified wheel is
    what pip installs; the pending release alone is added, and served only with its bytes."""
    evil = _wheel(tmp_path, "1.0", "EVIL replaced")
    evil_path = _content_path(evil, WHEEL)
    pending = _wheel(tmp_path, "1.1", "pending release")
    pending_name = "ua_lib-1.1-py3-none-any.whl"
    pending_path = _content_path(pending, pending_name)
    mirror.invent("/" + evil_path, evil, "application/octet-stream")
    mirror.invent("/" + pending_path, pending, "application/octet-stream")

    def tamper(page: dict[str, Any]) -> None:
        for f in page["files"]:
            if f["filename"] == WHEEL:
                f.update(_entry(WHEEL, "../../" + evil_path, evil))
        page["files"].append(_entry(pending_name, "../../" + pending_path, pending))
        page["versions"].append("1.1")

    mirror.edit_page(PROJECT, _edit_json(tamper), signed=False)

    plain = clients.pip_install(mirror.url + "simple/", tmp_path / "plain", f"{PROJECT}==1.0")
    assert plain.returncode == 0, plain.stderr
    assert _summary(tmp_path / "plain") == "EVIL replaced"  # the attack works on plain pip
    mirror.requests.clear()

    log = tmp_path / "proxy.log"
    with proxy(mirror.url, tmp_path / "cache", *_trust(root), log=log) as simple:
        page = httpx.get(simple + PROJECT + "/", headers={"accept": JSON_ACCEPT}).json()
        by_name = {f["filename"]: f for f in page["files"]}
        signed_sha256 = hashlib.sha256(
            (index_server.data_dir / "files" / file_path(index_server, PROJECT, WHEEL)).read_bytes()
        ).hexdigest()
        assert by_name[WHEEL]["hashes"]["sha256"] == signed_sha256
        assert by_name[pending_name]["url"] == "../../" + pending_path
        result = clients.pip_install(simple, tmp_path / "t", f"{PROJECT}==1.0")
        assert result.returncode == 0, result.stdout + result.stderr
        assert _summary(tmp_path / "t") != "EVIL replaced"
        assert "/" + evil_path not in mirror.requests
        # The pending release is installable, unverified, with its stated sha256 checked.
        result = clients.pip_install(simple, tmp_path / "p", f"{PROJECT}==1.1")
        assert result.returncode == 0, result.stdout + result.stderr
        assert _summary(tmp_path / "p") == "pending release"
        unverified = httpx.get(simple.removesuffix("simple/") + pending_path)
        assert unverified.status_code == 200
        assert unverified.headers["cache-control"] == "no-store"  # not kept as if verified
        mirror.invent("/" + pending_path, evil, "application/octet-stream")
        swapped = httpx.get(simple.removesuffix("simple/") + pending_path)
        assert swapped.status_code == 403
        assert "does not have the sha256 the index states" in swapped.text
    text = log.read_text()
    assert f"passed through: {pending_name!r}" in text
    assert f"{WHEEL!r}: the signed page has this file: not replaced" in text


def test_a_file_on_another_host_is_not_offered(
    index_server: IndexServer, root: Path, mirror: HostileMirror, tmp_path: Path
) -> None:
    """(b) An absolute URL to another host on the unsigned page: not offered, not fetched."""
    evil = _wheel(tmp_path, "2.0", "EVIL elsewhere")
    name = "ua_lib-2.0-py3-none-any.whl"
    path = "/" + _content_path(evil, name)
    with other_host({path: evil}) as elsewhere:

        def add(page: dict[str, Any]) -> None:
            page["files"].append(_entry(name, elsewhere.url + path, evil))
            page["versions"].append("2.0")

        mirror.edit_page(PROJECT, _edit_json(add), signed=False)
        plain = clients.pip_install(mirror.url + "simple/", tmp_path / "plain", PROJECT)
        assert plain.returncode == 0, plain.stderr
        assert _summary(tmp_path / "plain") == "EVIL elsewhere"
        elsewhere.requests.clear()

        log = tmp_path / "proxy.log"
        with proxy(mirror.url, tmp_path / "cache", *_trust(root), log=log) as simple:
            page = httpx.get(simple + PROJECT + "/", headers={"accept": JSON_ACCEPT}).json()
            assert name not in {f["filename"] for f in page["files"]}
            result = clients.pip_install(simple, tmp_path / "t", PROJECT)
            assert result.returncode == 0, result.stdout + result.stderr
            assert _installed(tmp_path / "t") == {"ua_lib-1.0.dist-info"}
        assert elsewhere.requests == []
    assert f"{name!r}: its URL is not one of the index's own files" in log.read_text()


def test_a_project_the_index_never_had_is_not_installable(
    root: Path, mirror: HostileMirror, tmp_path: Path
) -> None:
    """(c) The mirror lists a project the index never had, its file on another host."""
    dists = make_dists(tmp_path, "ua-ghost", "1.0", summary="EVIL ghost")
    evil = next(p for p in dists if p.name.endswith(".whl")).read_bytes()
    name = "ua_ghost-1.0-py3-none-any.whl"
    path = "/" + _content_path(evil, name)
    with other_host({path: evil}) as elsewhere:
        page = {"meta": {"api-version": "1.1"}, "name": "ua-ghost", "versions": ["1.0"]}
        page["files"] = [_entry(name, elsewhere.url + path, evil)]
        mirror.invent("/simple/ua-ghost/", json.dumps(page).encode(), JSON_ACCEPT)
        plain = clients.pip_install(mirror.url + "simple/", tmp_path / "plain", "ua-ghost")
        assert plain.returncode == 0, plain.stderr  # plain pip installs it
        elsewhere.requests.clear()

        with proxy(mirror.url, tmp_path / "cache", *_trust(root)) as simple:
            response = httpx.get(simple + "ua-ghost/")
            assert response.status_code == 404
            result = clients.pip_install(simple, tmp_path / "t", "ua-ghost")
            assert result.returncode != 0
            assert "No matching distribution" in result.stdout + result.stderr
            assert not _installed(tmp_path / "t")
            # A path no page announced is not served either.
            direct = httpx.get(simple.removesuffix("simple/") + path.lstrip("/"))
            assert direct.status_code == 404
        assert elsewhere.requests == []
