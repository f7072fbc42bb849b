"""Who may manage what: the pure rules of maintainers' self-service (no I/O).

``maintainers.MaintainerService`` reads what they need (is the caller an owner, who owns
the project, whose token it is) and asks these rules; each refusal raises an ``IndexProblem``
whose message says in plain words what was refused and why.

- An owner of a project may yank and un-yank its releases, remove its files and releases,
  add owners and remove them, but never the last one: once a project has an owner it keeps
  at least one. Removing a whole project stays the administrator's (its name would become
  free for anyone).
- A user creates tokens for itself only, account-wide or limited to one project it owns,
  and lists and revokes its own tokens only: another user's token answers "not found",
  which does not reveal that it exists.
- A token limited to one project may only upload (PyPI's rule): managing needs an
  account-wide token or a web session.
- The administrator (``ADMINISTRATOR``, the server's commands) may do all of it, to any
  project, and adds the first owner of a project that has none.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Collection

from tufpi.index.accounts import Identity
from tufpi.index.errors import Forbidden, InvalidRequest, NotFound

# The server's administrator: its commands act for it. No token and no web session makes
# this identity (user ids start at 1; tokens give ``via="token N"``, sessions ``"web"``).
ADMINISTRATOR = Identity(
    user_id=0, user_name="admin", token_id=None, project_scope=None, via="server"
)
MAX_REASON_CHARS = 1000
MAX_DESCRIPTION_CHARS = 200  # tokens.description's column


def is_administrator(who: Identity) -> bool:
    """True for the server's own commands (``ADMINISTRATOR``)."""
    return who == ADMINISTRATOR


def check_may_manage(who: Identity) -> None:
    """A project-scoped token may only upload.

    Raises:
        Forbidden: ``who`` came with a token limited to one project.
    """
    if who.project_scope is not None:
        raise Forbidden(
            f"This API token is limited to uploads to project {who.project_scope}; "
            "managing projects needs an account-wide token."
        )


def check_owner(who: Identity, project: str, is_owner: bool) -> None:
    """``who`` manages ``project`` (its display name) only as one of its owners.

    Raises:
        Forbidden: a scoped token, or ``who`` is not an owner (nor the administrator).
    """
    check_may_manage(who)
    if not is_owner and not is_administrator(who):
        raise Forbidden(f"User {who.user_name!r} is not an owner of project {project!r}.")


def check_new_owner(project: str, owners: Collection[str], user: str) -> None:
    """``user`` (an existing account) may become an owner unless it is one already.

    Raises:
        InvalidRequest: ``user`` already owns ``project``.
    """
    if user in owners:
        raise InvalidRequest(f"{user!r} is already an owner of project {project!r}.")


def check_owner_removal(project: str, owners: Collection[str], user: str) -> None:
    """``user`` may stop owning ``project`` if it owns it and another owner remains.

    Raises:
        NotFound: ``user`` is not an owner of ``project``.
        Forbidden: ``user`` is its last owner.
    """
    if user not in owners:
        raise NotFound(f"{user!r} is not an owner of project {project!r}.")
    if len(set(owners) - {user}) == 0:
        raise Forbidden(
            f"{user!r} is the last owner of project {project!r}: a project keeps at least "
            "one owner. Add another owner first."
        )


def check_token_project(who: Identity, project: str, is_owner: bool) -> None:
    """A token may be limited only to a project its user owns.

    Raises:
        Forbidden: ``who`` does not own ``project``.
    """
    if not is_owner:
        raise Forbidden(
            f"User {who.user_name!r} is not an owner of project {project!r}: a token can be "
            "limited only to a project you own."
        )


def check_token_holder(who: Identity, token_id: int, holder_id: int | None) -> None:
    """``who`` sees and revokes only its own tokens (``holder_id`` None: no such token).

    Raises:
        NotFound: no such token, or another user's (not Forbidden: that would reveal it).
    """
    if holder_id is None or (holder_id != who.user_id and not is_administrator(who)):
        raise NotFound("No such token.")


def check_reason(reason: str | None) -> None:
    """A yank's reason: at most ``MAX_REASON_CHARS`` characters, no control characters.

    Raises:
        InvalidRequest: too long, or a control character (a line break included).
    """
    if reason is None:
        return
    if len(reason) > MAX_REASON_CHARS:
        raise InvalidRequest(
            f"The reason is {len(reason)} characters long; at most {MAX_REASON_CHARS} are allowed."
        )
    _check_plain("The reason", reason)


def check_description(description: str) -> None:
    """A token's description: at most ``MAX_DESCRIPTION_CHARS`` characters, one plain line.

    Raises:
        InvalidRequest: too long, or a control character.
    """
    if len(description) > MAX_DESCRIPTION_CHARS:
        raise InvalidRequest(
            f"The description is {len(description)} characters long; at most "
            f"{MAX_DESCRIPTION_CHARS} are allowed."
        )
    _check_plain("The description", description)


def _check_plain(what: str, text: str) -> None:
    for char in text:
        if unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp"):
            raise InvalidRequest(
                f"{what} holds the control character U+{ord(char):04X}; "
                "only plain text on one line is allowed."
            )
