from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import pytest

from services.approval.application import ApprovalApplication
from shared.workdays import SHANGHAI
from tests.unit.approval.support import IN_MEMORY, Clock, renovation_item


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2026, 11, 27, 9, 0, tzinfo=SHANGHAI))


@pytest.fixture
def app(clock: Clock) -> Iterator[ApprovalApplication]:
    application = ApprovalApplication(env=IN_MEMORY)
    application.learn_item(renovation_item(), now=clock.now())
    yield application
    application.close()
