"""The relay's confirms: a batch counts as published only when the broker acknowledged
every delivery of it, singly or many at once; a nack or silence fails the batch."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import Any

import pytest

from shared.relay import BatchConfirms, BrokerRefusedError


class Broker:
    """What a channel in confirm mode hears back: the frames, in order, one per read."""

    def __init__(self) -> None:
        self.frames: list[tuple[str, int, bool]] = []
        self.selected = False
        self.events: dict[str, set[Callable[..., None]]] = defaultdict(set)
        self.connection = self

    def confirm_select(self) -> None:
        self.selected = True

    def drain_events(self, timeout: float) -> None:
        if not self.frames:
            raise TimeoutError("no frame")  # what py-amqp raises as socket.timeout
        kind, tag, multiple = self.frames.pop(0)
        for callback in self.events[kind]:
            callback(tag, multiple)


def sent(count: int) -> tuple[Broker, BatchConfirms]:
    broker = Broker()
    confirms = BatchConfirms(broker)
    for _ in range(count):
        confirms.sent()
    return broker, confirms


def test_one_multiple_ack_confirms_a_whole_batch() -> None:
    broker, confirms = sent(5)
    broker.frames = [("basic_ack", 5, True)]
    confirms.wait(timeout=1)
    assert broker.selected and confirms.unconfirmed == set()


def test_single_and_multiple_acks_in_any_mix_confirm_every_tag() -> None:
    broker, confirms = sent(6)
    broker.frames = [("basic_ack", 2, False), ("basic_ack", 3, True), ("basic_ack", 6, False),
                     ("basic_ack", 5, True)]
    confirms.wait(timeout=1)
    assert confirms.unconfirmed == set()
    # and the next batch's tags carry on from where the channel is
    confirms.sent()
    assert confirms.unconfirmed == {7}


def test_an_unacknowledged_delivery_fails_the_batch() -> None:
    broker, confirms = sent(3)
    broker.frames = [("basic_ack", 2, True)]
    with pytest.raises(TimeoutError):
        confirms.wait(timeout=1)
    assert confirms.unconfirmed == {3}


@pytest.mark.parametrize("frames", [
    [("basic_nack", 1, False), ("basic_ack", 3, True)],
    [("basic_ack", 1, False), ("basic_nack", 3, True)],
])
def test_a_nack_fails_the_batch(frames: list[Any]) -> None:
    broker, confirms = sent(3)
    broker.frames = frames
    with pytest.raises(BrokerRefusedError):
        confirms.wait(timeout=1)
