"""The Catalogue section of the contract (服务事项清单): public reads, the editorial lifecycle,
and the spreadsheet in and out."""

from __future__ import annotations

import base64
from typing import Annotated, Any
from urllib.parse import quote

from pydantic import ConfigDict, Field
from werkzeug.wrappers import Request, Response

from services.gateway.auth import EDITOR, PUBLISHER, REVIEWER, User, require_roles, require_staff
from services.gateway.backends import ask
from services.gateway.doors import upload_limit_bytes
from services.gateway.http import (
    BadRequestError,
    NotFoundError,
    PayloadTooLargeError,
    UnsupportedMediaTypeError,
    api,
    json_response,
    parse_body,
    parse_query,
)
from services.gateway.identity import Identity
from services.gateway.models import ImportResult, ItemCreated, ItemList, Published, StatusView
from shared.contracts.catalogue import Department, Item, ItemDraft, ReviewRequest
from shared.departments import DEPARTMENTS
from shared.inputs import Admitted, WholeNumber

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
SVG = "image/svg+xml"
ZIP_MAGIC = b"PK\x03\x04"
ITEM_ID_MAX = 100
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


def known_item_id(item_id: str) -> str:
    if len(item_id) > ITEM_ID_MAX:
        raise NotFoundError("没有这个事项")
    return item_id


