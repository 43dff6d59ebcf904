"""How fast notify turns approval events into SMS accepted by the provider.

    .venv/bin/python bench/notify.py [--events 500] [--paced 200 --rate 20]

In one run, on a throwaway database and RabbitMQ vhost (both removed afterwards), with
the real gateway (directory), notify and local SMS gateway processes:
  (d2) the backbone's consumer service (tally) consuming a relayed backlog, events/s —
       the ceiling any consumer on this machine starts from;
  (n1) notify: a backlog of ``case_approved`` events (one SMS + one inbox message each)
       published at once, until the SMS gateway accepted every SMS: notifications/s;
  (n2) notify at a steady ``--rate`` events/s: latency from publishing an event to the
       SMS gateway accepting its SMS, p50 / p99 / max.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kombu import Connection, Exchange

from bench.backbone import (
    PING,
    TALLY,
    Measurement,
    consumed,
    declare_tally_queue,
    describe_machine,
    ping_application,
    print_machine,
    relayed,
    saves,
    service_env,
    service_processes,
    throwaway_database,
    throwaway_vhost,
)
from shared.config import DEFAULTS, Settings
from shared.contracts import IntegrationEvent
from tests.support.gateway import free_port
from tests.support.notify import SmsGateway
from tests.support.processes import eventually

APPLICANTS = ("teacher1", "teacher2", "student1")
CASE_QUEUE = "evt-approval-all--notify.on_case_event"
EXCHANGE = Exchange("approval.events", type="topic", durable=True)


def approved(number: int) -> IntegrationEvent:
    case_id = str(uuid.uuid4())
    now = datetime.now(UTC)
    data = {
        "case_id": case_id, "item_id": "gongfang-zhuangxiu", "item_name": "公房装修改造申请",
        "applicant": APPLICANTS[number % len(APPLICANTS)], "lead_department": "gzc",
        "departments": ["gzc"], "at": now.isoformat(), "item_version": 1, "round": 1,
        "closed_at": now.isoformat(), "trip_count": 0, "trips_promised": 0,
    }
    return IntegrationEvent.build(
        type="case_approved", service="approval", aggregate_id=case_id, aggregate_version=9,
        notification_id=number, occurred_at=now, actor="cwc", data=data,
    )


class Publisher:
    def __init__(self, amqp_uri: str) -> None:
        self.conn = Connection(amqp_uri, transport_options={"confirm_publish": True})
        self.producer = self.conn.Producer(exchange=EXCHANGE)
        self.sent_at: dict[str, float] = {}

    def publish(self, event: IntegrationEvent) -> None:
        self.sent_at[event.data["case_id"]] = time.time()
        self.producer.publish(event.to_wire(), routing_key=event.type, serializer="json", delivery_mode=2)

    def close(self) -> None:
        self.conn.release()


def case_of(text: str, cases: dict[str, float]) -> str | None:
    return next((case for case in cases if case in text), None)


def accepted(sms: SmsGateway, target: int) -> list[dict[str, Any]]:
    def enough() -> list[dict[str, Any]] | None:
        found = sms.messages()
        return found if len(found) >= target else None

    return list(eventually(enough, timeout=600, interval=0.2))


def backlog(sms: SmsGateway, publisher: Publisher, events: int, first: int) -> Measurement:
    for number in range(first, first + events):
        publisher.publish(approved(number))
    started = min(publisher.sent_at.values())
    messages = accepted(sms, events)
    return Measurement("(n1) notify backlog: event → SMS accepted", events, messages[-1]["received_at"] - started)


def paced(sms: SmsGateway, publisher: Publisher, events: int, rate: float, first: int, before: int) -> list[float]:
    publisher.sent_at.clear()
    for number in range(first, first + events):
        publisher.publish(approved(number))
        time.sleep(1.0 / rate)
    messages = accepted(sms, before + events)
    latencies = []
    for message in messages[before:]:
        case = case_of(message["text"], publisher.sent_at)
        if case is not None:
            latencies.append(message["received_at"] - publisher.sent_at[case])
    return sorted(latencies)


def percentile(values: list[float], share: float) -> float:
    return values[min(len(values) - 1, round(share * (len(values) - 1)))]


def run(base_db: str, base_amqp: str, events: int, paced_events: int, rate: float) -> None:
    with ExitStack() as stack:
        database_url = stack.enter_context(throwaway_database(base_db))
        amqp_uri = stack.enter_context(throwaway_vhost(base_amqp))
        print_machine(describe_machine(database_url, amqp_uri))
        env = service_env(database_url, amqp_uri)
        sms = SmsGateway(Path(tempfile.mkdtemp(prefix="onetrip-bench-sms-")), env)
        stack.callback(sms.stop)
        env.update(ONETRIP_SMS_URL=sms.url + "/v1/sms", PORT=str(free_port()))
        start = stack.enter_context(service_processes(env))
        settings = Settings(amqp_uri=amqp_uri, database_url=database_url)
        app = ping_application(settings)
        stack.callback(app.close)

        saves(app, events)
        declare_tally_queue(amqp_uri)
        relayed(start(PING), database_url, app.recorder.max_notification_id())
        backbone = consumed(start(TALLY), database_url, events)
        print(f"  {backbone.name}: {backbone.per_second:,.0f}/s", file=sys.stderr, flush=True)

        start("gateway").wait_for_queue("rpc-gateway", timeout=120)
        notify = start("notify").wait_for_queue(CASE_QUEUE, timeout=120)
        publisher = Publisher(amqp_uri)
        stack.callback(publisher.close)
        warm = backlog(sms, publisher, 10, 1)  # first RPCs, connections, caches
        burst = backlog(sms, publisher, events, 11)
        latencies = paced(sms, publisher, paced_events, rate, 11 + events, 10 + events)
        notify.alive()
        report(backbone, burst, latencies, rate, warm)


def report(backbone: Measurement, burst: Measurement, latencies: list[float], rate: float, warm: Measurement) -> None:
    print()
    print(f"{'benchmark':<46} {'events':>7} {'seconds':>8} {'per s':>8} {'÷ (d2)':>7}")
    print("-" * 80)
    for row in (backbone, burst):
        print(f"{row.name:<46} {row.events:>7} {row.seconds:>8.2f} {row.per_second:>8,.0f} "
              f"{row.per_second / backbone.per_second:>7.2f}")
    print(f"(n2) at {rate:g} events/s, event → SMS accepted ({len(latencies)} SMS): "
          f"p50 {1000 * statistics.median(latencies):.0f} ms, p99 {1000 * percentile(latencies, 0.99):.0f} ms, "
          f"max {1000 * latencies[-1]:.0f} ms")
    print("each case_approved event queues 2 notifications (sms + inbox); (n1) counts events = SMS")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=500)
    parser.add_argument("--paced", type=int, default=200)
    parser.add_argument("--rate", type=float, default=20.0)
    args = parser.parse_args()
    run(
        os.environ.get("DATABASE_URL") or DEFAULTS["DATABASE_URL"],
        os.environ.get("AMQP_URI") or DEFAULTS["AMQP_URI"],
        args.events, args.paced, args.rate,
    )


if __name__ == "__main__":
    main()
