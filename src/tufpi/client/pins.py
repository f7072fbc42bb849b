"""The pin: one line, a comment pip and uv ignore, that names an index and its first root.

    # tufpi: index=https://pypi.example.org/ root-sha256=9c1d...

``tufpi pin URL`` prints it; ``tufpi install -r requirements.txt`` reads it from the
requirements files it is given, and from the files they include (``-r``/``--requirement``
lines, relative to the including file, as pip reads them; constraints files (``-c``) are not
read: a pin says where requirements come from), and verifies everything with it. So
``echo "$(tufpi pin URL)" >> requirements.txt`` does for the whole index what
``--require-hashes`` does file by file.

Where the index and the root come from (``choose``): ``--index``, else the requirements'
pin, else ``[tool.tufpi]``; ``--root``/``--root-sha256``, else the pin, else
``[tool.tufpi]``. Two pins that disagree (two lines, or a line and an option or
``pyproject.toml`` naming the same index) are refused, naming both: a requirements file
that says one root while the command line says another is a question for the user, not a
choice for tufpi.

Pure, apart from reading the requirements files.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from tufpi.client.settings import ProjectSettings

__all__ = [
    "Choice",
    "Pin",
    "PinError",
    "choose",
    "parse_pin",
    "pin_line",
    "read_pins",
    "requirement_files",
]

_PIN = re.compile(r"^\s*#\s*tufpi:(?P<fields>.*)$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
# Requirements files read at most (nested -r included): a cycle or a runaway tree stops here.
MAX_FILES = 100
_REQUIREMENT_OPTIONS = ("-r", "--requirement")

# The index's root URL of a URL (credentials off, ``/simple/`` off); raises ValueError.
Normalise = Callable[[str], str]


class PinError(ValueError):
    """A pin that cannot be used, or two that disagree (the message names where)."""


@dataclasses.dataclass(frozen=True)
class Pin:
    """An index's root URL and the sha256 of its first root, and where that was said."""

    index: str
    root_sha256: str
    source: str


def pin_line(index: str, root_sha256: str) -> str:
    """The pin as one line a requirements file can hold (pip and uv read it as a comment)."""
    return f"# tufpi: index={index} root-sha256={root_sha256.lower()}"


def parse_pin(line: str, source: str, normalise: Normalise) -> Pin | None:
    """The pin on ``line`` (None: not a ``# tufpi:`` line).

    Raises:
        PinError: a ``# tufpi:`` line without both fields, with other fields, a root
            fingerprint that is not 64 hex digits, or an index URL that is not one.
    """
    match = _PIN.match(line)
    if match is None:
        return None
    fields: dict[str, str] = {}
    for item in match["fields"].split():
        key, equals, value = item.partition("=")
        if not equals or key not in ("index", "root-sha256") or key in fields:
            raise PinError(f"{source}: not a tufpi pin ({item!r}): {pin_line('URL', 'HEX')}")
        fields[key] = value
    if set(fields) != {"index", "root-sha256"}:
        raise PinError(f"{source}: a tufpi pin names both index= and root-sha256=")
    sha256 = fields["root-sha256"].lower()
    if not _SHA256.match(sha256):
        raise PinError(f"{source}: root-sha256 is not a sha256 (64 hex digits)")
    if "@" in fields["index"]:
        raise PinError(f"{source}: the pinned index URL holds credentials; give them apart")
    try:
        index = normalise(fields["index"])
    except ValueError as e:
        raise PinError(f"{source}: {e}") from e
    return Pin(index, sha256, source)


def requirement_files(args: Sequence[str]) -> list[Path]:
    """The requirements files among an installer's arguments (``-r F``, ``-rF``,
    ``--requirement F``, ``--requirement=F``)."""
    files: list[Path] = []
    items = iter(args)
    for arg in items:
        value: str | None = None
        if arg in _REQUIREMENT_OPTIONS:
            value = next(items, None)
        elif arg.startswith("--requirement="):
            value = arg.partition("=")[2]
        elif arg.startswith("-r") and not arg.startswith("--"):
            value = arg[2:].removeprefix("=")
        if value:
            files.append(Path(value))
    return files


