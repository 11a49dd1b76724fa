"""The deployment kit of a generated service: present, parseable and named after the service.

The generated project checks its own kit in depth (tests/test_deployment.py, run by verify,
including the Kubernetes schema validation); these tests check what backforge renders.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from backforge.ir import build_ir
from backforge.render import render_project
from backforge.spec.load import load_spec

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
KIT = [
    "Dockerfile",
    ".dockerignore",
    "compose.yaml",
    "deploy/k8s/kustomization.yaml",
    "deploy/k8s/configmap.yaml",
    "deploy/k8s/deployment.yaml",
    "deploy/k8s/service.yaml",
    "deploy/k8s/hpa.yaml",
    "deploy/k8s/pdb.yaml",
    "deploy/k8s/migration-job.yaml",
    "deploy/grafana/dashboard.json",
    "deploy/prometheus/alerts.yaml",
    ".github/workflows/ci.yaml",
    "RUNBOOK.md",
    "tests/test_deployment.py",
]


def rendered(spec: Path) -> dict[str, str]:
    return render_project(build_ir(load_spec(spec), spec.read_text(encoding="utf-8")))


def test_the_kit_is_generated_and_recorded_in_the_manifest(bookstore: Path) -> None:
    manifest = json.loads((bookstore / ".backforge" / "manifest.json").read_text())
    for path in KIT:
        assert (bookstore / path).is_file(), path
        assert path in manifest["files"], path


def test_the_kit_names_the_service(bookstore: Path) -> None:
    deployment = yaml.safe_load((bookstore / "deploy/k8s/deployment.yaml").read_text())
    assert deployment["metadata"]["name"] == "bookstore"
    assert deployment["metadata"]["labels"]["app.kubernetes.io/name"] == "bookstore"
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert container["image"] == "bookstore:1.0.0"
    assert [next(iter(s.values()))["name"] for s in container["envFrom"]] == [
        "bookstore-config",
        "bookstore-secrets",
    ]
    dockerfile = (bookstore / "Dockerfile").read_text()
    assert 'CMD ["python", "-m", "bookstore.serve"]' in dockerfile
    assert "COPY bookstore/ ./bookstore/" in dockerfile
    compose = yaml.safe_load((bookstore / "compose.yaml").read_text())
    assert compose["name"] == "bookstore"
    assert "@db:5432/bookstore" in compose["services"]["app"]["environment"]["DATABASE_URL"]
    runbook = (bookstore / "RUNBOOK.md").read_text()
    assert runbook.startswith("# Bookstore API: runbook")
    for needle in ("bookstore-secrets", "job/bookstore-migrate", "deployment/bookstore"):
        assert needle in runbook
    readme = (bookstore / "README.md").read_text()
    assert "## Deploy" in readme and "(RUNBOOK.md)" in readme
    assert "kubernetes-validate==" in (bookstore / "requirements-dev.txt").read_text()


def test_every_spec_flag_is_in_the_configmap(bookstore: Path) -> None:
    data = yaml.safe_load((bookstore / "deploy/k8s/configmap.yaml").read_text())["data"]
    spec = yaml.safe_load((EXAMPLES / "bookstore.yaml").read_text())
    flags = spec.get("flags", {})
    assert flags, "the bookstore example declares feature flags"
    for name, flag in flags.items():
        default = flag.get("default", False) if isinstance(flag, dict) else flag
        assert data[f"FLAG_{name.upper()}"] == str(default).lower()
    assert "DATABASE_URL" not in data


@pytest.mark.parametrize("example", ["bookstore", "projects", "inventory"])
def test_dashboard_and_yaml_files_parse(example: str) -> None:
    files = rendered(EXAMPLES / f"{example}.yaml")
    dashboard = json.loads(files["deploy/grafana/dashboard.json"])
    assert dashboard["panels"] and dashboard["templating"]["list"][0]["name"] == "datasource"
    for path, text in files.items():
        if path.endswith(".yaml"):
            assert all(doc is not None for doc in yaml.safe_load_all(text)), path


def test_names_kubernetes_cannot_hold_are_adapted(write_spec: Callable[..., Path]) -> None:
    spec = write_spec(
        """
        service: {name: corner_shop, version: "2.0 beta+1"}
        resources:
          Item:
            fields:
              label: {type: string, required: true}
        """
    )
    files = rendered(spec)
    deployment = yaml.safe_load(files["deploy/k8s/deployment.yaml"])
    assert deployment["metadata"]["name"] == "corner-shop"
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert container["image"] == "corner-shop:2.0-beta-1"
    kustomization = yaml.safe_load(files["deploy/k8s/kustomization.yaml"])
    assert kustomization["images"] == [
        {"name": "corner-shop", "newName": "corner-shop", "newTag": "2.0-beta-1"}
    ]
    assert '"corner_shop.serve"' in files["Dockerfile"]
    assert "FLAG_" not in files["deploy/k8s/configmap.yaml"]
    assert "## Feature flags" not in files["RUNBOOK.md"]


def test_the_dashboard_is_deterministic() -> None:
    first = rendered(EXAMPLES / "inventory.yaml")["deploy/grafana/dashboard.json"]
    second = rendered(EXAMPLES / "inventory.yaml")["deploy/grafana/dashboard.json"]
    assert first == second
    assert first.endswith("}\n")
