"""The PyPI-compatible web surface: simple API, uploads, JSON API, downloads and the home
page (with ``usage``: the index's URL and the command lines that use it)."""

from tufpi.web.app import build_context, create_app
from tufpi.web.usage import listening_url, start_lines

__all__ = ["build_context", "create_app", "listening_url", "start_lines"]
