"""Catalogue search through the gateway, against a raw query of the same read model.

    .venv/bin/python bench/catalogue.py [--items 1000] [--threads 8] [--requests 3000] [--seconds 20]

In one run, on a throwaway database and RabbitMQ vhost (both removed afterwards):
  1,000 published items are written through the catalogue application in-process (each
  drafted, submitted, reviewed and published, saved in batches) and projected into the
  search read model ``catalogue.item_search``; then the real catalogue and gateway
  processes start (``python -m shared.runner``), and the same mix of Chinese substrings is
  searched by ``--threads`` threads:
  (a) raw psycopg: the read model's own query (LIKE on its lower-cased column), one
      connection per thread;
  (b) the catalogue application's ``search_items`` in-process (its connection pool);
  (c) ``GET /api/v1/items?q=...`` through the gateway (HTTP → nameko RPC → catalogue);
  (a') the raw query again, to show how much the shared machine drifted meanwhile.
Each row is bounded by --requests and --seconds; ratios are to the mean of (a) and (a').
Every query's hits through the gateway are checked against an independent ILIKE query
over the names and descriptions.
"""
from __future__ import annotations

import argparse
import os
import signal
import statistics
import sys
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from urllib.parse import quote, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("PSYCOPG_WAIT_FUNC", "wait_select")

import psycopg

from bench._support import (
    Budget,
    Client,
    CpuMeter,
    Hall,
    Timings,
    connect,
    describe_cores,
    describe_machine,
    hall,
    hall_env,
    in_threads,
    print_machine,
    print_timings,
    profiled,
    progress,
    throwaway_database,
    throwaway_vhost,
    timed,
    top_functions,
)
from services.catalogue.application import CatalogueApplication, content_of
from services.catalogue.demo import GONGFANG_ZHUANGXIU, OFFICE, PARTY
from services.catalogue.domain import ServiceItem
from shared.config import DEFAULTS, Settings
from shared.contracts.catalogue import ItemDraft
from shared.departments import DEPARTMENTS
from shared.eventstore import application_env, ensure_schema
from tests.support.processes import eventually

SUBJECTS = (
    "公房装修改造", "校园网账号开通", "科研经费报销", "教室借用", "校园车辆通行证",
    "会议室预约", "公章使用", "因公出国审批", "学生证补办", "固定资产报废",
    "实验室安全准入", "宿舍调整", "图书馆借阅证", "仪器设备采购", "外籍专家聘请",
    "保密资格审查", "网络域名申请", "电子邮箱开通", "收入证明开具", "在职证明开具",
    "档案查阅", "奖学金发放", "校园卡挂失", "体育场馆租借", "横向科研合同登记",
)
OWNERS = ("gzc", "jjc", "xxh", "hq", "bwc", "bmc", "cwc", "hkxy")
# Mostly selective words, one that matches a tenth of the catalogue, one that matches nothing.
QUERIES = ("装修", "网络", "证明", "经费", "保卫处", "借用", "开通", "审批", "公章", "不存在的事项")
BATCH = 50
RAW = "(a) raw psycopg, the read model's query"
RAW_AGAIN = "(a') raw psycopg again, at the end"
# The query the catalogue runs (services/catalogue/search.py): LIKE on the lower-cased column.
SEARCH_SQL = (
    "SELECT item_id, name, department, trips, mode, version FROM catalogue.item_search"
    " WHERE TRUE AND search_text LIKE lower(%s) ORDER BY department, name, item_id"
)
# The hits are checked against an independent query over the name and description.
CHECK_SQL = (
    "SELECT item_id FROM catalogue.item_search"
    " WHERE name ILIKE %s OR description ILIKE %s ORDER BY department, name, item_id"
)


# -- 1,000 published items ------------------------------------------------------------------


