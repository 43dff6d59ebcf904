"""The demo flow (公房装修改造申请) through the gateway, against the raw speed of PostgreSQL.

    .venv/bin/python bench/approval.py [--workers 2,4,8] [--seconds 20] [--cases 400]
                                       [--profile DIR] [--sequential] [--consumers]
                                       [--approval-instances N]

In one run, on a throwaway database and RabbitMQ vhost (both removed afterwards), with the
real catalogue, approval and gateway processes (``python -m shared.runner``, demo data on;
``--consumers`` adds notify and audit, which then consume every event):
  (a) raw psycopg single-row INSERT commits/s, as ``bench/backbone.py`` measures it;
  (b) complete demo cases/s at full load: each of ``--workers`` applicants in a closed loop
      submits a complete case (``POST /api/v1/cases``, the two drawings uploaded once
      beforehand), then the six approvers of 并行审批 decide at the same moment, each on
      their own connection (``POST /api/v1/tasks/{task_id}/decision``), then 财务处; every
      case must end ``approved``. Repeated for each worker count; the best is the maximum.
  (c) the same flow at half that maximum, cases started at a steady rate (open loop):
      decision p50/p99 there is the latency a user sees at a moderate load;
  (d) the approval application alone, in-process in a plain thread, one case at a time
      (no HTTP, RPC or eventlet), each command followed by the inbox catch-up as in the
      service: the floor the service stack adds to;
  (a') the raw INSERT again, to show how much the shared machine drifted meanwhile.
The task ids come from the case the approver's decision acts on (the case view carries
them), so a case costs exactly 8 commands through the gateway: 1 submit and 7 decisions.
Each row is bounded by --cases and --seconds; --profile DIR has py-spy record the approval
and gateway processes during the last full-load row.
"""
from __future__ import annotations

import argparse
import os
import signal
import statistics
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._support import (
    Budget,
    Client,
    CpuMeter,
    Hall,
    Timings,
    describe_cores,
    describe_machine,
    hall,
    hall_env,
    in_threads,
    load_average,
    login,
    print_machine,
    profiled,
    progress,
    raw_inserts,
    throwaway_database,
    throwaway_vhost,
    top_functions,
)
from services.approval.application import ApprovalApplication
from services.approval.inbox import TaskInbox
from services.catalogue.demo import GONGFANG_ZHUANGXIU
from services.catalogue.domain import as_item
from shared.config import DEFAULTS, Settings
from shared.eventstore import application_env, ensure_schema
from tests.support.hall import DEMO_ITEMS, ITEM, PARALLEL, PDF, PNG, items_learnt
from tests.support.processes import eventually, queue_consumers

APPLICANTS = ("teacher1", "teacher2", "student1")
FINANCE = "cwc"
RAW_ROWS = 2000
FORM = {"房间": "航空楼 301", "内容": "更换地面、改造网络线路"}


@dataclass
class Flow:
    """Timings of one load level: complete cases, and each kind of request within them."""

    name: str
    cases: Timings
    submits: Timings = field(default_factory=lambda: Timings("submit"))
    decisions: Timings = field(default_factory=lambda: Timings("decision"))
    cores: dict[str, float] = field(default_factory=dict)
    offered: float | None = None  # cases/s started, for the open loop


@dataclass
class Tokens:
    applicants: dict[str, str]
    approvers: dict[str, str]
    materials: dict[str, dict[str, str]]  # applicant → material name → file id


# -- one applicant's seat: its connections, reused case after case ----------------------------


