"""The Files, Cases and Tasks sections of the contract (办件): apply online, decide, follow up.
Each route reads the request, calls its action (``case_actions``) and answers JSON."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict
from werkzeug.datastructures import FileStorage
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wrappers import Request, Response

from services.gateway import http
from services.gateway.auth import admitted
from services.gateway.base import Gateway
from services.gateway.case_actions import too_large
from services.gateway.files import ALLOWED, upload_limit_bytes
from services.gateway.models import DelegationView
from shared.contracts import approval as contract

api, json_response, parse_body = http.api, http.json_response, http.parse_body
TAGS_FILES, TAGS_CASES, TAGS_TASKS = ["files"], ["cases"], ["tasks"]
FORM_ALLOWANCE = 64 * 1024  # the multipart envelope around the file


class FileView(BaseModel):
    file_id: str
    name: str
    size: int
    sha256: str
    content_type: str


class CaseQuery(contract.CasePage):
    """``?limit=&offset=``; other parameters are not this route's and are left alone."""

    model_config = ConfigDict(extra="ignore")


class UrgeResult(BaseModel):
    case_id: str
    urged: list[str]


def uploaded_file(request: Request, field: str = "file") -> FileStorage | None:
    """The file sent in ``field``, refused unread when the body says it is too large."""
    limit = upload_limit_bytes() + FORM_ALLOWANCE
    if (request.content_length or 0) > limit:
        raise too_large()
    request.max_content_length = limit
    try:
        return request.files.get(field)
    except RequestEntityTooLarge as exc:
        raise too_large() from exc


def attachment(content: bytes, content_type: str, filename: str) -> Response:
    disposition = "attachment; filename*=UTF-8''" + quote(filename)
    return Response(content, status=200, content_type=content_type,
                    headers={"Content-Disposition": disposition})


class CaseRoutes(Gateway):
    def _keyed(self, request: Request, act: Callable[..., Any], model: type[BaseModel],
               *args: Any, status: int = 200, **dumped: Any) -> Response:
        """``act(user, *args, body, request_id)`` with the body read as ``model``: once for an
        ``Idempotency-Key``, a retry getting the first answer (``idempotency``)."""
        user = admitted(self._user(request), act)
        body = parse_body(request, model)
        command = body.model_dump(mode="json", **dumped)
        return self.idempotency.answer(request, user.username, command, lambda request_id:
                                       json_response(act(user, *args, body, request_id), status=status))

    # -- files --------------------------------------------------------------------------

    @api("POST", "/api/v1/files", summary="上传材料文件", response=FileView, status=201,
         tags=TAGS_FILES, upload_field="file")
    def upload_file(self, request: Request) -> Response:
        user = self._user(request)
        return json_response(self.cases.upload(user, uploaded_file(request)).public(), status=201)

    @api("GET", "/api/v1/files/<file_id>", summary="下载材料文件(上传者或审批该办件的工作人员)",
         tags=TAGS_FILES, content_type=tuple(sorted(ALLOWED)))
    def download_file(self, request: Request, file_id: str) -> Response:
        stored, content = self.cases.download(self._user(request), file_id)
        return attachment(content, stored.content_type, stored.name)

    # -- cases --------------------------------------------------------------------------

    @api("POST", "/api/v1/cases", summary="在线申请办件", body=contract.CaseSubmission,
         response=contract.Case, status=201, tags=TAGS_CASES, idempotent=True)
    def submit_case(self, request: Request) -> Response:
        return self._keyed(request, self.cases.submit, contract.CaseSubmission, status=201)

    @api("GET", "/api/v1/cases",
         summary="我的办件;工作人员:本部门参与的办件(新的在前;可选 limit≤200、offset 分页)",
         response=contract.CaseList, query=CaseQuery, tags=TAGS_CASES)
    def list_cases(self, request: Request) -> Response:
        user = self._user(request)
        page = http.parse_query(request, CaseQuery)
        return json_response(self.cases.cases(user, page.limit, page.offset))

    @api("GET", "/api/v1/cases/<case_id>", summary="办件详情", response=contract.Case,
         tags=TAGS_CASES)
    def get_case(self, request: Request, case_id: str) -> Response:
        return json_response(self.cases.case(self._user(request), case_id))

    @api("POST", "/api/v1/cases/<case_id>/resubmit", summary="补正后重新提交",
         body=contract.Resubmission, response=contract.Case, tags=TAGS_CASES, errors=(409,),
         idempotent=True)
    def resubmit_case(self, request: Request, case_id: str) -> Response:
        return self._keyed(request, self.cases.resubmit, contract.Resubmission, case_id,
                           exclude_none=True)

    @api("POST", "/api/v1/cases/<case_id>/withdraw", summary="撤回办件", response=contract.Case,
         tags=TAGS_CASES, errors=(409,))
    def withdraw_case(self, request: Request, case_id: str) -> Response:
        return json_response(self.cases.withdraw(self._user(request), case_id))

    @api("POST", "/api/v1/cases/<case_id>/urge", summary="催办(每个节点每天一次)", status=202,
         response=UrgeResult, tags=TAGS_CASES, errors=(409, 429))
    def urge_case(self, request: Request, case_id: str) -> Response:
        return json_response(self.cases.urge(self._user(request), case_id), status=202)

    @api("POST", "/api/v1/cases/<case_id>/trips", summary="登记一次现场跑动(办理部门工作人员)",
         body=contract.TripRequest, response=contract.Case, status=201, tags=TAGS_CASES)
    def record_trip(self, request: Request, case_id: str) -> Response:
        user = self._user(request)
        trip = parse_body(request, contract.TripRequest)
        return json_response(self.cases.record_trip(user, case_id, trip), status=201)

    @api("POST", "/api/v1/cases/<case_id>/rating", summary="评价办件(好差评)", status=201,
         body=contract.RatingRequest, response=contract.Case, tags=TAGS_CASES, errors=(409,))
    def rate_case(self, request: Request, case_id: str) -> Response:
        user = self._user(request)
        return json_response(self.cases.rate(user, case_id, parse_body(request, contract.RatingRequest)),
                             status=201)

    # -- tasks (the approver's inbox) -------------------------------------------------

    @api("GET", "/api/v1/tasks", summary="本部门待审批的节点,最早的在前",
         response=contract.TaskList, tags=TAGS_TASKS)
    def list_tasks(self, request: Request) -> Response:
        return json_response({"tasks": self.cases.tasks(self._user(request))})

    @api("POST", "/api/v1/tasks/<task_id>/decision", summary="审批:通过、退回或不予通过",
         body=contract.DecisionRequest, response=contract.Case, tags=TAGS_TASKS, errors=(409,),
         idempotent=True)
    def decide_task(self, request: Request, task_id: str) -> Response:
        return self._keyed(request, self.cases.decide, contract.DecisionRequest, task_id)

    @api("POST", "/api/v1/delegations", summary="委托同事代为审批(审批人)", status=201,
         body=contract.DelegationRequest, response=DelegationView, tags=TAGS_TASKS)
    def delegate(self, request: Request) -> Response:
        user = self._user(request)
        delegation = parse_body(request, contract.DelegationRequest)
        return json_response(self.cases.delegate(user, delegation), status=201)
