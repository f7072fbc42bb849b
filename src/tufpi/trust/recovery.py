"""After an online key leaked: what the published bins say that the database does not.

PEP 458's recovery compares every bin-n with the last known-good state and restores it.
tufpi's known-good state is the ``targets`` table (an attacker holding only the online key
cannot write it), so the comparison is published bin-n against database rows.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tufpi.db.models import Target
from tufpi.trust import layout, state
from tufpi.trust.publisher import Publisher, PublishResult
from tufpi.trust.store import MetadataStore

# Where a step says what it found or did, one line at a time (the CLI prints them).
Report = Callable[[str], None]


@dataclasses.dataclass(frozen=True)
class Difference:
    role: str
    path: str
    what: str


def compare(sessions: sessionmaker[Session], store: MetadataStore) -> list[Difference]:
    """Every target on which the published bin-n roles and the database disagree."""
    timestamp = store.timestamp()
    snapshot = store.snapshot(timestamp.signed.snapshot_meta.version).signed
    found: list[Difference] = []
    with sessions() as session:
        bins = state.number_of_bins(session) or 0
        for index in range(bins):
            name = layout.bin_name(index, bins)
            meta = snapshot.meta.get(f"{name}.json")
            published = store.read(name, meta.version).signed.targets if meta else {}
            expected = {
                row.path: row for row in session.scalars(select(Target).where(Target.bin == index))
            }
            for path, info in published.items():
                row = expected.get(path)
                if row is None:
                    found.append(Difference(name, path, "not in the database: added"))
                elif info.length != row.length or info.hashes.get("sha256") != row.sha256:
                    found.append(Difference(name, path, "length or hashes changed"))
            found += [
                Difference(name, path, "missing from the published bin")
                for path in expected.keys() - published.keys()
            ]
    return found


def rebuild_from_database(
    sessions: sessionmaker[Session],
    store: MetadataStore,
    publisher: Callable[[], Publisher],
    report: Report,
) -> PublishResult:
    """Report what the published bins say that the database does not (a line each, then the
    count), then rebuild every bin-n from the database above the published versions.

    The caller holds the signer election (the running signer must be stopped first: the
    election module lives above this layer); ``publisher`` makes the publisher then.
    """
    differences = compare(sessions, store)
    for diff in differences:
        report(f"{diff.role}\t{diff.path}\t{diff.what}")
    report(f"{len(differences)} difference(s) between the published bins and the database")
    return publisher().recover()
