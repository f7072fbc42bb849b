"""Key ceremonies for the offline roles (root, targets, bins): propose, sign, combine, check.

Pure: metadata and keys in, metadata, signatures and verdicts out. A proposal is unsigned
metadata; each key holder signs it on their own machine with nothing but the proposal and
their key; the signatures are combined and imported only when python-tuf says every
threshold is met.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Sequence
from typing import Any

from securesystemslib.signer import Key, Signature, Signer
from tuf.api.metadata import Metadata, Root, Snapshot, Targets, Timestamp
from tuf.api.serialization.json import CanonicalJSONSerializer

from tufpi.tlog import notes
from tufpi.tlog.notes import NoteError
from tufpi.tlog.policy import ROOT_FIELD, LogPolicy, policy_of
from tufpi.trust import layout
from tufpi.trust.roles import BINS_ROLE

FORMAT = "tufpi-proposal-1"
OFFLINE_ROLES = (Root.type, Targets.type, BINS_ROLE)


class CeremonyError(Exception):
    """A proposal, signature or import that must be refused; the message says why."""


@dataclasses.dataclass(frozen=True)
class Proposal:
    """Unsigned metadata for one offline role, as key holders see and sign it."""

    role: str
    metadata: Metadata[Any]
    # The version it replaces, so a key holder offline can see what changes.
    previous: dict[str, Any]

    @property
    def current(self) -> Root | Targets:
        # from_dict consumes the dicts it is given: hand it a copy.
        previous = copy.deepcopy(self.previous)
        return Root.from_dict(previous) if self.role == Root.type else Targets.from_dict(previous)

    @property
    def payload(self) -> bytes:
        """The exact bytes every signature covers (canonical JSON of ``signed``)."""
        return bytes(CanonicalJSONSerializer().serialize(self.metadata.signed))

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.payload).hexdigest()

    def to_bytes(self) -> bytes:
        body = {
            "format": FORMAT,
            "role": self.role,
            "payload_sha256": self.digest,
            "signed": self.metadata.signed.to_dict(),
            "previous": self.previous,
        }
        return json.dumps(body, indent=1, sort_keys=True).encode() + b"\n"

    @classmethod
    def from_bytes(cls, data: bytes) -> Proposal:
        """Raises CeremonyError for anything that is not an intact proposal."""
        try:
            body = json.loads(data)
            if body.get("format") != FORMAT or body.get("role") not in OFFLINE_ROLES:
                raise CeremonyError("not a tufpi proposal")
            metadata = Metadata.from_dict({"signed": body["signed"], "signatures": []})
            proposal = cls(body["role"], metadata, body["previous"])
            proposal.current  # noqa: B018 - parse it now, so a bad file fails here
        except (ValueError, KeyError, TypeError) as e:
            raise CeremonyError(f"not a valid proposal: {e}") from e
        if proposal.digest != body.get("payload_sha256"):
            raise CeremonyError(
                "the proposal was edited after it was written (its content no longer matches "
                "its recorded digest)"
            )
        return proposal


@dataclasses.dataclass(frozen=True)
class SignatureFile:
    """One key holder's signature over one proposal."""

    role: str
    payload_sha256: str
    signature: Signature

    def to_bytes(self) -> bytes:
        body = {
            "format": FORMAT + "-signature",
            "role": self.role,
            "payload_sha256": self.payload_sha256,
            "signature": self.signature.to_dict(),
        }
        return json.dumps(body, indent=1, sort_keys=True).encode() + b"\n"

    @classmethod
    def from_bytes(cls, data: bytes) -> SignatureFile:
        try:
            body = json.loads(data)
            return cls(body["role"], body["payload_sha256"], Signature.from_dict(body["signature"]))
        except (ValueError, KeyError, TypeError) as e:
            raise CeremonyError(f"not a valid signature file: {e}") from e


def _utc(days: int, now: dt.datetime) -> dt.datetime:
    return (now + dt.timedelta(days=days)).replace(microsecond=0)


