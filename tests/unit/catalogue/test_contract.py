"""What the contract's models refuse, with messages that name the field."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from shared.contracts.catalogue import ItemDraft, ReviewRequest
from tests.unit.catalogue.conftest import gongfang


def errors_of(data: dict[str, Any]) -> list[tuple[str, str]]:
    with pytest.raises(ValidationError) as caught:
        ItemDraft.model_validate(data)
    return [(".".join(map(str, e["loc"])), e["msg"]) for e in caught.value.errors()]


def stages(*nodes: list[dict[str, Any]]) -> dict[str, Any]:
    return {"stages": [{"name": f"第{i}步", "nodes": n} for i, n in enumerate(nodes, 1)]}


def test_an_unknown_department_in_a_flow_is_named() -> None:
    found = errors_of(gongfang(flow=stages([{"department": "mars"}])))
    assert found == [("flow.stages.0.nodes.0.department", "Value error, 未知部门：mars")]


def test_an_empty_stage_is_refused() -> None:
    found = errors_of(gongfang(flow=stages([{"department": "gzc"}], [])))
    assert found == [("flow.stages.1.nodes", "Value error, 阶段不能为空：至少需要一个审批节点")]


def test_a_department_twice_in_one_stage_is_refused() -> None:
    found = errors_of(gongfang(flow=stages([{"department": "gzc"}, {"department": "gzc"}])))
    assert found == [("flow.stages.0.nodes", "Value error, 同一阶段中部门重复：国资处")]


def test_a_flow_needs_a_stage_and_unique_node_ids() -> None:
    assert errors_of(gongfang(flow={"stages": []})) == [
        ("flow.stages", "Value error, 流程至少需要一个阶段")
    ]
    twice = stages(
        [{"department": "gzc", "node_id": "n1"}], [{"department": "cwc", "node_id": "n1"}]
    )
    assert errors_of(gongfang(flow=twice)) == [("flow", "Value error, 节点编号重复：n1")]


def test_node_ids_default_to_stage_and_department() -> None:
    draft = ItemDraft.model_validate(gongfang())
    assert [n.node_id for s in draft.flow.stages for n in s.nodes][-2:] == ["s1-bmc", "s2-cwc"]


def test_a_name_of_10000_characters_wrong_types_and_unknown_fields_are_refused() -> None:
    found = dict(
        errors_of(gongfang(name="装" * 10_000, trips="1", time_limit_days=True, extra_field=1))
    )
    assert set(found) == {"name", "trips", "time_limit_days", "extra_field"}
    assert "200" in found["name"]


def test_trips_kind_mode_and_on_return_accept_only_their_values() -> None:
    item = gongfang(trips=3, target={"mode": "somewhere"})
    item["materials"][0]["kind"] = "video"
    item["flow"]["stages"][0]["on_return"] = "never"
    found = {loc for loc, _ in errors_of(item)}
    assert found == {"trips", "target.mode", "materials.0.kind", "flow.stages.0.on_return"}


def test_a_slug_is_lowercase_letters_digits_and_dashes() -> None:
    assert [loc for loc, _ in errors_of(gongfang(item_id="公房/装修"))] == ["item_id"]
    assert ItemDraft.model_validate(gongfang(item_id="gf-2026")).item_id == "gf-2026"


def test_material_names_are_unique_within_an_item() -> None:
    item = gongfang()
    item["materials"].append(dict(item["materials"][0]))
    assert errors_of(item) == [("materials", "Value error, 材料名称重复：审批表")]


def test_a_return_needs_a_comment_a_pass_does_not() -> None:
    with pytest.raises(ValidationError, match="退回时必须填写意见"):
        ReviewRequest.model_validate({"decision": "return"})
    assert ReviewRequest.model_validate({"decision": "pass"}).comment == ""
