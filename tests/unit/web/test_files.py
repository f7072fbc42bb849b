"""The pure helpers of downloads under /packages/ (tufpi.web.files)."""

from __future__ import annotations

import pytest

from tufpi.web.files import cache_control, etag_for, is_hidden, media_type

SHA = "0123456789abcdef" * 4
KEY = f"packages/{SHA[:2]}/{SHA[2:4]}/{SHA[4:]}/demo-1.0-py3-none-any.whl"


def test_public_downloads_are_cached_by_everyone_forever() -> None:
    directives = [d.strip() for d in cache_control(private=False).split(",")]
    assert directives == ["public", "max-age=31536000", "immutable"]


def test_private_downloads_are_never_marked_public() -> None:
    directives = [d.strip() for d in cache_control(private=True).split(",")]
    assert "private" in directives
    assert "public" not in directives
    assert "immutable" in directives


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("demo-1.0-py3-none-any.whl", "application/zip"),
        ("demo-1.0.zip", "application/zip"),
        ("demo-1.0.tar.gz", "application/gzip"),
        ("demo-1.0-py3-none-any.whl.metadata", "text/plain; charset=utf-8"),
        ("demo-1.0.exe", "application/octet-stream"),
    ],
)
def test_media_type(name: str, expected: str) -> None:
    assert media_type(name) == expected


def test_etag_is_the_sha256_in_the_key() -> None:
    assert etag_for(KEY) == f'"{SHA}"'
    assert etag_for(KEY + ".metadata") == f'"{SHA}-metadata"'


@pytest.mark.parametrize(
    "key", ["packages/x.whl", "simple/demo/index.html", f"other/{SHA[:2]}/{SHA[2:4]}/x/y.whl"]
)
def test_no_etag_for_keys_without_a_hash(key: str) -> None:
    assert etag_for(key) is None


@pytest.mark.parametrize(
    "key",
    [
        f"packages/{SHA[:2]}/.tmp-abc",
        "packages/../tufpi.sqlite3",
        "packages/./x.whl",
        "packages/aa/.hidden/x.whl",
    ],
)
def test_dot_segments_are_hidden(key: str) -> None:
    assert is_hidden(key)


def test_distribution_keys_are_not_hidden() -> None:
    assert not is_hidden(KEY)
    assert not is_hidden(KEY + ".metadata")