@dataclasses.dataclass(frozen=True)
class KeyChanges:
    """Key changes a proposal makes: root keys (and root's threshold), and the online key
    that signs timestamp, snapshot and every bin-n (in root and in bins)."""

    add_root: Sequence[Key] = ()
    remove_root: Sequence[str] = ()
    threshold: int | None = None
    add_online: Sequence[Key] = ()
    remove_online: Sequence[str] = ()
    # bins: re-delegate to this many bin-n roles (a power of two).
    number_of_bins: int | None = None
    # root: the transparency log's key (its name is the log's origin), witnesses to add
    # (cosignature/v1 keys) or remove (by name or vkey), and the cosignatures required.
    log_key: notes.Verifier | None = None
    add_witnesses: Sequence[notes.Verifier] = ()
    remove_witnesses: Sequence[str] = ()
    witness_threshold: int | None = None

    @property
    def touches_root_keys(self) -> bool:
        return bool(
            self.add_root or self.remove_root or self.threshold is not None or self.touches_log
        )

    @property
    def touches_log(self) -> bool:
        return bool(
            self.log_key is not None
            or self.add_witnesses
            or self.remove_witnesses
            or self.witness_threshold is not None
        )


def root_log_policy(root: Root) -> LogPolicy | None:
    """The log a root names (None: none), or ``CeremonyError`` if its field is malformed."""
    try:
        return policy_of(root.unrecognized_fields)
    except NoteError as e:
        raise CeremonyError(f"the root's {ROOT_FIELD} does not parse: {e}") from e


def _change_log(root: Root, changes: KeyChanges) -> None:
    """Apply the log and witness changes to ``root``'s log policy."""
    current = root_log_policy(root)
    log = changes.log_key or (current.log if current else None)
    if log is None:
        raise CeremonyError("the root names no transparency log: set its key (--log-key) first")
    witnesses = list(current.witnesses if current else ())
    for wanted in changes.remove_witnesses:
        kept = [w for w in witnesses if wanted not in (w.name, w.vkey())]
        if len(kept) == len(witnesses):
            raise CeremonyError(f"{wanted} is not a witness of the root's log")
        witnesses = kept
    witnesses += changes.add_witnesses
    threshold = changes.witness_threshold
    if threshold is None:
        threshold = current.witness_threshold if current else 0
    try:
        policy = LogPolicy(log, tuple(witnesses), threshold)
    except NoteError as e:
        raise CeremonyError(str(e)) from e
    root.unrecognized_fields[ROOT_FIELD] = policy.to_field()


def _change_role(root: Root, role: str, add: Sequence[Key], remove: Sequence[str]) -> None:
    for keyid in remove:
        if keyid not in root.roles[role].keyids:
            raise CeremonyError(f"key {keyid} is not a {role} key")
        root.revoke_key(keyid, role)
    for key in add:
        root.add_key(key, role)
    count, wanted = len(root.roles[role].keyids), root.roles[role].threshold
    if not 1 <= wanted <= count:
        raise CeremonyError(f"{role} threshold {wanted} cannot be met by {count} key(s)")


def propose_root(
    current: Root, now: dt.datetime, expires_days: int = 365, changes: KeyChanges = KeyChanges()
) -> Proposal:
    """The next root version: key changes, a threshold, the transparency log's key and
    witnesses, a new expiry.

    Raises:
        CeremonyError: an unknown key or witness to remove, or a threshold the keys or
            witnesses cannot meet.
    """
    previous = copy.deepcopy(current.to_dict())
    # to_dict shares lists and dicts with ``current``: edit a deep copy, never the original.
    root = Root.from_dict(copy.deepcopy(previous))
    if changes.threshold is not None:
        root.roles[Root.type].threshold = changes.threshold
    _change_role(root, Root.type, changes.add_root, changes.remove_root)
    for role in (Snapshot.type, Timestamp.type):
        _change_role(root, role, changes.add_online, changes.remove_online)
    if changes.touches_log:
        _change_log(root, changes)
    root.version += 1
    root.expires = _utc(expires_days, now)
    return Proposal(Root.type, Metadata(root), previous)


