"""Whole conversions: golden outputs, the schema of each object, structure and semantics.

Schema: every manifest of every example and of the corpus (``corpus/``) is
validated with ``kubernetes-validate`` (strict: unknown fields are errors)
against the OpenAPI schemas of two Kubernetes versions.  Structure: the
cross-object rules of ``composer.convert.structure``.  Semantics: a probe's
period is the healthcheck's interval, and a network's NetworkPolicy selects
exactly the pods of that network's members.

Golden files are rewritten with ``COMPOSER_UPDATE_GOLDEN=1``; review the diff.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from composer.convert.kubernetes import Result, convert, render
from composer.convert.structure import problems
from composer.project.loader import load_project

HERE = Path(__file__).parent
EXAMPLES = HERE.parents[2] / "examples"
PROJECTS = sorted(EXAMPLES.glob("*/compose.yaml")) + sorted((HERE / "corpus").glob("*.yaml"))
ENVIRON = {"API_KEY": "not-a-real-key", "DB_PASSWORD": "not-a-real-password"}
SCHEMA_VERSIONS = ("1.27.0", "1.35.0")


def _convert(path: Path) -> Result:
    project = load_project([path], environ=ENVIRON)
    return convert(project.spec, environment=project.environment, read_file=Path.read_bytes)


def _id(path: Path) -> str:
    return path.parent.name if path.name == "compose.yaml" else path.stem


@pytest.fixture(scope="module", params=PROJECTS, ids=[_id(p) for p in PROJECTS])
def project_path(request: pytest.FixtureRequest) -> Path:
    path: Path = request.param
    return path


@pytest.fixture(scope="module")
def result(project_path: Path) -> Result:
    return _convert(project_path)


def _golden_text(result: Result) -> str:
    notes = "".join(f"# warning: {f.render()}\n" for f in result.findings)
    return notes + render(result.manifests)


@pytest.mark.parametrize("example", ["ci-stack", "postgres-redis"])
def test_golden(example: str) -> None:
    text = _golden_text(_convert(EXAMPLES / example / "compose.yaml"))
    golden = HERE / "golden" / f"{example}.yaml"
    if os.environ.get("COMPOSER_UPDATE_GOLDEN"):
        golden.write_text(text)
    assert text == golden.read_text()


def test_the_same_project_gives_the_same_bytes() -> None:
    path = HERE / "corpus" / "everything.yaml"
    assert render(_convert(path).manifests) == render(_convert(path).manifests)


@pytest.mark.parametrize("version", SCHEMA_VERSIONS)
def test_each_manifest_validates_against_the_openapi_schema(result: Result, version: str) -> None:
    kubernetes_validate = pytest.importorskip("kubernetes_validate")
    errors = []
    for manifest in result.manifests:
        try:
            kubernetes_validate.validate(manifest, version, strict=True)
        except kubernetes_validate.ValidationError as error:
            errors.append(f"{manifest['kind']}/{manifest['metadata']['name']}: {error}")
    assert errors == []


def test_the_structure_holds(result: Result) -> None:
    assert problems(result.manifests) == []


def test_the_yaml_reads_back_as_the_manifests(result: Result) -> None:
    assert [d for d in yaml.safe_load_all(render(result.manifests))] == result.manifests


def _workloads(result: Result) -> list[dict[str, Any]]:
    return [m for m in result.manifests if m["kind"] in ("Deployment", "StatefulSet", "DaemonSet", "Job")]


def test_a_probe_runs_at_the_healthcheck_interval(project_path: Path, result: Result) -> None:
    project = load_project([project_path], environ=ENVIRON).spec
    for workload in _workloads(result):
        for container in workload["spec"]["template"]["spec"]["containers"]:
            check = project.services[container["name"]].healthcheck
            if check is None or check.disabled or not check.test or workload["kind"] == "Job":
                assert "readinessProbe" not in container
                continue
            assert container["readinessProbe"]["periodSeconds"] == max(1, round(check.interval))
            assert container["livenessProbe"]["timeoutSeconds"] == max(1, round(check.timeout))


def test_a_network_policy_selects_exactly_the_network_members() -> None:
    path = HERE / "corpus" / "everything.yaml"
    project = load_project([path], environ=ENVIRON).spec
    result = _convert(path)
    templates = {
        w["metadata"]["name"]: w["spec"]["template"]["metadata"]["labels"] for w in _workloads(result)
    }
    for network in project.networks:
        policy = next(m for m in result.manifests if m["metadata"]["name"] == f"network-{network}")
        selector = policy["spec"]["podSelector"]["matchLabels"]
        selected = {name for name, labels in templates.items() if selector.items() <= labels.items()}
        members = {name for name, s in project.services.items() if network in s.networks}
        assert selected == members, network


def test_the_structure_check_finds_a_broken_selector() -> None:
    """The checker itself: a Service that selects nothing and a port nobody serves are caught."""
    manifests = _convert(EXAMPLES / "ci-stack" / "compose.yaml").manifests
    web = next(m for m in manifests if m["kind"] == "Service" and m["metadata"]["name"] == "web")
    web["spec"]["ports"][0]["targetPort"] = 9999
    deployment = next(m for m in manifests if m["kind"] == "Deployment" and m["metadata"]["name"] == "db")
    deployment["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/name"] = "other"
    found = problems(manifests)
    assert "Service/web: port tcp-8080 targets 9999/TCP, which no container declares" in found
    assert "Deployment/db: the selector does not match the pod template's labels" in found
    assert "Service/db: selects no pod" in found
