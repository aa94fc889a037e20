"""Server side of the web client: page shells, static files, security headers.

Each page is a small HTML shell (title, branding, a labelled layout, live
regions) plus one ES module from ``static/``. What the module needs to know
(WebSocket URL path, the conference, the language and its words from
``translations/``, the lists of values from ``confchat.vocab``) travels in a
``<script type="application/json">`` block: data, never executed, escaped so
that no value can close the block. A strict Content-Security-Policy allows
only this server's scripts and styles; ``frame-ancestors`` lets the pages be
embedded only by this server and the configured origins.
"""

from __future__ import annotations

import html
import io
import json
import mimetypes
import os
import re
from importlib import resources
from typing import Any, Callable
from urllib.parse import quote

import segno

from .. import vocab
from ..config import Config
from ..transport.http import Request, Response
from ..proto.casemap import casefold, is_valid_channel
from .i18n import WORDS, choose_language, locale, page_words

PAGES = {
    "/": ("visitor", "visitor.js"),
    "/moderator": ("moderator", "moderator.js"),
    "/guest": ("guest", "guest.js"),
    "/embed": ("embed", "embed.js"),
    "/admin": ("admin", "admin.js"),  # web administration (protocol.md, "Administration")
    "/screen": ("screen", "screen.js"),  # the room screen, for a projector or a stream overlay
}
STATIC_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml"}
_COLOUR = re.compile(r"#[0-9a-fA-F]{3,8}|[a-zA-Z]{3,20}")
# A Host header fit to be written into a join link: a name or an address,
# with a port (anything else, and the link uses listen.http).
_HOST = re.compile(r"(?:[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?|\[[0-9A-Fa-f:.]{2,45}\])(?::[0-9]{1,5})?")


def public_base(config: Config, request: Request) -> str:
    """Where visitors reach this server: ``branding.public_url``, else the
    address the request came to (its Host header, if it is one), else
    ``listen.http``."""
    if config.branding.public_url:
        return config.branding.public_url.rstrip("/")
    host = request.headers.get("host", "")
    if not _HOST.fullmatch(host):
        host = config.listen.http or "localhost"
    return f"http://{host}"


def join_url(config: Config, request: Request, conference: str) -> str:
    """The visitor page of ``conference``: what its QR code holds."""
    return f"{public_base(config, request)}/?conference={quote(conference, safe='')}"


def qr_svg(text: str) -> bytes:
    """``text`` as a QR code in SVG (segno), black on white with the quiet
    zone of four modules the standard asks for; error correction M (15 %),
    and segno raises it when the code's size allows, for a projector seen
    from the back of the room or a phone at an angle."""
    out = io.BytesIO()
    code = segno.make(text, error="m", micro=False)
    code.save(out, kind="svg", scale=10, border=4, dark="#000", light="#fff", xmldecl=False, svgclass="qr",
              lineclass=None, omitsize=True)
    # A viewBox (scales to any size the page gives it) and an intrinsic size.
    width, height = code.symbol_size(scale=10, border=4)
    return out.getvalue().replace(b"<svg ", f'<svg width="{width}" height="{height}" '.encode(), 1)


def static_dir() -> str:
    return str(resources.files("confchat.web") / "static")


def csp(config: Config) -> str:
    ancestors = " ".join(["'self'", *config.listen.websocket_origins])
    return (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: https:; "
        f"connect-src 'self' ws: wss:; frame-src 'self'; form-action 'self'; base-uri 'none'; "
        f"frame-ancestors {ancestors}"
    )


def page_headers(config: Config) -> list[tuple[str, str]]:
    return [("Content-Security-Policy", csp(config))]


