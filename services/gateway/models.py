"""Request and response bodies of the gateway's own endpoints (the catalogue's live in
``shared.contracts.catalogue``)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from shared.contracts.catalogue import ItemSummary
from shared.departments import DEPARTMENTS
from shared.inputs import Admitted, WholeNumber, text_required_when
from shared.personal import EMAIL_PATTERN, PHONE_PATTERN
from shared.roles import Role

Username = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.@-]+$")]


class SessionRequest(Admitted):
    model_config = ConfigDict(str_strip_whitespace=False)

    username: Annotated[str, Field(min_length=1, max_length=64)]
    password: Annotated[str, Field(min_length=1, max_length=256)]


class UserView(BaseModel):
    username: str
    name: str
    department: str
    roles: list[Role]


class SessionView(BaseModel):
    token: str
    user: UserView


class AccountDraft(Admitted):
    model_config = ConfigDict(extra="forbid", frozen=True)

    username: Username
    name: Annotated[str, Field(min_length=1, max_length=50)]
    department: str
    roles: list[Role]
    phone: Annotated[str, Field(pattern=PHONE_PATTERN, max_length=20)]
    email: Annotated[str, Field(pattern=EMAIL_PATTERN, max_length=200)] | None = None

    @field_validator("department")
    @classmethod
    def _known_department(cls, code: str) -> str:
        if code not in DEPARTMENTS:
            raise ValueError(f"未知部门：{code}")
        return code


class DepartmentView(BaseModel):
    code: str
    name: str


class DepartmentList(BaseModel):
    departments: list[DepartmentView]


class ItemList(BaseModel):
    items: list[ItemSummary]


class ItemCreated(BaseModel):
    item_id: str
    status: Literal["draft"]


class StatusView(BaseModel):
    status: str


class Published(BaseModel):
    status: Literal["published"]
    version: int


class ImportRowError(BaseModel):
    row: int
    sheet: str | None = None
    detail: str


class ImportResult(BaseModel):
    created: list[str] = Field(description="导入成功的事项(新建或已有事项的新草稿)")
    revised: list[str] = Field(default_factory=list, description="其中已存在、成为新草稿的事项")
    errors: list[ImportRowError]


ServiceState = Literal["ok", "unavailable"]


class Health(BaseModel):
    status: ServiceState = Field(description="每个服务都在总线上应答时为 ok")
    services: dict[str, ServiceState]


class DelegationView(BaseModel):
    delegator: str
    delegate: str
    department: str
    starts_on: str
    ends_on: str


class RectificationRequest(Admitted):
    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra=text_required_when("action", ["complete", "request_invalid"], "text"),
    )
    action: Literal["start", "complete", "request_invalid", "rule_invalid", "rule_valid"] = Field(
        description="start 开始整改 · complete 整改完成(需 text 回复) · request_invalid 申请认定无效评价 · "
        "rule_invalid / rule_valid 监督员裁定"
    )
    text: Annotated[str, Field(max_length=5_000)] = ""


class CheckRequest(Admitted):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    item_id: Annotated[str, Field(min_length=1, max_length=100)]
    checker: Annotated[str, Field(min_length=1, max_length=100, description="体验人(教职工或学生)")]
    trips: Annotated[int, Field(ge=0, le=50, description="实际跑动次数"), WholeNumber]
    minutes: Annotated[int, Field(ge=0, le=100_000, description="实际耗时(分钟)"), WholeNumber]
    findings: Annotated[str, Field(max_length=5_000)] = ""
