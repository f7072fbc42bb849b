"""Database: typed models, engines and Alembic migrations."""

from tufpi.db.migrate import upgrade
from tufpi.db.models import Base, File, Owner, Project, Release, Token, User
from tufpi.db.session import make_engine, make_sessionmaker

__all__ = [
    "Base",
    "File",
    "Owner",
    "Project",
    "Release",
    "Token",
    "User",
    "dialect",
    "make_engine",
    "make_sessionmaker",
    "models",
    "raw",
    "session",
    "upgrade",
]