def propose_renewal(
    role: str,
    current: Targets,
    now: dt.datetime,
    expires_days: int = 365,
    changes: KeyChanges = KeyChanges(),
) -> Proposal:
    """The next version of ``targets`` or ``bins`` with a new expiry (the yearly re-signing);
    for ``bins``, online keys added to or removed from the bin-n delegation."""
    previous = copy.deepcopy(current.to_dict())
    targets = Targets.from_dict(copy.deepcopy(previous))
    if changes.touches_root_keys:
        raise CeremonyError("root keys and thresholds change in a root proposal")
    if changes.add_online or changes.remove_online:
        succinct = targets.delegations.succinct_roles if targets.delegations else None
        if role != BINS_ROLE or succinct is None:
            raise CeremonyError("online keys change in root and in bins proposals")
        for keyid in changes.remove_online:
            if keyid not in succinct.keyids:
                raise CeremonyError(f"key {keyid} does not sign the bin-n roles")
            targets.revoke_key(keyid)
        for key in changes.add_online:
            targets.add_key(key)
        if not succinct.keyids:
            raise CeremonyError("the bin-n roles would have no key left")
    if changes.number_of_bins is not None:
        succinct = targets.delegations.succinct_roles if targets.delegations else None
        if role != BINS_ROLE or succinct is None:
            raise CeremonyError("the number of bins is set in a bins proposal")
        try:
            targets.delegations.succinct_roles = layout.succinct_roles(  # type: ignore[union-attr]
                list(succinct.keyids), changes.number_of_bins
            )
        except ValueError as e:
            raise CeremonyError(str(e)) from e
    targets.version += 1
    targets.expires = _utc(expires_days, now)
    return Proposal(role, Metadata(targets), previous)


def describe(proposal: Proposal) -> list[str]:
    """What the proposal changes, for a person to read before signing."""
    new = proposal.metadata.signed
    current = proposal.current
    lines = [
        f"role {proposal.role}: version {current.version} -> {new.version}",
        f"expires {current.expires:%Y-%m-%d %H:%M:%S}Z -> {new.expires:%Y-%m-%d %H:%M:%S}Z",
    ]
    if isinstance(new, Root) and isinstance(current, Root):
        for role in (Root.type, Targets.type, "snapshot", "timestamp"):
            old_ids = set(current.roles[role].keyids)
            new_ids = set(new.roles[role].keyids)
            for keyid in sorted(new_ids - old_ids):
                lines.append(f"{role}: ADD key {keyid} ({new.keys[keyid].keytype})")
            for keyid in sorted(old_ids - new_ids):
                lines.append(f"{role}: REMOVE key {keyid}")
            old_t, new_t = current.roles[role].threshold, new.roles[role].threshold
            if old_t != new_t:
                lines.append(f"{role}: threshold {old_t} -> {new_t}")
            lines.append(f"{role}: {new_t} of {len(new_ids)} keys")
        lines += describe_log(current, new)
    if isinstance(new, Targets) and isinstance(current, Targets):
        old_roles = current.delegations.succinct_roles if current.delegations else None
        new_roles = new.delegations.succinct_roles if new.delegations else None
        if old_roles is not None and new_roles is not None:
            for keyid in sorted(set(new_roles.keyids) - set(old_roles.keyids)):
                lines.append(f"bin-n: ADD key {keyid}")
            for keyid in sorted(set(old_roles.keyids) - set(new_roles.keyids)):
                lines.append(f"bin-n: REMOVE key {keyid}")
            lines.append(f"bin-n: {new_roles.threshold} of {len(new_roles.keyids)} keys")
            if new_roles.number_of_bins != old_roles.number_of_bins:
                lines.append(
                    f"bin-n: {old_roles.number_of_bins} -> {new_roles.number_of_bins} bins "
                    "(every target is re-delegated; clients download the new bins once)"
                )
    lines.append(f"payload sha256 {proposal.digest}")
    return lines


