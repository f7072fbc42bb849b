"""The index's operations on the database and storage: authenticate, upload, read, yank."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any

from packaging.version import InvalidVersion, Version
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from tufpi.db.models import File, Owner, Project, Release, Token, User
from tufpi.index import tokens
from tufpi.index.errors import Forbidden, InvalidUpload, NotAuthenticated, NotFound
from tufpi.index.names import normalize
from tufpi.index.upload import InspectedDist, UploadForm
from tufpi.index.views import FileView, ProjectDetail, ProjectPage, ReleaseView
from tufpi.storage import Storage

Clock = Callable[[], dt.datetime]


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def storage_key(sha256: str, filename: str) -> str:
    """Where a distribution lives: content-addressed like PyPI, so a path never changes meaning."""
    return f"packages/{sha256[:2]}/{sha256[2:4]}/{sha256[4:]}/{filename}"


def metadata_key(file_key: str) -> str:
    """PEP 658: the core metadata file sits at the distribution's URL plus ``.metadata``."""
    return file_key + ".metadata"


@dataclasses.dataclass(frozen=True)
class Identity:
    """Who is calling, established from a token."""

    user_id: int
    user_name: str
    token_id: int
    project_scope: str | None


@dataclasses.dataclass(frozen=True)
class UploadResult:
    filename: str
    project: str
    version: str
    created: bool  # False: an identical file was already there


