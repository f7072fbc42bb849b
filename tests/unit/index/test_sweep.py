"""The sweep's pure parts: what to do with a staged write, and which row backs a key."""

from __future__ import annotations

import pytest

from tufpi.index.records import dist_keys, file_key_of, storage_key
from tufpi.index.sweep import Action, decide

SHA = "ab" * 32


@pytest.mark.parametrize(
    ("committed", "alive", "age", "action"),
    [
        (True, False, 0.0, Action.PUBLISH),  # killed between commit and publication
        (False, False, 0.0, Action.DISCARD),  # killed before the commit
        (False, True, 0.0, Action.KEEP),  # an upload in progress
        (True, True, 0.0, Action.KEEP),  # committed a moment ago: its writer publishes it
        (True, True, 7200.0, Action.PUBLISH),  # its writer failed to publish it
        (False, True, 7200.0, Action.KEEP),  # its transaction may still commit
    ],
)
def test_decide(committed: bool, alive: bool, age: float, action: Action) -> None:
    assert decide(committed, alive, age, max_age=3600.0) is action


def test_every_key_of_a_distribution_leads_to_its_file_row() -> None:
    key = storage_key(SHA, "demo-1.0-py3-none-any.whl")
    assert {file_key_of(k) for k in dist_keys(key, SHA)} == {key}


@pytest.mark.parametrize(
    "key", ["simple/demo/index.html", "tuf/1.root.json", "packages/ab/x.whl", "other"]
)
def test_keys_of_no_distribution(key: str) -> None:
    assert file_key_of(key) is None