def _json_for_html(data: Any) -> str:
    """JSON that cannot end its <script> block or open a comment."""
    text = json.dumps(data, ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def render_page(
    config: Config, page: str, script: str, request: Request, conferences: Callable[[], list[str]] | None = None
) -> str:
    branding = config.branding
    language = choose_language(branding.language, request.headers.get("accept-language", ""))
    words = WORDS[language]
    # Only a conference that exists: a link must not make a visitor create
    # (and operate) a plain channel of that name.
    known = conferences() if conferences is not None else [c.channel for c in config.conferences]
    asked = request.query.get("conference") or request.query.get("conf", "")  # /screen?conf=#townhall
    folded = {casefold(name): name for name in known}
    conference = folded.get(casefold(asked)) or (known[0] if known else "")
    settings = {
        "page": page,
        "language": language,
        "locale": locale(language),
        "words": page_words(language, page),
        "vocab": vocab.as_json(),
        "conference": conference,
        "websocket": "/ws",
        "organisation": branding.organisation,
    }
    if conference:
        settings["join_url"] = join_url(config, request, conference)  # shown beside its QR code
    e = html.escape
    title = words[f"title_{page}"]
    logo = ""
    if branding.logo.startswith("https://"):
        logo = f'<img class="logo" src="{e(branding.logo)}" alt="{e(branding.organisation or "Logo")}">'
    elif branding.logo:
        logo = f'<img class="logo" src="/branding/logo" alt="{e(branding.organisation or "Logo")}">'
    return f"""<!DOCTYPE html>
<html lang="{e(language)}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{e(title)}{" – " + e(branding.organisation) if branding.organisation else ""}</title>
<link rel="stylesheet" href="/static/style.css">
<link rel="stylesheet" href="/static/{e(page)}.css">
<link rel="stylesheet" href="/branding.css">
<script type="application/json" id="confchat-settings">{_json_for_html(settings)}</script>
<script type="module" src="/static/{e(script)}"></script>
</head>
<body class="page-{e(page)}">
<a class="skip" href="#main">{e(words["skip_to_content"])}</a>
<header class="site">
{logo}
<p class="organisation">{e(branding.organisation)}</p>
</header>
<main id="main" tabindex="-1">
<h1 id="page-title">{e(title)}</h1>
<noscript><p>{e(words["needs_javascript"])}</p></noscript>
</main>
</body>
</html>
"""


class WebApp:
    """Route handlers for the pages, static files and branding."""

    def __init__(self, config: Config, conferences: Callable[[], list[str]] | None = None) -> None:
        self.config = config
        self.conferences = conferences  # the live conferences' channels
        self._static = _load_static(static_dir())
        self._logo = _load_logo(config.branding.logo)
        self._vocab = json.dumps(vocab.as_json()).encode()

    def routes(self) -> dict[str, Any]:
        routes: dict[str, Any] = {path: self._page(page, script) for path, (page, script) in PAGES.items()}
        routes["/branding.css"] = self.branding_css
        routes["/favicon.ico"] = self.favicon
        routes["/branding/logo"] = self.logo
        routes["/vocab.json"] = self.vocab
        routes["/qr.svg"] = self.qr
        return routes

    def prefix_routes(self) -> dict[str, Any]:
        return {"/static/": self.static}

    def _page(self, page: str, script: str):
        async def handler(request: Request) -> Response:
            body = render_page(self.config, page, script, request, self.conferences).encode()
            return Response(200, body, "text/html; charset=utf-8", page_headers(self.config))

        return handler

    async def favicon(self, request: Request) -> Response:
        return Response(204)

    async def branding_css(self, request: Request) -> Response:
        colour = self.config.branding.colour
        if not _COLOUR.fullmatch(colour):
            colour = "#1d4f91"
        return Response(200, f":root {{ --brand: {colour}; }}\n".encode(), "text/css; charset=utf-8")

    async def vocab(self, request: Request) -> Response:
        """The lists of values (conference states, room modes, export
        formats), for clients other than the pages (which have them in
        their settings block)."""
        return Response(200, self._vocab, "application/json")

    async def qr(self, request: Request) -> Response:
        """``/qr.svg?conference=<channel>``: the QR code of the conference's
        join link (the room screen and the embed page show it), spelt as
        the conference is when it exists. A channel name it may have
        (``#`` and the rules of a channel name), never other text: the code
        always leads to this server's visitor page."""
        asked = request.query.get("conference") or request.query.get("conf", "")
        if not asked.startswith("#") or not is_valid_channel(asked, 64):
            return Response.text(404, "Not a conference name")
        known = self.conferences() if self.conferences is not None else [c.channel for c in self.config.conferences]
        conference = {casefold(name): name for name in known}.get(casefold(asked), asked)
        body = qr_svg(join_url(self.config, request, conference))
        return Response(200, body, "image/svg+xml", [("Cache-Control", "no-cache")])

    async def logo(self, request: Request) -> Response:
        if self._logo is None:
            return Response.text(404, "Not found")
        return Response(200, *self._logo)

    async def static(self, request: Request) -> Response:
        found = self._static.get(request.path[len("/static/"):])
        if found is None:
            return Response.text(404, "Not found")
        return Response(200, *found)


def _load_static(root: str) -> dict[str, tuple[bytes, str]]:
    """The client's files, read once at start: serving them never touches
    the disk from the event loop."""
    files = {}
    for name in os.listdir(root):
        kind = STATIC_TYPES.get(os.path.splitext(name)[1])
        if kind and re.fullmatch(r"[a-z0-9_-]+\.(js|css|svg)", name):
            with open(os.path.join(root, name), "rb") as f:
                files[name] = (f.read(), kind)
    return files


def _load_logo(path: str) -> tuple[bytes, str] | None:
    """A logo file from the config, read once at start (an https:// logo is
    linked, not served)."""
    mime = mimetypes.guess_type(path)[0] or ""
    if not path or path.startswith("https://") or not mime.startswith("image/") or not os.path.isfile(path):
        return None
    with open(path, "rb") as f:
        return f.read(), mime