class Desk:
    """An applicant and the seven approvers, each on their own keep-alive connection."""

    def __init__(self, port: int, tokens: Tokens, applicant: str, parallel: bool = True) -> None:
        self.at_once = parallel
        self.applicant = Client(port, tokens.applicants[applicant])
        self.materials = tokens.materials[applicant]
        self.approvers = {code: Client(port, token) for code, token in tokens.approvers.items()}
        self.parallel = ThreadPoolExecutor(len(PARALLEL), thread_name_prefix="approver")

    def complete_case(self, flow: Flow) -> None:
        started = time.perf_counter()
        case = timed_request(flow.submits, self.applicant, "POST", "/api/v1/cases",
                             {"item_id": ITEM, "form": FORM, "materials": self.materials}, 201)
        tasks = pending_tasks(case, 0)
        decide = lambda code: self.decide(flow, code, tasks[code])
        decided = list(self.parallel.map(decide, PARALLEL) if self.at_once else map(decide, PARALLEL))
        last = next(c for c in decided if opened(c, 1))
        final = self.decide(flow, FINANCE, pending_tasks(last, 1)[FINANCE])
        if final["status"] != "approved":
            raise AssertionError(f"case {case['case_id']} ended {final['status']}")
        flow.cases.add(time.perf_counter() - started)

    def decide(self, flow: Flow, department: str, task_id: str) -> dict[str, Any]:
        path = f"/api/v1/tasks/{task_id}/decision"
        body = {"decision": "approve", "comment": "同意"}
        reply: dict[str, Any] = timed_request(
            flow.decisions, self.approvers[department], "POST", path, body, 200
        )
        return reply

    def close(self) -> None:
        self.parallel.shutdown()
        for client in [self.applicant, *self.approvers.values()]:
            client.close()


def timed_request(
    timings: Timings, client: Client, method: str, path: str, body: Any, expect: int
) -> Any:
    started = time.perf_counter()
    try:
        reply = client.request(method, path, body, expect)
    except Exception:
        timings.fail()
        raise
    timings.add(time.perf_counter() - started)
    return reply


def opened(case: dict[str, Any], stage: int) -> bool:
    return any(node["state"] == "pending" for node in case["stages"][stage]["nodes"])


def pending_tasks(case: dict[str, Any], stage: int) -> dict[str, str]:
    nodes = case["stages"][stage]["nodes"]
    tasks = {n["department"]: n["task_id"] for n in nodes if n["state"] == "pending"}
    if not tasks:
        raise AssertionError(f"case {case['case_id']} ({case['status']}) has no pending node")
    return tasks


# -- load -------------------------------------------------------------------------------------


def full_load(
    port: int, tokens: Tokens, workers: int, budget: Budget, parallel: bool = True
) -> Flow:
    """Closed loop: each worker starts its next case as soon as its last one is approved."""
    how = "" if parallel else ", one approver at a time"
    flow = Flow(f"(b) full load, {workers} applicants at once{how}", Timings("cases"))

    def work(index: int) -> None:
        desk = Desk(port, tokens, APPLICANTS[index % len(APPLICANTS)], parallel)
        try:
            while budget.take() is not None:
                desk.complete_case(flow)
        finally:
            desk.close()

    flow.cases.wall = in_threads(workers, work)
    return flow


def steady_load(port: int, tokens: Tokens, rate: float, budget: Budget, seats: int) -> Flow:
    """Open loop: a case starts every 1/rate seconds, whether or not earlier ones are done."""
    flow = Flow(f"(c) half load, {rate:.1f} cases/s offered", Timings("cases"), offered=rate)
    free: list[Desk] = []
    made = [0]
    lock = threading.Lock()
    failures: list[BaseException] = []

    def one_case() -> None:
        with lock:
            if not free:
                made[0] += 1
                free.append(Desk(port, tokens, APPLICANTS[made[0] % len(APPLICANTS)]))
            desk = free.pop()
        try:
            desk.complete_case(flow)
        except BaseException as exc:  # noqa: BLE001 - reported after the run
            failures.append(exc)
        with lock:
            free.append(desk)

    started = time.perf_counter()
    with ThreadPoolExecutor(seats, thread_name_prefix="case") as pool:
        number = 0
        while budget.take() is not None and not failures:
            pause = started + number / rate - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
            pool.submit(one_case)
            number += 1
    flow.cases.wall = time.perf_counter() - started
    for desk in free:
        desk.close()
    if failures:
        raise failures[0]
    return flow


# -- the approval application alone, in-process ----------------------------------------------------


def in_process(database_url: str, budget: Budget) -> Flow:
    """The service's commands without HTTP, RPC or eventlet: one case at a time, each command
    followed by the inbox catch-up exactly as ``ApprovalService._changed`` does it."""
    flow = Flow("(d) approval application in-process, 1 at a time", Timings("cases"))
    app = approval_app(database_url)
    try:
        inbox = TaskInbox(app)
        inbox.create_tables()
        item = as_item(ITEM, "gzc", GONGFANG_ZHUANGXIU, "published", 1)
        app.learn_item(item)
        started = time.perf_counter()
        while budget.take() is not None:
            case_started = time.perf_counter()
            in_process_case(app, inbox, flow)
            flow.cases.add(time.perf_counter() - case_started)
        flow.cases.wall = time.perf_counter() - started
    finally:
        app.close()
    return flow


