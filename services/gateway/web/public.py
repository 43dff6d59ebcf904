"""Pages anyone may open: the catalogue, an item, logging in and out, the static assets."""

from __future__ import annotations

import mimetypes
import unicodedata
from urllib.parse import quote, unquote

from werkzeug.wrappers import Request, Response

from services.gateway.auth import User
from services.gateway.catalogue_actions import known_item_id
from services.gateway.catalogue_routes import ItemSearch, VersionQuery
from services.gateway.doors import client_address
from services.gateway.http import UnauthorizedError
from services.gateway.web.core import STATIC_DIR, Pages, open_visit, page, page_query
from shared.departments import DEPARTMENTS
from shared.errors import NotFoundError, RateLimitedError
from shared.roles import APPLICANT, APPROVER, EDITOR, PUBLISHER, REVIEWER, SUPERVISOR

HOMES = (
    (APPROVER, "/inbox"),
    (APPLICANT, "/cases"),
    (SUPERVISOR, "/supervision"),
    (EDITOR, "/editor"),
    (REVIEWER, "/review"),
    (PUBLISHER, "/review"),
)
STATIC_TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8"}


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


class PublicPages(Pages):
    @page("GET", "/")
    def page_catalogue(self, request: Request) -> Response:
        visit = self._visit(request)
        search = page_query(request, ItemSearch)
        return visit.render(
            "catalogue.html",
            items=self.items.search(search.q, search.department),
            q=search.q,
            department=search.department or "",
            departments=DEPARTMENTS,
        )

    @page("GET", "/items/<item_id>")
    def page_item(self, request: Request, item_id: str) -> Response:
        visit = self._visit(request)
        version = page_query(request, VersionQuery).version
        item = self.items.item(visit.user, item_id, version)
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
        svg = self.items.flowchart(visit.user, item_id, version)
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
