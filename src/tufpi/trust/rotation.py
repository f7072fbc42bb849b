"""Online-key rotation and the recovery from a leaked online key, one step per run.

Rotation (``tufpi ceremony rotate-online``): each run looks at the repository and does (or
asks for) the next step:

1. propose adding the new key to root (timestamp, snapshot) and bins (bin-n), then import
   them once the holders' signatures are in the work directory;
2. ask for the signer to be restarted with the new key;
3. have every online role still signed by the old key re-signed;
4. propose removing the old key, then import once signed; done.

At every step both keys, or only the one that signed everything, are trusted: no upload,
refresh or publication fails. The recovery (``--compromised``) replaces the key at once,
then rebuilds every bin-n from the database (PEP 458).

Which step comes next is decided from the published metadata alone (``rotation_step``,
``recovery_step``: pure); the rest reads and writes proposals, metadata and role rows.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Callable, Collection
from pathlib import Path

from securesystemslib.signer import Key
from sqlalchemy.orm import Session, sessionmaker
from tuf.api.metadata import Root, Targets, Timestamp

from tufpi.clock import Clock
from tufpi.storage import Storage
from tufpi.trust import ceremony, state
from tufpi.trust.ceremony import Proposal, SignatureFile
from tufpi.trust.offline import current, import_signed, signed_by
from tufpi.trust.publisher import PublishResult
from tufpi.trust.recovery import Report
from tufpi.trust.store import MetadataStore

# The yearly expiry of the root and bins versions a rotation proposes.
_EXPIRES_DAYS = 365


@dataclasses.dataclass(frozen=True)
class Repository:
    """What a rotation step reads and writes: the database, the storage, the clock."""

    sessions: sessionmaker[Session]
    storage: Storage
    clock: Clock

    @property
    def store(self) -> MetadataStore:
        return MetadataStore(self.storage)


@dataclasses.dataclass(frozen=True)
class OnlineKeys:
    """The online keys root and bins trust: timestamp's (and snapshot's) and bin-n's."""

    timestamp: frozenset[str]
    bins: frozenset[str]

    @classmethod
    def of(cls, root: Root, bins: Targets) -> OnlineKeys:
        succinct = bins.delegations.succinct_roles if bins.delegations else None
        bin_keys = frozenset(succinct.keyids) if succinct else frozenset()
        return cls(frozenset(root.roles[Timestamp.type].keyids), bin_keys)

    def others(self, new: str) -> list[str]:
        """Every online keyid but ``new``, sorted: the keys a rotation retires."""
        return sorted((self.timestamp | self.bins) - {new})

    def trust(self, new: str) -> bool:
        """Whether root and bins both trust ``new`` for the online roles."""
        return new in self.timestamp and new in self.bins


class RotationStep(enum.Enum):
    """The next step of a gradual rotation."""

    ADD_KEY = "add the new key to root and bins"
    RESTART_SIGNER = "restart the signer with the new key"
    RETIRE_OLD = "re-sign what the old key still signs, then remove it from root and bins"


def rotation_step(keys: OnlineKeys, new: str, timestamp_signers: Collection[str]) -> RotationStep:
    """Where a rotation to ``new`` stands, from the trusted keys and who signed the published
    timestamp. RETIRE_OLD takes one run while the published roles still bear an old key's
    signature (they are made due for re-signing), then one (or two) more for its removal."""
    if not keys.trust(new):
        return RotationStep.ADD_KEY
    if new not in timestamp_signers:
        return RotationStep.RESTART_SIGNER
    return RotationStep.RETIRE_OLD


class RecoveryStep(enum.Enum):
    """The next step of the recovery from a leaked online key."""

    REPLACE_KEY = "replace the leaked key in root and bins"
    REBUILD = "rebuild every bin-n from the database"
    DONE = "done"


def recovery_step(keys: OnlineKeys, new: str, timestamp_signers: Collection[str]) -> RecoveryStep:
    """Where a recovery to ``new`` stands: the new key alone must be trusted first, then the
    bins are rebuilt; a timestamp signed by the new key means the rebuild is published."""
    if keys.others(new) or new not in keys.bins:
        return RecoveryStep.REPLACE_KEY
    if new in timestamp_signers:
        return RecoveryStep.DONE
    return RecoveryStep.REBUILD


def _proposal_paths(workdir: Path, stem: str) -> dict[str, Path]:
    return {role: workdir / f"{stem}-{role}.json" for role in (Root.type, "bins")}


