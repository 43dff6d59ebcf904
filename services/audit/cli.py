"""``onetrip-audit``: replay a case, verify the ledger, rebuild the supervision read models.

onetrip-audit replay CASE_ID [--as-of 2026-11-27T10:00:00+08:00] [--json]
onetrip-audit verify
onetrip-audit checkpoint [--accept]
onetrip-audit rebuild
onetrip-audit departments [--from TIME] [--to TIME]
onetrip-audit report [--from TIME] [--to TIME] [-o report.xlsx]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from services.audit.hall import AuditHall
from shared.config import Settings
from shared.errors import OnetripError
from shared.eventstore import open_application


@contextmanager
def audit_application() -> Iterator[AuditHall]:
    # (under the same table-creation lock as the services: the CLI may run beside them)
    app = open_application(AuditHall, AuditHall.service, Settings())
    try:
        yield app
    finally:
        app.close()


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="onetrip-audit", description="审计账本：回放、校验、重建")
    commands = root.add_subparsers(dest="command", required=True)
    replay = commands.add_parser("replay", help="回放一个办件截至某一时刻的事件与状态")
    replay.add_argument("case_id")
    replay.add_argument("--as-of", dest="as_of", default=None, help="ISO 8601 时间，默认为现在")
    replay.add_argument("--json", action="store_true", help="输出 JSON")
    commands.add_parser("verify", help="重新计算整条哈希链，并核对账本是否收全了各服务发布的事件")
    checkpoint = commands.add_parser("checkpoint", help="查看已签名的检查点；核对后可重新建立")
    checkpoint.add_argument(
        "--accept",
        action="store_true",
        help="以账本当前的末尾重新签名检查点（检查点丢失或更换密钥后，先核对账本再用）",
    )
    commands.add_parser("rebuild", help="从账本重建监督统计")
    for name in ("departments", "report"):
        command = commands.add_parser(name)
        command.add_argument("--from", dest="from_", default=None)
        command.add_argument("--to", default=None)
        if name == "report":
            command.add_argument("-o", "--output", default="report.xlsx")
    return root


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        with audit_application() as app:
            return COMMANDS[args.command](app, args)
    except OnetripError as exc:
        print(f"错误：{exc}", file=sys.stderr)
        return 2


def replay(app: AuditHall, args: argparse.Namespace) -> int:
    history = app.ledger.case_history(args.case_id, args.as_of)
    if args.json:
        print(json.dumps(history, ensure_ascii=False, indent=2))
    else:
        print(render_history(history))
    return 0 if history["intact"] else 1


def render_history(history: dict[str, Any]) -> str:
    lines = [f"办件 {history['case_id']}，截至 {history['as_of']}", ""]
    for event in history["events"]:
        actor = event["actor"] or "系统"
        lines.append(
            f"#{event['seq']:<8} {event['at']}  {event['type']:<22} {actor}  {_summary(event['data'])}"
        )
    state = history["state"]
    lines += ["", "状态：" + ("（尚未提交）" if state is None else "")]
    if state is not None:
        lines.append(json.dumps(state, ensure_ascii=False, indent=2))
    if not history["intact"]:
        lines.append("警告：有记录的哈希与内容不符，请运行 onetrip-audit verify")
    return "\n".join(lines)


def _summary(data: dict[str, Any]) -> str:
    keys = ("node_id", "decision", "comment", "round", "purpose", "score")
    return " ".join(f"{key}={data[key]}" for key in keys if data.get(key) not in (None, ""))


def verify(app: AuditHall, args: argparse.Namespace) -> int:
    result = app.ledger.verify()
    print(json.dumps(result, ensure_ascii=False, indent=2))
    return 0 if result["ok"] else 1


def checkpoint(app: AuditHall, args: argparse.Namespace) -> int:
    if not args.accept:
        result = app.ledger.verify()
        shown = {key: result[key] for key in ("ok", "entries", "head", "reason", "checkpoint")}
        print(json.dumps(shown, ensure_ascii=False, indent=2))
        return 0 if result["ok"] else 1
    accepted = app.ledger.accept_checkpoint()
    print(json.dumps(accepted, ensure_ascii=False, indent=2))
    if not accepted["accepted"]:
        print("哈希链本身不完整，未重新建立检查点：请先查明 first_bad_seq 处的改动", file=sys.stderr)
        return 1
    print(
        f"已以第 {accepted['entries']} 条记录为检查点重新签名；此前若有末尾记录被删除，已无法再发现",
        file=sys.stderr,
    )
    return 0


def rebuild(app: AuditHall, args: argparse.Namespace) -> int:
    folded = app.figures.catch_up(rebuild=True)
    print(f"已从账本重建监督统计：{folded} 条记录")
    return 0


def departments(app: AuditHall, args: argparse.Namespace) -> int:
    print(json.dumps(app.departments(args.from_, args.to), ensure_ascii=False, indent=2))
    return 0


def report(app: AuditHall, args: argparse.Namespace) -> int:
    Path(args.output).write_bytes(app.report(args.from_, args.to))
    print(f"已写入 {args.output}")
    return 0


COMMANDS = {
    "replay": replay,
    "verify": verify,
    "checkpoint": checkpoint,
    "rebuild": rebuild,
    "departments": departments,
    "report": report,
}

if __name__ == "__main__":
    sys.exit(main())
