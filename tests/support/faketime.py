"""Move a process's clock with libfaketime (Debian's faketime), set in its environment.

The environment is used rather than the ``faketime`` wrapper, which runs the command as a
child: signalling the wrapper would leave the real process running.
"""

from __future__ import annotations

import glob


def library() -> str | None:
    found = sorted(glob.glob("/usr/lib/*/faketime/libfaketimeMT.so.1"))
    return found[0] if found else None


def env(offset: str) -> dict[str, str]:
    """Environment variables that shift the clock by ``offset`` (for example ``+25h``)."""
    lib = library()
    if lib is None:
        raise RuntimeError("libfaketime is not installed (Debian package faketime)")
    return {"LD_PRELOAD": lib, "FAKETIME": offset, "FAKETIME_DONT_FAKE_MONOTONIC": "1"}
