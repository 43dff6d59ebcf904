"""The Kubernetes manifests (deploy/base) validated offline: the API's schemas, the operators'
CRD schemas vendored in deploy/crds, and what onetrip needs of them. No cluster is needed."""
from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import sys
from functools import cache
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]
BASE = ROOT / "deploy" / "base"


@cache
def validator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("deploy_validate", ROOT / "deploy" / "validate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_manifests_are_valid_against_every_schema_and_onetrips_rules() -> None:
    # Given the kustomize directory as committed
    # When the validator reads every object it lists
    ran = subprocess.run([sys.executable, "deploy/validate.py", str(BASE)], cwd=ROOT,
                         capture_output=True, text=True, check=False, timeout=120)
    # Then nothing is wrong
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert ran.stdout.strip().endswith("0 problem(s)")


def test_the_directory_holds_every_kind_issue_15_asks_for() -> None:
    validate = validator()
    kinds = {(m["kind"], m["metadata"]["name"]) for _, m in validate.load(BASE)}
    assert {("Deployment", s) for s in validate.SERVICES} <= kinds
    assert {("RabbitmqCluster", "onetrip-bus"), ("Cluster", "onetrip-pg"),
            ("ScaledObject", "approval"), ("ScaledObject", "notify")} <= kinds


BROKEN = [
    ("a typo in a KEDA field", "scaling.yaml", "minReplicaCount: 2", "minReplicas: 2",
     r"ScaledObject/approval: spec: Additional properties are not allowed \('minReplicas'"),
    ("a word for a number in the RabbitmqCluster", "rabbitmq.yaml", "  replicas: 3",
     "  replicas: three", r"RabbitmqCluster/onetrip-bus: spec.replicas: 'three' is not of type"),
    ("CloudNativePG's instances misspelt", "postgres.yaml", "  instances: 3", "  instance: 3",
     r"Cluster/onetrip-pg: spec: 'instances' is a required property"),
    ("a string for the Deployment's replicas", "approval.yaml", "  replicas: 2",
     '  replicas: "2"', r"Deployment/approval: spec.replicas: '2' is not of type"),
    ("an unknown field in a pod", "gateway.yaml", "terminationGracePeriodSeconds",
     "terminationGraceSeconds", r"Deployment/gateway: .*terminationGraceSeconds"),
    ("a queue onetrip does not declare", "scaling.yaml", "queueName: rpc-approval",
     "queueName: rpc-aproval", r"ScaledObject/approval: queue rpc-aproval is not one onetrip"),
    ("a service left out", "kustomization.yaml", "  - notify.yaml\n", "",
     r"service notify: no Deployment runs `onetrip-service notify`"),
    ("a claim nobody makes", "audit.yaml", "claimName: onetrip-audit-checkpoint",
     "claimName: onetrip-audit", r"Deployment/audit: no claim onetrip-audit"),
]


@pytest.mark.parametrize(("what", "file", "good", "bad", "reported"), BROKEN,
                         ids=[b[0] for b in BROKEN])
def test_a_broken_manifest_fails_the_validation(
    tmp_path: Path, what: str, file: str, good: str, bad: str, reported: str
) -> None:
    # Given a copy of the manifests with one mistake
    broken = tmp_path / "base"
    shutil.copytree(BASE, broken)
    text = (broken / file).read_text()
    assert good in text, f"the fixture no longer holds {good!r}"
    (broken / file).write_text(text.replace(good, bad, 1))
    # When it is validated
    problems = validator().validate(broken)
    # Then it fails, naming the mistake
    assert any(re.search(reported, problem) for problem in problems), problems
