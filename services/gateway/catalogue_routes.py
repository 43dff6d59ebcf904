"""The Catalogue section of the contract (服务事项清单): public reads, the editorial lifecycle,
and the spreadsheet in and out. Each route reads the request, calls its action
(``catalogue_actions``) and answers JSON."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field
from werkzeug.wrappers import Request, Response

from services.gateway.auth import admitted
from services.gateway.base import Gateway
from services.gateway.case_routes import attachment
from services.gateway.catalogue_actions import XLSX, uploaded_xlsx
from services.gateway.http import api, json_response, parse_body, parse_query
from services.gateway.models import ImportResult, ItemCreated, ItemList, Published, StatusView
from shared.contracts.catalogue import Department, Item, ItemDraft, ReviewRequest
from shared.departments import DEPARTMENTS
from shared.inputs import Admitted, WholeNumber

SVG = "image/svg+xml"
TAGS = ["catalogue"]


class Query(Admitted):
    model_config = ConfigDict(extra="ignore")


class ItemSearch(Query):
    q: Annotated[str, Field(max_length=200, description="名称或说明中的文字")] = ""
    department: Department | None = None


class VersionQuery(Query):
    version: Annotated[int, Field(ge=1, le=1_000_000), WholeNumber] | None = None


class DepartmentQuery(Query):
    department: Department | None = None


def lifecycle_step(step: str, summary: str, response: type[BaseModel]) -> Callable[..., Any]:
    """``POST /api/v1/items/<item_id>/<step>``: a step of the lifecycle that takes no body."""

    @api("POST", f"/api/v1/items/<item_id>/{step}", summary=summary, response=response,
         tags=TAGS, errors=(409,))
    def take_step(self: CatalogueRoutes, request: Request, item_id: str) -> Response:
        return json_response(getattr(self.items, step)(self._user(request), item_id))

    return take_step


class CatalogueRoutes(Gateway):
    # -- public reads ------------------------------------------------------------

    @api("GET", "/api/v1/items", summary="搜索已发布的服务事项", query=ItemSearch,
         response=ItemList, public=True, tags=TAGS, errors=(401,))
    def search_items(self, request: Request) -> Response:
        self._viewer(request)
        search = parse_query(request, ItemSearch)
        return json_response({"items": self.items.search(search.q, search.department)})

    @api("GET", "/api/v1/items/<item_id>", summary="服务事项详情(默认为已发布版本)",
         query=VersionQuery, response=Item, public=True, tags=TAGS, errors=(401,))
    def get_item(self, request: Request, item_id: str) -> Response:
        viewer = self._viewer(request)
        version = parse_query(request, VersionQuery).version
        return json_response(self.items.item(viewer, item_id, version))

    @api("GET", "/api/v1/items/<item_id>/flowchart.svg", summary="服务事项流程图",
         query=VersionQuery, public=True, tags=TAGS, content_type=SVG, errors=(401,))
    def get_flowchart(self, request: Request, item_id: str) -> Response:
        viewer = self._viewer(request)
        version = parse_query(request, VersionQuery).version
        svg = self.items.flowchart(viewer, item_id, version)
        return Response(svg, status=200, content_type=f"{SVG}; charset=utf-8")

    # -- the editorial lifecycle --------------------------------------------------

    @api("POST", "/api/v1/items", summary="起草服务事项(编辑)", body=ItemDraft,
         response=ItemCreated, status=201, tags=TAGS, errors=(409,))
    def create_item(self, request: Request) -> Response:
        editor = admitted(self._user(request), self.items.create)
        draft = parse_body(request, ItemDraft)
        return json_response(self.items.create(editor, draft), status=201)

    @api("PUT", "/api/v1/items/<item_id>", summary="修改草稿(本部门编辑)", body=ItemDraft,
         response=Item, tags=TAGS, errors=(409,))
    def revise_item(self, request: Request, item_id: str) -> Response:
        editor = admitted(self._user(request), self.items.revise)
        draft = parse_body(request, ItemDraft)
        return json_response(self.items.revise(editor, item_id, draft))

    submit_item = lifecycle_step("submit", "提交审核(编辑)", StatusView)

    @api("POST", "/api/v1/items/<item_id>/review", summary="初审:通过或退回(学校办公室)",
         body=ReviewRequest, response=StatusView, tags=TAGS, errors=(409,))
    def review_item(self, request: Request, item_id: str) -> Response:
        reviewer = admitted(self._user(request), self.items.review)
        review = parse_body(request, ReviewRequest)
        return json_response(self.items.review(reviewer, item_id, review))

    publish_item = lifecycle_step("publish", "发布新版本(机关党委)", Published)
    retire_item = lifecycle_step("retire", "下线服务事项(机关党委)", StatusView)

    # -- the spreadsheet ------------------------------------------------------------

    @api("GET", "/api/v1/catalogue.xlsx", summary="导出服务事项清单(工作人员)",
         query=DepartmentQuery, tags=TAGS, content_type=XLSX)
    def export_catalogue(self, request: Request) -> Response:
        user = admitted(self._user(request), self.items.export)
        department = parse_query(request, DepartmentQuery).department
        filename = f"服务事项清单-{DEPARTMENTS.get(department or '', '全校')}.xlsx"
        return attachment(self.items.export(user, department), XLSX, filename)

    @api("POST", "/api/v1/catalogue.xlsx", summary="导入服务事项清单为草稿(编辑)",
         response=ImportResult, tags=TAGS, upload_field="file")
    def import_catalogue(self, request: Request) -> Response:
        editor = admitted(self._user(request), self.items.import_)
        return json_response(self.items.import_(editor, uploaded_xlsx(request)))
