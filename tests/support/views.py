"""Read-model values and parsers for testing what the simple API renders."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from html.parser import HTMLParser
from typing import Any

from tufpi.index.views import FileView, ProjectPage

SHA = "ab" * 32
META_SHA = "cd" * 32
UPLOADED = dt.datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=dt.UTC)
ISO_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")


def file_view(**changes: Any) -> FileView:
    """A wheel of demo-pkg 1.0, with ``changes`` applied."""
    base = FileView(
        filename="demo_pkg-1.0-py3-none-any.whl",
        path=f"packages/ab/ab/{SHA[4:]}/demo_pkg-1.0-py3-none-any.whl",
        version="1.0",
        packagetype="bdist_wheel",
        python_version="py3",
        requires_python=None,
        size=1234,
        sha256=SHA,
        blake2_256="ef" * 32,
        md5="01" * 16,
        metadata_sha256=None,
        upload_time=UPLOADED,
        yanked=False,
        yanked_reason=None,
    )
    return dataclasses.replace(base, **changes)


def page(*files: FileView, versions: tuple[str, ...] = ("1.0",)) -> ProjectPage:
    """The page of project Demo.Pkg listing ``files``."""
    return ProjectPage(
        name="Demo.Pkg", normalized_name="demo-pkg", serial=3, versions=versions, files=files
    )


class _Anchors(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.anchors: list[tuple[dict[str, str | None], str]] = []
        self.metas: list[dict[str, str | None]] = []
        self._open: dict[str, str | None] | None = None
        self._text = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self._open, self._text = dict(attrs), ""
        elif tag == "meta":
            self.metas.append(dict(attrs))

    def handle_data(self, data: str) -> None:
        if self._open is not None:
            self._text += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._open is not None:
            self.anchors.append((self._open, self._text))
            self._open = None


@dataclasses.dataclass
class ParsedPage:
    """The <a> elements (attributes as a browser reads them, and text) and <meta> elements."""

    anchors: list[tuple[dict[str, str | None], str]]
    metas: list[dict[str, str | None]]


def parse_html(body: bytes) -> ParsedPage:
    parser = _Anchors()
    parser.feed(body.decode())
    parser.close()
    return ParsedPage(parser.anchors, parser.metas)


def check_pep691_project(body: dict[str, Any]) -> None:
    """Assert the PEP 691 (API version 1.1, with PEP 700) shape of a JSON project page."""
    assert set(body) == {"meta", "name", "versions", "files"}
    assert body["meta"] == {"api-version": "1.1"}
    assert isinstance(body["name"], str)
    assert isinstance(body["versions"], list)
    assert all(isinstance(v, str) for v in body["versions"])
    required = {"filename", "url", "hashes", "size", "upload-time"}
    optional = {"requires-python", "core-metadata", "dist-info-metadata", "yanked", "gpg-sig"}
    for entry in body["files"]:
        assert required <= set(entry) <= required | optional, entry
        assert isinstance(entry["filename"], str)
        assert isinstance(entry["url"], str)
        assert isinstance(entry["hashes"], dict)
        assert all(isinstance(v, str) for v in entry["hashes"].values())
        assert isinstance(entry["size"], int)
        assert not isinstance(entry["size"], bool)
        assert ISO_Z.match(entry["upload-time"]), entry["upload-time"]
        if "requires-python" in entry:
            assert isinstance(entry["requires-python"], str)
        for key in ("core-metadata", "dist-info-metadata"):
            value = entry.get(key, False)
            assert isinstance(value, bool | dict)
        assert isinstance(entry.get("yanked", False), bool | str)
