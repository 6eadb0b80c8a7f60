"""Routes of the web pages: the files under ``web/``, the page URLs, ``/docs``,
the favicon, and the two small JSON answers the pages start from.

Theory of operation
-------------------
The pages are files (STYLE.md "web/"): one shell, ``web/app.html``, serves
every page URL, and its scripts read the URL and ask the API for what the
page shows; the node adds JSON, never markup. So this module only has to
serve files well:

- **An index, not a path join.** At start the module walks ``web/`` once and
  keeps every file's bytes, content type and ETag (a SHA-256 prefix of the
  bytes); a request names an entry of that index or gets 404, so no URL can
  reach a file outside ``web/``. The whole folder is a few MB, most of it
  Swagger UI. A file changed on disk since (a page edited, a release copied
  over a running node) is read again when next asked for (one ``stat`` per
  request); a file added needs a restart.
- **Caching.** ``web/vendor/NAME-VERSION/`` never changes under its URL (a new
  version is a new folder): ``Cache-Control: public, max-age=31536000,
  immutable``. Everything else (our HTML, JS, CSS, catalogues) may change
  with a new release under the same URL: ``no-cache`` with the ETag, so a
  browser revalidates and gets ``304 Not Modified`` while nothing changed.
- **Compression.** Committee networks in remote cells are slow: text files
  are gzip-compressed once, at load, and sent compressed to a browser that
  accepts gzip (``Vary: Accept-Encoding``).
- **Nothing from elsewhere.** Every HTML answer carries a
  Content-Security-Policy that lets a page load scripts, styles, fonts,
  images and API answers from this node only, so a page cannot depend on
  the internet without failing loudly in the browser tests.

Page URLs (each answered with the shell; the README lists what each shows):
``/``, ``/blocks`` (``?to=H``), ``/blocks/{height}``, ``/documents/{doc_id}``,
``/units/{path}``, ``/dashboard/{path}`` (``?from=YYYY-MM&to=YYYY-MM``),
``/members/{member_id}``, ``/search`` (``?q=``), ``/verify``, ``/login``;
``/docs`` is Swagger UI over ``/openapi.json`` from the vendored files.

Access (node/auth.py): every route here is ``public``. The pages and their
files hold no content; what a page shows comes from the API, which answers
within the caller's scope (a page session after ``/login``, node/routes/auth.py).

JSON: ``GET /v1/site`` (what a page needs to know before it asks anything
else: chain, root unit, time zones, languages) and ``GET /v1/genesis`` (the
genesis the node runs, for the in-browser receipt check).
"""

from __future__ import annotations

import gzip
import hashlib
import mimetypes
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response

from ledger.timefmt import DEFAULT_ZONE, default_zone_name

from ..auth import Access, access
from ..responses import respond
from .node_info import root_unit

__all__ = ["add_routes", "WEB_ROOT", "PAGE_ROUTES", "LANGUAGES", "DEFAULT_LANGUAGE", "StaticFiles", "site_info"]

WEB_ROOT = Path(__file__).resolve().parents[2] / "web"
LANGUAGES = ("vi", "en")  # web/i18n/<lang>.json; the first is the default
DEFAULT_LANGUAGE = LANGUAGES[0]

# Page URLs answered with the shell; the page scripts (web/js/pages/) read the rest.
PAGE_ROUTES = ("/", "/blocks", "/blocks/{height}", "/documents/{doc_id}", "/units/{path:path}",
               "/dashboard/{path:path}", "/members/{member_id}", "/search", "/verify", "/login")
SHELL = "app.html"
DOCS_PAGE = "docs.html"
FAVICON = "favicon.ico"

_IMMUTABLE = "public, max-age=31536000, immutable"
_REVALIDATE = "no-cache"
_COMPRESSIBLE = ("text/", "application/json", "application/javascript", "image/svg+xml")
_TYPES = {".js": "text/javascript", ".mjs": "text/javascript", ".json": "application/json", ".css": "text/css",
          ".html": "text/html", ".svg": "image/svg+xml", ".ico": "image/x-icon", ".woff2": "font/woff2",
          ".png": "image/png", ".md": "text/markdown"}
# Pages may load only from this node (scripts, styles, fonts, API answers); images may also be
# data: URIs (Swagger UI's icons); no inline script or style (the chart library and Swagger UI set
# styles through the DOM, which the policy allows).
CONTENT_SECURITY_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self'; "
                           "img-src 'self' data:; font-src 'self'; connect-src 'self'; object-src 'none'; "
                           "base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
_PUBLIC = access(Access.PUBLIC)
_HTML_HEADERS = {"Content-Security-Policy": CONTENT_SECURITY_POLICY, "X-Content-Type-Options": "nosniff",
                 "Referrer-Policy": "no-referrer"}


@dataclass(frozen=True, slots=True)
class StaticFile:
    stamp: tuple[int, int]  # (mtime_ns, size) of the file when read
    body: bytes
    gzipped: bytes | None  # None when compression does not pay
    content_type: str
    etag: str
    cache_control: str


