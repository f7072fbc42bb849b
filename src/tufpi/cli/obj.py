"""The global options every command receives, turned into settings on demand."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

from tufpi.config import ConfigError, Settings, from_environment

if TYPE_CHECKING:
    from tufpi.cli.remote import Remote
    from tufpi.index.accounts import Identity
    from tufpi.index.maintainers import MaintainerService
    from tufpi.services import Services

T = TypeVar("T")


class Obj:
    """Global options, turned into settings on demand."""

    def __init__(
        self,
        config: Any,
        overrides: dict[str, Any],
        index: str | None = None,
        token: str | None = None,
    ) -> None:
        self.config = config
        self.overrides = overrides
        self.index = index  # --index: the management commands call this index's API
        self._token = token

    def remote(self) -> Remote | None:
        """The index ``--index`` names, to call with ``--token`` (or ``TUFPI_INDEX_TOKEN``);
        None without ``--index``: the command acts on this server's database."""
        if self.index is None:
            return None
        from tufpi.cli.remote import Remote, check_url

        if not self._token:
            raise click.UsageError(
                "--index needs an API token: --token TOKEN or the TUFPI_INDEX_TOKEN variable."
            )
        return Remote(check_url(self.index), self._token)

    def administer(self, action: Callable[[MaintainerService, Identity], T]) -> T:
        """``action`` on this server's maintainers' service, as its administrator; a
        refusal becomes a clean CLI error. (The server side is imported here only: the
        commands of ``tufpi --index URL`` start without it.)"""
        from tufpi.cli._common import reporting_problems
        from tufpi.index.permissions import ADMINISTRATOR

        maintainers = self.services().maintainers
        return reporting_problems(lambda: action(maintainers, ADMINISTRATOR))

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
