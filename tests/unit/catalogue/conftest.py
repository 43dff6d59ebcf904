from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest

from services.catalogue.application import Actor, CatalogueApplication
from services.catalogue.demo import GONGFANG_ZHUANGXIU
from shared.contracts.catalogue import ItemDraft, ReviewRequest

GZC_EDITOR = Actor(
    username="gzc", name="国资处审批员", department="gzc", roles=["approver", "editor"]
)
JJC_EDITOR = Actor(
    username="jjc", name="基建处审批员", department="jjc", roles=["approver", "editor"]
)
OFFICE = Actor(username="office", name="学校办公室审核员", department="xb", roles=["reviewer"])
PARTY = Actor(username="party", name="机关党委发布员", department="jgdw", roles=["publisher"])
TEACHER = Actor(username="teacher1", name="李老师", department="hkxy", roles=["applicant"])
SUPERVISOR = Actor(
    username="discipline", name="纪委办公室监督员", department="jw", roles=["supervisor"]
)

PASS = ReviewRequest(decision="pass", comment="同意")


def gongfang(**changes: Any) -> dict[str, Any]:
    item = copy.deepcopy(GONGFANG_ZHUANGXIU)
    item.update(changes)
    return item


def gongfang_draft(**changes: Any) -> ItemDraft:
    return ItemDraft.model_validate(gongfang(**changes))


@pytest.fixture
def app() -> Iterator[CatalogueApplication]:
    application = CatalogueApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    yield application
    application.close()


def publish_gongfang(app: CatalogueApplication, **changes: Any) -> str:
    item_id = app.create_item(GZC_EDITOR, gongfang_draft(**changes))
    app.submit_item(GZC_EDITOR, item_id)
    app.review_item(OFFICE, item_id, PASS)
    app.publish_item(PARTY, item_id)
    return item_id
