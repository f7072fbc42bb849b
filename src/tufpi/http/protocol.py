"""uvicorn's h11 protocol with error messages in the HTTP reason phrase and with limits on
what a connection may hold; the index server and the verifying proxy both run on it.

twine prints an upload error as the response's *reason phrase* (PyPI puts its message
there); ASGI has no field for it, so an app sets ``REASON_HEADER`` on its answer and this
protocol moves it into the status line. The message is in the body as well, for every other
client.

uvicorn has no timeout on reading a request: its keep-alive timer restarts on every byte, so
a client sending a header a byte a second holds a connection (and a file descriptor)
forever, and enough of them exhaust the process's descriptors. ``LimitedH11Protocol`` adds,
with the event loop's timers, a deadline for the whole request head, a minimum progress for
request bodies, and a cap on open connections (``limits.py`` holds the decisions).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, ClassVar

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from tufpi.http.limits import ServerLimits, body_progressing

# The header an app sets to give its answer a reason phrase (for twine, which shows it, as
# PyPI puts its error messages there); the protocol takes it out of the headers.
REASON_HEADER = "x-tufpi-reason"

log = logging.getLogger("tufpi.server")

_REASON = REASON_HEADER.encode()
# uvicorn's default for h11's max_incomplete_event_size
_MAX_INCOMPLETE_EVENT = 16 * 1024
# How long a connection refused past the cap may take to send its request head (to read
# its 503) before it is closed.
_REFUSAL_GRACE = 1.0
# Seconds a connection being closed has to take what is left to send, before it is aborted
# (asyncio's close() waits for the send buffer to drain, which a client that never reads
# would hold off forever).
_CLOSE_GRACE = 5.0


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


def _plain(status: int, reason: str, message: str) -> bytes:
    """A complete ``Connection: close`` response, for a connection about to be closed
    outside any request/response cycle h11 could send it in."""
    body = (message + "\n").encode()
    return (
        f"HTTP/1.1 {status} {reason}\r\ncontent-type: text/plain; charset=utf-8\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    ).encode() + body


async def _refuse(scope: Any, receive: Any, send: Any) -> None:
    """The ASGI app a connection past the cap gets: a plain 503."""
    body = b"Too many connections: the server is at its connection limit. Retry shortly.\n"
    headers = [
        (b"content-type", b"text/plain; charset=utf-8"),
        (b"content-length", str(len(body)).encode()),
        (b"retry-after", b"1"),
        (b"connection", b"close"),
        (_REASON, b"Too many connections"),
    ]
    await send({"type": "http.response.start", "status": 503, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})


class ConnectionBook:
    """What the connections of one server share: the limits, and the connections waiting
    for a request head, the one waiting longest first."""

    def __init__(self, limits: ServerLimits) -> None:
        self.limits = limits
        self.waiting: dict[LimitedH11Protocol, None] = {}

    def wait(self, protocol: LimitedH11Protocol) -> None:
        """``protocol`` starts waiting for a request head (it becomes the newest)."""
        self.waiting.pop(protocol, None)
        self.waiting[protocol] = None

    def evict_longest_waiting(self, newcomer: LimitedH11Protocol) -> bool:
        """Close the connection that has waited longest for a request head (an idle
        keep-alive connection, or a client trickling its head); False if none waits."""
        victim = next((p for p in self.waiting if p is not newcomer), None)
        if victim is None:
            return False
        self.waiting.pop(victim)
        victim.close_idle()
        return True


class LimitedH11Protocol(ReasonH11Protocol):
    """``ReasonH11Protocol`` with a request-head deadline, a minimum body progress and a
    connection cap; ``protocol_class`` binds it to one server's ``ConnectionBook``."""

    book: ClassVar[ConnectionBook]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_timer: asyncio.TimerHandle | None = None
        self._body_timer: asyncio.TimerHandle | None = None
        self._write_timer: asyncio.TimerHandle | None = None
        self._abort_timer: asyncio.TimerHandle | None = None
        self._received = 0
        self._window_start = 0

    # uvicorn's protocol interface, extended
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        cap = self.book.limits.max_connections
        if len(self.connections) <= cap:
            self._await_head(self.book.limits.header_timeout)
        elif self.book.evict_longest_waiting(self):
            log.warning(
                "connection limit (%d) reached: closing the connections that have waited "
                "longest for a request",
                cap,
            )
            self._await_head(self.book.limits.header_timeout)
        else:
            log.warning("connection limit (%d) reached with every connection busy: 503", cap)
            self.app = _refuse
            self._await_head(_REFUSAL_GRACE)

    def connection_lost(self, exc: Exception | None) -> None:
        self.book.waiting.pop(self, None)
        self._cancel_timers()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        self._received += len(data)
        super().data_received(data)

    def handle_events(self) -> None:
        before = self.cycle
        super().handle_events()
        if self.cycle is not before and self.cycle is not None:
            self._head_arrived()

    def on_response_complete(self) -> None:
        if not self.transport.is_closing():
            self._await_head(self.book.limits.header_timeout)
        # May start a pipelined request at once (handle_events, above, then stops the clock).
        super().on_response_complete()

    def pause_writing(self) -> None:
        # The client is not reading what the server sends: it must within body_timeout.
        super().pause_writing()
        if self._write_timer is None:
            self._write_timer = self.loop.call_later(
                self.book.limits.body_timeout, self._write_timed_out
            )

    def resume_writing(self) -> None:
        super().resume_writing()
        if self._write_timer is not None:
            self._write_timer.cancel()
            self._write_timer = None

    def close_idle(self) -> None:
        """Close this connection, which is between requests (the cap needs its place)."""
        self._cancel_timers()
        self._close()

    def _close(self) -> None:
        """Close the connection; abort it if the client has not read what is left to send
        after a grace period."""
        if not self.transport.is_closing():
            self.transport.close()
            self._abort_timer = self.loop.call_later(_CLOSE_GRACE, self.transport.abort)

    def _write_timed_out(self) -> None:
        self._write_timer = None
        self.transport.abort()

    # The request head's deadline
    def _await_head(self, timeout: float) -> None:
        self.book.wait(self)
        if self._head_timer is not None:
            self._head_timer.cancel()
        self._head_timer = self.loop.call_later(timeout, self._head_timed_out)

    def _head_arrived(self) -> None:
        self.book.waiting.pop(self, None)
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None
        if self.cycle.more_body and self.conn.their_state is h11.SEND_BODY:
            self._start_body_window()

    def _head_timed_out(self) -> None:
        self._head_timer = None
        self.book.waiting.pop(self, None)
        if self.transport.is_closing():
            return
        partial, _ = self.conn.trailing_data
        if partial:
            seconds = self.book.limits.header_timeout
            message = f"Request Timeout: the request head did not arrive within {seconds:g} s."
            self.transport.write(_plain(408, "Request Timeout", message))
        self._close()

    # The request body's progress
    def _start_body_window(self) -> None:
        self._window_start = self._received
        self._body_timer = self.loop.call_later(
            self.book.limits.body_timeout, self._body_window_ended
        )

    def _body_window_ended(self) -> None:
        self._body_timer = None
        cycle = self.cycle
        if self.transport.is_closing() or self.conn.their_state is not h11.SEND_BODY:
            return
        # Not the client's fault: the app is not reading (flow control paused reading), or
        # the client is waiting for the 100 Continue the app's first read sends.
        excused = self.flow.read_paused or cycle.waiting_for_100_continue
        limits = self.book.limits
        received = self._received - self._window_start
        if excused or body_progressing(received, limits.body_timeout, limits.body_min_rate):
            self._start_body_window()
            return
        if not cycle.response_started:
            message = (
                f"Request Timeout: the request body arrived too slowly ({received} bytes in "
                f"{limits.body_timeout:g} s; at least {limits.body_min_rate} bytes a second "
                "are needed)."
            )
            self.transport.write(_plain(408, "Request Timeout", message))
        self._close()

    def _cancel_timers(self) -> None:
        for timer in (self._head_timer, self._body_timer, self._write_timer, self._abort_timer):
            if timer is not None:
                timer.cancel()
        self._head_timer = self._body_timer = self._write_timer = self._abort_timer = None


def protocol_class(limits: ServerLimits) -> type[LimitedH11Protocol]:
    """A ``LimitedH11Protocol`` class of its own for one server, with ``limits``."""
    return type("TufpiH11Protocol", (LimitedH11Protocol,), {"book": ConnectionBook(limits)})