def item_draft(number: int) -> ItemDraft:
    subject = SUBJECTS[number % len(SUBJECTS)]
    department = OWNERS[number % len(OWNERS)]
    office = DEPARTMENTS[department]
    body = {
        **GONGFANG_ZHUANGXIU,
        "item_id": f"bench-{number:05d}",
        "name": f"{subject}申请（{office}·{number:04d}）",
        "description": f"由{office}受理的{subject}事项，网上提交申请材料，审核通过后短信告知。",
        "department": department,
        "lead_department": department,
    }
    return ItemDraft.model_validate(body)


def published_item(number: int) -> ServiceItem:
    draft = item_draft(number)
    department = draft.department or "gzc"
    item = ServiceItem(
        item_id=draft.item_id or "", department=department, content=content_of(draft),
        actor=department,
    )
    item.submit(department)
    item.review(True, "同意", department, OFFICE.username)
    item.publish(PARTY.username)
    return item


def publish_items(app: CatalogueApplication, count: int) -> None:
    """The events the catalogue's own commands record, saved 50 items to a transaction."""
    for start in range(0, count, BATCH):
        app.save(*(published_item(n) for n in range(start, min(start + BATCH, count))))
    app.update_search()


def searchable(database_url: str) -> int:
    with psycopg.connect(database_url, autocommit=True) as conn:
        row = conn.execute("SELECT count(*) FROM catalogue.item_search").fetchone()
        return int(row[0]) if row else 0


