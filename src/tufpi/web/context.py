"""What every route needs, built once by the app factory and kept on ``app.state.ctx``."""

from __future__ import annotations

import dataclasses
import threading
import zlib
from collections import OrderedDict
from collections.abc import Callable, Hashable

import anyio
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from tufpi.config import Settings
from tufpi.http import REASON_HEADER
from tufpi.index import tokens
from tufpi.index.accounts import AccountService, Identity
from tufpi.index.errors import Busy, IndexProblem
from tufpi.index.inspector import Inspector
from tufpi.index.logins import LoginService
from tufpi.index.maintainers import MaintainerService
from tufpi.index.service import IndexService
from tufpi.upstream.mirror import Mirror
from tufpi.web.guards import SESSION_COOKIE

# Pages are compressed once, when cached, with the settings of the app's gzip middleware
# (``CompressMetadata``: level 9, bodies of 512 bytes or more), which passes answers that
# already carry a Content-Encoding through untouched. Compressing a large page on every
# request cost more than everything else a request does.
GZIP_MIN_SIZE = 512
_GZIP_LEVEL = 9
_GZIP_WBITS = 16 + zlib.MAX_WBITS  # a gzip container, as the middleware writes
MIRROR_THREADS = 16
# Threads checking passwords at once (``Passwords`` bounds the hashes themselves): sign-ins
# beyond these wait as tasks, not in the threads that serve reads.
SIGN_IN_THREADS = 4


@dataclasses.dataclass(frozen=True)
class Body:
    """A page's bytes, and the same bytes gzip-encoded (None when too small to compress)."""

    plain: bytes
    gzipped: bytes | None

    @classmethod
    def of(cls, plain: bytes) -> Body:
        if len(plain) < GZIP_MIN_SIZE:
            return cls(plain, None)
        compressor = zlib.compressobj(_GZIP_LEVEL, zlib.DEFLATED, _GZIP_WBITS)
        return cls(plain, compressor.compress(plain) + compressor.flush())


class RenderCache:
    """A small LRU of rendered bodies keyed by (what, version); renders at most once per key."""

    def __init__(self, size: int = 4096) -> None:
        self._items: OrderedDict[Hashable, Body] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def get(self, key: Hashable, render: Callable[[], bytes]) -> Body:
        """The cached body for ``key``, rendering (and compressing) it on a miss."""
        with self._lock:
            body = self._items.get(key)
            if body is not None:
                self._items.move_to_end(key)
                return body
        body = Body.of(render())
        with self._lock:
            self._items[key] = body
            while len(self._items) > self._size:
                self._items.popitem(last=False)
        return body


@dataclasses.dataclass
class WebContext:
    """What every route needs. ``inspector`` reads uploaded archives in processes of its
    own, and each upload's blocking steps run in threads under ``upload_limiter``: neither
    takes from the thread pool (and its limiter) that serves reads."""

    settings: Settings
    index: IndexService
    accounts: AccountService
    pages: RenderCache
    inspector: Inspector
    upload_limiter: anyio.CapacityLimiter
    # Owners' self-service: the management API (``web.api``) and the web's forms.
    maintainers: MaintainerService
    # Web sign-in and sessions (issue 16).
    logins: LoginService
    # The pull-through of upstream indexes (tufpi.upstream); None when none is configured.
    mirror: Mirror | None = None
    # Threads reading upstream at once (a page, a file's first download): apart from the
    # pool serving reads, so a slow upstream cannot take every thread.
    mirror_limiter: anyio.CapacityLimiter = dataclasses.field(
        default_factory=lambda: anyio.CapacityLimiter(MIRROR_THREADS)
    )
    sign_in_limiter: anyio.CapacityLimiter = dataclasses.field(
        default_factory=lambda: anyio.CapacityLimiter(SIGN_IN_THREADS)
    )

    async def mirrored(self, call: Callable[[str], None], argument: str) -> None:
        """Run a ``Mirror`` step in a thread of ``mirror_limiter``."""
        await anyio.to_thread.run_sync(call, argument, limiter=self.mirror_limiter)

    def identify(self, request: Request) -> Identity:
        """The caller's identity from Basic auth. Raises NotAuthenticated."""
        credentials = tokens.parse_basic_auth(request.headers.get("authorization"))
        return self.accounts.authenticate(credentials)

    def check_read(self, request: Request) -> None:
        """On a private index every read needs a valid token, or a browser's complete web
        session (its cookie). Raises NotAuthenticated."""
        if not self.settings.private:
            return
        if "authorization" not in request.headers:
            user = self.logins.current(request.cookies.get(SESSION_COOKIE))
            if user is not None and user.complete:
                return
        self.identify(request)


def context(request: Request) -> WebContext:
    ctx: WebContext = request.app.state.ctx
    return ctx


def problem(error: IndexProblem) -> Response:
    """An error answer: the message in the body and (for twine) in the reason phrase."""
    reason = " ".join(error.message.split()).encode("ascii", "backslashreplace").decode()
    headers = {REASON_HEADER: reason[:500]}
    if error.status == 401:
        headers["www-authenticate"] = 'Basic realm="tufpi"'
    if isinstance(error, Busy):
        headers["retry-after"] = str(error.retry_after)
    return PlainTextResponse(error.message + "\n", status_code=error.status, headers=headers)


async def answer_problem(_request: Request, error: Exception) -> Response:
    """The app's exception handler for ``IndexProblem`` (see ``create_app``): a refusal
    raised anywhere in a route becomes its ``problem`` answer."""
    if not isinstance(error, IndexProblem):  # registered for IndexProblem only
        raise error
    return problem(error)
