"""Install time of a real dependency tree: ``tufpi install`` (pip or uv behind the verifying
proxy) against plain pip and plain uv from the same tufpi index, cold (client caches empty)
and warm (caches full), for a big tree (40+ wheels) and a small one (5 wheels). The goal:
at most 1.3x plain pip (and plain uv). See ``benchmarks/README.md``.

    .venv/bin/python benchmarks/bench_install.py             # real wheels (downloaded once)
    .venv/bin/python benchmarks/bench_install.py --quick     # tiny local wheels, no network

The real wheels are downloaded once, with this machine's pip configuration, into
``--wheels`` (``~/.cache/tufpi-bench/wheels``); every measured install is isolated from it
(``PIP_CONFIG_FILE=/dev/null``, no ``PIP_*``/``UV_*``: ``tests/support/clients.py``).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import hashlib
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # tests.support.clients: isolated pip, uv and twine

from common import free_port, machine, run_tufpi, tree_env  # noqa: E402

from tests.support.clients import clean_env, twine_upload  # noqa: E402
from tests.support.server import wait_until_serving  # noqa: E402
from tests.support.waiting import wait_until  # noqa: E402
from tests.support.wheelfile import zip_wheel  # noqa: E402

# The big tree: a web application with data work and its tools (63 wheels, 114 MiB).
# pandas and boto3 bring six, python-dateutil, botocore, jmespath and s3transfer, whose wheels
# declare Metadata-Version 2.1 with License-File (a 2.4 field): accepted as PyPI accepts them
# (tufpi.index.core_metadata).
BIG = (
    "flask",
    "django",
    "requests",
    "sqlalchemy",
    "pydantic",
    "httpx",
    "rich",
    "fastapi",
    "pyyaml",
    "cryptography",
    "pytest",
    "numpy",
    "scipy",
    "pillow",
    "black",
    "jsonschema",
    "alembic",
    "pandas",
    "boto3",
)
# The small tree: requests and its four dependencies.
SMALL = ("requests",)
# --quick: tiny wheels made here, the same shapes (an application and what it requires).
QUICK_BIG = ("bench-app-big",)
QUICK_SMALL = ("bench-app",)
GOAL = 1.3
CLIENTS = ("pip", "tufpi install (pip)", "uv", "tufpi install (uv)")
BASELINE = {"tufpi install (pip)": "pip", "tufpi install (uv)": "uv"}


@dataclasses.dataclass(frozen=True)
class Tree:
    """What one measured install asks for, and how many distributions it must install."""

    name: str
    requirements: tuple[str, ...]
    wheels: int


# --- the wheels -----------------------------------------------------------------------


def tiny_wheel(name: str, requires: Sequence[str]) -> tuple[str, bytes]:
    """A small valid wheel of ``name`` 1.0 requiring ``requires``: (filename, bytes)."""
    dist = name.replace("-", "_")
    info = f"{dist}-1.0.dist-info"
    metadata = f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n"
    metadata += "".join(f"Requires-Dist: {r}\n" for r in requires)
    files = {
        f"{dist}/__init__.py": f"NAME = {name!r}\n".encode(),
        f"{info}/METADATA": metadata.encode(),
        f"{info}/WHEEL": b"Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    return f"{dist}-1.0-py3-none-any.whl", zip_wheel(files, info)


def quick_wheels(directory: Path) -> tuple[list[Path], list[Tree]]:
    """Tiny wheels: ``bench-app`` requiring four (5 wheels), ``bench-app-big`` requiring
    eleven (12)."""
    small = [f"bench-dep-{i}" for i in range(4)]
    big = [f"bench-lib-{i}" for i in range(11)]
    shapes = {"bench-app": small, "bench-app-big": big, **{n: [] for n in small + big}}
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, requires in shapes.items():
        filename, data = tiny_wheel(name, requires)
        (directory / filename).write_bytes(data)
        paths.append(directory / filename)
    trees = [Tree("big", QUICK_BIG, 12), Tree("small", QUICK_SMALL, 5)]
    return paths, trees


def download_wheels(cache: Path) -> list[Path]:
    """The big tree's wheels for this interpreter, downloaded once into ``cache`` with this
    machine's pip configuration (its index and certificates): the one step that uses the
    network. Binary wheels only, so that no install builds anything."""
    key = hashlib.sha256(" ".join(BIG).encode() + sys.version.encode()).hexdigest()[:12]
    directory = cache / key
    done = directory / "complete"
    if not done.exists():
        directory.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "pip", "download", "--only-binary=:all:"]
        result = subprocess.run(
            [*command, "--dest", str(directory), *BIG], capture_output=True, text=True, check=False
        )
        if result.returncode != 0:
            sys.exit(f"pip download failed (network?):\n{result.stdout}{result.stderr}")
        done.write_text("\n".join(BIG) + "\n")
    return sorted(directory.glob("*.whl"))


def real_trees(wheels: list[Path]) -> list[Tree]:
    return [Tree("big", BIG, len(wheels)), Tree("small", SMALL, 5)]


# --- the index --------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Index:
    url: str
    fingerprint: str
    pid: int


def _nothing_pending(url: str) -> bool:
    with contextlib.suppress(httpx.HTTPError):
        return "\ntufpi_pending_changes 0\n" in httpx.get(url + "metrics", timeout=5).text
    return False


@contextlib.contextmanager
def serving(data: Path, bins: int, wheels: list[Path]) -> Iterator[Index]:
    """A fresh ``tufpi serve`` on SQLite in ``data`` holding ``wheels`` (uploaded with
    twine), every upload published."""
    port = free_port()
    env = tree_env(HERE.parent, data, data / "keys", bins, port)
    run_tufpi(env, "db", "upgrade")
    started = time.monotonic()
    run_tufpi(env, "trust", "init")
    print(f"trust init ({bins} bins): {time.monotonic() - started:.1f} s", flush=True)
    run_tufpi(env, "user", "add", "bench", "--no-password")
    token = run_tufpi(env, "token", "create", "--user", "bench").strip()
    log = (data / "serve.log").open("ab")
    process = subprocess.Popen(
        [sys.executable, "-m", "tufpi.cli", "serve", "--log-level", "warning"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        wait_until_serving(process, url, "tufpi serve", timeout=300, log=data / "serve.log")
        uploaded = twine_upload(url, token, wheels)
        if uploaded.returncode != 0:
            sys.exit(f"twine upload failed:\n{uploaded.stdout}{uploaded.stderr}")
        wait_until(
            lambda: _nothing_pending(url), "publication of the uploads", timeout=300, interval=0.2
        )
        root = httpx.get(url + "tuf/1.root.json", timeout=10).content
        yield Index(url, hashlib.sha256(root).hexdigest(), process.pid)
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


# --- the installs -----------------------------------------------------------------------


def _uv() -> list[str]:
    """The uv that ``tufpi install --installer uv`` runs: on PATH, else ``python -m uv``."""
    found = shutil.which("uv")
    return [found] if found else [sys.executable, "-m", "uv"]


def command(client: str, index: Index, caches: Path, target: Path, tree: Tree) -> list[str]:
    """The command line of one install by ``client`` into ``target``, its caches in
    ``caches``."""
    # pip caches nothing from an http:// index unless its host is trusted: as from an https
    # index (the case that matters), so that a warm install can use pip's cache.
    pip_args = ["--cache-dir", str(caches / "pip"), "--trusted-host", "127.0.0.1"]
    pip_args += ["--target", str(target), *tree.requirements]
    uv_args = ["--cache-dir", str(caches / "uv"), "--target", str(target), *tree.requirements]
    simple = index.url + "simple/"
    tufpi = [sys.executable, "-m", "tufpi.cli", "install", "--index", index.url]
    tufpi += ["--root-sha256", index.fingerprint, "--cache-dir", str(caches / "tufpi")]
    tufpi += ["--python", sys.executable]  # the target: no virtual environment is active
    if client == "pip":
        pip = [sys.executable, "-m", "pip", "install", "--isolated", "--index-url", simple]
        return [*pip, *pip_args]
    if client == "uv":
        uv = [*_uv(), "pip", "install", "--no-config", "--index-url", simple]
        return [*uv, "--python", sys.executable, *uv_args]
    if client == "tufpi install (pip)":
        return [*tufpi, "--installer", "pip", "--", *pip_args]
    return [*tufpi, "--installer", "uv", "--", *uv_args]


def install(client: str, index: Index, caches: Path, work: Path, tree: Tree) -> float:
    """One install into a new, empty target directory: its wall time in seconds."""
    target = Path(tempfile.mkdtemp(prefix="target-", dir=work))
    args = command(client, index, caches, target, tree)
    # A fresh XDG_CACHE_HOME too: nothing a client caches elsewhere survives a cold run.
    env = clean_env(XDG_CACHE_HOME=str(caches / "xdg"))
    started = time.perf_counter()
    result = subprocess.run(
        args, env=env, capture_output=True, text=True, timeout=1800, check=False
    )
    elapsed = time.perf_counter() - started
    installed = len(list(target.glob("*.dist-info")))
    if result.returncode != 0 or installed != tree.wheels:
        sys.exit(
            f"{client} installed {installed} of {tree.wheels} distributions "
            f"(exit {result.returncode}):\n{result.stdout}{result.stderr}"
        )
    shutil.rmtree(target)
    return elapsed


@dataclasses.dataclass
class Figures:
    """Seconds per (tree, cache, client)."""

    times: dict[tuple[str, str, str], list[float]] = dataclasses.field(default_factory=dict)

    def add(self, key: tuple[str, str, str], seconds: float) -> None:
        self.times.setdefault(key, []).append(seconds)

    def median(self, key: tuple[str, str, str]) -> float:
        return statistics.median(self.times[key])


def measure(index: Index, trees: list[Tree], rounds: int, work: Path) -> Figures:
    """Each round, each tree, each client: a cold install (its caches emptied), then a
    warm one (the caches the cold one filled). Clients take turns within a round, so a
    change in the machine's load falls on all of them."""
    figures = Figures()
    for number in range(rounds):
        for tree in trees:
            for client in CLIENTS:
                caches = work / "caches" / re.sub(r"[^a-z]+", "-", client).strip("-")
                shutil.rmtree(caches, ignore_errors=True)
                caches.mkdir(parents=True)
                for cache in ("cold", "warm"):
                    seconds = install(client, index, caches, work, tree)
                    figures.add((tree.name, cache, client), seconds)
                    print(
                        f"round {number + 1} {tree.name:5} {cache} {client:20} {seconds:7.2f} s",
                        flush=True,
                    )
    return figures


