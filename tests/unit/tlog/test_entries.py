"""The log's entry encoding: one spelling per event, everything else refused."""

from __future__ import annotations

import datetime as dt

import pytest

from tufpi.tlog.entries import (
    EntryError,
    FileAdded,
    FileRemoved,
    Published,
    Yanked,
    encode_entry,
    format_time,
    parse_entry,
)

WHEN = dt.datetime(2026, 12, 7, 13, 45, 12, tzinfo=dt.UTC)
SHA = "ab" * 32
ADDED = FileAdded(
    project="demo",
    version="1.0",
    filename="demo-1.0-py3-none-any.whl",
    path="packages/ab/cd/demo-1.0-py3-none-any.whl",
    sha256=SHA,
    size=1234,
    time=WHEN,
    via="upload",
    account="alice",
    token=7,
)
EXAMPLES = [
    ADDED,
    FileAdded(
        "demo", "1.0", "demo-1.0.tar.gz", "packages/x/demo-1.0.tar.gz", SHA, 0, WHEN, "upstream"
    ),
    Yanked("demo", "1.0", True, WHEN, reason="broken\u00e9", account="alice"),
    Yanked("demo", "1.0", False, WHEN, filename="demo-1.0.tar.gz"),
    FileRemoved("demo", "1.0", "demo-1.0.tar.gz", "packages/x/demo-1.0.tar.gz", SHA, WHEN, "admin"),
    Published(12, SHA, 11, "cd" * 32, WHEN),
]


@pytest.mark.parametrize("entry", EXAMPLES, ids=lambda e: e.kind)
def test_round_trip(entry: object) -> None:
    data = encode_entry(entry)  # type: ignore[arg-type]
    assert parse_entry(data) == entry
    assert data.isascii()
    assert b": " not in data
    assert b", " not in data


def test_the_encoding_is_fixed() -> None:
    assert encode_entry(ADDED) == (
        b'{"account":"alice","filename":"demo-1.0-py3-none-any.whl","kind":"file",'
        b'"path":"packages/ab/cd/demo-1.0-py3-none-any.whl","project":"demo",'
        b'"sha256":"' + SHA.encode() + b'","size":1234,"time":"2026-12-07T13:45:12Z",'
        b'"token":7,"version":"1.0","via":"upload"}'
    )


def test_times_are_utc_whole_seconds() -> None:
    local = dt.datetime(2026, 12, 7, 14, 45, 12, 999, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    assert format_time(local) == "2026-12-07T13:45:12Z"
    assert format_time(dt.datetime(2026, 12, 7, 13, 45, 12)) == "2026-12-07T13:45:12Z"


GOOD = encode_entry(ADDED)


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (GOOD.replace(b'"size":1234,', b'"size": 1234,'), "one encoding"),
        (GOOD.replace(b'"account":"alice",', b"") + b"", "missing keys ['account']"),
        (GOOD[:-1] + b',"extra":1}', "extra keys ['extra']"),
        (GOOD.replace(b'"kind":"file"', b'"kind":"files"'), "unknown entry kind"),
        (GOOD.replace(b'"size":1234', b'"size":"1234"'), "size is '1234', not int"),
        (GOOD.replace(b'"size":1234', b'"size":true'), "size is True, not int"),
        (GOOD.replace(b'"size":1234', b'"size":-1'), "size is negative"),
        (GOOD.replace(b'"via":"upload"', b'"via":"mail"'), "via is 'mail'"),
        (GOOD.replace(SHA.encode(), SHA.upper().encode()), "not 64 lowercase hex"),
        (GOOD.replace(b"13:45:12Z", b"13:45:12+00:00"), "not YYYY-MM-DDTHH:MM:SSZ"),
        (GOOD.replace(b'"account":"alice"', b'"account":"alice","account":"eve"'), "one encoding"),
        (b"[1]", "not a JSON object"),
        (b"\xff", "not JSON"),
        (b'{"kind":"file"' + b" " * 65536 + b"}", "more than 65535"),
    ],
)
def test_refused(data: bytes, says: str) -> None:
    with pytest.raises(EntryError) as caught:
        parse_entry(data)
    assert says in str(caught.value)


def test_encode_refuses_what_it_could_not_parse_back() -> None:
    with pytest.raises(EntryError, match="not 64 lowercase hex"):
        encode_entry(Published(1, "x", 1, SHA, WHEN))