def relay_done(database_url: str) -> bool:
    """The catalogue's relay has put every item event on the bus: it no longer competes."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        if not conn.execute("SELECT to_regclass('catalogue.relay_position')").fetchone()[0]:
            return False
        last = conn.execute("SELECT max(notification_id) FROM catalogue.catalogue_events").fetchone()
        at = conn.execute("SELECT max(notification_id) FROM catalogue.relay_position").fetchone()
        return bool(last and at and at[0] is not None and at[0] >= last[0])


# -- the three ways to search ------------------------------------------------------------------


def pattern(q: str) -> str:
    return f"%{q}%"


def raw_search(database_url: str, name: str, threads: int, budget: Callable[[], Budget]) -> Timings:
    timings = Timings(name)
    shared = budget()

    def work(index: int) -> None:
        with connect(database_url) as conn:
            while (n := shared.take()) is not None:
                like = pattern(QUERIES[(n + index) % len(QUERIES)])
                timed(timings, lambda like=like: conn.execute(SEARCH_SQL, (like,)).fetchall())

    timings.wall = in_threads(threads, work)
    return timings


def app_search(app: CatalogueApplication, threads: int, budget: Callable[[], Budget]) -> Timings:
    timings = Timings("(b) application search_items, in-process")
    shared = budget()

    def work(index: int) -> None:
        while (n := shared.take()) is not None:
            q = QUERIES[(n + index) % len(QUERIES)]
            timed(timings, lambda q=q: app.search_items(q))

    timings.wall = in_threads(threads, work)
    return timings


def items_path(q: str) -> str:
    return f"/api/v1/items?q={quote(q)}"


def gateway_search(port: int, threads: int, budget: Callable[[], Budget]) -> Timings:
    timings = Timings("(c) GET /api/v1/items?q= through the gateway")
    shared = budget()

    def work(index: int) -> None:
        client = Client(port)
        try:
            while (n := shared.take()) is not None:
                path = items_path(QUERIES[(n + index) % len(QUERIES)])
                timed(timings, lambda path=path: client.request("GET", path))
        finally:
            client.close()

    timings.wall = in_threads(threads, work)
    return timings


def assert_same_hits(database_url: str, port: int) -> dict[str, int]:
    client = Client(port)
    hits: dict[str, int] = {}
    with psycopg.connect(database_url, autocommit=True) as conn:
        for q in QUERIES:
            raw = [r[0] for r in conn.execute(CHECK_SQL, (pattern(q), pattern(q))).fetchall()]
            served = [i["item_id"] for i in client.request("GET", items_path(q))["items"]]
            if raw != served:
                raise AssertionError(f"q={q}: raw {len(raw)} hits, gateway {len(served)}")
            hits[q] = len(raw)
    client.close()
    return hits


# -- the run -------------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> list[Timings]:
    base_db = os.environ.get("DATABASE_URL") or DEFAULTS["DATABASE_URL"]
    base_amqp = os.environ.get("AMQP_URI") or DEFAULTS["AMQP_URI"]
    with ExitStack() as stack:
        database_url = stack.enter_context(throwaway_database(base_db))
        amqp_uri = stack.enter_context(throwaway_vhost(base_amqp))
        print_machine(describe_machine(database_url, amqp_uri))
        app = catalogue_app(database_url, amqp_uri)
        stack.callback(app.close)
        started = time.perf_counter()
        publish_items(app, args.items)
        progress(f"{searchable(database_url)} items published and searchable "
                 f"in {time.perf_counter() - started:.1f}s")
        running = stack.enter_context(hall(hall_env(database_url, amqp_uri, ONETRIP_DEMO="0")))
        running.service("catalogue")
        port = running.gateway()
        eventually(lambda: relay_done(database_url), timeout=120, interval=0.5)
        progress(f"hits per query: {assert_same_hits(database_url, port)}")
        return measure(args, app, database_url, running)


def catalogue_app(database_url: str, amqp_uri: str) -> CatalogueApplication:
    settings = Settings(amqp_uri=amqp_uri, database_url=database_url)
    ensure_schema(settings.database, CatalogueApplication.service)
    return CatalogueApplication(env=application_env(CatalogueApplication.service, settings))


def measure(
    args: argparse.Namespace, app: CatalogueApplication, database_url: str, running: Hall
) -> list[Timings]:
    def budget() -> Budget:
        return Budget(args.requests, args.seconds)

    pids = {name: running.pid(name) for name in ("gateway", "catalogue")}
    database = urlsplit(database_url).path.lstrip("/")

    def metered(row: Callable[[], Timings]) -> Timings:
        return with_cores(CpuMeter(pids, database), row)

    rows = [
        metered(lambda: raw_search(database_url, RAW, args.threads, budget)),
        metered(lambda: app_search(app, args.threads, budget)),
    ]
    with profiled(pids, args.seconds, args.profile):
        rows.append(metered(lambda: gateway_search(running.port, args.threads, budget)))
    rows.append(metered(lambda: raw_search(database_url, RAW_AGAIN, args.threads, budget)))
    return rows


def with_cores(meter: CpuMeter, row: Callable[[], Timings]) -> Timings:
    meter.start()
    timings = row()
    timings.cores = meter.stop()
    progress(f"{timings.name}: {timings.per_second:,.0f}/s, p99 {timings.p99_ms:.1f} ms; "
             f"cores: {describe_cores(timings.cores)}")
    return timings


def baseline(rows: list[Timings]) -> float:
    # The machine is shared and noisy: (a) is taken first and last, ratios use their mean.
    return statistics.mean(row.per_second for row in rows if row.name.startswith("(a"))


def print_profiles(directory: Path) -> None:
    for collapsed in sorted(directory.glob("*.txt")):
        print(f"\npy-spy, {collapsed.stem} (inclusive %, self %, function), during (c):")
        for inclusive, own, function in top_functions(collapsed):
            print(f"  {inclusive:5.1f} {own:5.1f}  {function}")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--items", type=int, default=1000, help="published items (1000)")
    parser.add_argument("--threads", type=int, default=8, help="concurrent searchers (8)")
    parser.add_argument("--requests", type=int, default=3000, help="requests per row at most")
    parser.add_argument("--seconds", type=float, default=20.0, help="seconds per row at most")
    parser.add_argument("--profile", type=Path, help="py-spy the gateway and catalogue into DIR")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    rows = run(args)
    print_timings(rows, baseline(rows))
    if args.profile is not None:
        print_profiles(args.profile)


if __name__ == "__main__":
    main()
