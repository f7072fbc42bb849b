"""A tufpi index as seen through python-tuf's ngclient: only what the signed metadata vouches
for comes out, verified against a trusted root (root -> timestamp -> snapshot -> targets ->
bins -> bin-n -> length and hashes).

Metadata and verified targets are cached on disk; the metadata is refreshed at most every
``refresh_interval`` seconds, so one install does not refresh once per file.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
from tuf.api import exceptions
from tuf.api.metadata import TargetFile
from tuf.ngclient import Updater

from tufpi.client.fetcher import BoundedFetcher
from tufpi.client.refusals import NotListed, Refusal, explain

log = logging.getLogger("tufpi.client")


def cache_dir_for(cache_root: Path, index_url: str) -> Path:
    """One cache directory per index URL."""
    return cache_root / quote(index_url.rstrip("/"), safe="")


def make_updater(
    metadata_dir: Path,
    metadata_url: str,
    target_dir: Path | None,
    target_base_url: str | None,
    fetcher: BoundedFetcher,
) -> Updater:
    """The one way tufpi builds an ngclient Updater (the proxy and the conformance client).

    The trusted root is ``root.json`` in ``metadata_dir``; verified targets are stored in
    ``target_dir`` under ngclient's default name (the URL-quoted target path).
    """
    return Updater(
        metadata_dir=str(metadata_dir),
        metadata_base_url=metadata_url,
        target_base_url=target_base_url,
        target_dir=str(target_dir) if target_dir is not None else None,
        fetcher=fetcher,
        bootstrap=None,
    )


def fetch_first_root(client: httpx.Client, index_url: str, sha256: str) -> bytes:
    """The index's ``1.root.json``, accepted only if its sha256 is ``sha256`` (root pinning).

    Raises:
        Refusal: unreachable, or a different root.
    """
    url = index_url + "tuf/1.root.json"
    try:
        response = client.get(url)
        response.raise_for_status()
    except httpx.HTTPError as e:
        raise Refusal(f"cannot fetch the index's first root {url}: {e}") from e
    actual = hashlib.sha256(response.content).hexdigest()
    if actual != sha256.lower():
        raise Refusal(
            f"the index's first root has sha256 {actual}, not the pinned {sha256.lower()}: "
            "refusing to trust it"
        )
    return response.content


class VerifiedIndex:
    """Verified pages and files of one index."""

    def __init__(
        self,
        index_url: str,
        cache_dir: Path,
        root: bytes | None,
        client: httpx.Client,
        refresh_interval: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        download_timeout: float = 60.0,
    ) -> None:
        """``root`` bootstraps trust the first time; later the cached, walked-forward root is
        used. Raises Refusal when there is neither."""
        self.index_url = index_url.rstrip("/") + "/"
        self.metadata_dir = cache_dir / "metadata"
        self.target_dir = cache_dir / "targets"
        self.metadata_dir.mkdir(parents=True, exist_ok=True)
        self.target_dir.mkdir(parents=True, exist_ok=True)
        if root is not None and not (self.metadata_dir / "root.json").exists():
            (self.metadata_dir / "root.json").write_bytes(root)
        if not (self.metadata_dir / "root.json").exists():
            raise Refusal("no trusted root: give --root FILE or --root-sha256 HEX")
        self.fetcher = BoundedFetcher(
            client, read_timeout=min(10.0, download_timeout), total_timeout=download_timeout
        )
        self.refresh_interval = refresh_interval
        self.clock = clock
        self._lock = threading.RLock()
        self._updater: Updater | None = None
        self._refreshed = float("-inf")
        self._pages: dict[str, dict[str, Any]] = {}

    def _fresh_updater(self) -> Updater:
        """An updater refreshed within the interval (a new one past it)."""
        if self._updater is None or self.clock() - self._refreshed >= self.refresh_interval:
            updater = make_updater(
                self.metadata_dir,
                self.index_url + "tuf/",
                self.target_dir,
                self.index_url,
                self.fetcher,
            )
            try:
                updater.refresh()
            except (exceptions.RepositoryError, exceptions.DownloadError) as e:
                self._updater = None
                raise explain(e, "refreshing the signed metadata") from e
            self._updater = updater
            self._refreshed = self.clock()
            self._pages.clear()
        return self._updater

    def refresh(self) -> None:
        """Refresh now (used at start-up, so a bad index is reported at once)."""
        with self._lock:
            self._refreshed = float("-inf")
            self._fresh_updater()

    def _target(self, path: str) -> tuple[TargetFile, Path]:
        updater = self._fresh_updater()
        try:
            info = updater.get_targetinfo(path)
        except (exceptions.RepositoryError, exceptions.DownloadError) as e:
            raise explain(e, path) from e
        if info is None:
            raise NotListed(path)
        cached = updater.find_cached_target(info)
        if cached is not None:
            return info, Path(cached)
        try:
            return info, Path(updater.download_target(info))
        except (exceptions.RepositoryError, exceptions.DownloadError) as e:
            raise explain(e, path) from e

    def target(self, path: str) -> Path:
        """A verified copy of the target at ``path`` (a file or a page) in the cache.

        Raises:
            NotListed: the signed metadata does not list it.
            Refusal: anything else that failed verification.
        """
        with self._lock:
            return self._target(path)[1]

    def page(self, project: str, filename: str) -> bytes:
        """A verified project page (``index.html`` or ``index.json``)."""
        return self.target(f"simple/{project}/{filename}").read_bytes()

    def core_metadata_sha256(self, project: str, file_path: str) -> str | None:
        """The sha256 the signed JSON page gives for a file's PEP 658 metadata, if any.

        ``file_path`` is the file's target path (``packages/...``). PEP 658 files are not
        targets of their own: the signed page vouches for them.
        """
        with self._lock:
            page = self._pages.get(project)
            if page is None:
                page = json.loads(self._target(f"simple/{project}/index.json")[1].read_bytes())
                self._pages[project] = page
        for entry in page.get("files", []):
            if entry.get("url", "").removeprefix("../../") == file_path:
                metadata = entry.get("core-metadata") or entry.get("dist-info-metadata")
                return metadata.get("sha256") if isinstance(metadata, dict) else None
        raise NotListed(f"{file_path} on the signed page of {project}")
