"""When ``/metrics`` may reuse a gathered status (tufpi.trust.status.is_fresh)."""

from __future__ import annotations

import datetime as dt

from tufpi.trust.status import CachedStatus, RepositoryStatus, is_fresh

STATUS = RepositoryStatus("ab" * 32, (), 64, 0, dt.datetime(2026, 1, 1, tzinfo=dt.UTC))


def test_a_status_is_reused_only_at_the_same_publication_and_while_young() -> None:
    cached = CachedStatus(b"timestamp-1", STATUS, gathered_at=100.0)
    assert is_fresh(cached, b"timestamp-1", 104.9, max_age=5)
    assert not is_fresh(cached, b"timestamp-2", 100.1, max_age=5)  # a publication
    assert not is_fresh(cached, b"timestamp-1", 105.0, max_age=5)  # too old
    assert not is_fresh(None, b"timestamp-1", 100.0, max_age=5)
