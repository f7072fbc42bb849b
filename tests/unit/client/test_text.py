"""Strings from the network, made safe for a terminal and a log."""

from __future__ import annotations

import io
import logging

import pytest

from tufpi.client.credentials import Redactor
from tufpi.client.text import Sanitiser, printable, reason_phrase

EVIL = "pkg-1.0-py3-none-any.whl\x1b[2K\r\x1b[32mverified"


@pytest.mark.parametrize(
    ("char", "shown"),
    [
        ("\x00", "\\x00"),  # C0
        ("\x07", "\\x07"),  # bell
        ("\x08", "\\x08"),  # backspace
        ("\t", "\\x09"),
        ("\n", "\\x0a"),
        ("\r", "\\x0d"),
        ("\x1b", "\\x1b"),  # escape
        ("\x7f", "\\x7f"),  # delete
        ("\x85", "\\x85"),  # C1: next line
        ("\x9b", "\\x9b"),  # C1: control sequence introducer
        ("\u00ad", "\\xad"),  # soft hyphen (format)
        ("\u200b", "\\u200b"),  # zero-width space
        ("\u200d", "\\u200d"),  # zero-width joiner
        ("\u200e", "\\u200e"),  # left-to-right mark
        ("\u202a", "\\u202a"),  # left-to-right embedding
        ("\u202e", "\\u202e"),  # right-to-left override
        ("\u2066", "\\u2066"),  # left-to-right isolate
        ("\u2067", "\\u2067"),
        ("\u2068", "\\u2068"),
        ("\u2069", "\\u2069"),  # pop directional isolate
        ("\u2028", "\\u2028"),  # line separator
        ("\u2029", "\\u2029"),  # paragraph separator
        ("\u2060", "\\u2060"),  # word joiner
        ("\ufeff", "\\ufeff"),  # byte-order mark
        ("\U000e0001", "\\U000e0001"),  # language tag
        ("\udc1b", "\\udc1b"),  # a lone surrogate (surrogateescape of byte 0x1b)
    ],
)
def test_every_control_class_is_shown_escaped(char: str, shown: str) -> None:
    assert printable(f"a{char}b") == f"a{shown}b"


def test_printable_text_is_unchanged() -> None:
    for text in ("pkg-1.0.tar.gz", "naïve café 日本語 ü", "a b\\x1b", "Ελληνικά", "\u00a0nbsp"):
        assert printable(text) == text


def test_a_fake_verified_line_becomes_visible() -> None:
    shown = printable(EVIL)
    assert shown == "pkg-1.0-py3-none-any.whl\\x1b[2K\\x0d\\x1b[32mverified"
    assert all(c.isprintable() for c in shown)


def test_reason_phrase_is_one_ascii_line() -> None:
    phrase = reason_phrase(f"not listed:\n  {EVIL} \u202etxt.exe — ok")
    assert phrase.isascii()
    assert phrase.isprintable()
    # Whitespace (CR among it) makes one space; the escapes are shown.
    assert "not listed: pkg-1.0-py3-none-any.whl\\x1b[2K \\x1b[32mverified" in phrase
    assert "\\u202e" in phrase
    assert "\\u2014" in phrase  # a non-ASCII character, escaped for the header
    assert len(reason_phrase("x" * 1000)) == 500


def _logged(*filters: logging.Filter) -> str:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    logger = logging.getLogger("tufpi.test.text")
    logger.propagate = False
    logger.addHandler(handler)
    for f in filters:
        f.install(logger)  # type: ignore[attr-defined]
    try:
        logger.warning("%s: hidden: %s", "proj", EVIL)
        logger.warning("plain %s", "words")
    finally:
        logger.removeHandler(handler)
    return out.getvalue()


def test_sanitiser_escapes_every_log_record() -> None:
    raw = _logged()
    assert "\x1b" in raw  # without the filter, the escape reaches the log
    logged = _logged(Sanitiser())
    assert "\x1b" not in logged
    assert "\r" not in logged
    assert "proj: hidden: pkg-1.0-py3-none-any.whl\\x1b[2K\\x0d\\x1b[32mverified\n" in logged
    assert "plain words\n" in logged


def test_sanitiser_escapes_a_traceback_but_keeps_its_lines() -> None:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    logger = logging.getLogger("tufpi.test.text.tb")
    logger.propagate = False
    logger.addHandler(handler)
    Redactor(["s3cret"]).install(logger)
    Sanitiser().install(logger)
    try:
        try:
            raise ValueError(f"bad page s3cret {EVIL}")
        except ValueError:
            logger.exception("failed")
    finally:
        logger.removeHandler(handler)
    logged = out.getvalue()
    assert "\x1b" not in logged
    assert "\r" not in logged
    assert "s3cret" not in logged
    assert "Traceback (most recent call last):\n" in logged
    assert "ValueError: bad page *** pkg-1.0-py3-none-any.whl\\x1b[2K\\x0d" in logged


def test_sanitiser_composes_with_the_redactor() -> None:
    token = "tufpi-secret-token-value"
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    logger = logging.getLogger("tufpi.test.text.both")
    logger.propagate = False
    logger.addHandler(handler)
    Redactor([token]).install(logger)
    Sanitiser().install(logger)
    try:
        logger.warning("got %s from https://u:%s@h/ \x1b[1A", token, token)
    finally:
        logger.removeHandler(handler)
    assert out.getvalue() == "got *** from https://***@h/ \\x1b[1A\n"