class IndexService:
    """Database and storage operations of the index. Pure checks live in ``upload``/``names``."""

    def __init__(self, sessions: sessionmaker[Session], storage: Storage, clock: Clock) -> None:
        self.sessions = sessions
        self.storage = storage
        self.clock = clock

    # -- accounts ---------------------------------------------------------------------------

    def authenticate(self, credentials: tuple[str, str] | None) -> Identity:
        """Identify the caller from Basic auth credentials (``__token__`` + token).

        Raises:
            NotAuthenticated: no credentials, not a token, unknown or revoked token.
        """
        if credentials is None:
            raise NotAuthenticated("Authentication required: use __token__ and an API token.")
        username, password = credentials
        if username != tokens.TOKEN_USERNAME:
            raise NotAuthenticated(
                "Invalid credentials: the username must be __token__ and the password an API token."
            )
        with self.sessions() as session:
            token = session.scalar(select(Token).where(Token.digest == tokens.digest(password)))
            if token is None or token.revoked is not None:
                raise NotAuthenticated("Invalid or revoked API token.")
            return Identity(token.user_id, token.user.name, token.id, token.project)

    def add_user(self, name: str) -> int:
        with self.sessions.begin() as session:
            if session.scalar(select(User).where(User.name == name)) is not None:
                raise InvalidUpload(f"User {name!r} already exists.")
            user = User(name=name, created=self.clock())
            session.add(user)
            session.flush()
            return user.id

    def create_token(self, user: str, project: str | None, description: str = "") -> str:
        """Create a token for ``user``, optionally limited to one project; returns its secret."""
        secret = tokens.new_token()
        with self.sessions.begin() as session:
            owner = session.scalar(select(User).where(User.name == user))
            if owner is None:
                raise NotFound(f"No user {user!r}.")
            session.add(
                Token(
                    user_id=owner.id,
                    project=normalize(project) if project else None,
                    digest=tokens.digest(secret),
                    description=description,
                    created=self.clock(),
                )
            )
        return secret

    def revoke_token(self, secret_or_id: str) -> None:
        with self.sessions.begin() as session:
            if secret_or_id.isdigit():
                token = session.get(Token, int(secret_or_id))
            else:
                token = session.scalar(
                    select(Token).where(Token.digest == tokens.digest(secret_or_id))
                )
            if token is None:
                raise NotFound("No such token.")
            token.revoked = self.clock()

    def list_tokens(self) -> list[tuple[int, str, str | None, str, bool]]:
        with self.sessions() as session:
            rows = session.scalars(select(Token).order_by(Token.id))
            return [
                (t.id, t.user.name, t.project, t.description, t.revoked is not None) for t in rows
            ]

    # -- uploads ----------------------------------------------------------------------------

    def find_duplicate(self, filename: str, sha256: str) -> bool:
        """True if this exact file is stored; InvalidUpload if the name holds other content."""
        with self.sessions() as session:
            existing = session.scalar(select(File).where(File.filename == filename))
            if existing is None:
                return False
            if existing.sha256 == sha256:
                return True
            raise InvalidUpload(
                f"File already exists ({filename!r}) with different content; a filename "
                "can be used only once. Upload a new version instead."
            )

    def _project_for_upload(self, session: Session, who: Identity, name: str) -> Project:
        normalized = normalize(name)
        if who.project_scope is not None and who.project_scope != normalized:
            raise Forbidden(
                f"This API token is limited to project {who.project_scope!r}; "
                f"it cannot upload to {normalized!r}."
            )
        project = session.scalar(select(Project).where(Project.normalized_name == normalized))
        if project is None:
            project = Project(name=name, normalized_name=normalized, created=self.clock(), serial=1)
            session.add(project)
            session.flush()
            session.add(Owner(project_id=project.id, user_id=who.user_id))
            return project
        is_owner = session.scalar(
            select(Owner.id).where(Owner.project_id == project.id, Owner.user_id == who.user_id)
        )
        if is_owner is None:
            raise Forbidden(f"User {who.user_name!r} is not an owner of project {project.name!r}.")
        return project

    def _release_for_upload(
        self, session: Session, project: Project, form: UploadForm, dist: InspectedDist
    ) -> Release:
        canonical = str(form.version)
        release = session.scalar(
            select(Release).where(
                Release.project_id == project.id, Release.canonical_version == canonical
            )
        )
        if release is None:
            release = Release(
                project_id=project.id,
                version=str(form.version),
                canonical_version=canonical,
                created=self.clock(),
                requires_python=dist.requires_python,
                core_metadata=dist.fields,
                description=form.description,
            )
            session.add(release)
            session.flush()
        return release

    def upload(self, who: Identity, form: UploadForm, dist: InspectedDist) -> UploadResult:
        """Record an inspected distribution: storage first, then one database transaction.

        Raises:
            Forbidden: the caller may not upload to this project.
            InvalidUpload: the filename is taken by other content.
        """
        digests = dist.staged.digests
        filename = dist.dist.filename
        if self.find_duplicate(filename, digests.sha256):
            return UploadResult(filename, form.name, str(form.version), created=False)
        key = storage_key(digests.sha256, filename)
        with self.sessions.begin() as session:
            project = self._project_for_upload(session, who, form.name)
            release = self._release_for_upload(session, project, form, dist)
            # Files are content-addressed, so writing before the commit cannot clobber anything;
            # a failed commit leaves at most an unreferenced file.
            with dist.staged.path.open("rb") as content:
                self.storage.put_file(key, content)
            self.storage.put_bytes(metadata_key(key), dist.metadata)
            session.add(
                File(
                    release_id=release.id,
                    project_id=project.id,
                    filename=filename,
                    path=key,
                    packagetype=dist.dist.packagetype,
                    python_version=form.pyversion,
                    requires_python=dist.requires_python,
                    size=digests.size,
                    sha256=digests.sha256,
                    sha512=digests.sha512,
                    blake2_256=digests.blake2_256,
                    md5=digests.md5,
                    metadata_sha256=dist.metadata_sha256,
                    metadata_size=len(dist.metadata),
                    upload_time=self.clock(),
                    uploader_id=who.user_id,
                )
            )
            project.serial += 1
            try:
                session.flush()
            except IntegrityError as e:
                raise InvalidUpload(f"File already exists ({filename!r}).") from e
        return UploadResult(filename, project.name, release.version, created=True)

    # -- administration ---------------------------------------------------------------------

    def set_yanked(self, project: str, version: str, yanked: bool, reason: str | None) -> None:
        """PEP 592: mark a release (un)yanked; its files stay."""
        with self.sessions.begin() as session:
            row = session.scalar(
                select(Project).where(Project.normalized_name == normalize(project))
            )
            if row is None:
                raise NotFound(f"No project {project!r}.")
            try:
                canonical = str(Version(version))
            except InvalidVersion as e:
                raise NotFound(f"Invalid version {version!r}.") from e
            release = session.scalar(
                select(Release).where(
                    Release.project_id == row.id, Release.canonical_version == canonical
                )
            )
            if release is None:
                raise NotFound(f"No release {version} of {row.name}.")
            release.yanked = yanked
            release.yanked_reason = reason if yanked else None
            row.serial += 1

    # -- reads ------------------------------------------------------------------------------

    def project_serial(self, normalized_name: str) -> int | None:
        """The project's change counter, or None when it does not exist (a cheap query)."""
        with self.sessions() as session:
            return session.scalar(
                select(Project.serial).where(Project.normalized_name == normalized_name)
            )

    def index_serial(self) -> tuple[int, int]:
        """A value that changes whenever the list of projects does."""
        with self.sessions() as session:
            count, top = session.execute(select(func.count(Project.id), func.max(Project.id))).one()
            return int(count), int(top or 0)

    def project_names(self) -> list[tuple[str, str]]:
        """(name, normalized name) of every project, ordered by normalized name."""
        with self.sessions() as session:
            rows = session.execute(
                select(Project.name, Project.normalized_name).order_by(Project.normalized_name)
            )
            return [(r[0], r[1]) for r in rows]

    def project_detail(self, normalized_name: str) -> ProjectDetail:
        """The project with every release and file. Raises NotFound."""
        with self.sessions() as session:
            project = session.scalar(
                select(Project).where(Project.normalized_name == normalized_name)
            )
            if project is None:
                raise NotFound(f"No project {normalized_name!r}.")
            releases = session.scalars(
                select(Release).where(Release.project_id == project.id)
            ).all()
            files = session.scalars(
                select(File).where(File.project_id == project.id).order_by(File.filename)
            ).all()
            return _detail(project, releases, files)

    def project_page(self, normalized_name: str) -> ProjectPage:
        return self.project_detail(normalized_name).page


def _sort_key(version: str) -> Any:
    try:
        return (1, Version(version))
    except InvalidVersion:
        return (0, version)


def _detail(project: Project, releases: Sequence[Release], files: Sequence[File]) -> ProjectDetail:
    ordered = sorted(releases, key=lambda r: _sort_key(r.version))
    views = tuple(
        FileView(
            filename=f.filename,
            path=f.path,
            version=f.release.version,
            packagetype=f.packagetype,
            python_version=f.python_version,
            requires_python=f.requires_python,
            size=f.size,
            sha256=f.sha256,
            blake2_256=f.blake2_256,
            md5=f.md5,
            metadata_sha256=f.metadata_sha256,
            upload_time=f.upload_time,
            yanked=f.release.yanked,
            yanked_reason=f.release.yanked_reason,
        )
        for f in files
    )
    page = ProjectPage(
        name=project.name,
        normalized_name=project.normalized_name,
        serial=project.serial,
        versions=tuple(r.version for r in ordered),
        files=views,
    )
    release_views = tuple(
        ReleaseView(
            version=r.version,
            yanked=r.yanked,
            yanked_reason=r.yanked_reason,
            requires_python=r.requires_python,
            core_metadata=r.core_metadata,
            description=r.description,
        )
        for r in ordered
    )
    return ProjectDetail(page, release_views)
