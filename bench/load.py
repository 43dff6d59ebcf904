"""The measure: the mixed campus workload through the gateway's public API, every service running.

    .venv/bin/python bench/load.py [--applicants 4 | --rate 5 | --step] [--cases 200]
                                   [--seconds 30] [--deciders 4] [--raw-rows 2000]

On a throwaway database and RabbitMQ vhost (both removed afterwards), the catalogue, approval,
notify, audit and gateway processes (``python -m shared.runner``) and the local SMS gateway run
on loopback. The workload, all through ``http://127.0.0.1:<port>/api/v1``:

  applicants   each case: search the catalogue (``GET /items?q=装修``), open the item page,
               upload the two drawings (``POST /files`` ×2), submit 公房装修改造申请
               (``POST /cases``), read the case until it is approved (``GET /cases/{id}``,
               every 0.2 s), then read the notifications until its 办理成功 SMS is listed
               (``GET /notifications``, every 0.5 s): only then is the case *complete*;
  departments  the seven (six in parallel, then 财务处) each poll their own inbox (``GET /tasks``,
               every ``--inbox-poll`` s while it brings nothing new) and hand each new task to one
               of ``--deciders`` desks of that department (``POST /tasks/{id}/decision``);
  supervisors  one 纪委 supervisor reads the department figures (``GET /supervision/departments``)
               and a recent case's audit trail (``GET /audit/cases/{id}``) every
               ``--supervisor-pause`` s; after each run one ``GET /audit/verify`` must answer ``ok``.

Load: ``--applicants N`` applicants in a closed loop (each starts its next case when the last is
complete); ``--rate R`` cases started every 1/R s (open loop); ``--step`` doubles the applicants
(1, 2, 4, ...) until two steps running add less than 5 % of complete cases/s (the saturation point:
the best step), then runs the open loop at half of that maximum and reports the figures there. Every run is bounded by
``--cases`` and ``--seconds``; cases still open after it get ``--drain`` seconds to complete.

Printed per run: complete cases/s, p50/p95/p99 per operation, errors (any unexpected answer),
CPU seconds per complete case per process (from ``/proc/PID/stat``; PostgreSQL = this run's
database backends; RabbitMQ = the whole broker, shared with anything else using it), and the raw
single-row commit rate of the same PostgreSQL measured in the same run, with the ratio of the
commands' commit rate (submits + decisions per second) to it.
"""
from __future__ import annotations

import argparse
import itertools
import os
import signal
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._support import (
    Client,
    CpuMeter,
    Hall,
    HttpError,
    describe_machine,
    hall,
    hall_env,
    load_average,
    login,
    print_machine,
    progress,
    raw_inserts,
    throwaway_database,
    throwaway_vhost,
)
from shared.config import DEFAULTS
from tests.support.hall import DEMO_ITEMS, ITEM, PARALLEL, PDF, PNG, items_learnt
from tests.support.notify import SmsGateway
from tests.support.processes import eventually

APPLICANTS = ("teacher1", "teacher2", "student1")
DEPARTMENTS = (*PARALLEL, "cwc")
SUPERVISOR = "discipline"
FORM = {"房间": "航空楼 301", "内容": "更换地面、改造网络线路"}
SEARCH = "/api/v1/items?q=" + quote("装修")
CASE_POLL_SECONDS = 0.2
NOTIFICATIONS_POLL_SECONDS = 0.5  # the whole list comes back each time: it grows with the history
OPERATIONS = (
    "search", "item page", "upload", "submit", "case read", "notifications",
    "inbox", "decision", "supervision", "audit trail", "ledger verify", "complete case",
)
STEP_GAIN = 1.05


# -- what one run records ------------------------------------------------------------------


