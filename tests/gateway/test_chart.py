"""The gateway chart rendered with values from routes_from_stack(prod-eu): lint, strict schemas, checkov, and
the routes.yaml inside the ConfigMap loads in the gateway unchanged."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from serving.gateway.chart_values import CHART_PATH, gateway_values
from serving.gateway.config import parse_routes
from serving.gateway.routes_from_stack import routes_from_stack
from serving.stack_config import load_stack_file
from serving.values import HELM_VALUES_DIR
from tests.chartcheck import checkov_failures, checkov_report, documents, lint, render, validate_strict

ROLE = "arn:aws:iam::111122223333:role/paddock-gateway"


@pytest.fixture(scope="module")
def values() -> dict[str, Any]:
    routes = routes_from_stack(load_stack_file(HELM_VALUES_DIR.parent / "stacks" / "Pulumi.prod-eu.yaml"))
    return gateway_values(
        image="ghcr.io/example/paddock-gateway:0.1.0",
        routes=routes,
        replicas=2,
        service_account="paddock-gateway",
        role_arn=ROLE,
        api_keys_secret="paddock-gateway-keys",
    )


@pytest.fixture(scope="module")
def manifests(values: dict[str, Any]) -> str:
    return render(CHART_PATH, values, release="paddock-gateway", namespace="serving")


def by_kind(manifests: str) -> dict[str, dict[str, Any]]:
    return {d["kind"]: d for d in documents(manifests)}


def test_lint_and_strict_schemas(values: dict[str, Any], manifests: str) -> None:
    lint(CHART_PATH, values)
    assert validate_strict(manifests) == []
    assert sorted(by_kind(manifests)) == [
        "ConfigMap",
        "Deployment",
        "NetworkPolicy",
        "PodDisruptionBudget",
        "Service",
        "ServiceAccount",
    ]


def test_checkov_clean(manifests: str) -> None:
    assert checkov_failures(checkov_report(manifests)) == []


def test_routes_configmap_round_trips_into_the_gateway_loader(values: dict[str, Any], manifests: str) -> None:
    cm = by_kind(manifests)["ConfigMap"]
    doc = yaml.safe_load(cm["data"]["routes.yaml"])
    assert doc == values["routes"]
    settings = parse_routes(doc)
    assert settings.aliases["llama-8b-eu-only"].pinned and not settings.aliases["llama-70b"].pinned


def test_deployment_wiring(manifests: str) -> None:
    k = by_kind(manifests)
    assert k["ServiceAccount"]["metadata"]["annotations"] == {"eks.amazonaws.com/role-arn": ROLE}
    pod = k["Deployment"]["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "paddock-gateway" and k["Deployment"]["spec"]["replicas"] == 2
    c = pod["containers"][0]
    assert c["image"] == "ghcr.io/example/paddock-gateway:0.1.0"
    assert c["args"][:3] == ["gateway", "--config", "/etc/paddock/routes/routes.yaml"]
    assert {m["mountPath"] for m in c["volumeMounts"]} >= {"/etc/paddock/routes", "/etc/paddock/api-keys"}
    assert {v["name"]: v for v in pod["volumes"]}["api-keys"]["secret"][
        "secretName"
    ] == "paddock-gateway-keys"
    assert k["PodDisruptionBudget"]["spec"]["minAvailable"] == 1
    assert k["Service"]["spec"]["ports"][0]["port"] == 8080


def test_pod_identity_and_no_auth_render_without_annotation_or_secret(values: dict[str, Any]) -> None:
    routes = {k: v for k, v in values["routes"].items() if k != "apiKeys"}
    plain = gateway_values(
        image="r/gw:1",
        routes=routes,
        replicas=1,
        service_account="paddock-gateway",
        role_arn=None,
        api_keys_secret=None,
    )
    k = by_kind(render(CHART_PATH, plain, release="paddock-gateway", namespace="serving"))
    assert "annotations" not in k["ServiceAccount"]["metadata"]
    assert "api-keys" not in {v["name"] for v in k["Deployment"]["spec"]["template"]["spec"]["volumes"]}
    assert k["PodDisruptionBudget"]["spec"]["minAvailable"] == 0


def test_untagged_image_and_invalid_routes_are_rejected() -> None:
    with pytest.raises(ValueError, match="has no tag"):
        gateway_values(
            image="r/gw",
            routes={"aliases": {"a": {"primary": {"url": "http://x", "model": "m"}}}},
            replicas=1,
            service_account="s",
            role_arn=None,
            api_keys_secret=None,
        )
    with pytest.raises(Exception, match="aliases: expected a non-empty mapping"):
        gateway_values(
            image="r/gw:1",
            routes={"aliases": {}},
            replicas=1,
            service_account="s",
            role_arn=None,
            api_keys_secret=None,
        )


@pytest.mark.parametrize("stack", ["dev", "prod-eu", "ephemeral"])
def test_shipped_stacks_render_a_valid_gateway_with_their_pinned_aliases(stack: str) -> None:
    """The gateway manifests `paddock plan` renders for each shipped stack (kept equal to a fresh render by
    tests/components/test_stacks.py) validate strictly, carry no IRSA annotation (Pod Identity binds the
    Bedrock role) and route pinned aliases with ``fallback: none``."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    text = (root / "tests" / "golden" / stack / "manifests" / "paddock-gateway.yaml").read_text()
    assert validate_strict(text) == []
    docs = {d["kind"]: d for d in documents(text)}
    assert "eks.amazonaws.com/role-arn" not in (docs["ServiceAccount"]["metadata"].get("annotations") or {})
    routes = yaml.safe_load(next(iter(docs["ConfigMap"]["data"].values())))
    cfg = load_stack_file(root / "stacks" / f"Pulumi.{stack}.yaml")
    for m in cfg.models:
        assert (routes["aliases"][m.alias]["fallback"] == "none") is m.pinned, m.alias
