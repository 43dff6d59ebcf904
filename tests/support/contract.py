"""The published AsyncAPI document as a judge: the AsyncAPI project's own parser (Node.js,
``tests/asyncapi``) and JSON Schema validation of events against their message payloads."""
from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker

from shared.contracts import EVENT_DATA
from tests.support.processes import ROOT

PARSER = ROOT / "tests" / "asyncapi"


def parse(document: dict[str, Any], workdir: Path) -> tuple[int, list[dict[str, Any]]]:
    """The parser's exit code and diagnostics for ``document``."""
    node = shutil.which("node")
    assert node, "Node.js is needed (README: make test)"
    assert (PARSER / "node_modules" / "@asyncapi" / "parser").is_dir(), "make test runs npm ci"
    path = workdir / "asyncapi.json"
    path.write_text(json.dumps(document, ensure_ascii=False))
    done = subprocess.run([node, "validate.js", str(path)], check=False, cwd=PARSER,
                          capture_output=True,
                          text=True, timeout=120)
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    return done.returncode, lines


def problems(document: dict[str, Any], event: dict[str, Any]) -> list[str]:
    """Why ``event`` (an envelope as it travelled) does not match its message in ``document``;
    empty when it does."""
    name = f"{event.get('service')}.{event.get('type')}"
    if name not in document["components"]["messages"]:
        return [f"{name}: no such message in the document"]
    schema = {**document, "$ref": f"#/components/messages/{name}/payload"}
    validator = Draft202012Validator(schema, format_checker=FormatChecker())
    return [f"{name} {list(error.absolute_path)}: {error.message}"
            for error in validator.iter_errors(event)]


def undeclared(event: dict[str, Any]) -> list[str]:
    """Fields a service published that its contract model does not declare: readers would
    ignore them (the schema admits them, for later versions), so a publisher must not."""
    model = EVENT_DATA.get(event.get("service", ""), {}).get(event.get("type", ""))
    if model is None:
        return [f"{event.get('service')}.{event.get('type')}: not declared"]
    return [f"{event['service']}.{event['type']}.{name}" for name in event.get("data", {})
            if name not in model.model_fields]
