"""Who can reach ``tufpi proxy`` (pure): a warning when it listens beyond this machine.

The proxy has no authentication of its own: whoever can connect to it installs through it,
and reads a private index with the credentials it holds. On a loopback address only local
users can; on any other (``0.0.0.0``, ``::``, a LAN address, a host name) anyone who can
reach the address can.
"""

from __future__ import annotations

import ipaddress

_LOOPBACK_NAMES = frozenset({"localhost", "localhost."})


def is_loopback(host: str) -> bool:
    """Whether ``host`` (an IP address, ``[::1]`` or a name) is reachable from this machine
    only: 127.0.0.0/8, ::1, an IPv4-mapped loopback, or ``localhost``. Any other name is
    treated as reachable: what it resolves to is not this function's to know."""
    host = host.strip().removeprefix("[").removesuffix("]")
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


def listen_warning(host: str, holds_credentials: bool) -> str | None:
    """The warning for a proxy listening on ``host``; None on a loopback address."""
    if is_loopback(host):
        return None
    also = (
        ", and read the private index with the credentials this proxy holds"
        if holds_credentials
        else ""
    )
    return (
        f"listening on {host}, which is not a loopback address: anyone who can reach it can "
        f"install through this proxy{also}; use --listen 127.0.0.1:PORT to keep it local"
    )
