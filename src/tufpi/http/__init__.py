"""What the index server (``tufpi.web``) and the verifying proxy (``tufpi.client``) share of
HTTP: PEP 691 content negotiation, the reason-phrase header, and uvicorn's h11 protocol with
limits on what a connection may hold.

A foundation package: it imports only ``tufpi.config`` and third-party libraries.

- ``negotiate``: which simple-API representation to answer (pure).
- ``REASON_HEADER``, ``protocol_class``: the h11 protocol that moves ``REASON_HEADER`` into
  the status line and enforces ``ServerLimits`` (``protocol.py``).
- ``ServerLimits``, ``connection_budget``: the limits, as pure decisions (``limits.py``).
- ``serve_app``, ``server_limits``, ``open_files_limit``: run an app under uvicorn with
  them (``serving.py``); ``listening_socket``: bind an address first, to hand uvicorn.
"""

from tufpi.http import negotiate
from tufpi.http.limits import ServerLimits, connection_budget
from tufpi.http.protocol import REASON_HEADER, protocol_class
from tufpi.http.serving import listening_socket, open_files_limit, serve_app, server_limits

__all__ = [
    "REASON_HEADER",
    "ServerLimits",
    "connection_budget",
    "listening_socket",
    "negotiate",
    "open_files_limit",
    "protocol_class",
    "serve_app",
    "server_limits",
]
