"""Where things are in the signed repository: target paths, bins and metadata file names (pure).

Target paths are relative to the index root URL, so one set of metadata serves every mirror:

* a distribution:     ``packages/<sha256[:2]>/<sha256[2:4]>/<sha256[4:]>/<filename>``
* a project's page:   ``simple/<normalized name>/index.html`` and ``.../index.json``

With consistent snapshots (PEP 458) each target is also stored as ``<dir>/<sha256>.<name>``,
the name python-tuf's ngclient downloads. Metadata lives under ``tuf/``.
"""

from __future__ import annotations

import hashlib
from typing import Final

from tuf.api.metadata import SuccinctRoles

METADATA_PREFIX: Final = "tuf/"
BIN_PREFIX: Final = "bin"
DEFAULT_BINS: Final = 16384
# The delegation from targets to bins covers exactly the two shapes of target path we sign.
DELEGATED_PATHS: Final = ("packages/*/*/*/*", "simple/*/*")
PAGE_FILES: Final = ("index.html", "index.json")


def bit_length(number_of_bins: int) -> int:
    """log2 of a bin count. Raises ValueError unless it is a power of two from 2 to 2**32."""
    if number_of_bins < 2 or number_of_bins & (number_of_bins - 1):
        raise ValueError(f"the number of bins must be a power of two >= 2, not {number_of_bins}")
    bits = number_of_bins.bit_length() - 1
    if bits > 32:
        raise ValueError("at most 2**32 bins")
    return bits


def succinct_roles(keyids: list[str], number_of_bins: int) -> SuccinctRoles:
    """The TAP 15 delegation to ``number_of_bins`` bin-n roles signed by ``keyids``."""
    return SuccinctRoles(keyids, 1, bit_length(number_of_bins), BIN_PREFIX)


def bin_index(target_path: str, number_of_bins: int) -> int:
    """The bin a target belongs to: the leading bits of sha256(path), as TAP 15 defines.

    Matches ``SuccinctRoles.get_role_for_target`` (checked in the unit tests), without
    building role names for every target.
    """
    prefix = hashlib.sha256(target_path.encode()).digest()[:4]
    return int.from_bytes(prefix, "big") >> (32 - bit_length(number_of_bins))


def bin_name(index: int, number_of_bins: int) -> str:
    width = len(f"{number_of_bins - 1:x}")
    return f"{BIN_PREFIX}-{index:0{width}x}"


def page_path(normalized_name: str, filename: str) -> str:
    """Target path of one representation of a project's simple page."""
    return f"simple/{normalized_name}/{filename}"


def consistent_path(target_path: str, sha256: str) -> str:
    """The ``<dir>/<sha256>.<name>`` form a consistent-snapshot client downloads."""
    directory, _, name = target_path.rpartition("/")
    return f"{directory}/{sha256}.{name}" if directory else f"{sha256}.{name}"


def metadata_key(role: str, version: int | None = None) -> str:
    """Storage key of a metadata file: ``tuf/VERSION.ROLE.json``, or unversioned."""
    if version is None:
        return f"{METADATA_PREFIX}{role}.json"
    return f"{METADATA_PREFIX}{version}.{role}.json"