@dataclass
class Record:
    durations: dict[str, list[float]] = field(
        default_factory=lambda: {name: [] for name in OPERATIONS}
    )
    errors: list[str] = field(default_factory=list)
    complete: int = 0
    started_cases: int = 0
    wall: float = 0.0
    cpu_seconds: dict[str, float] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, operation: str, seconds: float) -> None:
        with self.lock:
            self.durations[operation].append(seconds)

    def fail(self, message: str) -> None:
        with self.lock:
            self.errors.append(message)

    def case_done(self, seconds: float) -> None:
        with self.lock:
            self.complete += 1
            self.durations["complete case"].append(seconds)

    @property
    def cases_per_second(self) -> float:
        return self.complete / self.wall if self.wall else 0.0

    @property
    def commands_per_second(self) -> float:
        commands = len(self.durations["submit"]) + len(self.durations["decision"])
        return commands / self.wall if self.wall else 0.0


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))]


class Session:
    """One user's keep-alive connection per thread, every request timed into the record."""

    def __init__(self, port: int, token: str, record: Record) -> None:
        self.port = port
        self.token = token
        self.record = record
        self.local = threading.local()

    def client(self) -> Client:
        if not hasattr(self.local, "client"):
            self.local.client = Client(self.port, self.token)
        return self.local.client  # type: ignore[no-any-return]

    def call(self, operation: str, method: str, path: str, body: Any = None,
             expect: int = 200) -> Any:
        started = time.perf_counter()
        reply = self.client().request(method, path, body, expect)
        self.record.add(operation, time.perf_counter() - started)
        return reply

    def upload(self, name: str, content: bytes) -> str:
        started = time.perf_counter()
        file_id = self.client().upload(name, content)
        self.record.add("upload", time.perf_counter() - started)
        return file_id


# -- the people ----------------------------------------------------------------------------


class Applicant:
    def __init__(self, session: Session, username: str, stop: threading.Event) -> None:
        self.session = session
        self.username = username
        self.stop = stop

    def one_case(self, recent: list[str]) -> None:
        """Search, read the item, upload, submit, then wait for approval and the SMS."""
        started = time.perf_counter()
        s = self.session
        found = s.call("search", "GET", SEARCH)["items"]
        if not any(item["item_id"] == ITEM for item in found):
            raise HttpError(f"search did not find {ITEM}")
        s.call("item page", "GET", f"/api/v1/items/{ITEM}")
        materials = {"改造前结构图": s.upload("改造前结构图.png", PNG),
                     "本次结构设计图": s.upload("本次结构设计图.pdf", PDF)}
        case = s.call("submit", "POST", "/api/v1/cases",
                      {"item_id": ITEM, "form": FORM, "materials": materials}, 201)
        if case["status"] != "in_review":
            raise HttpError(f"case {case['case_id']} was {case['status']} at intake")
        recent.append(case["case_id"])
        self.until(lambda: self.approved(case["case_id"]), CASE_POLL_SECONDS)
        self.until(lambda: self.told(case["case_id"]), NOTIFICATIONS_POLL_SECONDS)
        s.record.case_done(time.perf_counter() - started)

    def approved(self, case_id: str) -> bool:
        case = self.session.call("case read", "GET", f"/api/v1/cases/{case_id}")
        if case["status"] not in ("in_review", "approved"):
            raise HttpError(f"case {case_id} ended {case['status']}")
        return bool(case["status"] == "approved")

    def told(self, case_id: str) -> bool:
        notes = self.session.call("notifications", "GET", "/api/v1/notifications")
        return any(n["channel"] == "sms" and n["case_id"] == case_id and "办理成功" in n["text"]
                   for n in notes["notifications"])

    def until(self, done: Callable[[], bool], pause: float) -> None:
        while not done():
            if self.stop.is_set():
                raise HttpError("the run's drain time ended with the case still open")
            time.sleep(pause)