class CatalogueRoutes:
    identity: Identity
    catalogue: Any

    def _viewer(self, request: Request) -> dict[str, Any] | None:
        viewer = self.identity.viewer(request.headers.get("Authorization"))
        return viewer.as_actor() if viewer is not None else None

    def _user(self, request: Request, *roles: str) -> User:
        return require_roles(self.identity.user(request.headers.get("Authorization")), *roles)

    # -- public reads ------------------------------------------------------------

    @api(
        "GET",
        "/api/v1/items",
        summary="搜索已发布的服务事项",
        query=ItemSearch,
        response=ItemList,
        public=True,
        tags=TAGS,
        errors=(401,),
    )
    def search_items(self, request: Request) -> Response:
        self._viewer(request)
        search = parse_query(request, ItemSearch)
        items = ask(
            self.catalogue, "search_items", q=search.q.strip() or None, department=search.department
        )
        return json_response({"items": items})

    @api(
        "GET",
        "/api/v1/items/<item_id>",
        summary="服务事项详情(默认为已发布版本)",
        query=VersionQuery,
        response=Item,
        public=True,
        tags=TAGS,
        errors=(401,),
    )
    def get_item(self, request: Request, item_id: str) -> Response:
        viewer = self._viewer(request)
        version = parse_query(request, VersionQuery).version
        item = ask(
            self.catalogue, "get_item", known_item_id(item_id), version=version, viewer=viewer
        )
        return json_response(item)

    @api(
        "GET",
        "/api/v1/items/<item_id>/flowchart.svg",
        summary="服务事项流程图",
        query=VersionQuery,
        public=True,
        tags=TAGS,
        content_type=SVG,
        errors=(401,),
    )
    def get_flowchart(self, request: Request, item_id: str) -> Response:
        viewer = self._viewer(request)
        version = parse_query(request, VersionQuery).version
        svg = ask(
            self.catalogue, "flowchart_svg", known_item_id(item_id), version=version, viewer=viewer
        )
        return Response(svg, status=200, content_type=f"{SVG}; charset=utf-8")

    # -- the editorial lifecycle --------------------------------------------------

    @api(
        "POST",
        "/api/v1/items",
        summary="起草服务事项(编辑)",
        body=ItemDraft,
        response=ItemCreated,
        status=201,
        tags=TAGS,
        errors=(409,),
    )
    def create_item(self, request: Request) -> Response:
        editor = self._user(request, EDITOR)
        draft = parse_body(request, ItemDraft)
        created = ask(
            self.catalogue, "create_item", editor.as_actor(), draft.model_dump(mode="json")
        )
        return json_response(created, status=201)

    @api(
        "PUT",
        "/api/v1/items/<item_id>",
        summary="修改草稿(本部门编辑)",
        body=ItemDraft,
        response=Item,
        tags=TAGS,
        errors=(409,),
    )
    def revise_item(self, request: Request, item_id: str) -> Response:
        editor = self._user(request, EDITOR)
        draft = parse_body(request, ItemDraft)
        item = ask(
            self.catalogue,
            "revise_item",
            editor.as_actor(),
            known_item_id(item_id),
            draft.model_dump(mode="json"),
        )
        return json_response(item)

    @api(
        "POST",
        "/api/v1/items/<item_id>/submit",
        summary="提交审核(编辑)",
        response=StatusView,
        tags=TAGS,
        errors=(409,),
    )
    def submit_item(self, request: Request, item_id: str) -> Response:
        editor = self._user(request, EDITOR)
        result = ask(self.catalogue, "submit_item", editor.as_actor(), known_item_id(item_id))
        return json_response(result)

    @api(
        "POST",
        "/api/v1/items/<item_id>/review",
        summary="初审:通过或退回(学校办公室)",
        body=ReviewRequest,
        response=StatusView,
        tags=TAGS,
        errors=(409,),
    )
    def review_item(self, request: Request, item_id: str) -> Response:
        reviewer = self._user(request, REVIEWER)
        review = parse_body(request, ReviewRequest)
        result = ask(
            self.catalogue,
            "review_item",
            reviewer.as_actor(),
            known_item_id(item_id),
            review.decision,
            review.comment,
            lead_department=review.lead_department,
        )
        return json_response(result)

    @api(
        "POST",
        "/api/v1/items/<item_id>/publish",
        summary="发布新版本(机关党委)",
        response=Published,
        tags=TAGS,
        errors=(409,),
    )
    def publish_item(self, request: Request, item_id: str) -> Response:
        publisher = self._user(request, PUBLISHER)
        result = ask(self.catalogue, "publish_item", publisher.as_actor(), known_item_id(item_id))
        return json_response(result)

    @api(
        "POST",
        "/api/v1/items/<item_id>/retire",
        summary="下线服务事项(机关党委)",
        response=StatusView,
        tags=TAGS,
        errors=(409,),
    )
    def retire_item(self, request: Request, item_id: str) -> Response:
        publisher = self._user(request, PUBLISHER)
        result = ask(self.catalogue, "retire_item", publisher.as_actor(), known_item_id(item_id))
        return json_response(result)

    # -- the spreadsheet ------------------------------------------------------------

    @api(
        "GET",
        "/api/v1/catalogue.xlsx",
        summary="导出服务事项清单(工作人员)",
        query=DepartmentQuery,
        tags=TAGS,
        content_type=XLSX,
    )
    def export_catalogue(self, request: Request) -> Response:
        require_staff(self.identity.user(request.headers.get("Authorization")))
        department = parse_query(request, DepartmentQuery).department
        content = base64.b64decode(ask(self.catalogue, "export_xlsx", department=department))
        filename = f"服务事项清单-{DEPARTMENTS.get(department or '', '全校')}.xlsx"
        return Response(
            content,
            status=200,
            content_type=XLSX,
            headers={
                "Content-Disposition": f"attachment; filename*=UTF-8''{quote(filename)}",
            },
        )

    @api(
        "POST",
        "/api/v1/catalogue.xlsx",
        summary="导入服务事项清单为草稿(编辑)",
        response=ImportResult,
        tags=TAGS,
        upload_field="file",
    )
    def import_catalogue(self, request: Request) -> Response:
        editor = self._user(request, EDITOR)
        content = uploaded_xlsx(request)
        result = ask(
            self.catalogue,
            "import_xlsx",
            editor.as_actor(),
            base64.b64encode(content).decode("ascii"),
        )
        return json_response(result)


def uploaded_xlsx(request: Request) -> bytes:
    limit = upload_limit_bytes()
    if (request.content_length or 0) > limit:
        raise PayloadTooLargeError(f"文件超过 {limit // (1024 * 1024)} MB")
    upload = request.files.get("file")
    if upload is None:
        raise BadRequestError("需要 multipart/form-data 的 file 字段")
    content: bytes = upload.read(limit + 1)
    if len(content) > limit:
        raise PayloadTooLargeError(f"文件超过 {limit // (1024 * 1024)} MB")
    if not content.startswith(ZIP_MAGIC):
        raise UnsupportedMediaTypeError("只接受 .xlsx 电子表格")
    return content
