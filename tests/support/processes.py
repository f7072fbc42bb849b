"""Finding the processes a test run left behind: what the suite's leak check (tests/conftest.py)
kills and reports when a test module is done.

A process belongs to the run when it descends from the pytest process (one xdist worker), or
when its environment carries the run's mark (``OWNER_ENV``, set in pytest's own environment at
start and so inherited by every process a test starts): that finds an orphan too, such as a
signer whose ``serve`` was killed and which the kernel handed to init.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
import uuid
from pathlib import Path

from tests.support.waiting import wait_until

OWNER_ENV = "TUFPI_TEST_OWNER"


@dataclasses.dataclass(frozen=True)
class Process:
    """One live process: its id, its parent's and its command line."""

    pid: int
    ppid: int
    command: str


def _read(pid: int) -> tuple[int, str] | None:
    """(parent id, state letter) of ``pid`` from /proc/PID/stat, or None once it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) is in parentheses and may hold spaces or parentheses.
    fields = stat.rpartition(")")[2].split()
    return int(fields[1]), fields[0]


def _command(pid: int) -> str:
    with contextlib.suppress(OSError):
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
        return raw.replace(b"\0", b" ").decode(errors="replace").strip()
    return "?"


def _marked(pid: int, mark: bytes) -> bool:
    try:
        return mark in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:
        return False


def live_processes_of(root: int, mark: str | None = None) -> list[Process]:
    """The live (not zombie) processes below ``root``, and those whose environment holds
    ``mark`` (``NAME=VALUE``), but never ``root`` itself nor the processes above it."""
    table: dict[int, tuple[int, str]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (info := _read(int(entry.name))) is not None:
            table[int(entry.name)] = info
    ancestors = {root}
    parent = table.get(root, (0, ""))[0]
    while parent > 0:
        ancestors.add(parent)
        parent = table.get(parent, (0, ""))[0]
    below: set[int] = set()
    frontier = [root]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, (ppid, _) in table.items() if ppid == parent]
        below.update(children)
        frontier.extend(children)
    mark_bytes = mark.encode() if mark else None
    found = [
        Process(pid, ppid, _command(pid))
        for pid, (ppid, state) in sorted(table.items())
        if state != "Z"
        and pid not in ancestors
        and (pid in below or (mark_bytes is not None and _marked(pid, mark_bytes)))
    ]
    return [p for p in found if _read(p.pid) is not None and not _own_tracker(p, root)]


def _own_tracker(process: Process, root: int) -> bool:
    """``root``'s own multiprocessing resource tracker: started once by the first pool a
    test makes in the pytest process, it lives as long as that process (an orphaned tracker
    of a stopped server still counts)."""
    return process.ppid == root and "multiprocessing.resource_tracker" in process.command


def left_behind(root: int, mark: str | None, grace: float = 30) -> list[Process]:
    """The processes of ``live_processes_of`` still alive after ``grace`` seconds (a server
    just stopped may take a moment to see its children out); empty as soon as none is."""
    with contextlib.suppress(AssertionError):
        wait_until(lambda: not live_processes_of(root, mark), "", timeout=grace)
    return live_processes_of(root, mark)


def kill_all(processes: list[Process]) -> None:
    """SIGKILL each process (those already gone are skipped)."""
    for process in processes:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(process.pid, signal.SIGKILL)


def new_mark() -> str:
    """A ``NAME=VALUE`` mark for this process's run, set in its environment (so inherited)."""
    value = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
    os.environ[OWNER_ENV] = value
    return f"{OWNER_ENV}={value}"


def describe(processes: list[Process]) -> str:
    return "\n".join(f"  pid {p.pid} (parent {p.ppid}): {p.command}" for p in processes)