class Department:
    """One department's inbox poller and its desks; a task goes to exactly one desk."""

    def __init__(self, session: Session, code: str, deciders: int, poll: float) -> None:
        self.session = session
        self.code = code
        self.poll = poll
        self.desks = ThreadPoolExecutor(deciders, thread_name_prefix=f"desk-{code}")
        self.taken: set[str] = set()

    def work(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                tasks = self.session.call("inbox", "GET", "/api/v1/tasks")["tasks"]
            except (HttpError, OSError) as exc:
                self.session.record.fail(f"inbox {self.code}: {exc}")
                stop.wait(1.0)
                continue
            new = [t["task_id"] for t in tasks if t["task_id"] not in self.taken]
            for task_id in new:
                self.taken.add(task_id)
                self.desks.submit(self.decide, task_id)
            if not new:
                stop.wait(self.poll)
        self.desks.shutdown(wait=True)

    def decide(self, task_id: str) -> None:
        try:
            self.session.call("decision", "POST", f"/api/v1/tasks/{task_id}/decision",
                              {"decision": "approve", "comment": "同意"})
        except (HttpError, OSError) as exc:
            self.session.record.fail(f"decision {self.code}: {exc}")


def supervise(session: Session, recent: list[str], pause: float, stop: threading.Event) -> None:
    while not stop.wait(pause):
        try:
            session.call("supervision", "GET", "/api/v1/supervision/departments")
            if recent:
                session.call("audit trail", "GET", f"/api/v1/audit/cases/{recent[-1]}")
        except (HttpError, OSError) as exc:
            session.record.fail(f"supervisor: {exc}")


# -- one run -------------------------------------------------------------------------------


@dataclass
class People:
    port: int
    tokens: dict[str, str]


@dataclass
class Load:
    name: str
    applicants: int = 0  # closed loop when > 0
    rate: float = 0.0  # open loop when > 0
    cases: int = 100
    seconds: float = 30.0
    drain: float = 60.0
    deciders: int = 4
    inbox_poll: float = 0.5
    supervisor_pause: float = 1.0


def run_load(people: People, load: Load, meter: Callable[[], CpuMeter]) -> Record:
    record = Record()
    staff_stop, applicants_stop = threading.Event(), threading.Event()
    session = lambda user: Session(people.port, people.tokens[user], record)
    departments = [Department(session(code), code, load.deciders, load.inbox_poll)
                   for code in DEPARTMENTS]
    recent: list[str] = []
    staff = [threading.Thread(target=d.work, args=(staff_stop,), daemon=True) for d in departments]
    staff.append(threading.Thread(
        target=supervise, args=(session(SUPERVISOR), recent, load.supervisor_pause, staff_stop),
        daemon=True))
    applicants = [Applicant(session(name), name, applicants_stop) for name in APPLICANTS]
    for worker in staff:
        worker.start()
    cpu = meter().start()
    started = time.perf_counter()
    try:
        drive(load, applicants, recent, record)
    finally:
        record.wall = time.perf_counter() - started
        cores = cpu.stop()
        staff_stop.set()
        applicants_stop.set()
        for worker in staff:
            worker.join(30)
    record.cpu_seconds = {name: used * record.wall for name, used in cores.items()}
    verify(session(SUPERVISOR), record)
    return record


def drive(load: Load, applicants: list[Applicant], recent: list[str], record: Record) -> None:
    """Start cases until the count or the time is spent, then let open ones finish (bounded)."""
    if load.cases == 0:  # the staff alone: what their polling costs without any case
        time.sleep(load.seconds)
        return
    seats = load.applicants or max(8, int(load.rate * 10))
    deadline = time.monotonic() + load.seconds
    numbers = itertools.count()
    lock = threading.Lock()

    def next_case() -> int | None:
        with lock:
            if record.started_cases >= load.cases or time.monotonic() >= deadline:
                return None
            record.started_cases += 1
            return next(numbers)

    def one(number: int) -> None:
        applicant = applicants[number % len(applicants)]
        try:
            applicant.one_case(recent)
        except (HttpError, OSError) as exc:
            record.fail(f"case {number} ({applicant.username}): {exc}")

    with ThreadPoolExecutor(seats, thread_name_prefix="applicant") as pool:
        if load.applicants:
            def closed_loop() -> None:
                while (number := next_case()) is not None:
                    one(number)
            futures = [pool.submit(closed_loop) for _ in range(load.applicants)]
        else:
            futures, begun = [], time.perf_counter()
            while (number := next_case()) is not None:
                pause = begun + number / load.rate - time.perf_counter()
                if pause > 0:
                    time.sleep(pause)
                futures.append(pool.submit(one, number))
        drain_until = time.monotonic() + max(0.0, deadline - time.monotonic()) + load.drain
        for future in futures:
            try:
                future.result(timeout=max(0.1, drain_until - time.monotonic()))
            except TimeoutError:
                for applicant in applicants:
                    applicant.stop.set()


def verify(session: Session, record: Record) -> None:
    def ledger_ok() -> bool:
        report = session.call("ledger verify", "GET", "/api/v1/audit/verify")
        return bool(report["ok"])
    try:
        eventually(ledger_ok, timeout=60, interval=1)
    except (AssertionError, HttpError, OSError) as exc:
        record.fail(f"audit verify: {exc}")


# -- the hall ------------------------------------------------------------------------------


def start_hall(running: Hall) -> People:
    running.service("catalogue")
    running.service("approval")
    port = running.gateway()
    running.started["gateway"].wait_for_queue("rpc-gateway", timeout=60)  # notify's directory
    running.service("notify")
    running.service("audit")
    eventually(lambda: login(port, "teacher1"), timeout=60)
    database_url = running.processes.env["DATABASE_URL"]
    eventually(lambda: items_learnt(database_url) == set(DEMO_ITEMS), timeout=60)
    users = [*APPLICANTS, *DEPARTMENTS, SUPERVISOR]
    return People(port, {user: login(port, user) for user in users})


def bench_env(database_url: str, amqp_uri: str, sms_url: str, work: Path) -> dict[str, str]:
    return hall_env(
        database_url, amqp_uri,
        ONETRIP_SMS_URL=sms_url,
        ONETRIP_SMS_MIN_INTERVAL_SECONDS="0",  # three demo applicants receive every SMS
        ONETRIP_SMS_DAILY_LIMIT="1000000",
        ONETRIP_AUDIT_CHECKPOINT=str(work / "audit-checkpoint.json"),
        ONETRIP_CIPHER_KEY="bench-cipher-key",
    )


@dataclass
class Outcome:
    machine: dict[str, str]
    raw: list[float]
    steps: list[tuple[Load, Record]]
    chosen: tuple[Load, Record]
    idle: Record | None = None


def run(args: argparse.Namespace) -> Outcome:
    base_db = os.environ.get("DATABASE_URL") or DEFAULTS["DATABASE_URL"]
    base_amqp = os.environ.get("AMQP_URI") or DEFAULTS["AMQP_URI"]
    with ExitStack() as stack:
        database_url = stack.enter_context(throwaway_database(base_db))
        amqp_uri = stack.enter_context(throwaway_vhost(base_amqp))
        work = Path(tempfile.mkdtemp(prefix="onetrip-load-"))
        sms = SmsGateway(work, {**os.environ, "ONETRIP_ENV": "development"})
        stack.callback(sms.stop)
        machine = {**describe_machine(database_url, amqp_uri), "load average": load_average()}
        print_machine(machine)
        running = stack.enter_context(hall(bench_env(database_url, amqp_uri,
                                                     sms.url + "/v1/sms", work)))
        people = start_hall(running)
        pids = {name: running.pid(name) for name in running.started}
        pids["sms gateway"] = sms.proc.pid
        database = urlsplit(database_url).path.lstrip("/")
        meter = lambda: CpuMeter(pids, database)
        raw = [raw_rate(database_url, args.raw_rows, "raw INSERT, before")]
        idle = None
        if args.idle_seconds:
            idle = run_load(people, Load("staff only", cases=0, seconds=args.idle_seconds,
                                         inbox_poll=args.inbox_poll,
                                         supervisor_pause=args.supervisor_pause), meter)
            progress(f"staff only, no case: {idle.wall:.0f} s, "
                     f"{sum(len(v) for v in idle.durations.values())} requests")
        steps, chosen = loads(args, people, meter)
        raw.append(raw_rate(database_url, args.raw_rows, "raw INSERT, after"))
        return Outcome(machine, raw, steps, chosen, idle)


def loads(args: argparse.Namespace, people: People, meter: Callable[[], CpuMeter]
          ) -> tuple[list[tuple[Load, Record]], tuple[Load, Record]]:
    bounds = {"cases": args.cases, "seconds": args.seconds, "drain": args.drain,
              "deciders": args.deciders, "inbox_poll": args.inbox_poll,
              "supervisor_pause": args.supervisor_pause}
    if not args.step:
        if args.rate:
            load = Load(f"{args.rate:g} cases/s offered", rate=args.rate, **bounds)
        else:
            load = Load(f"{args.applicants} applicants", applicants=args.applicants, **bounds)
        measured = (load, measure(people, load, meter))
        return [measured], measured
    steps: list[tuple[Load, Record]] = []
    for applicants in (2 ** n for n in range(10)):
        if applicants > args.max_applicants:
            break
        load = Load(f"step: {applicants} applicants", applicants=applicants, **bounds)
        steps.append((load, measure(people, load, meter)))
        if steps[-1][1].errors or saturated([r.cases_per_second for _, r in steps]):
            break
    best = max(r.cases_per_second for _, r in steps)
    half = Load(f"half of the maximum: {best / 2:.1f} cases/s offered", rate=best / 2, **bounds)
    chosen = (half, measure(people, half, meter))
    return steps, chosen


def saturated(rates: list[float]) -> bool:
    """Two steps in a row that did not beat the best before them by 5 % (one may be noise)."""
    def gained(index: int) -> bool:
        return rates[index] >= STEP_GAIN * max(rates[:index])
    return len(rates) > 2 and not gained(-1) and not gained(-2)


def measure(people: People, load: Load, meter: Callable[[], CpuMeter]) -> Record:
    record = run_load(people, load, meter)
    decisions = record.durations["decision"]
    progress(f"{load.name}: {record.complete} complete cases, {record.cases_per_second:.1f}/s, "
             f"decision p99 {percentile(decisions, 99) * 1000:.0f} ms, "
             f"{len(record.errors)} errors")
    return record


def raw_rate(database_url: str, rows: int, name: str) -> float:
    for attempt in range(40):  # a shared server may be at max_connections a moment
        try:
            rate = raw_inserts(database_url, rows, name).per_second
            break
        except psycopg.OperationalError as exc:
            if "too many clients" not in str(exc) or attempt == 39:
                raise
            time.sleep(0.5)
    progress(f"{name}: {rate:,.0f} commits/s")
    return rate


# -- the report ----------------------------------------------------------------------------


def print_outcome(outcome: Outcome) -> None:
    raw = statistics.mean(outcome.raw)
    if len(outcome.steps) > 1 or outcome.steps[0] is not outcome.chosen:
        print("\nsteps (closed loop):")
        for load, record in outcome.steps:
            print(f"  {load.name:<28} complete cases/s {record.cases_per_second:6.1f}   "
                  f"decision p99 {percentile(record.durations['decision'], 99) * 1000:6.0f} ms   "
                  f"errors {len(record.errors)}")
        best = max(r.cases_per_second for _, r in outcome.steps)
        print(f"  saturation point: {best:.1f} complete cases/s")
    load, record = outcome.chosen
    print(f"\nrun: {load.name}, {record.wall:.1f} s")
    print(f"complete cases/s: {record.cases_per_second:.2f} "
          f"({record.complete} complete of {record.started_cases} started)")
    requests = sum(len(v) for k, v in record.durations.items() if k != "complete case")
    print(f"HTTP requests: {requests} ({requests / max(record.complete, 1):.1f} a complete case)")
    print(f"errors: {len(record.errors)}")
    for message in record.errors[:10]:
        print(f"  {message[:300]}")
    print_operations(record)
    print_cpu(record, outcome.idle)
    per_case_commits = record.commands_per_second / record.cases_per_second \
        if record.cases_per_second else float("nan")
    print(f"\nraw commit rate (single-row INSERT, same PostgreSQL, this run): {raw:,.0f}/s "
          f"(before {outcome.raw[0]:,.0f}, after {outcome.raw[-1]:,.0f})")
    print(f"commands (submits + decisions) per second: {record.commands_per_second:.1f} "
          f"({per_case_commits:.1f} a case)")
    print(f"ratio, commands/s ÷ raw commit rate: {record.commands_per_second / raw:.4f}")
    print(f"load average now: {load_average()}")


def print_operations(record: Record) -> None:
    print(f"\n{'operation':<16} {'n':>6} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}")
    for name in OPERATIONS:
        values = record.durations[name]
        cuts = [percentile(values, p) * 1000 for p in (50, 95, 99)]
        print(f"{name:<16} {len(values):>6} {cuts[0]:>8.1f} {cuts[1]:>8.1f} {cuts[2]:>8.1f}")


def print_cpu(record: Record, idle: Record | None) -> None:
    """CPU per complete case; with a staff-only run, also the part the cases themselves add
    (the staff's polling costs the same per second whatever the number of cases)."""
    extra = f" {'idle cores':>10} {'case s - idle':>13}" if idle else ""
    print(f"\n{'process':<22} {'CPU s per case':>14} {'cores':>6}{extra}")
    for name, seconds in record.cpu_seconds.items():
        per_case = seconds / record.complete if record.complete else float("nan")
        line = f"{name:<22} {per_case:>14.4f} {seconds / record.wall:>6.2f}"
        if idle:
            idle_cores = idle.cpu_seconds.get(name, 0.0) / idle.wall
            marginal = (seconds - idle_cores * record.wall) / max(record.complete, 1)
            line += f" {idle_cores:>10.2f} {marginal:>13.4f}"
        print(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    how = parser.add_mutually_exclusive_group()
    how.add_argument("--applicants", type=int, default=4, help="closed loop: applicants at once")
    how.add_argument("--rate", type=float, help="open loop: cases started per second")
    how.add_argument("--step", action="store_true",
                     help="find the saturation point, report the figures at half of it")
    parser.add_argument("--cases", type=int, default=200, help="cases per run at most")
    parser.add_argument("--seconds", type=float, default=30.0, help="seconds of starting cases per run")
    parser.add_argument("--drain", type=float, default=60.0, help="seconds for open cases after it")
    parser.add_argument("--deciders", type=int, default=4, help="desks per department")
    parser.add_argument("--inbox-poll", type=float, default=0.5,
                        help="seconds between a department's inbox reads that found nothing new")
    parser.add_argument("--supervisor-pause", type=float, default=1.0,
                        help="seconds between the supervisor's rounds")
    parser.add_argument("--idle-seconds", type=float, default=0.0,
                        help="first measure the staff polling alone, no case, for this long")
    parser.add_argument("--max-applicants", type=int, default=64, help="step mode's last step")
    parser.add_argument("--raw-rows", type=int, default=2000, help="rows of the raw INSERT")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    outcome = run(args)
    print_outcome(outcome)
    errors = len(outcome.chosen[1].errors) + sum(len(r.errors) for _, r in outcome.steps)
    sys.exit(1 if errors else 0)


if __name__ == "__main__":
    main()
