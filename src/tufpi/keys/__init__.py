"""Keys: key material only. Key files (``keyfiles``), the development key set's files
(``dev``), and loading the online key by URI (``online``); what the keys sign and how
ceremonies combine their signatures is tufpi.trust's."""

from tufpi.keys.online import OnlineKeyError, load_signer, public_key

__all__ = [
    "OnlineKeyError",
    "dev",
    "keyfiles",
    "load_signer",
    "online",
    "public_key",
]
