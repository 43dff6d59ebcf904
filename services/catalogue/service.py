"""The catalogue service on the bus: validates plain arguments, calls the application.

``actor`` and ``viewer`` are the gateway's user objects
(``{"username", "name", "department", "roles": [...]}``); ``viewer`` is None for the public.
"""

from __future__ import annotations

import base64
import logging
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import eventlet
import psycopg
from eventsourcing.persistence import OperationalError
from nameko.extensions import DependencyProvider
from pydantic import BaseModel, ValidationError

from services.catalogue.application import Actor, CatalogueApplication, require_role
from services.catalogue.demo import seed_demo
from services.catalogue.flowchart import render_svg
from services.catalogue.sheet_import import decode_workbook, parse_workbook
from services.catalogue.spreadsheet import CellError, export_workbook
from shared.config import Settings, settings_of
from shared.contracts.catalogue import Item, ItemDraft, ReviewRequest
from shared.departments import DEPARTMENTS
from shared.dependencies import EventStore
from shared.errors import InvalidError
from shared.rpc import rpc
from shared.service import HealthCheckMixin, ProcessSettings

log = logging.getLogger(__name__)

M = TypeVar("M", bound=BaseModel)

SEED_LOCK = zlib.crc32(b"onetrip-catalogue-demo-seed")
QUERY_MAX = 200


def valid(model: type[M], data: Any, what: str) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise InvalidError(f"{what}不合法：{describe(exc)}") from None


def describe(exc: ValidationError) -> str:
    return "；".join(
        f"{'.'.join(str(part) for part in error['loc']) or '请求'}: {error['msg']}"
        for error in exc.errors()
    )


def optional_viewer(viewer: Any) -> Actor | None:
    return None if viewer is None else valid(Actor, viewer, "用户")


def version_number(version: Any) -> int | None:
    if version is None or version == "":
        return None
    if isinstance(version, bool) or not str(version).isdigit() or int(version) < 1:
        raise InvalidError(f"版本号应为正整数：{version}")
    return int(version)


def known_department(department: str | None) -> str | None:
    if department and department not in DEPARTMENTS:
        raise InvalidError(f"未知部门：{department}")
    return department or None


def item_out(item: dict[str, Any]) -> dict[str, Any]:
    return Item.model_validate(item).model_dump(mode="json")


@contextmanager
def advisory_lock(key: int, settings: Settings) -> Iterator[None]:
    """Serialises demo seeding across instances starting at once."""
    with psycopg.connect(settings.database.conninfo(), autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (key,))
        try:
            yield
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (key,))


def seed_once(app: CatalogueApplication, settings: Settings) -> list[str]:
    with advisory_lock(SEED_LOCK, settings):
        return seed_demo(app)


class CatalogueStartup(DependencyProvider):
    """Before the service takes requests: catch up the search read model, and seed the demo
    items when ONETRIP_DEMO=1. Runs in ``setup`` because nameko starts the RPC entrypoints
    concurrently with every ``start``; a service that answers has its demo catalogue."""

    attempts = 5
    app_timeout = 60.0

    def setup(self) -> None:
        app = self._app()
        for attempt in range(1, self.attempts + 1):
            try:
                self._prepare(app)
                return
            except (psycopg.OperationalError, OperationalError, OSError) as exc:
                if attempt == self.attempts:
                    raise
                log.warning("catalogue start-up: %s; retrying", exc)
                eventlet.sleep(attempt)

    def _prepare(self, app: CatalogueApplication) -> None:
        app.update_search()
        settings = settings_of(self.container.config)
        if settings.demo:
            created = seed_once(app, settings)
            log.info("catalogue demo items: %s", created or "already seeded")

    def _app(self) -> CatalogueApplication:
        """The EventStore's application, which its own ``setup`` opens alongside this one."""
        store = next(d for d in self.container.dependencies if isinstance(d, EventStore))
        waited = 0.0
        while store.app is None and waited < self.app_timeout:
            eventlet.sleep(0.05)
            waited += 0.05
        if not isinstance(store.app, CatalogueApplication):
            raise TimeoutError("the catalogue's event store did not open")
        return store.app

    def get_dependency(self, worker_ctx: Any) -> CatalogueStartup:
        return self


