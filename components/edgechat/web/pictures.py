"""Picture uploads and downloads (docs/protocol.md, "Pictures over HTTP").

``POST /api/pictures``: the body is the picture's bytes.  The caller proves it
holds a live chat session with the credential ``/api/session`` gave it
(``Authorization: Basic base64(clientId:password)``; the broker's own password
file checks it).  The bytes go through the Labeler's intake (type from the
content, size and pixel caps, full decode, polyglot check, re-encode without
EXIF, content-addressed storage, thumbnail: ``edgechat.labeler.intake``), in a
worker thread, one or two at a time: decoding is CPU and memory.

``GET /pictures/{sha256}`` and ``/pictures/{sha256}/thumb`` serve them back.
The name is the hash of the content, so the URL is a capability (unguessable)
and the response never changes (cached for a year).  They are served as the
image type they were stored as, never sniffed, and sandboxed if opened alone.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Final

from aiohttp import web

from edgechat.broker.credentials import authenticate
from edgechat.core.errors import ChatError
from edgechat.core.ratelimit import Bucket, RateLimit
from edgechat.labeler.intake import EXT, MIME, IntakeLimits, PictureStore, accept
from edgechat.settings import Settings
from edgechat.web.responses import error_response
from edgechat.web.security import same_origin

log = logging.getLogger(__name__)

UPLOAD_RATE: Final = RateLimit(per_second=1.0, burst=20)  # per client id
MAX_DECODING: Final = 2  # concurrent decodes: a 24 MP picture is ~100 MB while decoded
_CHUNK: Final = 64 * 1024

# A picture opened on its own (not in the app) runs nothing and embeds nothing.
PICTURE_HEADERS: Final[Mapping[str, str]] = {
    "Content-Security-Policy": "default-src 'none'; sandbox",
    "Cache-Control": "public, max-age=31536000, immutable",
    "X-Content-Type-Options": "nosniff",
}
_TYPE_OF_EXT: Final = {ext: MIME[fmt] for fmt, ext in EXT.items()}
_STATUS: Final = {  # PictureError codes (edgechat.labeler.errors) as HTTP statuses
    "picture_too_large": 413,
    "picture_too_many_pixels": 413,
    "picture_type": 415,
    "picture_polyglot": 415,
    "picture_corrupt": 422,
}

Authenticator = Callable[[str, str], bool]  # (client id, password) -> live?


def basic_credentials(header: str | None) -> tuple[str, str] | None:
    """``(user, password)`` from an ``Authorization: Basic`` header, or None."""
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic" or len(value) > 512:
        return None
    try:
        user, sep, password = base64.b64decode(value.strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return (user, password) if sep and user and password else None


class Pictures:
    """The routes' state: where pictures go, who may upload, how fast."""

    def __init__(
        self,
        data_dir: Path,
        authenticate: Authenticator,
        clock: Callable[[], int],
        *,
        limits: IntakeLimits | None = None,
    ) -> None:
        self.store = PictureStore.in_data_dir(data_dir)
        self.authenticate = authenticate
        self.clock = clock
        self.limits = limits or IntakeLimits()
        self._buckets: dict[str, Bucket] = {}
        self._decoding = asyncio.Semaphore(MAX_DECODING)

    @classmethod
    def for_settings(cls, settings: Settings, clock: Callable[[], int]) -> Pictures:
        """In the data dir, for the broker's own client credentials."""

        def live(client_id: str, password: str) -> bool:
            return authenticate(settings, client_id, password, time.time_ns() // 1_000_000)

        return cls(settings.paths.root, live, clock)

    def routes(self) -> list[web.RouteDef]:
        sha = "{sha:[0-9a-f]{64}}"
        return [
            web.post("/api/pictures", self.upload),
            web.get(f"/pictures/{sha}", self.picture),
            web.get(f"/pictures/{sha}/thumb", self.thumbnail),
        ]

    # -- upload

    async def upload(self, request: web.Request) -> web.StreamResponse:
        if not same_origin(request.headers, f"{request.scheme}://{request.host}"):
            return error_response(403, "cross_origin", "pictures are only taken from this site's own pages")
        creds = basic_credentials(request.headers.get("Authorization"))
        # Checked in a thread: it reads the broker's password file.
        if creds is None or not await asyncio.to_thread(self.authenticate, *creds):
            # No WWW-Authenticate: the browser must not pop up a login dialog.
            return error_response(401, "unauthorized", "send the chat session's credential (Basic)")
        client_id = creds[0]
        wait_ms = self._take(client_id)
        if wait_ms:
            return error_response(429, "rate_limited", f"too many pictures; retry in {wait_ms} ms",
                                  retryable=True, retry_after_ms=wait_ms)  # fmt: skip
        too_large = error_response(
            413, "picture_too_large", f"the picture is over {self.limits.max_bytes} bytes", field="picture"
        )
        if (request.content_length or 0) > self.limits.max_bytes:
            return too_large  # before reading a byte of it
        data = await self._body(request)
        if data is None:
            return too_large
        if not data:
            return error_response(400, "picture_type", "the body is empty: send the picture's bytes",
                                  field="picture")  # fmt: skip
        try:
            async with self._decoding:
                stored = await asyncio.to_thread(accept, data, self.store, self.limits)
        except ChatError as exc:  # PictureError: the uploader's fault, nothing was written
            code = str(exc.code)
            return error_response(_STATUS.get(code, 400), code, exc.message, field="picture")
        except ImportError:  # Pillow missing: a broken install, not the uploader's fault
            log.error("web: pictures need Pillow (pip install pillow)")
            return error_response(503, "pictures_unavailable", "this core cannot take pictures")
        except OSError as exc:
            log.error("web: could not store a picture: %s", exc)
            return error_response(507, "storage_full" if exc.errno == 28 else "store_unavailable",
                                  "the picture could not be stored", retryable=True)  # fmt: skip
        pic = stored.picture
        log.info("web: picture %s from %s (%d bytes, %s)", pic.sha256[:12], client_id, len(pic.data),
                 "new" if stored.new else "known")  # fmt: skip
        url = f"/pictures/{pic.sha256}"
        body = {**pic.to_json(), "url": url, "thumbnailUrl": f"{url}/thumb"}
        response = web.json_response(body, status=201 if stored.new else 200)
        response.headers["Cache-Control"] = "no-store"
        return response

    def _take(self, client_id: str) -> int:
        now_ms = self.clock()
        if client_id not in self._buckets and len(self._buckets) >= 10_000:
            self._buckets.clear()
        bucket = self._buckets.get(client_id) or Bucket.full(UPLOAD_RATE, now_ms)
        self._buckets[client_id], wait_ms = bucket.take(UPLOAD_RATE, now_ms)
        return wait_ms

    async def _body(self, request: web.Request) -> bytes | None:
        """At most ``max_bytes``; None as soon as it is more (the rest is never read)."""
        chunks: list[bytes] = []
        size = 0
        while chunk := await request.content.read(_CHUNK):
            size += len(chunk)
            if size > self.limits.max_bytes:
                return None
            chunks.append(chunk)
        return b"".join(chunks)

    # -- download

    async def picture(self, request: web.Request) -> web.StreamResponse:
        path = self.store.find(request.match_info["sha"])
        if path is None:
            raise web.HTTPNotFound()
        return _serve(path, _TYPE_OF_EXT[path.suffix.lstrip(".")])

    async def thumbnail(self, request: web.Request) -> web.StreamResponse:
        sha = request.match_info["sha"]
        path = self.store.find(sha)
        if path is None:
            raise web.HTTPNotFound()
        _, thumb = self.store.paths(sha, path.suffix.lstrip("."))
        return _serve(thumb, "image/jpeg")


def _serve(path: Path, content_type: str) -> web.StreamResponse:
    if not path.is_file():
        raise web.HTTPNotFound()
    response = web.FileResponse(path, headers={**PICTURE_HEADERS, "Content-Type": content_type})
    response.headers["Content-Disposition"] = f'inline; filename="{path.name}"'
    return response
