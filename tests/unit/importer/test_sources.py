"""What a directory and a mirror offer, and how the kind of a source is told."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
from pathlib import Path

import httpx
import pytest

from benchmarks.simple_data import sdist, wheel
from tests.support import hostile_http
from tufpi.importer.inspect import Rejection, parse_filename
from tufpi.importer.model import Candidate, Skipped, SkipReason
from tufpi.importer.sources import (
    DirectorySource,
    FetchError,
    MirrorSource,
    SourceError,
    UrlSource,
    detect,
    group,
    open_source,
    unambiguous,
)
from tufpi.upstream import UpstreamBounds, pages, split_credentials


def test_a_directory_offers_files_anywhere_below(tmp_path: Path) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / ".cache").mkdir()
    w, s = wheel("zeta", "1.0"), sdist("alpha", "2.0")
    (tmp_path / "a" / "b" / w.filename).write_bytes(w.content)
    (tmp_path / s.filename).write_bytes(s.content)
    (tmp_path / ".cache" / "x-1.0.tar.gz").write_bytes(b"hidden")
    (tmp_path / ".partial-1.0.tar.gz").write_bytes(b"hidden")
    (tmp_path / "notes.txt").write_text("hi")
    os.utime(tmp_path / s.filename, (1_600_000_000, 1_600_000_000.25))
    source = DirectorySource(tmp_path)
    found = list(source.discover())
    candidates = [f for f in found if isinstance(f, Candidate)]
    skipped = [f for f in found if isinstance(f, Skipped)]
    assert sorted(c.dist.filename for c in candidates) == sorted([w.filename, s.filename])
    assert [(Path(x.location).name, x.reason) for x in skipped] == [
        ("notes.txt", SkipReason.NOT_A_DISTRIBUTION)
    ]
    groups = group(candidates)
    assert [g.project for g in groups] == ["alpha", "zeta"]
    fetched = source.fetch(groups[0].candidates[0], tmp_path)
    assert fetched.upload_time.timestamp() == 1_600_000_000.25
    assert not fetched.temporary
    gone = Candidate(str(tmp_path / "gone-1.0.tar.gz"), groups[0].candidates[0].dist)
    with pytest.raises(FetchError):
        source.fetch(gone, tmp_path)


def mirror(root: Path, project: str, anchors: list[str]) -> Path:
    page = root / "web" / "simple" / project / "index.html"
    page.parent.mkdir(parents=True)
    page.write_text("<html><body>" + "".join(anchors) + "</body></html>")
    return root


def test_a_mirror_offers_what_its_pages_link_to(tmp_path: Path) -> None:
    w, other = wheel("demo", "1.0"), wheel("other", "1.0")
    for d in (w, other):
        stored = tmp_path / "web" / "packages" / "aa" / "bb" / d.filename
        stored.parent.mkdir(parents=True, exist_ok=True)
        stored.write_bytes(d.content)
    anchors = [
        f'<a href="../../packages/aa/bb/{w.filename}#sha256={w.sha256}">{w.filename}</a>',
        f'<a href="../../packages/aa/bb/{other.filename}">{other.filename}</a>',
        '<a href="../../packages/aa/bb/demo-2.0.tar.gz">demo-2.0.tar.gz</a>',
        '<a href="../../../../outside/demo-3.0.tar.gz">demo-3.0.tar.gz</a>',
        '<a href="https://elsewhere/demo-4.0.tar.gz">demo-4.0.tar.gz</a>',
    ]
    root = mirror(tmp_path, "demo", anchors)
    assert detect(str(root)) == "mirror"
    found = list(open_source(str(root)).discover())
    candidate = found[0]
    assert isinstance(candidate, Candidate)
    assert candidate.expected == ("sha256", w.sha256)
    assert Path(candidate.location) == (tmp_path / "web/packages/aa/bb" / w.filename).resolve()
    reasons = [f.reason for f in found[1:] if isinstance(f, Skipped)]
    assert reasons == [
        SkipReason.WRONG_PROJECT,
        SkipReason.UNREADABLE,
        SkipReason.UNREADABLE,
        SkipReason.UNREADABLE,
    ]


def test_kinds(tmp_path: Path) -> None:
    assert detect("https://pypi.example/simple/") == "url"
    assert detect(str(tmp_path)) == "dir"
    with pytest.raises(SourceError):
        detect(str(tmp_path / "nothing"))
    with pytest.raises(SourceError):
        MirrorSource(tmp_path)
    assert isinstance(open_source(str(tmp_path), "dir"), DirectorySource)


def test_an_index_url_with_credentials_prints_without_them() -> None:
    """The credentials of ``tufpi import https://user:TOKEN@host/simple/`` go in the
    Authorization header only: before, the URL as given named the source in the report and
    in every skipped page and error."""
    token = "tufpi-importSecretImportSecretImportSecret"
    url, auth = split_credentials(f"https://__token__:{token}@pypi.example.org/simple")
    assert url == "https://pypi.example.org/simple"
    assert auth is not None
    request = next(auth.auth_flow(httpx.Request("GET", url)))
    assert request.headers["authorization"].startswith("Basic ")
    assert split_credentials("/srv/packages") == ("/srv/packages", None)
    assert split_credentials("https://pypi.example.org/simple/") == (
        "https://pypi.example.org/simple/",
        None,
    )
    source = UrlSource(f"https://__token__:{token}@pypi.example.org/simple")
    try:
        assert token not in source.url
        assert token not in source.description
    finally:
        source.close()


def test_an_index_file_without_a_date_is_dated_by_the_injected_clock(tmp_path: Path) -> None:
    """Neither PEP 700's upload-time nor Last-Modified: the file's upload time is when it was
    fetched, read from the clock the import was given (the one clock), not the machine's."""
    fetched_at = dt.datetime(2024, 5, 6, 7, 8, 9, tzinfo=dt.UTC)
    modified = dt.datetime(2023, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    with hostile_http.running() as index:
        index.serve("/files/a-1.0.tar.gz", b"dist")
        index.serve(
            "/files/b-1.0.tar.gz", b"dist", {"last-modified": "Mon, 02 Jan 2023 03:04:05 GMT"}
        )
        source = UrlSource(f"{index.url}simple/", clock=lambda: fetched_at)
        try:
            _fetch_both(source, index.url, tmp_path, fetched_at, modified)
        finally:
            source.close()


def _fetch_both(
    source: UrlSource, url: str, tmp_path: Path, fetched_at: dt.datetime, modified: dt.datetime
) -> None:
    for name, expected in (("a", fetched_at), ("b", modified)):
        filename = f"{name}-1.0.tar.gz"
        parsed = parse_filename(filename)
        assert not isinstance(parsed, Rejection)
        candidate = Candidate(f"{url}files/{filename}", parsed)
        fetched = source.fetch(candidate, tmp_path)
        assert fetched.upload_time == expected
        assert fetched.path.read_bytes() == b"dist"


def _listed(filename: str, expected: tuple[str, str] | None, where: str = "a") -> Candidate:
    parsed = parse_filename(filename)
    assert not isinstance(parsed, Rejection)
    return Candidate(f"https://index.example/{where}/{filename}", parsed, expected)


def test_a_filename_listed_with_two_hashes_is_skipped_naming_both() -> None:
    """The import took the first of two entries; now neither: which bytes are meant cannot
    be told. The same file listed twice is taken once."""
    sha_a, sha_b = "a" * 64, "b" * 64
    other = Skipped("https://index.example/x", SkipReason.UNREADABLE, "whatever")
    found = [
        _listed("demo-1.0.tar.gz", ("sha256", sha_a)),
        other,
        _listed("demo-1.0.tar.gz", ("sha256", sha_b), "b"),
        _listed("demo-1.1.tar.gz", ("sha256", sha_a)),
        _listed("demo-1.1.tar.gz", ("sha256", sha_a), "b"),
        _listed("demo-1.2.tar.gz", ("sha256", sha_a)),
        _listed("demo-1.2.tar.gz", None),
    ]
    kept = unambiguous(found)
    assert kept == [
        Skipped(
            "https://index.example/a/demo-1.0.tar.gz",
            SkipReason.AMBIGUOUS,
            f"listed more than once with different hash values (sha256:{sha_a}, "
            f"sha256:{sha_b}): which file is meant cannot be told, so none is taken",
        ),
        other,
        found[3],
        Skipped(
            "https://index.example/a/demo-1.2.tar.gz",
            SkipReason.AMBIGUOUS,
            f"listed more than once with different hash values (sha256:{sha_a}, no hash): "
            "which file is meant cannot be told, so none is taken",
        ),
    ]


def test_a_file_listed_larger_than_the_upload_limit_is_not_fetched(tmp_path: Path) -> None:
    with hostile_http.running() as index:
        source = UrlSource(f"{index.url}simple/", UpstreamBounds(file_max_bytes=1000))
        try:
            candidate = dataclasses.replace(_listed("demo-1.0.tar.gz", None), size=1001)
            with pytest.raises(FetchError) as caught:
                source.fetch(candidate, tmp_path)
        finally:
            source.close()
        assert index.requests == []
    assert caught.value.reason == SkipReason.TOO_BIG
    assert str(caught.value) == (
        "its page lists it at 1001 bytes, more than the 1000 bytes a file may have here "
        "(max_upload_bytes)"
    )
    assert list(tmp_path.iterdir()) == []


def test_a_listed_name_that_is_no_project_name_is_not_asked_for() -> None:
    """A root page listing "https://elsewhere.example/" would otherwise send the import to
    another host; such a name is skipped, saying so, before any request."""
    root = {"meta": {"api-version": "1.0"}, "projects": [{"name": "https://elsewhere.example/"}]}
    with hostile_http.running() as index:
        index.serve("/simple/", json.dumps(root).encode(), {"content-type": pages.JSON_TYPE})
        source = UrlSource(f"{index.url}simple/")
        try:
            found = list(source.discover())
        finally:
            source.close()
        assert index.requests == ["/simple/"]
    assert found == [
        Skipped(
            f"{index.url}simple/",
            SkipReason.UNREADABLE,
            "it lists 'https://elsewhere.example/', which is not a valid project name",
        )
    ]