class StaticFiles:
    """Every file under `root`, loaded once (module docstring)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.files: dict[str, StaticFile] = {}
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            rel = path.relative_to(root).as_posix()
            if not any(part.startswith(".") for part in rel.split("/")):
                self.files[rel] = self._read(rel)

    def _read(self, rel: str) -> StaticFile:
        path = self.root / rel
        info = path.stat()
        body = path.read_bytes()
        content_type = _TYPES.get(path.suffix) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        if content_type.startswith("text/") or content_type == "application/json":
            content_type += "; charset=utf-8"
        gzipped = None
        if content_type.startswith(_COMPRESSIBLE) and len(body) > 512:
            packed = gzip.compress(body, compresslevel=9, mtime=0)
            gzipped = packed if len(packed) < len(body) * 0.9 else None
        return StaticFile(
            stamp=(info.st_mtime_ns, info.st_size), body=body, gzipped=gzipped, content_type=content_type,
            etag='"' + hashlib.sha256(body).hexdigest()[:32] + '"',
            cache_control=_IMMUTABLE if rel.startswith("vendor/") else _REVALIDATE,
        )

    def get(self, name: str) -> StaticFile | None:
        entry = self.files.get(name)
        if entry is None:
            return None
        try:
            info = (self.root / name).stat()
            if (info.st_mtime_ns, info.st_size) != entry.stamp:
                entry = self.files[name] = self._read(name)
        except OSError:  # removed or unreadable since: keep serving what was read
            pass
        return entry

    def response(self, request: Request, name: str, *, status: int = 200) -> Response:
        """`name` (a path relative to the root) as an answer, or the JSON 404."""
        entry = self.get(name)
        if entry is None:
            return respond(request, {"error": "not_found", "message": f"no file /web/{name}"}, 404)
        headers = {"ETag": entry.etag, "Cache-Control": entry.cache_control, "Vary": "Accept-Encoding"}
        if entry.content_type.startswith("text/html"):
            headers.update(_HTML_HEADERS)
        if status == 200 and entry.etag in _etags(request.headers.get("if-none-match", "")):
            return Response(status_code=304, headers=headers)
        body = entry.body
        if entry.gzipped is not None and _accepts_gzip(request.headers.get("accept-encoding", "")):
            body = entry.gzipped
            headers["Content-Encoding"] = "gzip"
        if request.method == "HEAD":
            headers["Content-Length"] = str(len(body))
            body = b""
        return Response(body, status_code=status, media_type=entry.content_type, headers=headers)


def _etags(header: str) -> set[str]:
    return {tag.strip().removeprefix("W/") for tag in header.split(",") if tag.strip()}


def _accepts_gzip(header: str) -> bool:
    for part in header.split(","):
        coding, _, params = part.strip().partition(";")
        if coding.strip().lower() in ("gzip", "*"):
            return params.replace(" ", "").lower() not in ("q=0", "q=0.0", "q=0.00", "q=0.000")
    return False


def display_zone(service: Any) -> str:
    """The zone pages show times in: the node config's ``display_zone``, else
    ``$MINUTEBOOK_TZ``, else Asia/Ho_Chi_Minh (ledger/timefmt.py), as the CLI does."""
    configured = getattr(getattr(service, "config", None), "display_zone", None)
    return configured or default_zone_name()


def site_info(service: Any) -> dict:
    """``GET /v1/site``: what every page needs before it asks anything else."""
    ledger = service.ledger
    genesis = ledger.genesis.to_json()
    return {
        "node_id": service.node_id,
        "chain_id": genesis.get("chain_id"),
        "genesis_hash": ledger.genesis_hash.hex(),
        "root_unit": root_unit(ledger),
        "chain_zone": genesis.get("time_zone") or DEFAULT_ZONE,
        "display_zone": display_zone(service),
        "languages": list(LANGUAGES),
        "default_language": DEFAULT_LANGUAGE,
    }


def add_routes(app: FastAPI, service: Any) -> None:
    files = StaticFiles(WEB_ROOT)
    app.state.web_files = files

    @app.get("/v1/site", tags=["node"], openapi_extra=_PUBLIC)
    async def get_site(request: Request) -> Response:
        """`{node_id, chain_id, genesis_hash, root_unit, chain_zone, display_zone, languages,
        default_language}`: the chain and the presentation settings the web pages start from.
        `chain_zone` buckets monthly figures (genesis `time_zone`); `display_zone` is the zone
        times are shown in."""
        return respond(request, site_info(service))

    @app.get("/v1/genesis", tags=["log"], openapi_extra=_PUBLIC)
    async def get_genesis(request: Request) -> Response:
        """The genesis.json this node runs (its hash is `genesis_hash` in `/v1/site` and block 1's
        `prev_hash`). A receipt check is only as good as the genesis it starts from: compare the
        hash with the one your organisation published before trusting a check made against it."""
        return respond(request, service.ledger.genesis.to_json())

    async def page(request: Request) -> Response:
        return files.response(request, SHELL)

    for route in PAGE_ROUTES:
        app.add_api_route(route, page, methods=["GET", "HEAD"], include_in_schema=False, openapi_extra=_PUBLIC)

    async def docs(request: Request) -> Response:
        return files.response(request, DOCS_PAGE)

    app.add_api_route("/docs", docs, methods=["GET", "HEAD"], include_in_schema=False, openapi_extra=_PUBLIC)

    async def favicon(request: Request) -> Response:
        return files.response(request, FAVICON)

    app.add_api_route("/favicon.ico", favicon, methods=["GET", "HEAD"], include_in_schema=False, openapi_extra=_PUBLIC)

    async def static(request: Request, name: str) -> Response:
        return files.response(request, name)

    app.add_api_route("/web/{name:path}", static, methods=["GET", "HEAD"], include_in_schema=False,
                      openapi_extra=_PUBLIC)