def _included(line: str, directory: Path) -> Path | None:
    """The file a requirements line includes (``-r``/``--requirement``), if any."""
    words = line.split("#", 1)[0].split()
    if not words:
        return None
    found = requirement_files(words)
    if not found or "://" in str(found[0]):
        return None
    return found[0] if found[0].is_absolute() else directory / found[0]


def _lines(files: Sequence[Path]) -> Iterator[tuple[str, str]]:
    """Each line of ``files`` and of the files they include, with ``file:line``; each
    file once, ``MAX_FILES`` at most. A file that cannot be read is left to the installer,
    which reports it."""
    queue = list(files)
    seen: set[Path] = set()
    while queue and len(seen) < MAX_FILES:
        path = queue.pop(0)
        resolved = path.resolve()
        if resolved in seen:
            continue
        seen.add(resolved)
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        for number, line in enumerate(text.splitlines(), 1):
            yield line, f"{path}:{number}"
            included = _included(line, path.parent)
            if included is not None:
                queue.append(included)


def read_pins(files: Sequence[Path], normalise: Normalise) -> list[Pin]:
    """Every pin in ``files`` and in the files they include.

    Raises:
        PinError: a malformed pin line.
    """
    pins = []
    for line, source in _lines(files):
        pin = parse_pin(line, source, normalise)
        if pin is not None:
            pins.append(pin)
    return pins


@dataclasses.dataclass(frozen=True)
class Choice:
    """The index and root to use, and where each came from (``None``: not given)."""

    index: str | None
    root_sha256: str | None
    index_from: str | None = None
    root_from: str | None = None


def _conflict(what: str, first: tuple[str, str], second: tuple[str, str]) -> PinError:
    return PinError(
        f"conflicting pins: {first[1]} says {what} {first[0]}, {second[1]} says {second[0]}: "
        "refusing to guess which to trust"
    )


def _one_pin(pins: Sequence[Pin]) -> Pin | None:
    """The requirements' pin; all must agree."""
    for pin in pins[1:]:
        if pin.index != pins[0].index:
            raise _conflict("index", (pins[0].index, pins[0].source), (pin.index, pin.source))
        if pin.root_sha256 != pins[0].root_sha256:
            first, other = pins[0], pin
            raise _conflict(
                "root-sha256", (first.root_sha256, first.source), (other.root_sha256, other.source)
            )
    return pins[0] if pins else None


def choose(
    index: str | None,
    root_sha256: str | None,
    pins: Sequence[Pin],
    project: ProjectSettings,
    normalise: Normalise,
) -> Choice:
    """The index and root to use, from the options (``index``; ``root_sha256``: of
    ``--root-sha256`` or of the ``--root`` file), the requirements' ``pins`` and the
    project's settings.

    Raises:
        PinError: pins that disagree (see the module's docstring).
    """
    pin = _one_pin(pins)
    in_project = str(project.path) if project.path is not None else "pyproject.toml"
    chosen: str | None = index
    index_from = "--index"
    if chosen is None and pin is not None:
        chosen, index_from = pin.index, pin.source
    elif chosen is None:
        chosen, index_from = project.index, in_project
    if chosen is None:
        return Choice(None, root_sha256, None, "--root/--root-sha256" if root_sha256 else None)
    chosen_root = normalise(chosen)
    if pin is not None and pin.index != chosen_root:
        raise _conflict("index", (chosen_root, index_from), (pin.index, pin.source))
    roots: list[tuple[str, str]] = []
    if root_sha256 is not None:
        roots.append((root_sha256.lower(), "--root/--root-sha256"))
    if pin is not None:
        roots.append((pin.root_sha256, pin.source))
    project_index = normalise(project.index) if project.index is not None else chosen_root
    if project.root_sha256 is not None and project_index == chosen_root:
        roots.append((project.root_sha256.lower(), in_project))
    for other in roots[1:]:
        if other[0] != roots[0][0]:
            raise _conflict("root-sha256", roots[0], other)
    root, root_from = roots[0] if roots else (None, None)
    return Choice(chosen, root, index_from, root_from)
