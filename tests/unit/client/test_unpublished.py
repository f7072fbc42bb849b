"""What --allow-unpublished may add to a signed page (pure decisions)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tufpi.client.proxy import Announcements
from tufpi.client.unpublished import Addition, compose_html, compose_json, offer

INDEX = "https://pypi.example.org/base/"
PAGE_URL = INDEX + "simple/lib/"
SIGNED_SHA = "a" * 64
OTHER_SHA = "b" * 64


def _entry(filename: str, url: str | None = None, sha256: str = OTHER_SHA) -> dict[str, Any]:
    return {
        "filename": filename,
        "url": url if url is not None else f"../../packages/aa/bb/cc/{filename}",
        "hashes": {"sha256": sha256},
    }


SIGNED: dict[str, Any] = {
    "meta": {"api-version": "1.1"},
    "name": "lib",
    "versions": ["1.0"],
    "files": [
        {
            **_entry("lib-1.0-py3-none-any.whl", sha256=SIGNED_SHA),
            "core-metadata": {"sha256": "c" * 64},
        }
    ],
}


def _offer(*entries: object, signed: dict[str, Any] | None = SIGNED) -> tuple[list[str], dict]:
    result = offer("lib", signed, json.dumps({"files": list(entries)}).encode(), PAGE_URL, INDEX)
    return [a.filename for a in result.additions], dict(result.refused)


def test_a_new_release_of_the_index_is_added() -> None:
    added, refused = _offer(_entry("lib-2.0-py3-none-any.whl"), _entry("lib-2.0.tar.gz"))
    assert added == ["lib-2.0-py3-none-any.whl", "lib-2.0.tar.gz"]
    assert refused == {}


def test_the_signed_entry_itself_is_no_addition_and_no_refusal() -> None:
    assert _offer(_entry("lib-1.0-py3-none-any.whl", sha256=SIGNED_SHA)) == ([], {})


@pytest.mark.parametrize(
    "filename",
    ["lib-1.0-py3-none-any.whl", "LIB-1.0-py3-none-any.whl", "lib-1.0.0-py3-none-any.whl"],
)
def test_a_signed_file_is_not_replaced_however_spelled(filename: str) -> None:
    added, refused = _offer(_entry(filename))
    assert added == []
    assert "not replaced" in refused[filename]


def test_another_file_of_a_signed_release_is_not_added() -> None:
    """It would shadow the signed files: an installer may prefer it (an sdist, another tag)."""
    added, refused = _offer(_entry("lib-1.0.tar.gz"), _entry("lib-1.0-py2.py3-none-any.whl"))
    assert added == []
    assert all("not shadowed" in reason for reason in refused.values())


@pytest.mark.parametrize(
    "url",
    [
        "https://evil.example/packages/aa/bb/cc/lib-2.0.tar.gz",
        "http://pypi.example.org/base/packages/aa/bb/cc/lib-2.0.tar.gz",  # another scheme
        "https://pypi.example.org:8443/base/packages/aa/bb/cc/lib-2.0.tar.gz",  # another port
        "//evil.example/packages/aa/bb/cc/lib-2.0.tar.gz",
        "../../../packages/aa/bb/cc/lib-2.0.tar.gz",  # out of the index's base path
        "../../simple/aa/lib-2.0.tar.gz",  # not under packages/
        "../../packages/aa/%2e%2e/lib-2.0.tar.gz",
        "../../packages/aa/bb/cc/lib-2.0.tar.gz?x=1",
        "../../packages/aa/bb/cc/other-name.tar.gz",  # not the entry's filename
        "data:text/plain,lib-2.0.tar.gz",
    ],
)
def test_only_the_index_s_own_files_are_added(url: str) -> None:
    added, refused = _offer(_entry("lib-2.0.tar.gz", url=url))
    assert added == []
    assert refused == {"lib-2.0.tar.gz": "its URL is not one of the index's own files"}


def test_an_absolute_url_on_the_index_s_own_origin_is_added() -> None:
    url = INDEX + "packages/aa/bb/cc/lib-2.0.tar.gz"
    added, _ = _offer(_entry("lib-2.0.tar.gz", url=url))
    assert added == ["lib-2.0.tar.gz"]


@pytest.mark.parametrize(
    "entry",
    [
        {"filename": "lib-2.0.tar.gz", "url": "../../packages/a/lib-2.0.tar.gz"},
        {**_entry("lib-2.0.tar.gz"), "hashes": {"sha256": "short"}},
        {**_entry("lib-2.0.tar.gz"), "hashes": {"md5": "0" * 32}},
        {**_entry("lib-2.0.tar.gz"), "size": -1},
        {**_entry("lib-2.0.tar.gz"), "size": "12"},
        _entry("other-2.0.tar.gz"),
        _entry("lib-2.0.exe"),
        {"filename": ["lib-2.0.tar.gz"]},
        "lib-2.0.tar.gz",
    ],
)
def test_entries_without_a_stated_sha256_or_of_other_kinds_are_refused(entry: object) -> None:
    added, refused = _offer(entry)
    assert added == []
    assert len(refused) == 1


@pytest.mark.parametrize(
    "body", [b"", b"<html>", b"[]", b'{"files": 5}', b'"x"', b"\xff", b"[" * 50_000]
)
def test_any_bytes_at_all_give_no_addition(body: bytes) -> None:
    result = offer("lib", SIGNED, body, PAGE_URL, INDEX)
    assert result.additions == ()


def test_the_composed_pages_keep_the_signed_entries_and_link_back_to_the_proxy() -> None:
    result = offer(
        "lib",
        SIGNED,
        json.dumps({"files": [{**_entry("lib-2.0.tar.gz"), "size": 12}]}).encode(),
        PAGE_URL,
        INDEX,
    )
    page = json.loads(compose_json("lib", SIGNED, result))
    assert page["files"][0] == SIGNED["files"][0]
    added = page["files"][1]
    assert added["url"] == "../../packages/aa/bb/cc/lib-2.0.tar.gz"
    assert added["core-metadata"] is False
    assert added["size"] == 12
    assert page["versions"] == ["1.0", "2.0"]
    html = compose_html("lib", SIGNED, result).decode()
    assert f'href="../../packages/aa/bb/cc/lib-1.0-py3-none-any.whl#sha256={SIGNED_SHA}"' in html
    assert f'data-core-metadata="sha256={"c" * 64}"' in html
    assert f'href="../../packages/aa/bb/cc/lib-2.0.tar.gz#sha256={OTHER_SHA}"' in html


def test_a_project_not_listed_gets_a_page_of_its_additions_alone() -> None:
    result = offer(
        "lib", None, json.dumps({"files": [_entry("lib-2.0.tar.gz")]}).encode(), PAGE_URL, INDEX
    )
    page = json.loads(compose_json("lib", None, result))
    assert page["name"] == "lib"
    assert [f["filename"] for f in page["files"]] == ["lib-2.0.tar.gz"]
    assert "lib-2.0.tar.gz</a>" in compose_html("lib", None, result).decode()


def test_the_proxy_remembers_the_newest_announcements_only() -> None:
    """/packages/ serves an unsigned file only if a page announced it: the proxy keeps the
    newest announcements, a bounded number."""
    announced = Announcements(limit=2)
    additions = [Addition("lib-2.tar.gz", "packages/a/lib-2.tar.gz", OTHER_SHA, None, None)]
    additions += [Addition("lib-3.tar.gz", "packages/a/lib-3.tar.gz", OTHER_SHA, None, None)]
    additions += [Addition("lib-4.tar.gz", "packages/a/lib-4.tar.gz", OTHER_SHA, None, None)]
    announced.add(additions)
    assert announced.get("packages/a/lib-2.tar.gz") is None
    assert announced.get("packages/a/lib-4.tar.gz") == additions[-1]
    assert announced.get("packages/a/other.tar.gz") is None