class CatalogueService(HealthCheckMixin):
    name = "catalogue"

    store: CatalogueApplication = EventStore(CatalogueApplication)  # type: ignore[assignment]
    startup = CatalogueStartup()
    settings: Settings = ProcessSettings()  # type: ignore[assignment]

    # -- commands ----------------------------------------------------------------------

    @rpc
    def create_item(self, actor: dict[str, Any], draft: dict[str, Any]) -> dict[str, Any]:
        item_id = self.store.create_item(
            valid(Actor, actor, "用户"), valid(ItemDraft, draft, "事项")
        )
        return {"item_id": item_id, "status": "draft"}

    @rpc
    def revise_item(
        self, actor: dict[str, Any], item_id: str, draft: dict[str, Any]
    ) -> dict[str, Any]:
        item = self.store.revise_item(
            valid(Actor, actor, "用户"), item_id, valid(ItemDraft, draft, "事项")
        )
        return item_out(item)

    @rpc
    def submit_item(self, actor: dict[str, Any], item_id: str) -> dict[str, Any]:
        return {"status": self.store.submit_item(valid(Actor, actor, "用户"), item_id)}

    @rpc
    def review_item(
        self,
        actor: dict[str, Any],
        item_id: str,
        decision: str,
        comment: str | None = None,
        lead_department: str | None = None,
    ) -> dict[str, Any]:
        review = valid(
            ReviewRequest,
            {"decision": decision, "comment": comment or "", "lead_department": lead_department},
            "审核意见",
        )
        return {"status": self.store.review_item(valid(Actor, actor, "用户"), item_id, review)}

    @rpc
    def publish_item(self, actor: dict[str, Any], item_id: str) -> dict[str, Any]:
        version = self.store.publish_item(valid(Actor, actor, "用户"), item_id)
        return {"status": "published", "version": version}

    @rpc
    def retire_item(self, actor: dict[str, Any], item_id: str) -> dict[str, Any]:
        return {"status": self.store.retire_item(valid(Actor, actor, "用户"), item_id)}

    # -- queries -------------------------------------------------------------------------

    @rpc
    def get_item(
        self, item_id: str, version: Any = None, viewer: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        item = self.store.get_item(item_id, version_number(version), optional_viewer(viewer))
        return item_out(item)

    @rpc
    def search_items(
        self, q: str | None = None, department: str | None = None
    ) -> list[dict[str, Any]]:
        if q is not None and len(q) > QUERY_MAX:
            raise InvalidError(f"搜索词不能超过 {QUERY_MAX} 个字符")
        return self.store.search_items(q, known_department(department))

    @rpc
    def list_items(self, viewer: dict[str, Any], status: str | None = None) -> list[dict[str, Any]]:
        return self.store.list_items(valid(Actor, viewer, "用户"), status or None)

    @rpc
    def flowchart_svg(
        self, item_id: str, version: Any = None, viewer: dict[str, Any] | None = None
    ) -> str:
        item = self.store.get_item(item_id, version_number(version), optional_viewer(viewer))
        return render_svg(item["name"], item["flow"])

    # -- the spreadsheet ----------------------------------------------------------------------

    @rpc
    def export_xlsx(self, department: str | None = None) -> str:
        department = known_department(department)
        workbook = export_workbook(self.store.published_items(department), department)
        return base64.b64encode(workbook).decode("ascii")

    @rpc
    def import_xlsx(self, actor: dict[str, Any], content_b64: str) -> dict[str, Any]:
        editor = valid(Actor, actor, "用户")
        require_role(editor, "editor", "导入服务事项")
        try:
            rows = parse_workbook(decode_workbook(content_b64))
        except CellError as exc:
            raise InvalidError(str(exc)) from None
        return self.store.import_drafts(editor, rows)

    # -- demo data -----------------------------------------------------------------------------

    @rpc
    def seed_demo(self) -> dict[str, Any]:
        return {"created": seed_once(self.store, self.settings)}
