"""The catalogue (服务事项清单) as the public HTTP API and the bus see it.

The gateway validates request bodies with these models and builds its OpenAPI document
from them; the catalogue service validates its RPC arguments with the same models.
Integration events: ``item_published`` carries a full ``Item`` (the approval service
learns items only from it); the other lifecycle events carry the small models below.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import (
    ConfigDict,
    Field,
    StrictBool,
    ValidationInfo,
    field_validator,
    model_validator,
)

from shared.contracts.answers import Response
from shared.departments import DEPARTMENTS
from shared.inputs import Admitted, Day, WholeNumber, text_required_when

SLUG_PATTERN = r"^[a-z0-9][a-z0-9-]{1,62}$"
NODE_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"
NAME_MAX = 200
TEXT_MAX = 5_000
SHORT_MAX = 500
LIST_MAX = 50
STAGES_MAX = 20
NODES_MAX = 30
TIME_LIMIT_MAX = 365

Status = Literal["draft", "submitted", "returned", "reviewed", "published", "retired"]
Mode = Literal["online", "offline"]
MaterialKind = Literal["form", "file", "paper"]
OnReturn = Literal["restart_stage", "returning_node_only"]
Decision = Literal["pass", "return"]

Slug = Annotated[
    str, Field(pattern=SLUG_PATTERN, description="小写字母、数字和连字符，2–63 个字符")
]
Name = Annotated[str, Field(min_length=1, max_length=NAME_MAX)]
Text = Annotated[str, Field(max_length=TEXT_MAX)]
Short = Annotated[str, Field(max_length=SHORT_MAX)]
Trips = Annotated[
    int, Field(ge=0, le=2, description="0 一趟不用跑，1 最多跑一趟，2 需跑多趟"), WholeNumber
]
WorkingDays = Annotated[int, Field(ge=0, le=TIME_LIMIT_MAX, description="工作日"), WholeNumber]
Department = Annotated[
    str,
    Field(
        min_length=1,
        max_length=20,
        description="部门代码，如 gzc",
        json_schema_extra={"enum": list(DEPARTMENTS)},
    ),
]


def known_department(code: str) -> str:
    if code not in DEPARTMENTS:
        raise ValueError(f"未知部门：{code}")
    return code


class Request(Admitted):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Material(Request):
    name: Name
    kind: MaterialKind
    required: StrictBool = True
    template: Short = Field(default="", description="模板下载地址或在线办理路径")
    notes: Text = ""


class Coordination(Request):
    department: Department
    matter: Text

    _known = field_validator("department")(known_department)


class Target(Request):
    date: Day | None = None
    mode: Mode = "online"


class Contact(Request):
    department: Department
    name: Annotated[str, Field(min_length=1, max_length=50)]
    phone: Annotated[
        str,
        Field(min_length=3, max_length=40, pattern=r"^[0-9+()\- ]+$", examples=["010-82317114"]),
    ]

    _known = field_validator("department")(known_department)


class Node(Request):
    node_id: Annotated[str, Field(pattern=NODE_ID_PATTERN, examples=["s1-gzc"])] | None = Field(
        default=None, description="节点编号，在整个流程内唯一；不填则按阶段和部门生成"
    )
    department: Department
    time_limit_days: WorkingDays = 2

    _known = field_validator("department")(known_department)


class Stage(Request):
    name: Annotated[str, Field(min_length=1, max_length=100)]
    nodes: list[Node] = Field(
        max_length=NODES_MAX, description="本阶段并行审批的节点", json_schema_extra={"minItems": 1}
    )
    on_return: OnReturn = "restart_stage"

    @field_validator("nodes")
    @classmethod
    def _departments_once(cls, nodes: list[Node]) -> list[Node]:
        if not nodes:
            raise ValueError("阶段不能为空：至少需要一个审批节点")
        seen: set[str] = set()
        for node in nodes:
            if node.department in seen:
                raise ValueError(f"同一阶段中部门重复：{DEPARTMENTS[node.department]}")
            seen.add(node.department)
        return nodes


class Flow(Request):
    stages: list[Stage] = Field(max_length=STAGES_MAX, json_schema_extra={"minItems": 1})

    @field_validator("stages")
    @classmethod
    def _at_least_one_stage(cls, stages: list[Stage]) -> list[Stage]:
        if not stages:
            raise ValueError("流程至少需要一个阶段")
        return stages

    @model_validator(mode="after")
    def _node_ids_unique(self) -> Flow:
        seen: set[str] = set()
        for number, stage in enumerate(self.stages, start=1):
            for node in stage.nodes:
                node.node_id = node.node_id or f"s{number}-{node.department}"
                if node.node_id in seen:
                    raise ValueError(f"节点编号重复：{node.node_id}")
                seen.add(node.node_id)
        return self


class ItemContent(Request):
    """What an editor writes: every field of an item but its identity and lifecycle."""

    name: Name
    description: Text = ""
    current_state: Text = ""
    coordination: list[Coordination] = Field(default_factory=list, max_length=LIST_MAX)
    target: Target = Field(default_factory=Target)
    materials: list[Material] = Field(default_factory=list, max_length=LIST_MAX)
    notes: list[Annotated[str, Field(min_length=1, max_length=1_000)]] = Field(
        default_factory=list, max_length=LIST_MAX
    )
    contacts: list[Contact] = Field(default_factory=list, max_length=LIST_MAX)
    trips: Trips
    one_trip_note: Text = ""
    time_limit_days: WorkingDays
    lead_department: Department | None = Field(default=None, description="主责单位")
    flow: Flow

    _known_lead = field_validator("lead_department")(
        lambda code: None if code is None else known_department(code)
    )

    @field_validator("materials")
    @classmethod
    def _material_names_unique(cls, materials: list[Material]) -> list[Material]:
        names = [material.name for material in materials]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"材料名称重复：{'、'.join(duplicates)}")
        return materials


class ItemDraft(ItemContent):
    """The body of ``POST /api/v1/items`` and ``PUT /api/v1/items/{item_id}``."""

    item_id: Slug | None = Field(default=None, description="事项编号；不填则自动生成")
    department: Department | None = Field(
        default=None, description="只能是编辑本人所在部门；不填即为本人部门"
    )

    _known_department = field_validator("department")(
        lambda code: None if code is None else known_department(code)
    )

    def content(self) -> ItemContent:
        return ItemContent.model_validate(self.model_dump(exclude={"item_id", "department"}))


class ReviewRequest(Request):
    model_config = ConfigDict(json_schema_extra=text_required_when("decision", ["return"], "comment"))

    decision: Decision
    comment: Text = Field(default="", validate_default=True)
    lead_department: Department | None = Field(default=None, description="审核时指定主责单位")

    _known_lead = field_validator("lead_department")(
        lambda code: None if code is None else known_department(code)
    )

    @field_validator("comment")
    @classmethod
    def _return_needs_comment(cls, comment: str, info: ValidationInfo) -> str:
        if info.data.get("decision") == "return" and not comment:
            raise ValueError("退回时必须填写意见")
        return comment


class ItemSummary(Response):
    item_id: str
    name: str
    department: str
    trips: int
    mode: Mode
    version: int


class Item(ItemSummary):
    """``version``: the published version number; a working copy has the number it will get."""

    status: Status
    description: str
    current_state: str
    coordination: list[Coordination]
    target: Target
    materials: list[Material]
    notes: list[str]
    contacts: list[Contact]
    time_limit_days: int
    one_trip_note: str
    lead_department: str | None
    flow: Flow
    review_comment: str = ""


# -- integration events (data of the envelope in shared.contracts.envelope) -----------


class ItemChanged(Response):
    """``item_drafted`` and ``item_revised``."""

    item_id: str
    name: str
    department: str


class ItemSubmitted(Response):
    item_id: str
    department: str


class ItemReviewed(Response):
    """``item_reviewed`` and ``item_returned``."""

    item_id: str
    department: str
    comment: str
    lead_department: str | None


class ItemRetired(Response):
    item_id: str
    department: str
    version: int


ItemPublished = Item

ITEM_EVENT_DATA: dict[str, type[Response]] = {
    "item_drafted": ItemChanged,
    "item_revised": ItemChanged,
    "item_submitted": ItemSubmitted,
    "item_reviewed": ItemReviewed,
    "item_returned": ItemReviewed,
    "item_published": ItemPublished,
    "item_retired": ItemRetired,
}
