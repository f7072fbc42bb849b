"""The global options every command receives, turned into settings on demand."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from tufpi.config import ConfigError, Settings, from_environment

if TYPE_CHECKING:
    from tufpi.services import Services


class Obj:
    """Global options, turned into settings on demand."""

    def __init__(self, config: Any, overrides: dict[str, Any]) -> None:
        self.config = config
        self.overrides = overrides

    def settings(self, **more: Any) -> Settings:
        try:
            return from_environment(self.config, **{**self.overrides, **more})
        except ConfigError as e:
            raise click.ClickException(str(e)) from e

    def services(self, **more: Any) -> Services:
        # Imported here: the database, storage and trust layers are not loaded by the
        # commands that never open the index (the client's `install`, `proxy`, `pin`).
        from tufpi.services import Services

        return Services.from_settings(self.settings(**more))
