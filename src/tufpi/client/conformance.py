"""``tufpi-conformance-client``: the TUF client conformance CLI, on the proxy's wiring.

    tufpi-conformance-client --metadata-dir D init TRUSTED_ROOT
    tufpi-conformance-client --metadata-dir D --metadata-url U refresh
    tufpi-conformance-client --metadata-dir D --metadata-url U --target-name P [...]
        --target-base-url T --target-dir TD download

Exit code 0 on success, 1 on any failure.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

import httpx
from tuf.api import exceptions

from tufpi.client.fetcher import BoundedFetcher
from tufpi.client.verified_index import make_updater


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tufpi-conformance-client")
    parser.add_argument("--metadata-dir", type=Path, required=True)
    parser.add_argument("--metadata-url")
    parser.add_argument("--target-name", action="append", default=[])
    parser.add_argument("--target-base-url")
    parser.add_argument("--target-dir", type=Path)
    parser.add_argument("command", choices=["init", "refresh", "download"])
    parser.add_argument("trusted_root", nargs="?", type=Path)
    return parser


def _init(metadata_dir: Path, trusted_root: Path | None) -> None:
    if trusted_root is None:
        raise ValueError("init needs TRUSTED_ROOT")
    metadata_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(trusted_root, metadata_dir / "root.json")


def _download(args: argparse.Namespace, fetcher: BoundedFetcher) -> None:
    if not args.target_name or args.target_base_url is None or args.target_dir is None:
        raise ValueError("download needs --target-name, --target-base-url and --target-dir")
    args.target_dir.mkdir(parents=True, exist_ok=True)
    updater = make_updater(
        args.metadata_dir, args.metadata_url, args.target_dir, args.target_base_url, fetcher
    )
    updater.refresh()
    for name in args.target_name:
        info = updater.get_targetinfo(name)
        if info is None:
            raise ValueError(f"{name}: not listed in the signed metadata")
        if updater.find_cached_target(info) is None:
            updater.download_target(info)


def run(argv: Sequence[str]) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "init":
            _init(args.metadata_dir, args.trusted_root)
            return 0
        if args.metadata_url is None:
            raise ValueError(f"{args.command} needs --metadata-url")
        with httpx.Client() as client:
            fetcher = BoundedFetcher(client)
            if args.command == "refresh":
                make_updater(args.metadata_dir, args.metadata_url, None, None, fetcher).refresh()
            else:
                _download(args, fetcher)
    except (exceptions.RepositoryError, exceptions.DownloadError, ValueError, OSError) as e:
        print(f"tufpi-conformance-client: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    return 0


def main() -> None:
    sys.exit(run(sys.argv[1:]))
