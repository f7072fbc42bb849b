"""tufpi: a Python package index that signs its repository metadata (PEP 458)."""

__version__ = "0.1.0"
