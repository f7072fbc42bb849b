"""The suite's own xdist scheduling order (tests/support/scheduling.py)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support import scheduling

TABLE = {"tests/e2e/test_long.py": 300.0, "tests/e2e/test_short.py": 10.0}


def test_the_longest_recorded_module_goes_first_whatever_its_number_of_tests() -> None:
    scopes = {
        "tests/e2e/test_short.py": 196,  # xdist's own order: most tests first
        "tests/unit/test_pure.py": 80,
        "tests/e2e/test_long.py": 2,
    }
    assert scheduling.longest_first(scopes, TABLE) == [
        "tests/e2e/test_long.py",
        "tests/e2e/test_short.py",
        "tests/unit/test_pure.py",
    ]


def test_a_module_missing_from_the_table_is_estimated_from_its_tests() -> None:
    assert scheduling.estimate("tests/e2e/test_new.py", 10, TABLE) == 30.0
    assert scheduling.estimate("tests/unit/web/test_new.py", 10, TABLE) == 0.5
    assert scheduling.estimate("tests/e2e/test_long.py::TestClass", 1, TABLE) == 300.0
    scopes = {"tests/e2e/test_short.py": 5, "tests/e2e/test_new.py": 10}
    assert scheduling.longest_first(scopes, TABLE) == [
        "tests/e2e/test_new.py",
        "tests/e2e/test_short.py",
    ]


def test_ties_keep_the_given_order() -> None:
    scopes = {"tests/unit/b.py": 4, "tests/unit/a.py": 4}
    assert scheduling.longest_first(scopes, {}) == ["tests/unit/b.py", "tests/unit/a.py"]


def test_module_seconds_sums_setup_call_and_teardown_per_module() -> None:
    reports = [
        ("tests/e2e/test_a.py::test_one[sqlite]", 1.0),
        ("tests/e2e/test_a.py::test_one[sqlite]", 2.25),
        ("tests/e2e/test_a.py::test_two", 0.5),
        ("tests/unit/test_b.py::test_x", 0.04),
    ]
    assert scheduling.module_seconds(reports) == {
        "tests/e2e/test_a.py": 3.8,
        "tests/unit/test_b.py": 0.0,
    }


def test_load_reads_the_table_and_tolerates_a_missing_or_broken_one(tmp_path: Path) -> None:
    table = tmp_path / "durations.json"
    assert scheduling.load(table) == {}
    table.write_text("not json")
    assert scheduling.load(table) == {}
    table.write_text(json.dumps({"tests/e2e/test_a.py": 12.5, "bad": "x"}))
    assert scheduling.load(table) == {"tests/e2e/test_a.py": 12.5}


def test_the_recorded_table_covers_the_suites_long_modules() -> None:
    table = scheduling.load()
    assert table["tests/e2e/test_import.py"] > table["tests/unit/test_config.py"]
    tests = Path(__file__).resolve().parents[1]
    for module in table:
        assert (tests.parent / module).exists(), f"{module} is in durations.json but gone"
