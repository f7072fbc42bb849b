"""Worker processes that end with the process that started them.

A pool's worker waits for work on a queue; if the process that started it dies (SIGKILL
included), nothing ever tells it, and it waits forever, holding its parent's output open.
Each pool's initialiser calls ``end_with_parent`` with the pid its parent passed in: a
worker starts slowly (it imports tufpi), so one that asked for its parent's pid itself after
the parent had gone would get its new parent's (init's) and watch that instead.
"""

from __future__ import annotations

import os
import threading
import time

__all__ = ["end_with_parent"]


def end_with_parent(parent: int, poll: float = 0.5) -> None:
    """End this process (exit status 1) once its parent is no longer ``parent``, looking
    every ``poll`` seconds from a daemon thread."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(poll)
        os._exit(1)

    threading.Thread(target=watch, daemon=True, name="parent-watch").start()
