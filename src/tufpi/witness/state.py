"""A witness's state: the latest tree it cosigned for each log, in one JSON file.

The file is replaced atomically (a temporary file beside it, fsync, ``os.replace``, fsync
of the directory) and each change happens under a lock held from reading the state to
writing the new one (a thread lock, and ``flock`` on ``<state>.lock`` for another process
on the same file), so two requests can never both advance from the same old size (the race
the tlog-witness spec describes). A cosignature is answered only after its state is on disk.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import tempfile
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from tufpi.tlog import hashing, notes
from tufpi.tlog.notes import NoteError
from tufpi.tlog.witness import LogState, WitnessError, parse_size

FORMAT = "tufpi-witness-state-1"
# Far more logs than one witness follows, and still a small file to read per request.
MAX_STATE_BYTES = 16 * 1024 * 1024


class StateError(Exception):
    """The state file is unreadable or malformed: the witness refuses to start or answer."""


def encode_states(states: Mapping[str, LogState]) -> bytes:
    """The state file's content."""
    logs = {
        origin: {"size": s.size, "root_hash": base64.b64encode(s.root_hash).decode()}
        for origin, s in sorted(states.items())
    }
    return json.dumps({"format": FORMAT, "logs": logs}, indent=1, sort_keys=True).encode() + b"\n"


def parse_states(data: bytes) -> dict[str, LogState]:
    """The states a state file holds; ``StateError`` for anything else."""
    try:
        body = json.loads(data)
    except ValueError as e:
        raise StateError(f"the state file is not JSON: {e}") from None
    if not isinstance(body, dict) or body.get("format") != FORMAT:
        raise StateError(f"the state file is not a {FORMAT} file")
    logs = body.get("logs")
    if not isinstance(logs, dict):
        raise StateError("the state file has no 'logs' object")
    return {origin: _log_state(origin, value) for origin, value in logs.items()}


def _log_state(origin: str, value: Any) -> LogState:
    if not isinstance(value, dict) or set(value) != {"size", "root_hash"}:
        raise StateError(f"the state of {origin!r} is not {{size, root_hash}}")
    size, root = value["size"], value["root_hash"]
    if type(size) is not int or not isinstance(root, str):
        raise StateError(f"the state of {origin!r}: a whole size and a base64 root hash")
    try:
        parse_size(str(size), f"the size of {origin!r}")
        raw = notes.strict_b64(root, f"the root hash of {origin!r}")
    except (NoteError, WitnessError) as e:
        raise StateError(str(e)) from None
    if len(raw) != hashing.HASH_SIZE:
        raise StateError(f"the root hash of {origin!r} is not {hashing.HASH_SIZE} bytes")
    return LogState(size, raw)


class StateFile:
    """The state file at ``path``: read and replaced under one lock."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._lock_path = path.with_name(path.name + ".lock")

    def read(self) -> dict[str, LogState]:
        """The states on disk; none when the file does not exist yet."""
        try:
            with self.path.open("rb") as file:
                data = file.read(MAX_STATE_BYTES + 1)
        except FileNotFoundError:
            return {}
        except OSError as e:
            raise StateError(f"cannot read the state {self.path}: {e.strerror or e}") from e
        if len(data) > MAX_STATE_BYTES:
            raise StateError(f"the state {self.path} is over {MAX_STATE_BYTES} bytes")
        return parse_states(data)

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the state: no other thread or process reads-then-writes it meanwhile."""
        with self._lock:
            try:
                lock = self._lock_path.open("a")
            except OSError as e:
                raise StateError(f"cannot open {self._lock_path}: {e.strerror or e}") from e
            with lock:
                fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
                try:
                    yield
                finally:
                    fcntl.flock(lock.fileno(), fcntl.LOCK_UN)

    def write(self, states: Mapping[str, LogState]) -> None:
        """Replace the file with ``states``, durably (call it inside ``locked``).

        Raises:
            OSError: the file could not be written; the old one is left as it was.
        """
        directory = self.path.parent
        fd, temporary = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=directory)
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(encode_states(states))
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
