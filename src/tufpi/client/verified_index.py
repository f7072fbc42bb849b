"""A tufpi index as seen through python-tuf's ngclient: only what the signed metadata vouches
for comes out, verified against a trusted root (root -> timestamp -> snapshot -> targets ->
bins -> bin-n -> length and hashes).

Metadata and verified targets are cached on disk; the metadata is refreshed at most every
``refresh_interval`` seconds, so one install does not refresh once per file.

One lock guards the metadata state only (a refresh, ngclient's delegation walk): a file
downloads outside it, into a temporary file of its own that replaces the cached name once
verified, so a slow download never holds up another request, and two downloads of one file
never mix.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import logging
import os
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote, urljoin

from tuf.api import exceptions
from tuf.api.metadata import Metadata, Root, TargetFile
from tuf.ngclient import Updater, UpdaterConfig

from tufpi.client.credentials import IndexAddress
from tufpi.client.fetcher import BoundedFetcher, HttpClient
from tufpi.client.log_checks import FileTarget
from tufpi.client.log_reader import LogReader, LogStats
from tufpi.client.refusals import NotListed, Refusal, explain
from tufpi.tlog.notes import NoteError
from tufpi.tlog.policy import LogPolicy, policy_of

log = logging.getLogger("tufpi.client")


def cache_dir_for(cache_root: Path, address: IndexAddress) -> Path:
    """One cache directory per index, named for its URL *without credentials*.

    Every token of an index reads the same signed metadata and files, verified before they
    are cached, so two credentials for one URL share one cache: the credential is no part of
    the key, not even hashed (a hash would only give the token a stable identifier on disk).
    """
    return cache_root / quote(address.url.rstrip("/"), safe="")


# The targets that are files (``packages/...``), each logged; the rest are pages.
FILE_PREFIX = "packages/"


def _root_log_policy(root_file: Path) -> LogPolicy | None:
    """The log policy of the root ngclient verified and stored.

    Raises:
        Refusal: the root's log field is malformed (never guessed at).
    """
    try:
        root = Metadata[Root].from_bytes(root_file.read_bytes())
        return policy_of(root.signed.unrecognized_fields)
    except NoteError as e:
        raise Refusal(f"the trusted root's transparency log field is malformed: {e}") from e
    except (OSError, ValueError, exceptions.RepositoryError) as e:
        raise Refusal(f"the trusted root {root_file} cannot be read: {e}") from e


@dataclasses.dataclass(frozen=True)
class ClientBounds:
    """How long and how much tufpi's client reads, wherever it runs (the proxy, ``tufpi
    install``, ``tufpi-conformance-client``).

    ``download_timeout`` is the total for one metadata file or target (slow retrieval),
    ``read_timeout`` the most a read may wait for data (capped by ``download_timeout``);
    ``config`` holds ngclient's size caps (endless data: 16 KiB for timestamp.json, the
    signed length for the rest when given) and its root-rotation and delegation bounds.
    """

    download_timeout: float = 60.0
    read_timeout: float = 10.0
    config: UpdaterConfig = dataclasses.field(default_factory=UpdaterConfig)

    def fetcher(self, client: HttpClient) -> BoundedFetcher:
        """The fetcher every download goes through."""
        return BoundedFetcher(
            client,
            read_timeout=min(self.read_timeout, self.download_timeout),
            total_timeout=self.download_timeout,
            config=self.config,
        )


@dataclasses.dataclass(frozen=True)
class Location:
    """Where the metadata and targets come from, and where verified copies are kept; where
    the transparency log is read (default: ``tlog/`` beside the metadata's ``tuf/``) and
    kept (default: ``tlog/`` in the metadata directory)."""

    metadata_url: str
    metadata_dir: Path
    target_base_url: str | None = None
    target_dir: Path | None = None
    log_url: str | None = None
    log_dir: Path | None = None

    @classmethod
    def of_index(cls, index_url: str, cache_dir: Path) -> Location:
        """A tufpi index: metadata under ``/tuf/``, targets from its root URL, the log under
        ``/tlog/``; kept in ``metadata``, ``targets`` and ``tlog`` of ``cache_dir``."""
        base = index_url.rstrip("/") + "/"
        return cls(
            base + "tuf/",
            cache_dir / "metadata",
            base,
            cache_dir / "targets",
            base + "tlog/",
            cache_dir / "tlog",
        )

    def log_location(self) -> tuple[str, Path]:
        """The log's URL and the directory its checkpoint and tiles are kept in."""
        url = self.log_url or urljoin(self.metadata_url, "../tlog/")
        return url, self.log_dir or self.metadata_dir / "tlog"


def make_updater(location: Location, fetcher: BoundedFetcher, config: UpdaterConfig) -> Updater:
    """The one way tufpi builds an ngclient Updater.

    The trusted root is ``root.json`` in the metadata directory; verified targets are stored
    in the target directory under ngclient's default name (the URL-quoted target path).
    """
    return Updater(
        metadata_dir=str(location.metadata_dir),
        metadata_base_url=location.metadata_url,
        target_base_url=location.target_base_url,
        target_dir=str(location.target_dir) if location.target_dir is not None else None,
        fetcher=fetcher,
        config=config,
        bootstrap=None,
    )


def read_first_root(
    fetcher: BoundedFetcher, index_url: str, config: UpdaterConfig | None = None
) -> bytes:
    """The bytes the index serves as its ``1.root.json``, trusted for nothing yet: within
    the fetcher's deadline, and no more than ngclient's cap for a root.

    Raises:
        Refusal: unreachable, too slow or too large.
    """
    url = index_url + "tuf/1.root.json"
    max_length = (config or UpdaterConfig()).root_max_length
    try:
        return fetcher.get(url, max_length)
    except exceptions.DownloadLengthMismatchError as e:
        raise Refusal(
            f"the index's first root {url} is larger than the {max_length} bytes a root may "
            "have (endless data): refusing to trust it"
        ) from e
    except exceptions.DownloadError as e:
        raise Refusal(f"cannot fetch the index's first root: {explain(e, url).message}") from e


def fetch_first_root(
    fetcher: BoundedFetcher, index_url: str, sha256: str, config: UpdaterConfig | None = None
) -> bytes:
    """The index's ``1.root.json``, accepted only if its sha256 is ``sha256`` (root pinning).

    Read through ``fetcher``: within its deadline, and no more than ngclient's cap for a
    root (``config.root_max_length``), so an endless or trickling root is cut.

    Raises:
        Refusal: unreachable, too slow, too large, or a different root.
    """
    data = read_first_root(fetcher, index_url, config)
    actual = hashlib.sha256(data).hexdigest()
    if actual != sha256.lower():
        raise Refusal(
            f"the index's first root has sha256 {actual}, not the pinned {sha256.lower()}: "
            "refusing to trust it"
        )
    return data


class VerifiedIndex:
    """Verified pages and files of one index (or, for the conformance client, of any TUF
    repository: ``location`` says where)."""

    def __init__(
        self,
        location: Location,
        root: bytes | None,
        client: HttpClient,
        bounds: ClientBounds | None = None,
        refresh_interval: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        *,
        recheck_interval: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """``root`` bootstraps trust the first time; later the cached, walked-forward root is
        used. ``client`` carries the index's credentials, if any (never in a URL).
        ``recheck_interval``: the fewest seconds between two looks at the index's timestamp
        outside the refresh interval (on a miss, on a page request: ``recheck``).

        Raises:
            Refusal: no trusted root, neither given nor cached.
        """
        self.location = location
        self.index_url = location.target_base_url or location.metadata_url
        self.metadata_dir = location.metadata_dir
        self.target_dir = location.target_dir
        self.metadata_dir.mkdir(parents=True, exist_ok=True)
        if self.target_dir is not None:
            self.target_dir.mkdir(parents=True, exist_ok=True)
        if root is not None and not (self.metadata_dir / "root.json").exists():
            (self.metadata_dir / "root.json").write_bytes(root)
        if not (self.metadata_dir / "root.json").exists():
            raise Refusal(f"no trusted root in {self.metadata_dir}: give --root or --root-sha256")
        self.bounds = bounds or ClientBounds()
        self.fetcher = self.bounds.fetcher(client)
        self.refresh_interval = refresh_interval
        self.recheck_interval = recheck_interval
        self.clock = clock
        self._sleep = sleep
        # Guards the metadata state (the updater, its refresh and delegation walk, the parsed
        # pages); never held while a file downloads.
        self._lock = threading.RLock()
        self._updater: Updater | None = None
        self._refreshed = float("-inf")
        self._checked = float("-inf")
        self._generation = 0
        self._pages: dict[str, dict[str, Any]] = {}
        # The transparency log the trusted root pins (None: it pins none), read again at
        # each refresh (a new root may pin another key or witness policy).
        self.log_stats = LogStats()
        self._log: LogReader | None = None
        self._said_no_log = False

    def _fresh_updater(self) -> Updater:
        """An updater refreshed within the interval (a new one past it). Under the lock."""
        if self._updater is None or self.clock() - self._refreshed >= self.refresh_interval:
            updater = make_updater(self.location, self.fetcher, self.bounds.config)
            try:
                updater.refresh()
            except (exceptions.RepositoryError, exceptions.DownloadError) as e:
                self._updater = None
                raise explain(e, "refreshing the signed metadata") from e
            self._follow_root_log()
            self._updater = updater
            self._refreshed = self._checked = self.clock()
            self._generation += 1
            self._pages.clear()
        return self._updater

    def _follow_root_log(self) -> None:
        """Read the log policy of the root ngclient just verified (and stored as
        ``root.json``); a reader for it, kept while the policy is the same. Under the lock.

        Raises:
            Refusal: the root's log field is malformed.
        """
        policy = _root_log_policy(self.metadata_dir / "root.json")
        if policy is None:
            self._log = None
            if not self._said_no_log:
                self._said_no_log = True
                log.warning(
                    "the index at %s has no transparency log (its root pins none): files "
                    "are verified by TUF alone",
                    self.index_url,
                )
            return
        if self._log is None or self._log.policy != policy:
            url, directory = self.location.log_location()
            self._log = LogReader(policy, self.fetcher.get, url, directory, stats=self.log_stats)

    def refresh(self) -> None:
        """Refresh now (used at start-up, so a bad index is reported at once)."""
        with self._lock:
            self._refreshed = float("-inf")
            self._fresh_updater()

    def recheck(self) -> bool:
        """Look whether the index published since the last refresh, and refresh now if so:
        at most once per ``recheck_interval`` however often it is called (a flood of
        requests for absent names costs the index one small read per interval). Whether it
        refreshed.

        The look is one bounded read of ``timestamp.json``, compared with the verified one
        the cache holds; it decides only whether to refresh, and the refresh verifies all.

        Raises:
            Refusal: the refresh failed verification.
        """
        with self._lock:
            now = self.clock()
            if now - self._checked < self.recheck_interval:
                return False
            self._checked = now  # this interval's look is this call's: others go on
        # The look holds no lock: a slow index delays only the request that looks.
        url = self.location.metadata_url + "timestamp.json"
        try:
            served = self.fetcher.get(url, self.bounds.config.timestamp_max_length)
        except exceptions.DownloadError as e:
            log.info("the index's timestamp was not read: %r", str(e))
            return False
        try:  # ngclient replaces it atomically
            held = (self.metadata_dir / "timestamp.json").read_bytes()
        except OSError:
            held = b""
        if served == held:
            return False
        with self._lock:
            self._refreshed = float("-inf")
            self._fresh_updater()
        return True

    def _lookup(self, path: str) -> tuple[Updater, TargetFile | None]:
        """The signed entry for ``path`` (None: not listed), and the updater that verified
        it (under the lock: ngclient's delegation walk loads and verifies bin-n metadata)."""
        with self._lock:
            updater = self._fresh_updater()
            try:
                return updater, updater.get_targetinfo(path)
            except (exceptions.RepositoryError, exceptions.DownloadError) as e:
                raise explain(e, path) from e

    def _targetinfo(self, path: str) -> tuple[Updater, TargetFile]:
        """The signed entry for ``path``; on a miss, after a ``recheck`` (a new upload)."""
        updater, info = self._lookup(path)
        if info is None and self.recheck():
            updater, info = self._lookup(path)
        if info is None:
            raise NotListed(path)
        return updater, info

    def wait_listed(self, path: str, timeout: float) -> bool:
        """Whether ``path`` is listed within ``timeout`` seconds, looking once per
        ``recheck_interval`` (an upload the index accepted, whose publication is pending)."""
        deadline = self.clock() + timeout
        while self._lookup(path)[1] is None:
            with self._lock:
                due = self._checked + self.recheck_interval
            if due > deadline:
                return False
            self._sleep(max(0.0, due - self.clock()))
            self.recheck()
        return True

    def _cached_name(self, info: TargetFile) -> Path:
        """Where a verified target is kept: ngclient's default name, the URL-quoted path."""
        if self.target_dir is None:
            raise Refusal(f"no target directory to download {info.path} into")
        return self.target_dir / quote(info.path, safe="")

    def _download(self, updater: Updater, info: TargetFile) -> Path:
        """Download and verify ``info`` into a temporary file of its own, then move it onto
        the cached name (atomic: a reader sees the old verified file or the new one)."""
        cached = self._cached_name(info)
        try:
            fd, name = tempfile.mkstemp(dir=cached.parent, prefix=".download-", suffix=".part")
            os.close(fd)
        except OSError as e:
            raise Refusal(f"cannot store {info.path} in {cached.parent}: {e}") from e
        try:
            updater.download_target(info, filepath=name)
            os.replace(name, cached)
        except (exceptions.RepositoryError, exceptions.DownloadError) as e:
            raise explain(e, info.path) from e
        except OSError as e:
            raise Refusal(f"cannot store {info.path} in {cached.parent}: {e}") from e
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(name)
        return cached

    def target(self, path: str) -> Path:
        """A verified copy of the target at ``path`` (a file or a page) in the cache.

        Only the metadata walk takes the lock; the download does not, so any number of
        downloads (even of the same file) run at once, each bounded by the fetcher.

        Raises:
            NotListed: the signed metadata does not list it.
            Refusal: anything else that failed verification.
        """
        updater, info = self._targetinfo(path)
        self._check_logged(info)
        cached = updater.find_cached_target(info, str(self._cached_name(info)))
        if cached is not None:
            return Path(cached)
        return self._download(updater, info)

    def _check_logged(self, info: TargetFile) -> None:
        """Refuse a file (a ``packages/`` target; pages are not logged) whose entry the
        transparency log the root pins does not prove (``log_reader``), before any of its
        bytes are read or handed out."""
        with self._lock:
            reader = self._log
        if reader is None or not info.path.startswith(FILE_PREFIX):
            return
        sha256 = info.hashes.get("sha256")
        if sha256 is None:
            raise Refusal(
                f"transparency log: the signed metadata gives no sha256 for {info.path}, "
                "so its log entry cannot be matched"
            )
        reader.check_file(FileTarget(info.path, sha256, info.length))

    def check_logged(self, path: str) -> None:
        """Refuse unless the file target ``path`` is listed and its entry proven in the
        transparency log (nothing is downloaded): for what describes a file, such as its
        PEP 658 metadata, which must not leave for a file the log does not hold.

        Raises:
            NotListed: the signed metadata does not list it.
            Refusal: the log does not prove its entry.
        """
        _, info = self._targetinfo(path)
        self._check_logged(info)

    def page(self, project: str, filename: str) -> bytes:
        """A verified project page (``index.html`` or ``index.json``)."""
        return self.target(f"simple/{project}/{filename}").read_bytes()

    def signed_json_page(self, project: str) -> dict[str, Any]:
        """The verified JSON page of ``project``, parsed (kept until the next refresh).

        Raises:
            NotListed: the signed metadata does not list it.
            Refusal: anything else that failed verification.
        """
        with self._lock:
            page = self._pages.get(project)
            generation = self._generation
        if page is None:
            page = json.loads(self.page(project, "index.json"))
            with self._lock:
                if generation == self._generation:
                    self._pages[project] = page
        return page

    def core_metadata_sha256(self, project: str, file_path: str) -> str | None:
        """The sha256 the signed JSON page gives for a file's PEP 658 metadata, if any.

        ``file_path`` is the file's target path (``packages/...``). PEP 658 files are not
        targets of their own: the signed page vouches for them.
        """
        page = self.signed_json_page(project)
        for entry in page.get("files", []):
            if entry.get("url", "").removeprefix("../../") == file_path:
                metadata = entry.get("core-metadata") or entry.get("dist-info-metadata")
                return metadata.get("sha256") if isinstance(metadata, dict) else None
        raise NotListed(f"{file_path} on the signed page of {project}")
