"""Shared fixtures: a real index server per test module, on SQLite and on PostgreSQL."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import processes, scheduling
from tests.support import server as server_support

_RUN_MARK = processes.new_mark()
# Seconds a process may take to exit after its module is done before it counts as left behind
# (test_process_leaks shortens it for the run it checks).
LEAK_GRACE_ENV = "TUFPI_TEST_LEAK_GRACE"


class _LongestFirst:
    """``--dist loadscope`` hands out the longest modules first (tests/support/scheduling.py)."""

    @pytest.hookimpl(tryfirst=True)
    def pytest_xdist_make_scheduler(self, config: pytest.Config, log: object) -> object | None:
        if config.getvalue("dist") != "loadscope":
            return None
        return scheduling.make_scheduler(config, log)


class _RecordDurations:
    """Writes each module's seconds (its tests' setup, call and teardown) to the file
    ``TUFPI_TEST_DURATIONS_OUT`` names: a fresh tests/durations.json."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.seconds: list[tuple[str, float]] = []

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self.seconds.append((report.nodeid, report.duration))

    def pytest_sessionfinish(self) -> None:
        table = scheduling.module_seconds(self.seconds)
        self.path.write_text(json.dumps(table, indent=1) + "\n")


def pytest_configure(config: pytest.Config) -> None:
    if hasattr(config, "workerinput"):  # an xdist worker: the controller schedules and records
        return
    if config.pluginmanager.hasplugin("xdist"):
        config.pluginmanager.register(_LongestFirst(), "tufpi-longest-first")
    out = os.environ.get(scheduling.OUT_ENV)
    if out:
        config.pluginmanager.register(_RecordDurations(Path(out)), "tufpi-record-durations")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "/e2e/" in str(item.path):
            item.add_marker(pytest.mark.e2e)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    """No test leaves a process behind: once a module is done (its module-scoped servers
    stopped), or the run is, any process a test started that is still alive is killed and
    fails the module's last test, named by its command line."""
    result = yield
    if nextitem is not None and nextitem.path == item.path:
        return result
    left = processes.left_behind(
        os.getpid(), _RUN_MARK, float(os.environ.get(LEAK_GRACE_ENV, "30"))
    )
    if left:
        processes.kill_all(left)
        pytest.fail(
            f"{item.path.name} left {len(left)} process(es) behind (now killed):\n"
            + processes.describe(left),
            pytrace=False,
        )
    return result


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> Iterator[str | None]:
    """None for the embedded SQLite default, else a fresh PostgreSQL database URL."""
    if request.param == "sqlite":
        yield None
        return
    server_support.need_postgres()
    with server_support.postgres_database() as url:
        yield url


@pytest.fixture(scope="module")
def index_server(
    database_url: str | None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[server_support.IndexServer]:
    """A running ``tufpi serve`` shared by the tests of one module (use distinct project names)."""
    data_dir: Path = tmp_path_factory.mktemp("index")
    srv = server_support.start(data_dir, database_url)
    try:
        yield srv
    finally:
        srv.stop()
        with contextlib.suppress(OSError):
            print((data_dir / "serve.log").read_text()[-2000:])


@pytest.fixture(scope="module")
def unsigned_server(
    database_url: str | None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[server_support.IndexServer]:
    """An index whose web process does not sign: the test runs ``tufpi signer`` processes.

    On PostgreSQL it has a database of its own, apart from the module's ``index_server``.
    """
    with contextlib.ExitStack() as stack:
        own_url = database_url
        if database_url is not None:
            own_url = stack.enter_context(server_support.postgres_database())
        srv = server_support.start(tmp_path_factory.mktemp("unsigned"), own_url, signer="false")
        stack.callback(srv.stop)
        yield srv


@pytest.fixture(scope="module")
def workdir(
    index_server: server_support.IndexServer, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """A scratch directory per module and database (where test projects are built)."""
    return tmp_path_factory.mktemp("work")


@pytest.fixture
def own_database_url(database_url: str | None) -> Iterator[str | None]:
    """Like ``database_url``, but a database of the test's own (for tests that start servers
    of their own instead of sharing the module's ``index_server``)."""
    if database_url is None:
        yield None
        return
    with server_support.postgres_database() as url:
        yield url
