"""Validate a kustomize directory offline: every object against its schema, and onetrip's own rules.

    .venv/bin/python deploy/validate.py [deploy/base]

Built-in kinds are checked with ``kubernetes-validate`` (the Kubernetes API's JSON schemas, strict:
an unknown field is an error); the operators' kinds (RabbitmqCluster, CloudNativePG's Cluster,
KEDA's ScaledObject and TriggerAuthentication) against the ``openAPIV3Schema`` of the CRDs vendored
in ``deploy/crds/``, made as strict (an unknown field is an error, as ``kubectl --validate=strict``
makes it). Then the rules no schema knows: each onetrip service runs in a Deployment, each
ScaledObject scales one of them on a queue that exists in ``shared/topology.py``, each Secret and
PersistentVolumeClaim a pod names is one the directory or deploy/README.md provides.
Prints one line per problem; exits 1 if there is any.
"""
from __future__ import annotations

import sys
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import yaml

ROOT = Path(__file__).resolve().parents[1]
CRDS = Path(__file__).resolve().parent / "crds"
KUBERNETES_VERSION = "1.33"
SERVICES = ("catalogue", "approval", "notify", "audit", "gateway")
# Made by the operators (the Cluster's and the RabbitmqCluster's) or by hand (deploy/README.md).
OUTSIDE_SECRETS = {"onetrip-pg-app", "onetrip-bus-default-user", "onetrip-keys",
                   "onetrip-bus-passwords"}

Manifest = dict[str, Any]


def main() -> None:
    directory = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "deploy" / "base"
    problems = validate(directory)
    for problem in problems:
        print(problem)
    print(f"{directory}: {len(problems)} problem(s)")
    sys.exit(1 if problems else 0)


def validate(directory: Path) -> list[str]:
    try:
        manifests = list(load(directory))
    except (OSError, yaml.YAMLError, KeyError, TypeError) as exc:
        return [f"{directory}: cannot read: {exc}"]
    problems = [p for source, manifest in manifests for p in against_schema(source, manifest)]
    return problems + onetrip_rules([m for _, m in manifests])


# -- reading -------------------------------------------------------------------------------


def load(directory: Path) -> Iterator[tuple[str, Manifest]]:
    kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text())
    for resource in kustomization["resources"]:
        path = directory / resource
        for number, document in enumerate(yaml.safe_load_all(path.read_text())):
            if document is not None:
                yield f"{resource}#{number}", document


# -- schemas -------------------------------------------------------------------------------


def against_schema(source: str, manifest: Manifest) -> list[str]:
    if not isinstance(manifest, dict) or "kind" not in manifest or "apiVersion" not in manifest:
        return [f"{source}: not a Kubernetes object (no kind or apiVersion)"]
    name = f"{source} {manifest['kind']}/{manifest.get('metadata', {}).get('name', '?')}"
    schema = custom_schemas().get((manifest["apiVersion"], manifest["kind"]))
    if schema is not None:
        errors = sorted(jsonschema.Draft4Validator(schema).iter_errors(manifest), key=str)
        return [f"{name}: {where(e.absolute_path)}: {e.message}" for e in errors]
    try:
        kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as exc:
        return [f"{name}: {where(exc.absolute_path)}: {exc.message}"]
    except kubernetes_validate.SchemaNotFoundError as exc:
        return [f"{name}: {exc.message}"]
    return []


def where(path: Any) -> str:
    return ".".join(str(part) for part in path) or "(top)"


@cache
def custom_schemas() -> dict[tuple[str, str], dict[str, Any]]:
    schemas = {}
    for crd_file in sorted(CRDS.glob("*.yaml")):
        crd = yaml.load(crd_file.read_text(), Loader=yaml.CSafeLoader)
        group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
        for version in crd["spec"]["versions"]:
            if version.get("served"):
                schema = strict(version["schema"]["openAPIV3Schema"])
                schema["properties"]["metadata"] = {"type": "object"}
                schema["required"] = sorted({*schema.get("required", []), "apiVersion", "kind"})
                schemas[(f"{group}/{version['name']}", kind)] = schema
    return schemas


def strict(schema: Any) -> Any:
    """The CRD schema as the API server applies it: unknown fields refused, ``nullable`` kept."""
    if isinstance(schema, list):
        return [strict(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    result = {key: strict(value) if key != "properties" else
              {name: strict(sub) for name, sub in value.items()}
              for key, value in schema.items()}
    if ("properties" in result and "additionalProperties" not in result
            and not result.get("x-kubernetes-preserve-unknown-fields")):
        result["additionalProperties"] = False
    if result.get("nullable") and isinstance(result.get("type"), str):
        result["type"] = [result["type"], "null"]
    return result


# -- onetrip's own rules -------------------------------------------------------------------


def onetrip_rules(manifests: list[Manifest]) -> list[str]:
    of_kind = lambda kind: {m["metadata"]["name"]: m for m in manifests if m.get("kind") == kind}
    deployments = of_kind("Deployment")
    problems = [f"service {service}: no Deployment runs `onetrip-service {service}`"
                for service in SERVICES if not runs(deployments.get(service), service)]
    problems += scaled_objects(of_kind("ScaledObject"), deployments)
    secrets = set(of_kind("Secret")) | OUTSIDE_SECRETS
    claims = set(of_kind("PersistentVolumeClaim"))
    for manifest in [*deployments.values(), *of_kind("Job").values()]:
        pod = manifest["spec"]["template"]["spec"]
        problems += [f"{manifest['kind']}/{manifest['metadata']['name']}: Secret {s} is made nowhere"
                     for s in secret_names(pod) if s not in secrets]
        problems += [f"{manifest['kind']}/{manifest['metadata']['name']}: no claim {c}"
                     for c in claim_names(pod) if c not in claims]
    return problems


def runs(deployment: Manifest | None, service: str) -> bool:
    if deployment is None:
        return False
    containers = deployment["spec"]["template"]["spec"]["containers"]
    return any(c.get("command") == ["onetrip-service", service] for c in containers)


def scaled_objects(scaled: dict[str, Manifest], deployments: dict[str, Manifest]) -> list[str]:
    queues = known_queues()
    problems = []
    for name, manifest in scaled.items():
        target = manifest["spec"]["scaleTargetRef"]["name"]
        if target not in deployments:
            problems.append(f"ScaledObject/{name}: scales {target}, which no Deployment is")
        for trigger in manifest["spec"]["triggers"]:
            queue = trigger.get("metadata", {}).get("queueName")
            if trigger["type"] == "rabbitmq" and queue not in queues:
                problems.append(f"ScaledObject/{name}: queue {queue} is not one onetrip declares")
    return problems


def known_queues() -> set[str]:
    sys.path.insert(0, str(ROOT))
    from shared.topology import PUBLISHERS, SUBSCRIPTIONS

    return {s.queue_name for s in SUBSCRIPTIONS} | {f"rpc-{service}" for service in PUBLISHERS}


def secret_names(pod: dict[str, Any]) -> set[str]:
    found = set()
    for container in pod.get("containers", []) + pod.get("initContainers", []):
        found |= {s["secretRef"]["name"] for s in container.get("envFrom", []) if "secretRef" in s}
        found |= {e["valueFrom"]["secretKeyRef"]["name"] for e in container.get("env", [])
                  if "secretKeyRef" in e.get("valueFrom", {})}
    return found


def claim_names(pod: dict[str, Any]) -> set[str]:
    return {v["persistentVolumeClaim"]["claimName"] for v in pod.get("volumes", [])
            if "persistentVolumeClaim" in v}


if __name__ == "__main__":
    main()
