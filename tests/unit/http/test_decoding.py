"""The body decoder: a decompression bomb stops one byte past the cap, and nothing but one
gzip member (or no encoding) is accepted."""

from __future__ import annotations

import gzip
import zlib

import pytest

from tests.support.hostile_http import gzip_bomb
from tufpi.http.decoding import PIECE, Decoder, EncodingError, raw_limit


def _decode_all(decoder: Decoder, chunks: list[bytes]) -> list[bytes]:
    pieces = [p for chunk in chunks for p in decoder.decode(chunk)]
    decoder.finish()
    return pieces


def test_a_bomb_stops_one_byte_past_the_cap() -> None:
    """64 MiB of zeros from 64 KiB of gzip: zlib alone would inflate it all from one chunk;
    the decoder gives the cap plus one byte, in pieces of PIECE bytes at most."""
    bomb = b"".join(gzip_bomb(64 * 1024 * 1024))
    assert len(zlib.decompressobj(31).decompress(bomb)) == 64 * 1024 * 1024  # the naive path
    for cap in (16384, 1_000_000):
        decoder = Decoder("gzip", cap)
        pieces = list(decoder.decode(bomb))
        assert sum(map(len, pieces)) == cap + 1
        assert max(map(len, pieces)) <= PIECE
        assert decoder.decoded == cap + 1


def test_honest_gzip_and_identity_decode_whole() -> None:
    data = bytes(range(256)) * 5000
    body = gzip.compress(data)
    chunks = [body[i : i + 1000] for i in range(0, len(body), 1000)]
    assert b"".join(_decode_all(Decoder("gzip", len(data)), chunks)) == data
    assert b"".join(_decode_all(Decoder(" GZIP ", None), chunks)) == data
    assert b"".join(_decode_all(Decoder("", len(data)), [data])) == data
    assert b"".join(_decode_all(Decoder("identity", 10), [data])) == data[:11]


@pytest.mark.parametrize("encoding", ["gzip, gzip", "br", "deflate", "x-gzip", "gzip,identity"])
def test_only_one_gzip_is_accepted(encoding: str) -> None:
    with pytest.raises(EncodingError, match="unsupported content encoding"):
        Decoder(encoding, 100)


def test_nothing_may_follow_the_gzip_member() -> None:
    """A second member or garbage after the first: zlib would set it aside unread (and keep
    it in memory without end); the decoder refuses it."""
    one = gzip.compress(b"signed bytes")
    for extra in (gzip.compress(b"more"), b"garbage", b"\0"):
        decoder = Decoder("gzip", 1000)
        with pytest.raises(EncodingError, match="after the end of the gzip stream"):
            _decode_all(decoder, [one + extra])
        decoder = Decoder("gzip", 1000)
        with pytest.raises(EncodingError, match="after the end of the gzip stream"):
            _decode_all(decoder, [one, extra])


def test_a_cut_or_bad_member_is_refused() -> None:
    body = gzip.compress(b"x" * 10000)
    with pytest.raises(EncodingError, match="ends early"):
        _decode_all(Decoder("gzip", 100000), [body[:-4]])
    with pytest.raises(EncodingError, match="bad gzip data"):
        _decode_all(Decoder("gzip", 100000), [b"\x1f\x8b\x08\x00" + b"\xff" * 50])


def test_the_encoded_bound_leaves_room_for_incompressible_data() -> None:
    import os

    data = os.urandom(1_000_000)
    assert len(gzip.compress(data, 9)) <= raw_limit(len(data))
    assert raw_limit(16384) < 16384 * 6