def approval_app(database_url: str) -> ApprovalApplication:
    settings = Settings(database_url=database_url)
    schema = "approval_in_process"
    ensure_schema(settings.database, schema)
    return ApprovalApplication(env=application_env(schema, settings))


def in_process_case(app: ApprovalApplication, inbox: TaskInbox, flow: Flow) -> None:
    def changed(timings: Timings, command: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        started = time.perf_counter()
        result = command()
        inbox.catch_up()
        timings.add(time.perf_counter() - started)
        return result

    materials = {"改造前结构图": "bench-drawing", "本次结构设计图": "bench-design"}
    case = changed(flow.submits, lambda: app.submit(
        applicant="teacher1", applicant_department="hkxy", item_id=ITEM, form=FORM,
        materials=materials, own_files=list(materials.values())))
    for stage, departments in ((0, PARALLEL), (1, [FINANCE])):
        tasks = pending_tasks(case, stage)
        for code in departments:
            case = changed(flow.decisions, lambda task=tasks[code], code=code: app.decide_task(
                task, decision="approve", comment="同意", actor=code, actor_department=code,
                actor_roles=["approver"]))
    if case["status"] != "approved":
        raise AssertionError(f"case {case['case_id']} ended {case['status']}")


# -- setting the hall up ------------------------------------------------------------------------


def sign_in(port: int) -> Tokens:
    applicants = {name: login(port, name) for name in APPLICANTS}
    approvers = {code: login(port, code) for code in [*PARALLEL, FINANCE]}
    materials = {}
    for name, token in applicants.items():
        client = Client(port, token)
        materials[name] = {
            "改造前结构图": client.upload("改造前结构图.png", PNG),
            "本次结构设计图": client.upload("本次结构设计图.pdf", PDF),
        }
        client.close()
    return Tokens(applicants, approvers, materials)


def start_hall(running: Hall, consumers: bool, approval_instances: int = 1) -> Tokens:
    running.service("catalogue")
    running.service("approval")
    for number in range(2, approval_instances + 1):
        label = f"approval-{number}"
        running.started[label] = running.processes.start("approval", label=label)
    amqp_uri = running.processes.env["AMQP_URI"]
    eventually(lambda: queue_consumers(amqp_uri, "rpc-approval") >= approval_instances, 90)
    if consumers:
        running.service("notify")
        running.service("audit")
    port = running.gateway()
    eventually(lambda: login(port, "teacher1"), timeout=60)
    # the approval service learns the published demo items from the bus
    database_url = running.processes.env["DATABASE_URL"]
    eventually(lambda: items_learnt(database_url) == set(DEMO_ITEMS), timeout=60)
    return sign_in(port)


# -- the run ---------------------------------------------------------------------------------------


@dataclass
class Report:
    raw: list[tuple[str, float]] = field(default_factory=list)
    flows: list[Flow] = field(default_factory=list)
    profile: Path | None = None


def run(args: argparse.Namespace) -> Report:
    base_db = os.environ.get("DATABASE_URL") or DEFAULTS["DATABASE_URL"]
    base_amqp = os.environ.get("AMQP_URI") or DEFAULTS["AMQP_URI"]
    with ExitStack() as stack:
        database_url = stack.enter_context(throwaway_database(base_db))
        amqp_uri = stack.enter_context(throwaway_vhost(base_amqp))
        print_machine({**describe_machine(database_url, amqp_uri), "load average": load_average()})
        running = stack.enter_context(hall(hall_env(database_url, amqp_uri)))
        tokens = start_hall(running, args.consumers, args.approval_instances)
        return measure(args, running, tokens, database_url)


def measure(args: argparse.Namespace, running: Hall, tokens: Tokens, database_url: str) -> Report:
    report = Report(profile=args.profile)
    report.raw.append(raw_row(database_url, "(a) raw INSERT, one row per commit"))
    pids = {name: running.pid(name) for name in running.started}
    database = urlsplit(database_url).path.lstrip("/")
    counts = [int(w) for w in args.workers.split(",")]
    for workers in counts:
        profiling = profiled(
            {n: running.pid(n) for n in ("approval", "gateway")}, args.seconds, args.profile
        ) if workers == counts[-1] else nullcontext()
        with profiling:
            flow = metered(pids, database, lambda workers=workers: full_load(
                running.port, tokens, workers, Budget(args.cases, args.seconds)))
        report.flows.append(flow)
    best = max(flow.cases.per_second for flow in report.flows)
    report.flows.append(metered(pids, database, lambda: steady_load(
        running.port, tokens, best / 2, Budget(args.cases, args.seconds), seats=max(counts) * 2)))
    if args.sequential:
        report.flows.append(metered(pids, database, lambda: full_load(
            running.port, tokens, counts[0], Budget(args.cases, args.seconds), parallel=False)))
    report.flows.append(metered(pids, database, lambda: in_process(
        database_url, Budget(args.cases, args.seconds))))
    report.raw.append(raw_row(database_url, "(a') raw INSERT again, at the end"))
    return report


def raw_row(database_url: str, name: str) -> tuple[str, float]:
    measured = raw_inserts(database_url, RAW_ROWS, name)
    progress(f"{name}: {measured.per_second:,.0f}/s")
    return name, measured.per_second


def metered(pids: dict[str, int], database: str, load: Callable[[], Flow]) -> Flow:
    meter = CpuMeter(pids, database).start()
    flow = load()
    flow.cores = meter.stop()
    progress(f"{flow.name}: {flow.cases.per_second:.1f} cases/s, decision p50 "
             f"{flow.decisions.p50_ms:.0f} ms p99 {flow.decisions.p99_ms:.0f} ms; "
             f"cores: {describe_cores(flow.cores)}")
    return flow


# -- reporting ----------------------------------------------------------------------------------------


def print_report(report: Report) -> None:
    raw = statistics.mean(rate for _, rate in report.raw)
    print()
    for name, rate in report.raw:
        print(f"{name:<44} {rate:>8,.0f} rows/s")
    print(f"{'raw INSERT, mean of (a) and (a′)':<44} {raw:>8,.0f} rows/s")
    print()
    header = (f"{'load':<40} {'cases':>5} {'cases/s':>8} {'cmd/s':>6} {'÷ raw':>6} "
              f"{'case p50':>8} {'submit p99':>10} {'decide p50':>10} {'decide p99':>10}")
    print(header)
    print("-" * len(header))
    for flow in report.flows:
        commands = flow.submits.count + flow.decisions.count
        rate = commands / flow.cases.wall
        print(
            f"{flow.name:<40} {flow.cases.count:>5} {flow.cases.per_second:>8.1f} {rate:>6.0f} "
            f"{rate / raw:>6.3f} {flow.cases.p50_ms:>6.0f}ms {flow.submits.p99_ms:>8.0f}ms "
            f"{flow.decisions.p50_ms:>8.0f}ms {flow.decisions.p99_ms:>8.0f}ms"
        )
    print("\n(cmd/s: submits and decisions per second; ÷ raw: that over the raw INSERT rate)")
    print(f"\ncores busy during each row (of {os.cpu_count()}; load average now {load_average()}):")
    for flow in report.flows:
        print(f"  {flow.name[:3]} {describe_cores(flow.cores)}")
    if report.profile is not None:
        print_profiles(report.profile)


def print_profiles(directory: Path) -> None:
    for collapsed in sorted(directory.glob("*.txt")):
        print(f"\npy-spy, {collapsed.stem} (inclusive %, self %, function), at full load:")
        for inclusive, own, function in top_functions(collapsed, limit=25):
            print(f"  {inclusive:5.1f} {own:5.1f}  {function}")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--workers", default="2,4,8", help="applicants at once, per full-load row")
    parser.add_argument("--seconds", type=float, default=20.0, help="seconds per row at most")
    parser.add_argument("--cases", type=int, default=400, help="cases per row at most")
    parser.add_argument("--profile", type=Path, help="py-spy approval and gateway into DIR")
    parser.add_argument("--sequential", action="store_true",
                        help="add a full-load row whose six approvers decide one after another")
    parser.add_argument("--consumers", action="store_true", help="also run notify and audit")
    parser.add_argument("--approval-instances", type=int, default=1,
                        help="approval processes side by side (operators scale it on its own)")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    print_report(run(args))


if __name__ == "__main__":
    main()
