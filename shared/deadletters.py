"""The dead-letter queue for operators: ``python -m shared.deadletters list|replay``.

``replay`` sends each dead letter back to the queue it came from (header
``x-onetrip-queue``), once the cause is fixed; consumers apply it exactly once. Before it
does, it says so on ``onetrip.dead-letter.replayed`` (``shared.sightings``), so the
supervisor's pages stop listing it as waiting.
"""
from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from kombu import Connection, Exchange

from shared.config import Settings
from shared.messaging import (
    DEAD_LETTER_QUEUE,
    ERROR_HEADER,
    ID_HEADER,
    QUEUE_HEADER,
    REASON_HEADER,
    REPLAYED_EXCHANGE,
)
from shared.sightings import dead_letter_id, replay_notice

OUR_HEADERS = (QUEUE_HEADER, REASON_HEADER, ID_HEADER, ERROR_HEADER, "x-delivery-count")


def dead_letters(amqp_uri: str) -> list[dict[str, Any]]:
    """What waits in the dead-letter queue, without taking it out."""
    found = []
    with Connection(amqp_uri) as conn:
        channel = conn.channel()
        bound = DEAD_LETTER_QUEUE(channel)
        bound.declare()
        while (message := bound.get(no_ack=False)) is not None:
            headers = message.headers or {}
            found.append({"queue": headers.get(QUEUE_HEADER), "reason": headers.get(REASON_HEADER),
                          "error": headers.get(ERROR_HEADER), "bytes": len(message.body),
                          "id": dead_letter_id(headers, message.body)})
        channel.close()  # unacked messages go back to the queue
    return found


def replay(amqp_uri: str, queue: str | None = None) -> int:
    """Send dead letters (all, or those of one queue) back to their queues; returns how many."""
    sent = 0
    with Connection(amqp_uri, transport_options={"confirm_publish": True}) as conn:
        channel = conn.channel()
        bound = DEAD_LETTER_QUEUE(channel)
        bound.declare()
        REPLAYED_EXCHANGE(channel).declare()
        producer = conn.Producer(channel)
        kept = []
        while (message := bound.get(no_ack=False)) is not None:
            origin = (message.headers or {}).get(QUEUE_HEADER)
            if not origin or (queue and origin != queue):
                kept.append(message)
                continue
            _send_back(producer, message, origin)
            sent += 1
        for message in kept:
            message.requeue()
    return sent


def _send_back(producer: Any, message: Any, origin: str) -> None:
    """Announce the replay, then send the message back to its queue without our headers."""
    headers = message.headers or {}
    notice = replay_notice(headers, message.body)
    producer.publish(notice, exchange=REPLAYED_EXCHANGE, routing_key=origin, headers=notice,
                     serializer="json", delivery_mode=2)
    producer.publish(
        message.body, exchange=Exchange(""), routing_key=origin,
        headers={k: v for k, v in headers.items() if k not in OUR_HEADERS},
        content_type=message.content_type, content_encoding=message.content_encoding,
        delivery_mode=2,
    )
    message.ack()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m shared.deadletters")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="show what waits in onetrip.dead-letter")
    again = sub.add_parser("replay", help="send dead letters back to their queues")
    again.add_argument("--queue", help="only the dead letters of this queue")
    args = parser.parse_args(argv)
    uri = Settings().amqp_uri
    if args.command == "list":
        json.dump(dead_letters(uri), sys.stdout, ensure_ascii=False, indent=2)
        print()
    else:
        print(f"replayed {replay(uri, args.queue)} dead letters")


if __name__ == "__main__":
    main()
