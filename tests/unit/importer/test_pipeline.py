"""The import's worker processes end with it, even one still starting when it was killed
(tufpi.importer.pipeline)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

# Loaded by every interpreter the test starts (it is on their PYTHONPATH). In a worker that
# multiprocessing spawns, it holds the worker's start until the import that spawned it is
# gone: the worker's initialiser then runs after the import was killed, whatever the load.
# (Under load a worker takes seconds to start; the import reached its crash point first.)
_SITECUSTOMIZE = """
import os, sys, time
if "--multiprocessing-fork" in sys.orig_argv:
    with open(os.environ["TEST_WORKER_PID_FILE"], "w") as f:
        f.write(str(os.getpid()))
    while os.getppid() == int(os.environ["TEST_IMPORT_PID"]):
        time.sleep(0.01)
"""

# The import: its reader starts a worker, then the import is SIGKILLed (--debug-crash-at).
_KILLED_IMPORT = """
import os, signal, sys
from pathlib import Path
from tufpi.importer.pipeline import Reader

os.environ["TEST_IMPORT_PID"] = str(os.getpid())
reader = Reader(None, Path(sys.argv[1]), jobs=1, downloads=1)
reader.processes.submit(os.getpid)
os.kill(os.getpid(), signal.SIGKILL)
"""


def _kill_worker(pid_file: Path) -> None:
    with contextlib.suppress(OSError, ValueError):
        pid = int(pid_file.read_text())
        if "--multiprocessing-fork" in Path(f"/proc/{pid}/cmdline").read_text():
            os.kill(pid, signal.SIGKILL)


def test_a_worker_starting_when_the_import_is_killed_ends(tmp_path: Path) -> None:
    """The hang seen in CI: ``tufpi import --debug-crash-at stored:7`` killed itself, but a
    worker that only ran its initialiser afterwards watched its new parent's pid, lived on
    and kept the import's stdout and stderr open, so its caller waited for them forever."""
    (tmp_path / "sitecustomize.py").write_text(textwrap.dedent(_SITECUSTOMIZE))
    pid_file = tmp_path / "worker.pid"
    path = [str(tmp_path), *filter(None, [os.environ.get("PYTHONPATH")])]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(path),
        "TEST_WORKER_PID_FILE": str(pid_file),
    }
    try:
        result = subprocess.run(
            [sys.executable, "-c", textwrap.dedent(_KILLED_IMPORT), str(tmp_path)],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,  # the worker starts (imports tufpi) once the import is dead
            check=False,
        )
    except subprocess.TimeoutExpired:
        pytest.fail("the killed import's worker lived on, holding the import's output open")
    finally:
        _kill_worker(pid_file)
    assert result.returncode == -signal.SIGKILL, result.stderr
    assert pid_file.exists(), "no worker was started: the case did not happen"
