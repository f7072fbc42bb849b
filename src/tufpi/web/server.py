"""Run the app under uvicorn, with error messages in the HTTP reason phrase.

twine prints an upload error as the response's *reason phrase* (PyPI puts its message
there); ASGI has no field for it, so routes set ``x-tufpi-reason`` and this h11 protocol
moves it into the status line. The message is in the body as well, for every other client.
"""

from __future__ import annotations

from typing import Any

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from tufpi.web.context import REASON_HEADER

_REASON = REASON_HEADER.encode()
# uvicorn's default for h11's max_incomplete_event_size
_MAX_INCOMPLETE_EVENT = 16 * 1024


class _ReasonConnection(h11.Connection):
    def send(self, event: Any) -> Any:  # h11's overloads, unchanged
        if isinstance(event, h11.Response):
            reason = next((v for k, v in event.headers if k == _REASON), None)
            if reason is not None:
                headers = [(k, v) for k, v in event.headers if k != _REASON]
                event = h11.Response(status_code=event.status_code, headers=headers, reason=reason)
        return super().send(event)


class ReasonH11Protocol(H11Protocol):
    """uvicorn's h11 protocol, with per-response reason phrases."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        limit = self.config.h11_max_incomplete_event_size or _MAX_INCOMPLETE_EVENT
        self.conn = _ReasonConnection(h11.SERVER, limit)


def run(app: Any, host: str, port: int, log_level: str = "info") -> None:
    """Serve ``app`` until interrupted."""
    uvicorn.run(
        app,
        host=host,
        port=port,
        http=ReasonH11Protocol,
        log_level=log_level,
        proxy_headers=False,
        timeout_graceful_shutdown=5,
    )
