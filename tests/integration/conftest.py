from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.gateway import Api
from tests.support.hall import running_hall
from tests.support.processes import ProcessGroup


@pytest.fixture
def hall(processes: ProcessGroup) -> Iterator[Api]:
    """The catalogue, approval and gateway running with the demo data, the items learnt."""
    yield from running_hall(processes)
