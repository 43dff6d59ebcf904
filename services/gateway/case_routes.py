"""The Files, Cases and Tasks sections of the contract (办件): apply online, decide, follow up."""
from __future__ import annotations

from typing import Any
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wrappers import Request, Response

from services.gateway.auth import APPLICANT, User, require_roles
from services.gateway.backends import ask
from services.gateway.files import (
    ALLOWED,
    FileStore,
    FileTooLargeError,
    UnsupportedFileTypeError,
    upload_limit_bytes,
)
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
from services.gateway.idempotency import IdempotentCommands, keyed
from services.gateway.identity import Identity
from services.gateway.models import DelegationView
from shared.contracts.approval import (
    Case,
    CaseList,
    CasePage,
    CaseSubmission,
    DecisionRequest,
    DelegationRequest,
    RatingRequest,
    Resubmission,
    TaskList,
    TripRequest,
)

TAGS_FILES, TAGS_CASES, TAGS_TASKS = ["files"], ["cases"], ["tasks"]


class FileView(BaseModel):
    file_id: str
    name: str
    size: int
    sha256: str
    content_type: str


class CaseQuery(CasePage):
    """``?limit=&offset=``; other parameters are not this route's and are left alone."""

    model_config = ConfigDict(extra="ignore")


class UrgeResult(BaseModel):
    case_id: str
    urged: list[str]


def too_large() -> PayloadTooLargeError:
    return PayloadTooLargeError(f"文件超过 {upload_limit_bytes() // (1024 * 1024)} MB")


