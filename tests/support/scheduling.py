"""The suite's xdist scheduling: test modules handed out longest first.

``--dist loadscope`` hands out one module at a time per worker, by default in order of their
number of tests, most first. The suite's longest modules have few tests (benchmark smoke
runs, key rotations, imports), so they came last and a run ended with one or two workers
still busy on them while the others stood idle. Here each module's expected time comes from
``tests/durations.json`` (seconds, measured on a whole run; ``TUFPI_TEST_DURATIONS_OUT``
writes a fresh one), a module missing from it is estimated from its number of tests, and
the longest is handed out first. A worker also gets its next module only when its last test
starts, not two tests before (so a long module does not sit queued behind a slow test
while another worker is idle).
"""

from __future__ import annotations

import collections
import json
from collections.abc import Iterable, Mapping
from pathlib import Path

DURATIONS = Path(__file__).resolve().parents[1] / "durations.json"
OUT_ENV = "TUFPI_TEST_DURATIONS_OUT"
# Estimates for a module not in the table, in seconds per test.
E2E_SECONDS_PER_TEST = 3.0
UNIT_SECONDS_PER_TEST = 0.05


def load(path: Path = DURATIONS) -> dict[str, float]:
    """The recorded seconds per module (node id of the module file); empty if unreadable."""
    try:
        table = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(table, dict):
        return {}
    return {str(k): float(v) for k, v in table.items() if isinstance(v, int | float)}


def estimate(scope: str, tests: int, table: Mapping[str, float]) -> float:
    """Expected seconds of one scope (a module's node id) holding ``tests`` tests."""
    module = scope.split("::", 1)[0]
    if module in table:
        return table[module]
    per_test = E2E_SECONDS_PER_TEST if "/e2e/" in f"/{module}" else UNIT_SECONDS_PER_TEST
    return per_test * tests


def longest_first(scopes: Mapping[str, int], table: Mapping[str, float]) -> list[str]:
    """``scopes`` (scope -> number of tests) ordered longest expected first; ties keep their
    given order."""
    order = {scope: i for i, scope in enumerate(scopes)}
    return sorted(scopes, key=lambda s: (-estimate(s, scopes[s], table), order[s]))


def module_seconds(durations: Iterable[tuple[str, float]]) -> dict[str, float]:
    """Seconds per module from (node id, seconds) pairs, rounded to tenths."""
    totals: dict[str, float] = collections.defaultdict(float)
    for nodeid, seconds in durations:
        totals[nodeid.split("::", 1)[0]] += seconds
    return {module: round(total, 1) for module, total in sorted(totals.items())}


def make_scheduler(config: object, log: object) -> object:
    """A ``LoadScopeScheduling`` that hands out the longest modules first."""
    from xdist.scheduler import LoadScopeScheduling

    table = load()

    class LongestFirst(LoadScopeScheduling):  # type: ignore[misc]
        _ordered = False

        def _assign_work_unit(self, node: object) -> None:
            if not self._ordered:
                counts = {scope: len(unit) for scope, unit in self.workqueue.items()}
                units = self.workqueue
                self.workqueue = collections.OrderedDict(
                    (scope, units[scope]) for scope in longest_first(counts, table)
                )
                self._ordered = True
            super()._assign_work_unit(node)

        def _reschedule(self, node: object) -> None:
            # The worker holds back its last test until it knows the next one: one pending
            # test is the moment to send more (xdist's default sends at two).
            busy = self._pending_of(self.assigned_work[node]) > 1
            if self.workqueue and not node.shutting_down and busy:  # type: ignore[attr-defined]
                return
            super()._reschedule(node)

    return LongestFirst(config, log)
