"""Online key rotation without an outage: the new key is added (root and bins), the signer
switches to it and re-signs everything, then the old key is removed; meanwhile uploads and
client refreshes run without a single failure."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from securesystemslib.signer import CryptoSigner

from tests.support import server as server_support
from tests.support.server import IndexServer
from tests.support.tuf_client import updater, wait_for_target
from tests.support.uploads import post_wheel
from tests.support.waiting import wait_until


class Traffic:
    """Uploads and client refreshes in the background, counting every failure."""

    def __init__(self, server: IndexServer, token: str, workdir: Path) -> None:
        self.server, self.token, self.workdir = server, token, workdir
        self.stop = threading.Event()
        self.uploaded: list[str] = []
        self.refreshes = 0
        self.failures: list[str] = []
        self.threads = [
            threading.Thread(target=self._upload, daemon=True),
            threading.Thread(target=self._refresh, daemon=True),
        ]

    def _upload(self) -> None:
        with httpx.Client(timeout=30) as client:
            n = 0
            while not self.stop.is_set() and n < 2000:
                n += 1
                response = post_wheel(client, self.server.url, self.token, "rot-stream", f"1.{n}")
                if response.status_code == 200:
                    self.uploaded.append(f"1.{n}")
                else:
                    self.failures.append(f"upload 1.{n}: {response.status_code} {response.text}")
                time.sleep(0.05)

    def _refresh(self) -> None:
        n = 0
        while not self.stop.is_set() and n < 5000:
            n += 1
            try:
                updater(self.server, self.workdir, "returning").refresh()
                self.refreshes += 1
            except Exception as e:  # every failure is the finding
                self.failures.append(f"refresh: {type(e).__name__}: {e}")
            time.sleep(0.05)

    def __enter__(self) -> Traffic:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=60)


def _timestamp_keyids(server: IndexServer) -> set[str]:
    data = json.loads((server.data_dir / "files" / "tuf" / "timestamp.json").read_bytes())
    return {signature["keyid"] for signature in data["signatures"]}


def _wait(condition: Callable[[], object], timeout: float = 60) -> None:
    wait_until(condition, "timed out", timeout=timeout, interval=0.2)


def test_rotation_under_traffic(unsigned_server: IndexServer, tmp_path: Path) -> None:
    server = unsigned_server
    keys = Path(server.env["TUFPI_KEYS_DIR"])
    old_public = CryptoSigner(
        load_pem_private_key((keys / "online.pem").read_bytes(), None)
    ).public_key
    new = CryptoSigner.generate_ed25519()
    new_pem = tmp_path / "online-new.pem"
    new_pem.write_bytes(new.private_bytes)
    new_pub = tmp_path / "online-new.pub.json"
    server.cli("ceremony", "pubkey", f"file2:{new_pem}", "--out", str(new_pub))
    roots = [keys / "root-1.pem", keys / "root-2.pem"]
    token = server.new_user("rotator")

    workdir = tmp_path / "rotation"

    def rotate() -> str:
        return server.cli(
            "ceremony",
            "rotate-online",
            "--new-key",
            str(new_pub),
            "--workdir",
            str(workdir),
        ).stdout

    def sign(proposal: str, signers: list[Path]) -> None:
        for key in signers:
            server.cli("ceremony", "sign", str(workdir / proposal), "--key", str(key), "--yes")

    old_signer = server_support.signer_process(server, log_name="old-signer.log")
    signers = [old_signer]
    try:
        with Traffic(server, token, tmp_path) as traffic:
            _wait(lambda: traffic.refreshes >= 3 and len(traffic.uploaded) >= 3)
            # One command drives the rotation; it is run again after each step.
            assert "step 1 of 4: waiting for signatures" in rotate()
            sign("add-root.json", roots)
            sign("add-bins.json", [keys / "bins.pem"])
            assert "step 1 of 4 done" in rotate()
            assert "step 2 of 4: restart the signer" in rotate()
            old_signer.terminate()
            old_signer.wait(timeout=30)
            new_signer = server_support.signer_process(
                server,
                extra_env={"TUFPI_ONLINE_KEY": f"file2:{new_pem}"},
                log_name="new-signer.log",
            )
            signers.append(new_signer)
            try:
                steps: list[str] = []
                _wait(lambda: steps.append(rotate()) or "step 4 of 4" in steps[-1], timeout=90)
                sign("remove-root.json", roots)
                sign("remove-bins.json", [keys / "bins.pem"])
                assert "rotation complete" in rotate()
                assert _timestamp_keyids(server) == {new.public_key.keyid}
                tuf = server.data_dir / "files" / "tuf"
                root = json.loads((tuf / "root.json").read_bytes())["signed"]
                for role in ("timestamp", "snapshot"):
                    assert root["roles"][role]["keyids"] == [new.public_key.keyid]
                assert old_public.keyid not in root["keys"]
                uploads, refreshes = len(traffic.uploaded), traffic.refreshes
                # Traffic goes on after the old key is gone.
                _wait(
                    lambda: (
                        len(traffic.uploaded) > uploads + 3 and traffic.refreshes > refreshes + 3
                    )
                )
            finally:
                traffic.stop.set()
            try:
                assert traffic.failures == []
                assert traffic.refreshes > 10
                assert len(traffic.uploaded) > 10
                last = traffic.uploaded[-1]
                wait_for_target(server, tmp_path, "simple/rot-stream/index.json", timeout=60)
                page = httpx.get(
                    f"{server.simple}rot-stream/",
                    headers={"Accept": "application/vnd.pypi.simple.v1+json"},
                ).json()
                assert f"rot_stream-{last}-py3-none-any.whl" in {
                    f["filename"] for f in page["files"]
                }
                root = json.loads((server.data_dir / "files" / "tuf" / "root.json").read_bytes())
                assert root["signed"]["roles"]["timestamp"]["keyids"] == [new.public_key.keyid]
            finally:
                new_signer.terminate()
                new_signer.wait(timeout=30)
    finally:  # no signer outlives a failed test
        for process in signers:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=30)