class CaseRoutes:
    identity: Identity
    approval: Any
    files: FileStore
    idempotency: IdempotentCommands

    def _caller(self, request: Request) -> User:
        return self.identity.user(request.headers.get("Authorization"))

    # -- files --------------------------------------------------------------------------

    @api("POST", "/api/v1/files", summary="上传材料文件", response=FileView, status=201,
         tags=TAGS_FILES, upload_field="file")
    def upload_file(self, request: Request) -> Response:
        user = self._caller(request)
        if (request.content_length or 0) > upload_limit_bytes() + 64 * 1024:
            raise too_large()  # refused before a byte of the body is read
        request.max_content_length = upload_limit_bytes() + 64 * 1024
        try:
            upload = request.files.get("file")
        except RequestEntityTooLarge as exc:
            raise too_large() from exc
        if upload is None:
            raise BadRequestError("需要 multipart/form-data 的 file 字段")
        try:
            stored = self.files.save(upload.stream, upload.filename, owner=user.username)
        except FileTooLargeError as exc:
            raise too_large() from exc
        except UnsupportedFileTypeError as exc:
            raise UnsupportedMediaTypeError(str(exc)) from exc
        return json_response(stored.public(), status=201)

    @api("GET", "/api/v1/files/<file_id>", summary="下载材料文件(上传者或审批该办件的工作人员)",
         tags=TAGS_FILES, content_type=tuple(sorted(ALLOWED)))
    def download_file(self, request: Request, file_id: str) -> Response:
        user = self._caller(request)
        stored = self.files.get(file_id[:100])
        if stored is None or not (
            stored.owner == user.username
            or ask(self.approval, "file_visible_to", user.as_actor(), stored.file_id)
        ):
            raise NotFoundError("没有这个文件")
        return Response(self.files.read(stored), status=200, content_type=stored.content_type, headers={
            "Content-Disposition": "attachment; filename*=UTF-8''" + quote(stored.name),
        })

    def _own_files(self, user: User, materials: dict[str, str] | None) -> list[str]:
        return self.files.owned_by(user.username, list((materials or {}).values()))

    # -- cases --------------------------------------------------------------------------

    @api("POST", "/api/v1/cases", summary="在线申请办件", body=CaseSubmission, response=Case,
         status=201, tags=TAGS_CASES, idempotent=True)
    def submit_case(self, request: Request) -> Response:
        user = require_roles(self._caller(request), APPLICANT)
        body = parse_body(request, CaseSubmission)
        command = body.model_dump(mode="json")

        def submit(request_id: str | None) -> Response:
            case = ask(self.approval, "submit_case", user.as_actor(), command,
                       self._own_files(user, body.materials), **keyed(request_id))
            return json_response(case, status=201)

        return self.idempotency.answer(request, user.username, command, submit)

    @api("GET", "/api/v1/cases",
         summary="我的办件;工作人员:本部门参与的办件(新的在前;可选 limit≤200、offset 分页)",
         response=CaseList, query=CaseQuery, tags=TAGS_CASES)
    def list_cases(self, request: Request) -> Response:
        user = self._caller(request)
        page = parse_query(request, CaseQuery)
        return json_response(ask(self.approval, "case_page", user.as_actor(), page.limit, page.offset))

    @api("GET", "/api/v1/cases/<case_id>", summary="办件详情", response=Case, tags=TAGS_CASES)
    def get_case(self, request: Request, case_id: str) -> Response:
        user = self._caller(request)
        return json_response(ask(self.approval, "get_case", user.as_actor(), case_id[:100]))

    @api("POST", "/api/v1/cases/<case_id>/resubmit", summary="补正后重新提交", body=Resubmission,
         response=Case, tags=TAGS_CASES, errors=(409,), idempotent=True)
    def resubmit_case(self, request: Request, case_id: str) -> Response:
        user = self._caller(request)
        body = parse_body(request, Resubmission)
        command = body.model_dump(mode="json", exclude_none=True)

        def resubmit(request_id: str | None) -> Response:
            current = ask(self.approval, "get_case", user.as_actor(), case_id[:100])
            cited = {**current.get("materials", {}), **(body.materials or {})}
            case = ask(self.approval, "resubmit_case", user.as_actor(), case_id[:100], command,
                       self._own_files(user, cited), **keyed(request_id))
            return json_response(case)

        return self.idempotency.answer(request, user.username, command, resubmit)

    @api("POST", "/api/v1/cases/<case_id>/withdraw", summary="撤回办件", response=Case, tags=TAGS_CASES,
         errors=(409,))
    def withdraw_case(self, request: Request, case_id: str) -> Response:
        user = self._caller(request)
        return json_response(ask(self.approval, "withdraw_case", user.as_actor(), case_id[:100]))

    @api("POST", "/api/v1/cases/<case_id>/urge", summary="催办(每个节点每天一次)", response=UrgeResult,
         status=202, tags=TAGS_CASES, errors=(409, 429))
    def urge_case(self, request: Request, case_id: str) -> Response:
        user = self._caller(request)
        return json_response(ask(self.approval, "urge_case", user.as_actor(), case_id[:100]), status=202)

    @api("POST", "/api/v1/cases/<case_id>/trips", summary="登记一次现场跑动(办理部门工作人员)",
         body=TripRequest, response=Case, status=201, tags=TAGS_CASES)
    def record_trip(self, request: Request, case_id: str) -> Response:
        user = self._caller(request)
        body = parse_body(request, TripRequest)
        case = ask(self.approval, "record_trip", user.as_actor(), case_id[:100], body.model_dump(mode="json"))
        return json_response(case, status=201)

    @api("POST", "/api/v1/cases/<case_id>/rating", summary="评价办件(好差评)", body=RatingRequest,
         response=Case, status=201, tags=TAGS_CASES, errors=(409,))
    def rate_case(self, request: Request, case_id: str) -> Response:
        user = self._caller(request)
        body = parse_body(request, RatingRequest)
        case = ask(self.approval, "rate_case", user.as_actor(), case_id[:100], body.model_dump(mode="json"))
        return json_response(case, status=201)

    # -- tasks (the approver's inbox) -------------------------------------------------

    @api("GET", "/api/v1/tasks", summary="本部门待审批的节点,最早的在前", response=TaskList, tags=TAGS_TASKS)
    def list_tasks(self, request: Request) -> Response:
        user = self._caller(request)
        return json_response({"tasks": ask(self.approval, "list_tasks", user.as_actor())})

    @api("POST", "/api/v1/tasks/<task_id>/decision", summary="审批:通过、退回或不予通过",
         body=DecisionRequest, response=Case, tags=TAGS_TASKS, errors=(409,), idempotent=True)
    def decide_task(self, request: Request, task_id: str) -> Response:
        user = self._caller(request)
        body = parse_body(request, DecisionRequest)
        command = body.model_dump(mode="json")

        def decide(request_id: str | None) -> Response:
            case = ask(self.approval, "decide_task", user.as_actor(), task_id[:200], command,
                       **keyed(request_id))
            return json_response(case)

        return self.idempotency.answer(request, user.username, command, decide)

    @api("POST", "/api/v1/delegations", summary="委托同事代为审批(审批人)", body=DelegationRequest,
         response=DelegationView, status=201, tags=TAGS_TASKS)
    def delegate(self, request: Request) -> Response:
        user = self._caller(request)
        body = parse_body(request, DelegationRequest)
        return json_response(ask(self.approval, "delegate", user.as_actor(), body.model_dump(mode="json")),
                             status=201)

