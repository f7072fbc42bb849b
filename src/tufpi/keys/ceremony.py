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
from tuf.api.metadata import Metadata, Root, Targets
from tuf.api.serialization.json import CanonicalJSONSerializer

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


def propose_root(
    current: Root,
    now: dt.datetime,
    expires_days: int = 365,
    add: Sequence[Key] = (),
    remove: Sequence[str] = (),
    threshold: int | None = None,
) -> Proposal:
    """The next root version: root keys added and removed, a threshold, a new expiry.

    Raises:
        CeremonyError: a threshold that the remaining keys cannot meet, or below 1.
    """
    previous = copy.deepcopy(current.to_dict())
    # to_dict shares lists and dicts with ``current``: edit a deep copy, never the original.
    root = Root.from_dict(copy.deepcopy(previous))
    for keyid in remove:
        if keyid not in root.roles[Root.type].keyids:
            raise CeremonyError(f"key {keyid} is not a root key")
        root.revoke_key(keyid, Root.type)
    for key in add:
        root.add_key(key, Root.type)
    if threshold is not None:
        root.roles[Root.type].threshold = threshold
    count = len(root.roles[Root.type].keyids)
    wanted = root.roles[Root.type].threshold
    if not 1 <= wanted <= count:
        raise CeremonyError(f"root threshold {wanted} cannot be met by {count} root key(s)")
    root.version += 1
    root.expires = _utc(expires_days, now)
    return Proposal(Root.type, Metadata(root), previous)


def propose_renewal(
    role: str, current: Targets, now: dt.datetime, expires_days: int = 365
) -> Proposal:
    """The next version of ``targets`` or ``bins`` with a new expiry (the yearly re-signing)."""
    previous = copy.deepcopy(current.to_dict())
    targets = Targets.from_dict(copy.deepcopy(previous))
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
    lines.append(f"payload sha256 {proposal.digest}")
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
        CeremonyError: expired, not newer, unknown signers, or a threshold not met.
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
        # TUF 5.3.4: a new root is signed by a threshold of the old root's keys and its own.
        _verdict(root.get_verification_result(Root.type, payload, md.signatures), "old root")
        _verdict(signed.get_verification_result(Root.type, payload, md.signatures), "new root")
        return
    delegator: Root | Targets = root if role == Targets.type else targets
    _verdict(delegator.get_verification_result(role, payload, md.signatures), role)
