"""Each action on files, cases and tasks, written once: it takes the user and a validated
command and asks the approval service. The JSON routes and the pages both call these and
only shape the answer (JSON, or a page, a redirect)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from werkzeug.datastructures import FileStorage

from services.gateway.auth import User, needs
from services.gateway.backends import Service, ask
from services.gateway.files import (
    FileStore,
    FileTooLargeError,
    StoredFile,
    UnsupportedFileTypeError,
    upload_limit_bytes,
)
from services.gateway.http import BadRequestError, PayloadTooLargeError, UnsupportedMediaTypeError
from services.gateway.idempotency import keyed
from shared.contracts import approval as contract
from shared.errors import NotFoundError
from shared.roles import APPLICANT

Case = dict[str, Any]
CASE_ID_MAX, TASK_ID_MAX = 100, 200


def too_large() -> PayloadTooLargeError:
    return PayloadTooLargeError(f"文件超过 {upload_limit_bytes() // (1024 * 1024)} MB")


@dataclass(frozen=True)
class CaseActions:
    approval: Service
    files: FileStore

    def _ask(self, method: str, user: User, *args: Any, **kwargs: Any) -> Any:
        return ask(self.approval, method, user.as_actor(), *args, **kwargs)

    def _own_files(self, user: User, materials: dict[str, str] | None) -> list[str]:
        return self.files.owned_by(user.username, list((materials or {}).values()))

    # -- files --------------------------------------------------------------------------

    def upload(self, user: User, upload: FileStorage | None) -> StoredFile:
        if upload is None:
            raise BadRequestError("需要 multipart/form-data 的 file 字段")
        try:
            return self.files.save(upload.stream, upload.filename, owner=user.username)
        except FileTooLargeError as exc:
            raise too_large() from exc
        except UnsupportedFileTypeError as exc:
            raise UnsupportedMediaTypeError(str(exc)) from exc

    def download(self, user: User, file_id: str) -> tuple[StoredFile, bytes]:
        """A file for its uploader, or for staff deciding a case that cites it."""
        stored = self.files.get(file_id[:100])
        if stored is None or not (
            stored.owner == user.username
            or self._ask("file_visible_to", user, stored.file_id)
        ):
            raise NotFoundError("没有这个文件")
        return stored, self.files.read(stored)

    # -- cases --------------------------------------------------------------------------

    @needs(APPLICANT)
    def submit(self, user: User, command: contract.CaseSubmission, request_id: str | None = None) -> Case:
        return self._ask("submit_case", user, command.model_dump(mode="json"),
                         self._own_files(user, command.materials), **keyed(request_id))

    def cases(self, user: User, limit: int | None, offset: int) -> dict[str, Any]:
        return self._ask("case_page", user, limit, offset)

    def case(self, user: User, case_id: str) -> Case:
        return self._ask("get_case", user, case_id[:CASE_ID_MAX])

    def resubmit(
        self, user: User, case_id: str, command: contract.Resubmission,
        request_id: str | None = None, current: Case | None = None,
    ) -> Case:
        """The files the case goes on citing must be the applicant's own, those it cited
        before (``current``, read here unless the caller has it) included."""
        current = current or self.case(user, case_id)
        cited = {**current.get("materials", {}), **(command.materials or {})}
        return self._ask(
            "resubmit_case", user, current["case_id"],
            command.model_dump(mode="json", exclude_none=True), self._own_files(user, cited),
            **keyed(request_id),
        )

    def withdraw(self, user: User, case_id: str) -> Case:
        return self._ask("withdraw_case", user, case_id[:CASE_ID_MAX])

    def urge(self, user: User, case_id: str) -> dict[str, Any]:
        return self._ask("urge_case", user, case_id[:CASE_ID_MAX])

    def record_trip(self, user: User, case_id: str, command: contract.TripRequest) -> Case:
        return self._ask(
            "record_trip", user, case_id[:CASE_ID_MAX], command.model_dump(mode="json")
        )

    def rate(self, user: User, case_id: str, command: contract.RatingRequest) -> Case:
        return self._ask(
            "rate_case", user, case_id[:CASE_ID_MAX], command.model_dump(mode="json")
        )

    # -- tasks and delegation -----------------------------------------------------------

    def tasks(self, user: User) -> list[dict[str, Any]]:
        return list(self._ask("list_tasks", user))

    def case_tasks(self, user: User, case_id: str) -> list[dict[str, Any]]:
        """The tasks of this case the user decides, as the approval service rules."""
        return list(self._ask("case_tasks", user, case_id[:CASE_ID_MAX]))

    def decide(
        self, user: User, task_id: str, command: contract.DecisionRequest, request_id: str | None = None
    ) -> Case:
        return self._ask(
            "decide_task", user, task_id[:TASK_ID_MAX], command.model_dump(mode="json"),
            **keyed(request_id),
        )

    def delegate(self, user: User, command: contract.DelegationRequest) -> dict[str, Any]:
        return self._ask("delegate", user, command.model_dump(mode="json"))

    def delegations(self, user: User) -> list[dict[str, Any]]:
        return list(self._ask("delegations", user))
