"""The trust layer's errors that other packages catch."""

from __future__ import annotations


class NotInitialised(Exception):
    """The repository has no signed metadata (or no trust configuration) yet: nothing can
    be recorded or published before ``tufpi trust init``. The message says what is missing."""
