"""The transparency log bound to the TUF root: root v1 names the log key (python-tuf signs
the field with the rest of root, and ngclient reads it back); a root ceremony rotates the
log key and sets the witness policy, says so in plain words, and refuses a policy that does
not parse or a root that drops the log."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from tuf.api.exceptions import DownloadHTTPError, UnsignedMetadataError
from tuf.api.metadata import Metadata, Root
from tuf.ngclient import Updater
from tuf.ngclient.fetcher import FetcherInterface

from tufpi.config import Settings
from tufpi.db import make_engine, upgrade
from tufpi.keys import dev
from tufpi.services import Services
from tufpi.tlog import notes
from tufpi.tlog.policy import ROOT_FIELD, LogPolicy, policy_of
from tufpi.trust import ceremony, offline
from tufpi.trust.ceremony import CeremonyError, KeyChanges
from tufpi.trust.init import OfflineSigners, dev_keyset, first_log_policy, initialise
from tufpi.trust.store import MetadataStore

# ngclient reads the wall clock: the repository is made now.
NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
ORIGIN = "index.example/tlog"
BASE = "http://index.example/"


class StorageFetcher(FetcherInterface):
    """ngclient's downloads served from the repository's storage directory."""

    def __init__(self, files: Path) -> None:
        self.files = files

    def _fetch(self, url: str) -> Iterator[bytes]:
        path = self.files / url.removeprefix(BASE)
        if not path.is_file():
            raise DownloadHTTPError(f"{url} not found", 404)
        return iter([path.read_bytes()])


def _verifier(name: str, kind: int) -> notes.Verifier:
    return notes.verifier_for(name, Ed25519PrivateKey.generate(), kind)


class Repo:
    def __init__(self, tmp_path: Path) -> None:
        settings = Settings(data_dir=tmp_path / "data", keys_dir=tmp_path / "keys", bins=4)
        settings.data_dir.mkdir()
        upgrade(make_engine(settings.effective_database_url))
        self.services = Services.from_settings(settings, clock=lambda: NOW)
        self.files = settings.effective_storage_dir
        self.keys = dev.load_or_create(settings.keys_dir)
        self.log_key = Ed25519PrivateKey.generate()
        initialise(
            self.services.sessions,
            self.services.storage,
            dev_keyset(self.keys),
            OfflineSigners(root=self.keys.root, targets=[self.keys.targets], bins=[self.keys.bins]),
            self.keys.online,
            4,
            self.services.policy,
            NOW,
            log=first_log_policy(self.log_key, ORIGIN),
        )
        self.store = MetadataStore(self.services.storage)

    def first_root(self) -> bytes:
        return (self.files / "tuf" / "1.root.json").read_bytes()

    def client_root(self, workdir: Path, bootstrap: bytes | None = None) -> Root:
        """The root a fresh ngclient trusts after a refresh."""
        workdir.mkdir()
        updater = Updater(
            str(workdir),
            BASE + "tuf/",
            str(workdir),
            BASE,
            fetcher=StorageFetcher(self.files),
            bootstrap=bootstrap or self.first_root(),
        )
        updater.refresh()
        return Metadata[Root].from_bytes((workdir / "root.json").read_bytes()).signed

    def import_root(self, changes: KeyChanges) -> list[str]:
        proposal = offline.propose(self.store, "root", NOW, 365, changes)
        signatures = [ceremony.sign(proposal, signer) for signer in self.keys.root[:2]]
        md = ceremony.combine(proposal, signatures)
        offline.import_signed(self.services.sessions, self.services.storage, "root", md, NOW)
        return ceremony.describe(proposal)


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    return Repo(tmp_path)


def test_root_v1_names_the_log_and_ngclient_reads_it_back(repo: Repo, tmp_path: Path) -> None:
    root = repo.client_root(tmp_path / "client")
    policy = policy_of(root.unrecognized_fields)
    assert policy == LogPolicy(notes.verifier_for(ORIGIN, repo.log_key, notes.ED25519))
    assert (policy.origin, policy.witnesses, policy.witness_threshold) == (ORIGIN, (), 0)


def test_the_log_field_is_signed_with_root(repo: Repo, tmp_path: Path) -> None:
    """Another log key swapped into root v1: the root's own signatures no longer verify."""
    md = Metadata[Root].from_bytes(repo.first_root())
    other = _verifier(ORIGIN, notes.ED25519)
    md.signed.unrecognized_fields[ROOT_FIELD] = LogPolicy(other).to_field()
    with pytest.raises(UnsignedMetadataError):
        repo.client_root(tmp_path / "client", md.to_bytes())