def report(figures: Figures, trees: list[Tree]) -> list[str]:
    """The medians; each ``tufpi install`` against the same installer run plainly, and
    against plain pip (the goal, as the issue sets it: at most ``GOAL`` times plain pip)."""
    lines = ["", "| tree | caches | client | median s | vs the same installer | vs plain pip |"]
    lines.append("|---|---|---|---:|---:|---|")
    for tree in trees:
        for cache in ("cold", "warm"):
            pip = figures.median((tree.name, cache, "pip"))
            for client in CLIENTS:
                seconds = figures.median((tree.name, cache, client))
                base = BASELINE.get(client)
                same = (
                    ""
                    if base is None
                    else _ratio(seconds, figures.median((tree.name, cache, base)))
                )
                against_pip = ""
                if client != "pip":
                    ratio = seconds / pip
                    verdict = "" if base is None else (" met" if ratio <= GOAL else " NOT met")
                    against_pip = f"{ratio:.2f}x{verdict}"
                lines.append(
                    f"| {tree.name} ({tree.wheels} wheels) | {cache} | {client} | "
                    f"{seconds:.2f} | {same} | {against_pip} |"
                )
    lines.append(f"\ngoal: tufpi install at most {GOAL}x plain pip")
    return lines


def _ratio(seconds: float, base: float) -> str:
    return f"{seconds / base:.2f}x"


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny local wheels, 256 bins")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--bins", type=int, default=16384)
    parser.add_argument(
        "--wheels",
        type=Path,
        default=Path.home() / ".cache" / "tufpi-bench" / "wheels",
        help="where the real wheels are downloaded once",
    )
    parser.add_argument("--workdir", type=Path, help="keep the index, caches and log here")
    args = parser.parse_args()
    if args.quick:
        args.rounds, args.bins = 1, 256
    return args


def main() -> None:
    args = _arguments()
    print("machine: " + ", ".join(f"{k} {v}" for k, v in machine().items()), flush=True)
    with contextlib.ExitStack() as stack:
        work = args.workdir or Path(stack.enter_context(tempfile.TemporaryDirectory()))
        work.mkdir(parents=True, exist_ok=True)
        if args.quick:
            wheels, trees = quick_wheels(work / "wheels")
        else:
            wheels = download_wheels(args.wheels)
            trees = real_trees(wheels)
        size = sum(p.stat().st_size for p in wheels) / 2**20
        print(f"{len(wheels)} wheels, {size:.1f} MiB: " + ", ".join(p.name for p in wheels))
        with serving(work / "data", args.bins, wheels) as index:
            figures = measure(index, trees, args.rounds, work)
    print("\n".join(report(figures, trees)))
    print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
