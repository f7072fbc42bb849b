"""The PyPI-compatible web surface: simple API, uploads, JSON API and downloads."""

from tufpi.web.app import build_context, create_app

__all__ = ["build_context", "create_app"]
