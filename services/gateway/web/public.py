"""Pages anyone may open: the catalogue, an item, logging in and out, the static assets."""

from __future__ import annotations

import mimetypes
import time
import unicodedata
from typing import Any
from urllib.parse import quote, unquote

from werkzeug.wrappers import Request, Response

from services.gateway.auth import (
    APPLICANT,
    APPROVER,
    EDITOR,
    PUBLISHER,
    REVIEWER,
    SUPERVISOR,
    User,
)
from services.gateway.backends import ask
from services.gateway.catalogue_routes import ItemSearch, VersionQuery, known_item_id
from services.gateway.doors import client_address
from services.gateway.http import (
    NotFoundError,
    RateLimitedError,
    UnauthorizedError,
)
from services.gateway.identity import Identity
from services.gateway.web.core import STATIC_DIR, Visit, open_visit, page, page_query
from shared.departments import DEPARTMENTS

HOMES = (
    (APPROVER, "/inbox"),
    (APPLICANT, "/cases"),
    (SUPERVISOR, "/supervision"),
    (EDITOR, "/editor"),
    (REVIEWER, "/review"),
    (PUBLISHER, "/review"),
)
NAME_CACHE_SECONDS = 300.0
STATIC_TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8"}


class NameCache:
    """People's names change rarely; a page should not replay an account per name shown."""

    def __init__(self, seconds: float = NAME_CACHE_SECONDS) -> None:
        self.seconds = seconds
        self.names: dict[str, tuple[str, float]] = {}

    def name_of(self, identity: Identity, username: str) -> str:
        cached = self.names.get(username)
        if cached is not None and cached[1] > time.monotonic():
            return cached[0]
        account = identity.accounts.account(username)
        name = account.name if account is not None else username
        self.names[username] = (name, time.monotonic() + self.seconds)
        return name


NAMES = NameCache()


def home_of(user: User) -> str:
    return next((path for role, path in HOMES if role in user.roles), "/")


def safe_next(target: str | None) -> str | None:
    """Where to go after logging in: only an absolute path on this site. One leading "/", no
    scheme, no authority, no backslash, no space or control character, and none of these once
    more percent-decoded either: browsers drop tabs and line breaks from an address, so
    ``/%09/evil.example`` (a tab once decoded) would take them to ``//evil.example``."""
    if not target or any(char.isspace() for char in target):
        return None
    for text in (target, unquote(target)):
        if not text.startswith("/") or text.startswith("//") or "\\" in text:
            return None
        if any(unicodedata.category(char).startswith("C") for char in text):
            return None
    return target


class PublicPages:
    identity: Identity
    catalogue: Any
    approval: Any

    def _visit(self, request: Request) -> Visit:
        return open_visit(self.identity, request)

    def _display_names(self, usernames: set[str]) -> dict[str, str]:
        """username → the person's name, for timelines ("保卫处审批员" rather than "bwc")."""
        return {username: NAMES.name_of(self.identity, username) for username in usernames}

    @page("GET", "/")
    def page_catalogue(self, request: Request) -> Response:
        visit = self._visit(request)
        search = page_query(request, ItemSearch)
        items = ask(
            self.catalogue, "search_items", q=search.q.strip() or None, department=search.department
        )
        return visit.render(
            "catalogue.html",
            items=items,
            q=search.q,
            department=search.department or "",
            departments=DEPARTMENTS,
        )

    @page("GET", "/items/<item_id>")
    def page_item(self, request: Request, item_id: str) -> Response:
        visit = self._visit(request)
        version = page_query(request, VersionQuery).version
        viewer = visit.user.as_actor() if visit.user else None
        item = ask(
            self.catalogue, "get_item", known_item_id(item_id), version=version, viewer=viewer
        )
        chart = f"/items/{item['item_id']}/flowchart.svg" + (
            f"?version={version}" if version else ""
        )
        if item.get("status") == "published" and version is None:
            chart = f"/api/v1/items/{item['item_id']}/flowchart.svg"
        return visit.render("item.html", item=item, chart=chart)

    @page("GET", "/items/<item_id>/flowchart.svg")
    def page_item_flowchart(self, request: Request, item_id: str) -> Response:
        """The chart of what this visitor may see, drafts included for their editors."""
        visit = self._visit(request)
        version = page_query(request, VersionQuery).version
        viewer = visit.user.as_actor() if visit.user else None
        svg = ask(
            self.catalogue, "flowchart_svg", known_item_id(item_id), version=version, viewer=viewer
        )
        return visit.finish(Response(svg, content_type="image/svg+xml; charset=utf-8"))

    @page("GET", "/open")
    def page_open_item(self, request: Request) -> Response:
        """The "open by item id" forms: to the item, or to its editor."""
        visit = self._visit(request)
        item_id = quote(known_item_id(request.args.get("item_id", "").strip()), safe="")
        if not item_id:
            return visit.redirect("/")
        editor = request.args.get("to") == "editor"
        return visit.redirect(f"/editor/items/{item_id}" if editor else f"/items/{item_id}")

    # -- signing in and out --------------------------------------------------------------

    @page("GET", "/login")
    def page_login(self, request: Request) -> Response:
        visit = self._visit(request)
        return visit.render("login.html", next=safe_next(request.args.get("next")) or "", error="")

    @page("POST", "/login")
    def page_login_post(self, request: Request) -> Response:
        visit = open_visit(self.identity, request)
        username = request.form.get("username", "").strip()[:64]
        target = safe_next(request.form.get("next"))
        password = request.form.get("password", "")[:256]
        try:
            token, user = self.identity.login(username, password, client_address(request.environ))
        except (UnauthorizedError, RateLimitedError) as exc:
            status = 429 if isinstance(exc, RateLimitedError) else 401
            page = visit.render(
                "login.html", status=status, next=target or "", error=exc.detail, username=username
            )
            page.headers.extend(exc.headers or {})
            return page
        visit.sign_in(token)
        return visit.redirect(target or home_of(user))

    @page("GET", "/logout")
    def page_logout(self, request: Request) -> Response:
        return self._visit(request).render("logout.html")

    @page("POST", "/logout")
    def page_logout_post(self, request: Request) -> Response:
        visit = open_visit(self.identity, request)
        visit.sign_out()
        return visit.redirect("/")

    # -- static assets ------------------------------------------------------------------------

    @page("GET", "/static/<path:name>")
    def page_static(self, request: Request, name: str) -> Response:
        path = (STATIC_DIR / name).resolve()
        if not path.is_file() or not path.is_relative_to(STATIC_DIR):
            raise NotFoundError("没有这个文件")
        content_type = STATIC_TYPES.get(path.suffix) or (
            mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        )
        return Response(
            path.read_bytes(),
            content_type=content_type,
            headers={"Cache-Control": "public, max-age=3600"},
        )
