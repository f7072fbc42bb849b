"""What the index server (``tufpi.web``), the verifying proxy (``tufpi.client``) and the
upstream reader (``tufpi.upstream``) share of HTTP: PEP 691 content negotiation, the
reason-phrase header, uvicorn's h11 protocol with limits on what a connection may hold, and
the bounds on what a reader reads (one deadline per request, gzip inflated to a cap).

A foundation package: it imports only ``tufpi.config`` and third-party libraries. The names
below are imported on first use (PEP 562): ``tufpi install`` binds its proxy's socket
before it imports uvicorn and httpx.

- ``bound_transports``, ``deadline_at``: one total deadline per request, enforced under
  httpx on every name lookup, connect, read and write (``deadline.py``).
- ``Decoder``, ``EncodingError``, ``raw_limit``: undo gzip without inflating past a cap
  (``decoding.py``, pure).
- ``negotiate``: which simple-API representation to answer (pure).
- ``REASON_HEADER``, ``protocol_class``: the h11 protocol that moves ``REASON_HEADER`` into
  the status line and enforces ``ServerLimits`` (``protocol.py``).
- ``ServerLimits``, ``connection_budget``: the limits, as pure decisions (``limits.py``).
- ``serve_app``, ``server_limits``, ``open_files_limit``: run an app under uvicorn with
  them (``serving.py``); ``listening_socket``: bind an address first, to hand uvicorn
  (``sockets.py``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tufpi.exports import lazy_exports

if TYPE_CHECKING:
    from tufpi.http.deadline import bound_transports, deadline_at
    from tufpi.http.decoding import Decoder, EncodingError, raw_limit
    from tufpi.http.limits import ServerLimits, connection_budget
    from tufpi.http.protocol import REASON_HEADER, protocol_class
    from tufpi.http.serving import open_files_limit, serve_app, server_limits
    from tufpi.http.sockets import ListeningSocket, listening_socket

# Each exported name's module.
_HOMES = {
    "bound_transports": "deadline",
    "deadline_at": "deadline",
    "Decoder": "decoding",
    "EncodingError": "decoding",
    "raw_limit": "decoding",
    "ServerLimits": "limits",
    "connection_budget": "limits",
    "REASON_HEADER": "protocol",
    "protocol_class": "protocol",
    "open_files_limit": "serving",
    "serve_app": "serving",
    "server_limits": "serving",
    "listening_socket": "sockets",
    "ListeningSocket": "sockets",
}


__all__ = [
    "REASON_HEADER",
    "Decoder",
    "EncodingError",
    "ListeningSocket",
    "ServerLimits",
    "bound_transports",
    "connection_budget",
    "deadline",
    "deadline_at",
    "decoding",
    "listening_socket",
    "negotiate",
    "open_files_limit",
    "protocol_class",
    "raw_limit",
    "serve_app",
    "server_limits",
]

__getattr__ = lazy_exports(__name__, _HOMES, __all__)