def propose_or_import(
    repo: Repository,
    workdir: Path,
    stem: str,
    changes: ceremony.KeyChanges,
    report: Report,
) -> bool:
    """Write ``stem``-root/bins proposals making ``changes``, or import them once signed (the
    holders' ``.sig.json`` files in ``workdir``). True once imported.

    Raises:
        CeremonyError: a proposal that cannot be made, or signatures that do not verify.
    """
    paths = _proposal_paths(workdir, stem)
    if not all(p.exists() for p in paths.values()):
        root, _targets, bins = current(repo.store)
        now = repo.clock()
        paths["root"].write_bytes(
            ceremony.propose_root(root, now, _EXPIRES_DAYS, changes).to_bytes()
        )
        paths["bins"].write_bytes(
            ceremony.propose_renewal("bins", bins, now, _EXPIRES_DAYS, changes).to_bytes()
        )
        report(
            f"wrote {paths['root']} and {paths['bins']}: have the root and bins key holders "
            f"sign them (`tufpi ceremony sign`), put the .sig.json files in {workdir}, and "
            "run this command again"
        )
        return False
    for role in ("bins", "root"):
        proposal = Proposal.from_bytes(paths[role].read_bytes())
        signatures = [
            SignatureFile.from_bytes(p.read_bytes())
            for p in sorted(workdir.glob(f"{paths[role].stem}.*.sig.json"))
        ]
        md = ceremony.combine(proposal, signatures)
        version = import_signed(repo.sessions, repo.storage, role, md, repo.clock())
        report(f"imported {role} version {version}")
    return True


def _where(repo: Repository) -> tuple[OnlineKeys, set[str]]:
    """The trusted online keys, and the keys that signed the published timestamp."""
    root, _targets, bins = current(repo.store)
    return OnlineKeys.of(root, bins), set(repo.store.timestamp().signatures)


def rotate(repo: Repository, new: Key, workdir: Path, report: Report) -> str:
    """Do the next step of the rotation to ``new``; returns a line saying where it stands.

    Raises:
        CeremonyError: a proposal refused, or signatures that do not verify.
    """
    keys, signers = _where(repo)
    old = keys.others(new.keyid)
    step = rotation_step(keys, new.keyid, signers)
    if step is RotationStep.ADD_KEY:
        adding = ceremony.KeyChanges(add_online=[new])
        if not propose_or_import(repo, workdir, "add", adding, report):
            return "step 1 of 4: waiting for signatures on the proposals adding the new key"
        return "step 1 of 4 done: the new key is trusted; now restart the signer with it"
    if step is RotationStep.RESTART_SIGNER:
        return (
            "step 2 of 4: restart the signer with TUFPI_ONLINE_KEY set to the new key, then "
            "run this command again"
        )
    remaining = signed_by(repo.store, old)
    if remaining:
        with repo.sessions.begin() as session:
            state.make_bins_due(session, remaining)
        return f"step 3 of 4: the signer is re-signing {len(remaining)} role(s) with the new key"
    removal = ceremony.KeyChanges(remove_online=old)
    if old and not propose_or_import(repo, workdir, "remove", removal, report):
        return "step 4 of 4: waiting for signatures on the proposals removing the old key"
    return "rotation complete: only the new key signs the online roles"


def recover_from_leak(
    repo: Repository,
    new: Key,
    workdir: Path,
    report: Report,
    rebuild: Callable[[], PublishResult],
) -> str:
    """The guided recovery from a leaked online key (PEP 458), one step per run; returns a
    line saying where it stands. ``rebuild`` rebuilds every bin-n from the database with the
    signer election held (``recovery.rebuild_from_database`` inside the caller's election).

    Raises:
        CeremonyError: a proposal refused, or signatures that do not verify.
    """
    keys, signers = _where(repo)
    step = recovery_step(keys, new.keyid, signers)
    if step is RecoveryStep.REPLACE_KEY:
        changes = ceremony.KeyChanges(add_online=[new], remove_online=keys.others(new.keyid))
        if not propose_or_import(repo, workdir, "recover", changes, report):
            return "step 1 of 2: waiting for signatures on the proposals replacing the key"
        return (
            "step 1 of 2 done: root and bins name only the new key; stop the signer and run "
            "this command again with TUFPI_ONLINE_KEY set to the new key"
        )
    if step is RecoveryStep.DONE:
        return "recovery complete: start the signer with the new key"
    result = rebuild()
    return (
        f"step 2 of 2 done: every bin-n rebuilt from the database, snapshot "
        f"{result.snapshot_version}, timestamp {result.timestamp_version}; start the signer "
        "with the new key"
    )
