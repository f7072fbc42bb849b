"""Online-key rotation and the recovery from a leaked key, step by step, on a real SQLite
repository with development keys: which step comes next (pure), and each run's effect."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from securesystemslib.signer import CryptoSigner, Signer
from sqlalchemy import select

from tufpi.db.models import RoleState
from tufpi.trust import ceremony, offline, rotation, state
from tufpi.trust.ceremony import CeremonyError, Proposal
from tufpi.trust.publisher import Publisher, PublishResult
from tufpi.trust.recovery import rebuild_from_database
from tufpi.trust.rotation import OnlineKeys, RecoveryStep, RotationStep

from .test_publisher import Repo


@pytest.fixture
def repo(tmp_path: Path) -> Iterator[Repo]:
    repo = Repo(tmp_path)
    yield repo
    repo.services.engine.dispose()


class Run:
    """One rotation (or recovery) driven as the command drives it, with its output kept."""

    def __init__(self, repo: Repo, workdir: Path) -> None:
        self.repo = repo
        self.workdir = workdir
        self.new = CryptoSigner.generate_ed25519()
        self.lines: list[str] = []
        services = repo.services
        self.target = rotation.Repository(services.sessions, services.storage, repo.clock)

    def rotate(self) -> str:
        return rotation.rotate(self.target, self.new.public_key, self.workdir, self.lines.append)

    def recover(self) -> str:
        def rebuild() -> PublishResult:
            return rebuild_from_database(
                self.repo.services.sessions, self.repo.store, self.publisher, self.lines.append
            )

        return rotation.recover_from_leak(
            self.target, self.new.public_key, self.workdir, self.lines.append, rebuild
        )

    def sign(self, stem: str) -> None:
        """The holders sign ``stem``-root (two of the three root keys) and ``stem``-bins."""
        keys = self.repo.keys
        holders: dict[str, list[Signer]] = {"root": keys.root[:2], "bins": [keys.bins]}
        for role, signers in holders.items():
            path = self.workdir / f"{stem}-{role}.json"
            proposal = Proposal.from_bytes(path.read_bytes())
            for n, signer in enumerate(signers):
                signature = ceremony.sign(proposal, signer)
                path.with_name(f"{path.stem}.{n}.sig.json").write_bytes(signature.to_bytes())

    def publisher(self) -> Publisher:
        """The signer restarted with the new key."""
        services = self.repo.services
        return Publisher(
            services.sessions, services.storage, self.new, services.policy, self.repo.clock
        )

    def keys(self) -> OnlineKeys:
        root, _targets, bins = offline.current(self.repo.store)
        return OnlineKeys.of(root, bins)


def test_the_steps_follow_from_the_trusted_keys_and_the_timestamps_signer() -> None:
    old_only = OnlineKeys(frozenset({"old"}), frozenset({"old"}))
    half = OnlineKeys(frozenset({"old", "new"}), frozenset({"old"}))
    both = OnlineKeys(frozenset({"old", "new"}), frozenset({"old", "new"}))
    new_only = OnlineKeys(frozenset({"new"}), frozenset({"new"}))
    assert rotation.rotation_step(old_only, "new", {"old"}) is RotationStep.ADD_KEY
    assert rotation.rotation_step(half, "new", {"old"}) is RotationStep.ADD_KEY
    assert rotation.rotation_step(both, "new", {"old"}) is RotationStep.RESTART_SIGNER
    assert rotation.rotation_step(both, "new", {"new"}) is RotationStep.RETIRE_OLD
    assert both.others("new") == ["old"]
    assert rotation.recovery_step(both, "new", {"old"}) is RecoveryStep.REPLACE_KEY
    assert rotation.recovery_step(new_only, "new", {"old"}) is RecoveryStep.REBUILD
    assert rotation.recovery_step(new_only, "new", {"new"}) is RecoveryStep.DONE


def test_a_rotation_takes_every_step_and_ends_with_only_the_new_key(
    repo: Repo, tmp_path: Path
) -> None:
    run = Run(repo, tmp_path / "work")
    run.workdir.mkdir()
    old = repo.keys.online.public_key.keyid
    repo.add("a/a-1.tar.gz", b"a")
    repo.add("b/b-1.tar.gz", b"b")
    repo.publisher().publish()

    assert run.rotate().startswith("step 1 of 4: waiting")
    assert (run.workdir / "add-root.json").exists()
    assert (run.workdir / "add-bins.json").exists()
    assert run.lines[-1].startswith("wrote ")
    run.sign("add")
    assert run.rotate().startswith("step 1 of 4 done")
    assert run.lines[-2:] == ["imported bins version 2", "imported root version 2"]
    assert run.keys().trust(run.new.public_key.keyid)

    assert run.rotate().startswith("step 2 of 4: restart the signer")
    run.publisher().publish()  # the restarted signer lists the new bins, signs a new timestamp
    still_old = offline.signed_by(repo.store, [old])
    assert any(name.startswith("bin-") for name in still_old)

    assert run.rotate() == (
        f"step 3 of 4: the signer is re-signing {len(still_old)} role(s) with the new key"
    )
    with repo.services.sessions() as session:
        due = set(session.scalars(select(RoleState.name).where(RoleState.expires == state.DUE)))
    assert due == {name for name in still_old if name.startswith("bin-")}
    run.publisher().publish()
    assert offline.signed_by(repo.store, [old]) == []

    assert run.rotate().startswith("step 4 of 4: waiting")
    run.sign("remove")
    assert run.rotate() == "rotation complete: only the new key signs the online roles"
    assert run.keys() == OnlineKeys(
        frozenset({run.new.public_key.keyid}), frozenset({run.new.public_key.keyid})
    )


def test_a_recovery_replaces_the_key_then_rebuilds_every_bin_once(
    repo: Repo, tmp_path: Path
) -> None:
    run = Run(repo, tmp_path / "work")
    run.workdir.mkdir()
    repo.add("a/a-1.tar.gz", b"a")
    repo.publisher().publish()

    assert run.recover().startswith("step 1 of 2: waiting")
    run.sign("recover")
    assert run.recover().startswith("step 1 of 2 done: root and bins name only the new key")
    assert run.keys().others(run.new.public_key.keyid) == []

    line = run.recover()
    assert line.startswith("step 2 of 2 done: every bin-n rebuilt from the database")
    assert "0 difference(s) between the published bins and the database" in run.lines
    assert run.new.public_key.keyid in repo.store.timestamp().signatures
    assert run.recover() == "recovery complete: start the signer with the new key"


def test_removing_a_key_that_still_signs_is_refused_unless_it_leaked(repo: Repo) -> None:
    old = repo.keys.online.public_key.keyid
    removal = ceremony.KeyChanges(remove_online=[old], add_online=[repo.keys.targets.public_key])
    with pytest.raises(CeremonyError, match="still signed by a key to remove"):
        offline.propose(repo.store, "bins", repo.clock(), 365, removal)
    proposal = offline.propose(repo.store, "bins", repo.clock(), 365, removal, compromised=True)
    assert f"bin-n: REMOVE key {old}" in ceremony.describe(proposal)


def test_make_bins_due_marks_only_the_named_bins(repo: Repo) -> None:
    with repo.services.sessions.begin() as session:
        names = list(session.scalars(select(RoleState.name).where(RoleState.name.like("bin-%"))))
        assert state.make_bins_due(session, [names[0], names[2], "timestamp"]) == 2
    with repo.services.sessions() as session:
        due = set(session.scalars(select(RoleState.name).where(RoleState.expires == state.DUE)))
    assert due == {names[0], names[2]}
