"""``tufpi import``: bring an existing repository (a directory, a mirror, an index) into tufpi.

``sources`` lists what a source offers, ``inspect`` reads one file (in worker processes),
``plan`` decides what is new, ``write`` records a project as uploads would have, ``publish``
holds the signer election and publishes once, ``report`` tallies; ``run`` ties them together.
"""

from tufpi.importer.model import Skipped, SkipReason
from tufpi.importer.report import Summary
from tufpi.importer.run import ImportFailed, ImportOptions, run_import
from tufpi.importer.sources import KINDS

__all__ = [
    "KINDS",
    "ImportFailed",
    "ImportOptions",
    "SkipReason",
    "Skipped",
    "Summary",
    "report",
    "run_import",
]