def test_a_ceremony_rotates_the_log_key_and_sets_witnesses(repo: Repo, tmp_path: Path) -> None:
    new_log = _verifier(ORIGIN, notes.ED25519)
    w1, w2 = _verifier("w1.example", notes.COSIGNATURE_V1), _verifier("w2.example", 4)
    shown = repo.import_root(
        KeyChanges(log_key=new_log, add_witnesses=[w1, w2], witness_threshold=1)
    )
    old_vkey = notes.verifier_for(ORIGIN, repo.log_key, notes.ED25519).vkey()
    assert f"log: key {old_vkey} -> {new_log.vkey()}" in shown
    assert f"witness: ADD {w1.vkey()}" in shown
    assert "witnesses: threshold 0 -> 1" in shown
    assert f"log {ORIGIN}: every checkpoint needs 1 of 2 witness cosignatures" in shown
    # A client that trusted root v1 walks to v2 and pins the new key and witnesses.
    root = repo.client_root(tmp_path / "client")
    assert root.version == 2
    assert policy_of(root.unrecognized_fields) == LogPolicy(new_log, (w1, w2), 1)

    shown = repo.import_root(KeyChanges(remove_witnesses=["w1.example"]))
    assert f"witness: REMOVE {w1.vkey()}" in shown
    root = repo.client_root(tmp_path / "client-3")
    assert policy_of(root.unrecognized_fields) == LogPolicy(new_log, (w2,), 1)


def test_impossible_log_changes_are_refused(repo: Repo) -> None:
    w1 = _verifier("w1.example", notes.COSIGNATURE_V1)
    cases = [
        (KeyChanges(remove_witnesses=["w9.example"]), "not a witness"),
        (KeyChanges(add_witnesses=[w1], witness_threshold=2), "threshold 2 is not within 0 and 1"),
        (KeyChanges(add_witnesses=[w1, w1]), "listed twice"),
        (KeyChanges(log_key=_verifier(ORIGIN, notes.COSIGNATURE_V1)), "must be an Ed25519"),
    ]
    for changes, reason in cases:
        with pytest.raises(CeremonyError, match=reason):
            offline.propose(repo.store, "root", NOW, 365, changes)
    with pytest.raises(CeremonyError, match="change in a root proposal"):
        offline.propose(repo.store, "targets", NOW, 365, KeyChanges(add_witnesses=[w1]))


def test_a_root_without_a_log_must_set_its_key_first(repo: Repo) -> None:
    root = repo.store.root().signed
    del root.unrecognized_fields[ROOT_FIELD]
    w1 = _verifier("w1.example", notes.COSIGNATURE_V1)
    with pytest.raises(CeremonyError, match="names no transparency log"):
        ceremony.propose_root(root, NOW, changes=KeyChanges(add_witnesses=[w1]))
    log = _verifier(ORIGIN, notes.ED25519)
    proposal = ceremony.propose_root(root, NOW, changes=KeyChanges(log_key=log))
    assert f"log: SET key {log.vkey()} (origin {ORIGIN})" in ceremony.describe(proposal)


@pytest.mark.parametrize(
    ("field", "reason"),
    [
        ({"log": "not a vkey", "witnesses": [], "witness_threshold": 0}, "does not parse"),
        ({"log": "x"}, "does not parse"),
        (None, "drops the transparency log"),
    ],
)
def test_check_refuses_a_bad_or_dropped_policy(repo: Repo, field: object, reason: str) -> None:
    proposal = offline.propose(repo.store, "root", NOW, 365, KeyChanges())
    fields = proposal.metadata.signed.unrecognized_fields
    if field is None:
        del fields[ROOT_FIELD]
    else:
        fields[ROOT_FIELD] = field
    shown = "\n".join(ceremony.describe(proposal))
    assert ("DOES NOT PARSE" if field else "log: REMOVED") in shown
    md = ceremony.combine(proposal, [ceremony.sign(proposal, s) for s in repo.keys.root[:2]])
    with pytest.raises(CeremonyError, match=reason):
        offline.import_signed(repo.services.sessions, repo.services.storage, "root", md, NOW)
    assert not (repo.files / "tuf" / "2.root.json").exists()
