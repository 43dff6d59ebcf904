"""The dead-letter queue for operators: ``python -m shared.deadletters list|replay``.

``replay`` sends each dead letter back to the queue it came from (header
``x-onetrip-queue``), once the cause is fixed; consumers apply it exactly once.
"""
from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from kombu import Connection, Exchange

from shared.config import env
from shared.messaging import DEAD_LETTER_QUEUE

OUR_HEADERS = ("x-onetrip-queue", "x-onetrip-reason", "x-delivery-count")


def dead_letters(amqp_uri: str) -> list[dict[str, Any]]:
    """What waits in the dead-letter queue, without taking it out."""
    found = []
    with Connection(amqp_uri) as conn:
        channel = conn.channel()
        bound = DEAD_LETTER_QUEUE(channel)
        bound.declare()
        while (message := bound.get(no_ack=False)) is not None:
            headers = message.headers or {}
            found.append({"queue": headers.get("x-onetrip-queue"), "reason": headers.get("x-onetrip-reason"),
                          "bytes": len(message.body)})
        channel.close()  # unacked messages go back to the queue
    return found


def replay(amqp_uri: str, queue: str | None = None) -> int:
    """Send dead letters (all, or those of one queue) back to their queues; returns how many."""
    sent = 0
    with Connection(amqp_uri, transport_options={"confirm_publish": True}) as conn:
        channel = conn.channel()
        bound = DEAD_LETTER_QUEUE(channel)
        bound.declare()
        producer = conn.Producer(channel)
        kept = []
        while (message := bound.get(no_ack=False)) is not None:
            origin = (message.headers or {}).get("x-onetrip-queue")
            if not origin or (queue and origin != queue):
                kept.append(message)
                continue
            headers = {k: v for k, v in (message.headers or {}).items() if k not in OUR_HEADERS}
            producer.publish(
                message.body, exchange=Exchange(""), routing_key=origin, headers=headers,
                content_type=message.content_type, content_encoding=message.content_encoding,
                delivery_mode=2,
            )
            message.ack()
            sent += 1
        for message in kept:
            message.requeue()
    return sent


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m shared.deadletters")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="show what waits in onetrip.dead-letter")
    again = sub.add_parser("replay", help="send dead letters back to their queues")
    again.add_argument("--queue", help="only the dead letters of this queue")
    args = parser.parse_args(argv)
    uri = env("AMQP_URI")
    if args.command == "list":
        json.dump(dead_letters(uri), sys.stdout, ensure_ascii=False, indent=2)
        print()
    else:
        print(f"replayed {replay(uri, args.queue)} dead letters")


if __name__ == "__main__":
    main()
