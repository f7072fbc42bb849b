"""Build, sign and write bin-n roles from their rows in ``targets``.

Used by the publisher (a few bins per batch), by ``trust init`` and by the worker processes
that sign many bins at once (``trust.bulk``). Files are written without an fsync each; the
caller makes them durable together (``Storage.sync``) before anything refers to them.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from securesystemslib.signer import Signer
from sqlalchemy import select
from sqlalchemy.orm import Session

from tufpi.db.models import Target
from tufpi.db.raw import driver_rows
from tufpi.trust import layout, roles, state
from tufpi.trust.store import MetadataStore

Checkpoint = Callable[[str], None]
# Bins read from the database at once (bounded memory: about 61 targets a bin at 1M targets).
CHUNK = 512


def no_checkpoint(_name: str) -> None:
    return None


def sign_bins(
    session: Session,
    store: MetadataStore,
    signer: Signer,
    bins: Iterable[int],
    number_of_bins: int,
    current: Mapping[str, int],
    expires: dt.datetime,
    checkpoint: Checkpoint = no_checkpoint,
    durable: bool = False,
) -> dict[str, int]:
    """Rebuild, sign and write each bin from its target rows, as ``session`` sees them.

    ``current`` maps ``"<bin>.json"`` to the version now published (absent: none yet).
    Returns bin name -> new version. Reads and signs in chunks, so memory stays bounded.
    Unless ``durable`` (an fsync per file), the files are not yet durable: call
    ``store.storage.sync()`` before publishing them.
    """
    versions: dict[str, int] = {}
    for part in state.chunks(sorted(bins), CHUNK):
        rows_by_bin = targets_of(session, part)
        for index in part:
            name = layout.bin_name(index, number_of_bins)
            version = store.free_version(name, current.get(f"{name}.json", 0) + 1)
            md = roles.bin_role(version, expires, rows_by_bin.get(index, ()))
            md.sign(signer)
            store.write_versioned(name, md, durable=durable)
            versions[name] = version
            checkpoint("bin")
    return versions


def targets_of(session: Session, bins: Sequence[int]) -> dict[int, list[tuple[Any, ...]]]:
    """The rows of ``bins`` (sorted, distinct), by bin: (path, length, sha256, sha512, bin)
    each, as ``roles.bin_role`` takes them. One query, a range when the bins are contiguous.

    Read through the driver's own cursor, in ``session``'s transaction: building a
    SQLAlchemy row (or any object) for each of a million targets would cost more than
    reading them.
    """
    columns = select(Target.path, Target.length, Target.sha256, Target.sha512, Target.bin)
    if bins and bins[-1] - bins[0] == len(bins) - 1:
        query = columns.where(Target.bin >= bins[0], Target.bin <= bins[-1])
    else:
        query = columns.where(Target.bin.in_(bins))
    found: dict[int, list[tuple[Any, ...]]] = defaultdict(list)
    for row in driver_rows(session, query):
        found[row[4]].append(row)
    return found
