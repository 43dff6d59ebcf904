"""The flow chart of an item's flow, laid out by Graphviz ``dot``: stages left to right,
each stage a cluster of its parallel nodes stacked top to bottom."""

from __future__ import annotations

import subprocess
from typing import Any

from shared.departments import department_name

DOT = "/usr/bin/dot"
FONT = "WenQuanYi Micro Hei,Noto Sans CJK SC,sans-serif"
TIMEOUT_SECONDS = 10
ON_RETURN = {"restart_stage": "退回后本阶段全部重审", "returning_node_only": "退回后仅退回节点重审"}


class FlowchartError(RuntimeError):
    pass


def quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def node_name(stage: int, node: int) -> str:
    return f"n{stage}_{node}"


def stage_cluster(number: int, stage: dict[str, Any]) -> list[str]:
    title = f"第{number}阶段：{stage['name']}\n{ON_RETURN[stage['on_return']]}"
    lines = [f"  subgraph cluster_{number} {{", f"    label={quoted(title)};"]
    for index, node in enumerate(stage["nodes"]):
        label = f"{department_name(node['department'])}\n{node['time_limit_days']}个工作日"
        lines.append(f"    {node_name(number, index)} [label={quoted(label)}];")
    lines.append("  }")
    return lines


def joins(stages: list[dict[str, Any]]) -> list[str]:
    """Every node of a stage leads to a join point, the join point to every node of the next."""
    lines = []
    for number, stage in enumerate(stages, start=1):
        entry = "start" if number == 1 else f"join{number - 1}"
        exit_ = "finish" if number == len(stages) else f"join{number}"
        if exit_ != "finish":
            lines.append(f"  {exit_} [shape=point, width=0.08];")
        for index in range(len(stage["nodes"])):
            lines.append(f"  {entry} -> {node_name(number, index)};")
            lines.append(f"  {node_name(number, index)} -> {exit_};")
    return lines


def dot_source(name: str, flow: dict[str, Any]) -> str:
    stages = flow["stages"]
    font = quoted(FONT)
    lines = [
        "digraph flow {",
        f"  graph [rankdir=LR, fontname={font}, labelloc=t, label={quoted(name)}, nodesep=0.25];",
        f'  node [shape=box, style="rounded,filled", fillcolor="#eef4ff", fontname={font}];',
        f"  edge [fontname={font}, arrowsize=0.7];",
        f'  start [label={quoted("申请人提交")}, shape=ellipse, fillcolor="#e8f7ea"];',
        f'  finish [label={quoted("办结（短信告知）")}, shape=ellipse, fillcolor="#e8f7ea"];',
    ]
    for number, stage in enumerate(stages, start=1):
        lines += stage_cluster(number, stage)
    lines += joins(stages)
    lines.append("}")
    return "\n".join(lines)


def render_svg(name: str, flow: dict[str, Any]) -> str:
    try:
        result = subprocess.run(
            [DOT, "-Tsvg"],
            input=dot_source(name, flow).encode(),
            capture_output=True,
            timeout=TIMEOUT_SECONDS,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise FlowchartError(f"流程图生成失败：{exc}") from exc
    if result.returncode != 0:
        raise FlowchartError(f"流程图生成失败：{result.stderr.decode(errors='replace')[:500]}")
    return result.stdout.decode()
