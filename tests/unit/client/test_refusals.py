"""What the user reads for each download failure: the cause, in plain words."""

from __future__ import annotations

import pytest
from tuf.api import exceptions
from tuf.api.metadata import TargetFile

from tufpi.client.fetcher import Redirected, SlowDownload, TooLong
from tufpi.client.refusals import explain

URL = "http://mirror.example/packages/aa/bb/cc/demo-1.0-py3-none-any.whl"


@pytest.mark.parametrize(
    ("phase", "words"),
    [
        ("body", "slow retrieval: 1234 bytes in 10.0 s: demo.whl"),
        ("head", "slow retrieval: no complete response head in 10.0 s: demo.whl"),
        ("connect", "slow retrieval: no connection in 10.0 s: demo.whl"),
    ],
)
def test_slow_retrieval_says_what_arrived_in_how_long(phase: str, words: str) -> None:
    refusal = explain(SlowDownload(URL, phase, 1234, 10.04), "demo.whl")  # type: ignore[arg-type]
    assert refusal.message == words
    assert refusal.status == 504


def test_a_file_longer_than_its_signed_length_is_not_the_signed_file() -> None:
    refusal = explain(TooLong(URL, 5000, "signed"), "packages/demo.whl")
    assert refusal.message == (
        "file does not match the signed metadata (longer than its signed length of 5000 "
        "bytes): packages/demo.whl"
    )
    assert "endless" not in refusal.message


def test_metadata_past_the_clients_cap_is_endless_data() -> None:
    url = "http://mirror.example/tuf/timestamp.json"
    refusal = explain(TooLong(url, 16384, "cap"), "refreshing the signed metadata")
    assert refusal.message == (
        "endless data: 'timestamp.json' is longer than the 16384 bytes the client accepts: "
        "refreshing the signed metadata"
    )
    encoded = explain(TooLong(url, 16384, "cap", encoded=True), "x").message
    assert "(before decoding)" in encoded


def _mismatch(data: bytes, signed: bytes) -> exceptions.LengthOrHashMismatchError:
    info = TargetFile.from_data("demo.whl", signed)
    with pytest.raises(exceptions.LengthOrHashMismatchError) as caught:
        info.verify_length_and_hashes(data)
    return caught.value


def test_a_wrong_length_or_hash_says_which() -> None:
    shorter = explain(_mismatch(b"evil", b"genuine bytes"), "demo.whl").message
    assert shorter == (
        "file does not match the signed metadata (wrong length: 4 bytes, signed 13): demo.whl"
    )
    same_length = explain(_mismatch(b"genuine bytez", b"genuine bytes"), "demo.whl").message
    assert same_length.startswith("file hash does not match the signed metadata: demo.whl")


def test_a_redirect_is_named_as_one() -> None:
    refusal = explain(Redirected(URL, 302, "http://evil.example/x\x1b[2J"), "demo.whl")
    assert refusal.message == (
        "the index answered HTTP 302, a redirect (to 'http://evil.example/x\\x1b[2J') the "
        "client does not follow: demo.whl"
    )
    plain = explain(exceptions.DownloadHTTPError("HTTP 500", 500), "demo.whl")
    assert plain.message == "the index answered HTTP 500 for demo.whl"
