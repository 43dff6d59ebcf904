"""The item versions cases are pinned to, learnt from the catalogue's ``item_published``
events and never asked of the catalogue."""
from __future__ import annotations

import copy
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from services.approval.domain import ItemVersion, PublishedItem, item_version_id, published_item_id
from services.approval.store import ApprovalStore
from shared.contracts.case_events import PinnedItem
from shared.errors import InvalidError, NotFoundError
from shared.eventstore import retry_on_conflict


class ItemLine(ApprovalStore):
    def learn_item(self, item: Mapping[str, Any], now: datetime | None = None) -> bool:
        pinned = PinnedItem.model_validate(item).model_dump(mode="json")
        moment = self._now(now)
        return retry_on_conflict(lambda: self._learn(pinned, moment))

    def _learn(self, pinned: dict[str, Any], now: datetime) -> bool:
        line = self._get_or_none(published_item_id(pinned["item_id"]))
        line = line or PublishedItem(item_id=pinned["item_id"], timestamp=now)
        if not line.learn(pinned["version"], now):
            return False
        version = ItemVersion(
            item_id=pinned["item_id"], item_version=pinned["version"], item=pinned, timestamp=now
        )
        self.save(line, version)
        return True

    def retire_item(
        self, item_id: str, version: int | None = None, now: datetime | None = None
    ) -> None:
        moment = self._now(now)

        def command() -> None:
            line = self._get_or_none(published_item_id(item_id))
            if line is not None:
                line.retire(version, moment)
                self.save(line)

        retry_on_conflict(command)

    def published_item(self, item_id: str) -> dict[str, Any]:
        line = self._get_or_none(published_item_id(item_id))
        if line is None or line.current_version is None:
            raise InvalidError(f"事项不存在或尚未发布：{item_id}")
        return self.item_version(item_id, line.current_version)

    def item_version(self, item_id: str, version: int) -> dict[str, Any]:
        pinned = self._get_or_none(item_version_id(item_id, version))
        if pinned is None:
            raise NotFoundError(f"没有事项 {item_id} 的第 {version} 版")
        return copy.deepcopy(pinned.item)