def describe_log(current: Root, new: Root) -> list[str]:
    """The transparency log's changes between two roots, in plain words."""
    try:
        old = policy_of(current.unrecognized_fields)
        policy = policy_of(new.unrecognized_fields)
    except NoteError as e:
        return [f"log: the new root's {ROOT_FIELD} DOES NOT PARSE ({e}); do not sign it"]
    if policy is None:
        if old is not None:
            return ["log: REMOVED (clients would no longer check files against a log)"]
        return ["log: none (clients do not check files against a log)"]
    lines: list[str] = []
    if old is None:
        lines.append(f"log: SET key {policy.log.vkey()} (origin {policy.origin})")
    elif old.log != policy.log:
        lines.append(f"log: key {old.log.vkey()} -> {policy.log.vkey()}")
        if old.origin != policy.origin:
            lines.append(
                f"log: origin {old.origin} -> {policy.origin} (a new log: clients start "
                "over from its first checkpoint)"
            )
    before = set(old.witnesses) if old else set()
    for witness in policy.witnesses:
        if witness not in before:
            lines.append(f"witness: ADD {witness.vkey()}")
    for witness in old.witnesses if old else ():
        if witness not in policy.witnesses:
            lines.append(f"witness: REMOVE {witness.vkey()}")
    old_threshold = old.witness_threshold if old else 0
    if old_threshold != policy.witness_threshold:
        lines.append(f"witnesses: threshold {old_threshold} -> {policy.witness_threshold}")
    lines.append(
        f"log {policy.origin}: every checkpoint needs {policy.witness_threshold} of "
        f"{len(policy.witnesses)} witness cosignatures"
    )
    return lines


def sign(proposal: Proposal, signer: Signer) -> SignatureFile:
    """A key holder's signature over the proposal's payload."""
    return SignatureFile(proposal.role, proposal.digest, signer.sign(proposal.payload))


def combine(proposal: Proposal, signatures: Iterable[SignatureFile]) -> Metadata[Any]:
    """The proposal's metadata with the signatures attached.

    Raises:
        CeremonyError: a signature made for another proposal or role.
    """
    md = Metadata.from_dict({"signed": proposal.metadata.signed.to_dict(), "signatures": []})
    for sig in signatures:
        if sig.role != proposal.role or sig.payload_sha256 != proposal.digest:
            raise CeremonyError(
                f"signature by {sig.signature.keyid[:16]} was made for another proposal "
                "(edited after signing, or a different role or version)"
            )
        md.signatures[sig.signature.keyid] = sig.signature
    return md


def _verdict(result: Any, what: str) -> None:
    if not result.verified:
        signed = ", ".join(k[:16] for k in result.signed) or "none"
        raise CeremonyError(
            f"{what}: {len(result.signed)} valid signature(s) of the {result.threshold} needed "
            f"(valid: {signed}); {result.missing} more needed"
        )


def _check_log(current: Root, new: Root) -> None:
    """A new root's log policy must parse, and a root that names a log keeps naming one."""
    policy = root_log_policy(new)
    try:
        named = root_log_policy(current) is not None
    except CeremonyError:
        named = True  # malformed, but naming a log: a ceremony may repair it, not drop it
    if policy is None and named:
        raise CeremonyError(
            f"the new root drops the transparency log the current root names ({ROOT_FIELD})"
        )


def check(
    role: str,
    md: Metadata[Any],
    root: Root,
    targets: Targets,
    current_version: int,
    now: dt.datetime,
) -> None:
    """Everything python-tuf requires before ``md`` may replace the role's current version.

    Raises:
        CeremonyError: expired, not newer, unknown signers, a threshold not met, or (root)
            a transparency log policy that does not parse or is dropped.
    """
    signed = md.signed
    if signed.expires <= now:
        raise CeremonyError(f"the proposal expired on {signed.expires:%Y-%m-%d %H:%M:%S}Z")
    if signed.version != current_version + 1:
        raise CeremonyError(
            f"the proposal is {role} version {signed.version}; the index is at "
            f"{current_version}, so it must be {current_version + 1}"
        )
    payload = bytes(CanonicalJSONSerializer().serialize(signed))
    if role == Root.type:
        assert isinstance(signed, Root)
        _check_log(root, signed)
        # TUF 5.3.4: a new root is signed by a threshold of the old root's keys and its own.
        _verdict(root.get_verification_result(Root.type, payload, md.signatures), "old root")
        _verdict(signed.get_verification_result(Root.type, payload, md.signatures), "new root")
        return
    delegator: Root | Targets = root if role == Targets.type else targets
    _verdict(delegator.get_verification_result(role, payload, md.signatures), role)
