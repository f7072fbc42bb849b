"""The cache's trust anchor: the root a cache was first bootstrapped from.

A pinned root (``--root-sha256``, ``--root FILE``, ``[tool.tufpi] root-sha256``) must decide
what the client trusts, not whatever a cache holds: a CI cache restored from elsewhere or a
shared directory could hold another index's root and metadata, and ngclient trusts the
cached ``root.json`` over any root it is given. So each cache keeps the bytes of its first
root (``trust-anchor.root.json`` beside ngclient's files; its sha256 is computed, never
stored, so it cannot be claimed without the bytes), and with a pin:

- a cache anchored at the pinned root is reused, its first root not fetched again, and its
  trust re-derived from the anchor: ngclient walks root versions forward from it, verifying
  each (its ``root_history/`` first, then the index), so a planted ``root.json`` is ignored;
- any other cache that holds metadata (another anchor, or none: an older tufpi's cache, or
  planted files) is discarded, with a message naming both fingerprints, and rebuilt from
  the pinned root.

Without a pin, a cache's root is trusted as before (trust on first use of the cache), and
the client says which root that is.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import shutil
from pathlib import Path

from tuf.api import exceptions
from tuf.api.metadata import Metadata, Root
from tuf.ngclient import Updater

from tufpi.client.refusals import Refusal

ANCHOR_FILE = "trust-anchor.root.json"


class Verdict(enum.Enum):
    """What to do with a cache, given the pin (``judge``)."""

    FRESH = "bootstrap an empty cache from the pinned root"
    BOUND = "reuse the cache: it was bootstrapped from the pinned root"
    FOREIGN = "discard the cache: it was not bootstrapped from the pinned root"
    UNPINNED = "no pin: trust the cache's root (trust on first use of the cache)"
    NO_ROOT = "no pin and nothing cached: no root to trust"


@dataclasses.dataclass(frozen=True)
class CacheState:
    """What a cache's metadata directory holds: the sha256 of its anchor's bytes (None: no
    anchor), whether it holds any metadata, and the sha256 of its trusted ``root.json``."""

    anchor_sha256: str | None
    has_metadata: bool
    root_sha256: str | None = None


def judge(pin: str | None, state: CacheState) -> Verdict:
    """The pure decision: ``pin`` is the sha256 of the pinned root (None: no pin)."""
    if pin is None:
        return Verdict.UNPINNED if state.root_sha256 is not None else Verdict.NO_ROOT
    if state.anchor_sha256 == pin.lower() and state.root_sha256 is not None:
        return Verdict.BOUND
    if state.has_metadata or state.anchor_sha256 is not None:
        return Verdict.FOREIGN
    return Verdict.FRESH


def discard_message(cache_dir: Path, pin: str, state: CacheState) -> str:
    """Why the cache at ``cache_dir`` is discarded, naming both fingerprints."""
    if state.anchor_sha256 is None:
        found = (
            "records no first root (a cache made before tufpi recorded it, or planted "
            f"files; its current root has sha256 {state.root_sha256 or 'none'})"
        )
    else:
        found = f"was bootstrapped from the root with sha256 {state.anchor_sha256}"
    return (
        f"the cache {cache_dir} {found}, not from the pinned root with sha256 {pin.lower()}: "
        "discarding it and starting again from the pinned root"
    )


def trusted_message(index_url: str, state: CacheState) -> str:
    """What an unpinned run trusts: the cache's root, by fingerprint."""
    first = (
        f"first bootstrapped from the root with sha256 {state.anchor_sha256}; pin it with "
        f"--root-sha256 {state.anchor_sha256}"
        if state.anchor_sha256 is not None
        else "its first root is not recorded"
    )
    return (
        f"no pinned root for {index_url}: trusting the cached root (sha256 "
        f"{state.root_sha256}), {first}"
    )


def _sha256(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:  # absent, or root.json a link to a missing file
        return None


def read_state(metadata_dir: Path) -> CacheState:
    """The cache's state, read from ``metadata_dir``."""
    has_metadata = metadata_dir.is_dir() and any(
        p.name != ANCHOR_FILE for p in metadata_dir.iterdir()
    )
    return CacheState(
        _sha256(metadata_dir / ANCHOR_FILE), has_metadata, _sha256(metadata_dir / "root.json")
    )


def anchor_bytes(metadata_dir: Path) -> bytes:
    """The bytes of the cache's first root."""
    return (metadata_dir / ANCHOR_FILE).read_bytes()


def discard(cache_dir: Path) -> None:
    """Remove a cache (its metadata and its verified files)."""
    shutil.rmtree(cache_dir, ignore_errors=True)


def bootstrap(metadata_dir: Path, metadata_url: str, root: bytes, *, record: bool) -> None:
    """Make ``root`` the cache's trusted root: ngclient checks it is a root signed by its
    own threshold, keeps it in its root history and points ``root.json`` at it (walking
    forward from there at the next refresh). With ``record``, it is also the anchor.

    Raises:
        Refusal: ``root`` is not a valid root.
    """
    metadata_dir.mkdir(parents=True, exist_ok=True)
    try:
        Updater(str(metadata_dir), metadata_url, bootstrap=root)
    except (exceptions.RepositoryError, ValueError) as e:
        raise Refusal(f"the pinned root is not a valid root: {e}") from e
    if record:
        temporary = metadata_dir / (ANCHOR_FILE + ".tmp")
        temporary.write_bytes(root)
        temporary.replace(metadata_dir / ANCHOR_FILE)


def first_root_sha256(data: bytes) -> str:
    """The sha256 of ``data``, once checked to be a first root (version 1) signed by a
    threshold of its own root keys: what ``tufpi pin`` prints. A fingerprint of anything
    else would pin nothing the client could ever bootstrap from.

    Raises:
        Refusal: not a root, not version 1, or not signed by its own threshold.
    """
    try:
        root = Metadata[Root].from_bytes(data)
        if not isinstance(root.signed, Root):
            raise Refusal("the index's 1.root.json is not root metadata")
        root.signed.verify_delegate(Root.type, root.signed_bytes, root.signatures)
    except (exceptions.RepositoryError, ValueError, KeyError, TypeError) as e:
        raise Refusal(f"the index's 1.root.json is not a valid root: {e}") from e
    if root.signed.version != 1:
        raise Refusal(f"the index's 1.root.json is version {root.signed.version}, not 1")
    return hashlib.sha256(data).hexdigest()
