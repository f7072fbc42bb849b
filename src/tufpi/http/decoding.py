"""Undo a response's Content-Encoding without ever inflating much past a cap (pure: bytes in,
bytes out; the client's fetcher and the upstream reader do the I/O around it).

A decompression bomb (2 MB of gzip that inflates to 2 GiB) must cost the reader no more
memory than the cap it reads to: the decoder inflates at most ``PIECE`` bytes per call, and
never more, over the whole body, than one byte past ``limit``, so the caller's length check
fires before anything larger exists. Only what the client asks for is accepted: no
encoding, or exactly one gzip member (RFC 9110 8.4.1, RFC 1952); stacked encodings, another
member or any byte after the first member are refused rather than skipped, so nothing can
hide behind what the decoder ignores.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator

__all__ = ["PIECE", "Decoder", "EncodingError", "raw_limit"]

# Decoded bytes per call at most.
PIECE = 256 * 1024
# gzip with the largest window; zlib reads and checks the member's header and trailer.
_GZIP_WBITS = 16 + zlib.MAX_WBITS


class EncodingError(ValueError):
    """The body's encoding is not one the client decodes, or the encoded bytes are bad."""


def raw_limit(limit: int) -> int:
    """The most encoded bytes a body decoding to ``limit`` bytes can need: deflate's stored
    blocks add 5 bytes per 64 KiB, gzip 18 bytes of header and trailer; far more here, so
    that no honest encoder is refused, and still a bound on bytes that decode to nothing (a
    header comment that never ends)."""
    return limit + limit // 256 + 64 * 1024


class Decoder:
    """Decode one body's Content-Encoding, ``limit + 1`` decoded bytes at most (None: no
    limit, still ``PIECE`` bytes per piece)."""

    def __init__(self, content_encoding: str, limit: int | None) -> None:
        """Raises:
        EncodingError: anything other than no encoding, ``identity`` or one ``gzip``.
        """
        encoding = content_encoding.strip().lower()
        if encoding not in ("", "identity", "gzip"):
            # Also "gzip, gzip" (stacked) and "x-gzip": the client asks for gzip only.
            raise EncodingError(f"unsupported content encoding {content_encoding!r}")
        self._zlib = zlib.decompressobj(_GZIP_WBITS) if encoding == "gzip" else None
        self._allowed = None if limit is None else limit + 1
        self.decoded = 0

    def _room(self) -> int:
        if self._allowed is None:
            return PIECE
        return max(0, min(PIECE, self._allowed - self.decoded))

    def decode(self, raw: bytes) -> Iterator[bytes]:
        """The decoded pieces of ``raw`` (the next bytes of the body), each ``PIECE`` bytes at
        most; they stop once one byte past the limit has been decoded.

        Raises:
            EncodingError: bad gzip, or bytes after the end of the gzip member.
        """
        if self._zlib is None:
            # Unencoded: as it came (a read from the network is small), up to the limit.
            left = None if self._allowed is None else self._allowed - self.decoded
            yield from self._count(raw[:left])
            return
        if self._zlib.eof:
            if raw:
                raise EncodingError("data after the end of the gzip stream")
            return
        data = raw
        while room := self._room():
            try:
                piece = self._zlib.decompress(data, room)
            except zlib.error as e:
                raise EncodingError(f"bad gzip data: {e}") from e
            if self._zlib.eof and self._zlib.unused_data:
                raise EncodingError("data after the end of the gzip stream")
            data = self._zlib.unconsumed_tail
            yield from self._count(piece)
            # A full piece may leave output pending inside zlib, even with no input left.
            if self._zlib.eof or (not data and len(piece) < room):
                return

    def _count(self, piece: bytes) -> Iterator[bytes]:
        if piece:
            self.decoded += len(piece)
            yield piece

    def finish(self) -> None:
        """Check that the body ended where its encoding does.

        Raises:
            EncodingError: a gzip member cut short.
        """
        if self._zlib is not None and not self._zlib.eof and self._room():
            raise EncodingError("the gzip stream ends early")
