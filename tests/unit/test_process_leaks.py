"""The suite's leak check (tests/conftest.py, tests/support/processes.py): a process a test
started and left running is found, killed, and fails the run with its command line."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from tests.conftest import LEAK_GRACE_ENV
from tests.support import processes
from tests.support.waiting import wait_until

REPO = Path(__file__).resolve().parents[2]


def _gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return True
    return state == "Z"


def test_a_child_is_found_and_a_finished_one_is_not() -> None:
    child = subprocess.Popen(["sleep", "60"])
    try:
        found = processes.live_processes_of(os.getpid())
        assert [p.command for p in found if p.pid == child.pid] == ["sleep 60"]
    finally:
        child.kill()
        child.wait()
    assert child.pid not in {p.pid for p in processes.live_processes_of(os.getpid())}


def test_an_orphan_is_found_by_the_mark_in_its_environment() -> None:
    """A grandchild whose parent exited is handed to init: no longer below pytest, it still
    carries the run's mark (the signer of a killed ``serve`` was such a process)."""
    mark = f"{processes.OWNER_ENV}=orphan-test"
    shell = subprocess.run(
        ["sh", "-c", "sleep 60 >/dev/null 2>&1 & echo $!"],
        env={**os.environ, processes.OWNER_ENV: "orphan-test"},
        capture_output=True,
        text=True,
        check=True,
    )
    orphan = int(shell.stdout)
    try:
        found = processes.live_processes_of(os.getpid(), mark)
        assert orphan in {p.pid for p in found}
        assert orphan not in {p.pid for p in processes.live_processes_of(os.getpid())}
        processes.kill_all([p for p in found if p.pid == orphan])
        wait_until(lambda: _gone(orphan), "the orphan outlived SIGKILL", timeout=10)
    finally:
        processes.kill_all([processes.Process(orphan, 0, "sleep")])


def test_the_suite_fails_a_module_that_leaves_a_process_behind(tmp_path: Path) -> None:
    """A pytest run with the suite's conftest: the module that starts ``sleep`` and never
    stops it fails in its last test's teardown, naming the command; the process is killed."""
    (tmp_path / "conftest.py").write_text("from tests.conftest import pytest_runtest_teardown\n")
    pid_file = tmp_path / "pid"
    (tmp_path / "test_leaky.py").write_text(
        textwrap.dedent(
            f"""
            import subprocess

            def test_clean():
                subprocess.run(["true"], check=True)

            def test_leaks():
                child = subprocess.Popen(["sleep", "987"])
                open({str(pid_file)!r}, "w").write(str(child.pid))
            """
        )
    )
    # The leaked ``sleep`` never exits: no need to give it the suite's 30 s.
    env = {**os.environ, "PYTHONPATH": str(REPO), LEAK_GRACE_ENV: "1"}
    env.pop("PYTEST_XDIST_WORKER", None)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:xdist", "-q"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    out = result.stdout + result.stderr
    assert result.returncode == 1, out
    assert "2 passed, 1 error" in out, out
    assert "test_leaky.py left 1 process(es) behind (now killed)" in out, out
    assert "sleep 987" in out, out
    leaked = int(pid_file.read_text())
    wait_until(lambda: _gone(leaked), "the leaked process was not killed", timeout=10)
