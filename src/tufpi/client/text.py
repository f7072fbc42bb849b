"""Strings from the network made safe for a terminal and a log (pure).

A filename on a mirror's page, a URL, a server's message or reason phrase can carry control
characters: ``ESC [2K`` erases a line, ``CR`` returns to its start, ``U+202E`` reverses
the text after it, a zero-width space hides a difference. Printed raw, a hostile mirror
could erase the warning tufpi prints about it, or fake "verified" text beside it.

``printable`` shows each such character as a visible escape (``\\x1b``, ``\\u202e``) instead;
``Sanitiser`` does it for every log record; ``reason_phrase`` makes a one-line, ASCII
HTTP reason phrase of a message.
"""

from __future__ import annotations

import logging
import unicodedata

# Unicode general categories that a terminal does not show as a character of their own:
# control (C0, DEL, C1), format (bidi embeddings, overrides and isolates, zero-width
# characters, the byte-order mark, soft hyphen), surrogates (left by a lossy decoding),
# line and paragraph separators.
_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})


def _escape(char: str) -> str:
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def printable(text: str) -> str:
    """``text`` with every control, format and separator character (newline and tab too)
    replaced by its visible escape; everything else, non-ASCII letters included, kept."""
    if text.isprintable():  # the common case: nothing to do (spaces other than " " aside)
        return text
    return "".join(_escape(c) if unicodedata.category(c) in _UNSAFE_CATEGORIES else c for c in text)


def printable_lines(text: str) -> str:
    """``text`` line by line through ``printable``: its line breaks kept (a traceback)."""
    return "\n".join(printable(line) for line in text.split("\n"))


def reason_phrase(text: str, limit: int = 500) -> str:
    """``text`` as an HTTP reason phrase: whitespace runs made one space, control characters
    escaped (``printable``), non-ASCII as ``\\u`` escapes, at most ``limit`` characters."""
    one_line = printable(" ".join(text.split()))
    return one_line.encode("ascii", "backslashreplace").decode("ascii")[:limit]


class Sanitiser(logging.Filter):
    """Escapes control characters in every record's formatted message (see ``printable``).

    It composes with the other filters of a handler: install it after
    ``credentials.Redactor``, which formats a record's traceback (scrubbed) once; this
    filter then escapes the traceback line by line, its line breaks kept.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """Format the record's message (with its arguments) and traceback, escaped; keep
        the record."""
        message = record.getMessage()
        safe = printable(message)
        if safe != message:
            record.msg, record.args = safe, None
        if record.exc_info and record.exc_info[1] is not None and not record.exc_text:
            # Cached on the record: the handler's formatter uses exc_text when it is set.
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = printable_lines(record.exc_text)
        return True

    def install(self, *loggers: logging.Logger) -> None:
        """Filter every handler of ``loggers`` (default: the root logger's)."""
        for logger in loggers or (logging.getLogger(),):
            for handler in logger.handlers:
                handler.addFilter(self)
