"""``tufpi-conformance-client``: the TUF client conformance CLI, on the proxy's own client.

    tufpi-conformance-client --metadata-dir D init TRUSTED_ROOT
    tufpi-conformance-client --metadata-dir D --metadata-url U refresh
    tufpi-conformance-client --metadata-dir D --metadata-url U --target-name P [...]
        --target-base-url T --target-dir TD download

Protocol: theupdateframework/tuf-conformance, CLIENT-CLI.md. Every command goes through
``VerifiedIndex`` with the bounds ``tufpi proxy`` uses (``ClientBounds``: the fetcher's
read timeout and per-file deadline, ngclient's size caps), the same credential handling
(userinfo in a URL becomes an Authorization header, never part of a URL or a message) and
the same refusals; so what a conformance suite tests is the product's client.
``--download-timeout`` (not part of the protocol) is the proxy's option of that name.

Exit code 0 on success, 1 on any failure.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

from tufpi.client.credentials import IndexAddress, Redactor, parse_index_url
from tufpi.client.fetcher import HttpAuth, HttpClient, OriginAuth, http_client
from tufpi.client.refusals import Refusal
from tufpi.client.verified_index import ClientBounds, Location, VerifiedIndex


def _parser() -> argparse.ArgumentParser:
    defaults = ClientBounds()
    parser = argparse.ArgumentParser(prog="tufpi-conformance-client")
    parser.add_argument("--metadata-dir", type=Path, required=True)
    parser.add_argument("--metadata-url")
    parser.add_argument("--target-name", action="append", default=[])
    parser.add_argument("--target-base-url")
    parser.add_argument("--target-dir", type=Path)
    parser.add_argument("--download-timeout", type=float, default=defaults.download_timeout)
    parser.add_argument("command", choices=["init", "refresh", "download"])
    parser.add_argument("trusted_root", nargs="?", type=Path)
    return parser


def _init(metadata_dir: Path, trusted_root: Path | None) -> None:
    # The protocol: copy the root, no request to the repository.
    if trusted_root is None:
        raise ValueError("init needs TRUSTED_ROOT")
    metadata_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(trusted_root, metadata_dir / "root.json")


def _address(url: str | None, what: str) -> IndexAddress:
    if url is None:
        raise ValueError(f"{what} is required for this command")
    return parse_index_url(url)


def _locate(args: argparse.Namespace) -> tuple[Location, list[IndexAddress]]:
    """Where the command reads and keeps metadata and targets, with credentials split off
    the URLs (the addresses they came from)."""
    metadata = _address(args.metadata_url, "--metadata-url")
    if args.command == "refresh":
        return Location(metadata.url, args.metadata_dir), [metadata]
    if not args.target_name or args.target_dir is None:
        raise ValueError("download needs --target-name, --target-base-url and --target-dir")
    target = _address(args.target_base_url, "--target-base-url")
    return Location(metadata.url, args.metadata_dir, target.url, args.target_dir), [
        metadata,
        target,
    ]


def open_repository(
    location: Location, client: HttpClient, download_timeout: float
) -> VerifiedIndex:
    """The repository as the proxy sees an index: a ``VerifiedIndex`` with the proxy's
    bounds, trusting the ``root.json`` that ``init`` stored. One refresh per process: a
    command is one client run."""
    bounds = ClientBounds(download_timeout=download_timeout)
    return VerifiedIndex(location, None, client, bounds, refresh_interval=float("inf"))


def _refresh_or_download(
    args: argparse.Namespace, location: Location, auth: HttpAuth | None
) -> None:
    with http_client(auth) as client:
        index = open_repository(location, client, args.download_timeout)
        if args.command == "refresh":
            index.refresh()
            return
        for name in args.target_name:  # in order, stopping at the first failure
            index.target(name)


def run_command(argv: Sequence[str]) -> int:
    """Parse ``argv`` and run the one conformance command it names (``init``, ``refresh``
    or ``download``); its exit code (0 on success, 1 on any failure, reported on stderr)."""
    args = _parser().parse_args(argv)
    redactor = Redactor()
    try:
        if args.command == "init":
            _init(args.metadata_dir, args.trusted_root)
            return 0
        location, addresses = _locate(args)
        redactor = Redactor(s for a in addresses for s in a.secrets)
        auth = _auth(addresses)
        _refresh_or_download(args, location, auth)
    except Refusal as e:
        cause = e.__cause__ if e.__cause__ is not None else e
        _report(redactor, f"{type(cause).__name__}: {e.message}")
        return 1
    except (ValueError, OSError) as e:  # CredentialsError is a ValueError
        _report(redactor, f"{type(e).__name__}: {e}")
        return 1
    return 0


def _auth(addresses: list[IndexAddress]) -> HttpAuth | None:
    """Each URL's credentials, each sent only to its own origin."""
    auths = [a.auth for a in addresses if a.auth is not None]
    return OriginAuth.merge(auths) if auths else None


def _report(redactor: Redactor, message: str) -> None:
    print(f"tufpi-conformance-client: {redactor.scrub(message)}", file=sys.stderr)


def main() -> None:
    sys.exit(run_command(sys.argv[1:]))
