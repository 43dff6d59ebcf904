"""The AsyncAPI 3.0 document of every event onetrip publishes, built from ``shared.contracts``.

Other campus systems read this document (``GET /api/v1/asyncapi.json``) instead of guessing from
the exchanges: one channel per (publishing service, event type), its exchange and routing key as
AMQP bindings, and each message's payload as JSON Schema — the envelope of
``shared.contracts.envelope`` with ``type`` fixed and ``data`` the event's own model. The
document is generated, never edited: a new event declared in ``shared.contracts.EVENT_DATA``
appears here by itself.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from datetime import UTC, datetime
from functools import cache
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from shared.contracts import EVENT_DATA, SCHEMA_VERSION, IntegrationEvent
from shared.topology import events_exchange

REF = "#/components/schemas/{model}"
AMQP_BINDING_VERSION = "0.3.0"
SERVICE_TITLES = {
    "catalogue": "服务事项清单",
    "approval": "办件审批",
    "notify": "通知",
    "audit": "监督",
    "gateway": "门户",
}
EXAMPLE_MOMENT = datetime(2026, 9, 1, 9, 30, tzinfo=UTC).isoformat()


def broker_address(amqp_uri: str) -> str:
    """host:port of an AMQP URI, without its credentials."""
    parts = urlsplit(amqp_uri)
    return f"{parts.hostname or '127.0.0.1'}:{parts.port or 5672}"


def channel_id(service: str, event_type: str) -> str:
    return f"{service}.{event_type}"


@cache
def document(broker: str = "127.0.0.1:5672") -> dict[str, Any]:
    """The whole document; ``broker`` is the host:port named as the campus server."""
    models = _models()
    keys, schemas = models_json_schema(
        [(model, "serialization") for model in models], ref_template=REF
    )
    components = dict(schemas.get("$defs", {}))
    refs = {model: keys[(model, "serialization")]["$ref"] for model in models}
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for service, events in EVENT_DATA.items():
        exchange = events_exchange(service, declare=False)
        for event_type, model in sorted(events.items()):
            name = channel_id(service, event_type)
            messages[name] = _message(service, event_type, refs[model], components)
            channels[name] = {
                "address": event_type,
                "title": f"{SERVICE_TITLES.get(service, service)}：{event_type}",
                "messages": {event_type: {"$ref": f"#/components/messages/{name}"}},
                "bindings": {
                    "amqp": {
                        "is": "routingKey",
                        "exchange": {
                            "name": exchange.name,
                            "type": "topic",
                            "durable": True,
                            "autoDelete": False,
                            "vhost": "/",
                        },
                        "bindingVersion": AMQP_BINDING_VERSION,
                    }
                },
            }
            operations[f"{name}.publish"] = {
                "action": "send",
                "title": f"{service} 发布 {event_type}",
                "channel": {"$ref": f"#/channels/{name}"},
                "messages": [{"$ref": f"#/channels/{name}/messages/{event_type}"}],
            }
    components[ENVELOPE] = _envelope_schema()
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "onetrip 事件契约",
            "version": f"{SCHEMA_VERSION}.1.0",
            "description": (
                "“最多跑一趟”网上办事大厅发布的集成事件。每个服务一个 topic 交换机 "
                "`<service>.events`，路由键即事件类型；消息体是统一的信封，`data` 为事件本身。"
                "读者应忽略不认识的字段和事件类型（新增字段不提升 schema_version）。"
            ),
        },
        "defaultContentType": "application/json",
        "servers": {
            "campus": {
                "host": broker,
                "protocol": "amqp",
                "protocolVersion": "0.9.1",
                "description": "校园消息总线（RabbitMQ）；其他系统使用只读的 campus 账号订阅",
            }
        },
        "channels": channels,
        "operations": operations,
        "components": {"schemas": components, "messages": messages},
    }


ENVELOPE = "IntegrationEvent"


def payload_schema(service: str, event_type: str) -> dict[str, Any]:
    """The message payload schema of one event, with ``components`` inlined by reference
    resolution left to the reader (see ``validator``)."""
    return document()["components"]["messages"][channel_id(service, event_type)]["payload"]


def _models() -> list[type[BaseModel]]:
    seen: dict[type[BaseModel], None] = {}
    for events in EVENT_DATA.values():
        for model in events.values():
            seen.setdefault(model, None)
    return list(seen)


def _envelope_schema() -> dict[str, Any]:
    schema = IntegrationEvent.model_json_schema(mode="serialization", ref_template=REF)
    schema.pop("$defs", None)
    schema["description"] = "所有集成事件的信封（event_id 对同一事件稳定，可据此去重）"
    return schema


def _message(
    service: str, event_type: str, data_ref: str, components: Mapping[str, Any]
) -> dict[str, Any]:
    payload = {
        "allOf": [
            {"$ref": REF.format(model=ENVELOPE)},
            {
                "type": "object",
                "properties": {
                    "type": {"const": event_type},
                    "service": {"const": service},
                    "data": {"$ref": data_ref},
                },
            },
        ]
    }
    model_name = data_ref.rsplit("/", 1)[-1]
    example = {
        "event_id": "0f8f6c1e-9a49-5b8e-8c7a-3d0d2b1c4a5e",
        "type": event_type,
        "schema_version": SCHEMA_VERSION,
        "occurred_at": EXAMPLE_MOMENT,
        "service": service,
        "aggregate_id": "6a1d3f70-2b8e-5c41-9f0a-7e5d4c3b2a19",
        "aggregate_version": 3,
        "notification_id": 42,
        "actor": "teacher1",
        "data": example_of(components[model_name], components),
    }
    return {
        "name": event_type,
        "title": event_type,
        "contentType": "application/json",
        "payload": payload,
        "examples": [{"name": f"{event_type} 示例", "payload": example}],
    }


def example_of(schema: Mapping[str, Any], components: Mapping[str, Any]) -> Any:
    """A deterministic instance of ``schema`` (the tests check it validates)."""
    if "$ref" in schema:
        return example_of(components[schema["$ref"].rsplit("/", 1)[-1]], components)
    if "examples" in schema:
        return copy.deepcopy(schema["examples"][0])
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return schema["enum"][0]
    for key in ("anyOf", "oneOf", "allOf"):
        if key in schema:
            choices = [s for s in schema[key] if s.get("type") != "null"] or schema[key]
            return example_of(choices[0], components)
    return _typed_example(schema, components)


def _typed_example(schema: Mapping[str, Any], components: Mapping[str, Any]) -> Any:
    kind = schema.get("type", "object")
    if kind == "object":
        properties = schema.get("properties", {})
        return {name: example_of(sub, components) for name, sub in properties.items()}
    if kind == "array":
        count = max(1, schema.get("minItems", 1))
        return [example_of(schema.get("items", {}), components) for _ in range(count)]
    if kind == "integer":
        return max(1, schema.get("minimum", 1))
    if kind == "string":
        return STRING_EXAMPLES.get(schema.get("format", ""), "示例")
    return SCALAR_EXAMPLES.get(kind)


STRING_EXAMPLES = {
    "date": EXAMPLE_MOMENT[:10],
    "date-time": EXAMPLE_MOMENT,
    "uuid": "6a1d3f70-2b8e-5c41-9f0a-7e5d4c3b2a19",
}
SCALAR_EXAMPLES: dict[str, Any] = {"number": 1.0, "boolean": False, "null": None}
