"""Keys: the development key set and loading the online key by URI."""

from tufpi.keys.online import OnlineKeyError, load_signer, public_key

__all__ = ["OnlineKeyError", "load_signer", "public_key"]
