"""Gateway component under Pulumi mocks: one Release child with rendered values, outputs, and validation of
every argument (routes included) before any child exists."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pulumi
import pytest

from components.gateway import Gateway, GatewayArgs
from serving.gateway.routes_from_stack import routes_from_stack
from serving.stack_config import load_stack_file
from tests.components.conftest import Registered

STACKS = Path(__file__).resolve().parents[2] / "stacks"
IMAGE = "ghcr.io/example/paddock-gateway:0.1.0"


def prod_routes() -> dict[str, Any]:
    return routes_from_stack(load_stack_file(STACKS / "Pulumi.prod-eu.yaml"))


def test_release_with_values_and_irsa_annotation(run: Callable[..., Registered]) -> None:
    role = "arn:aws:iam::123456789012:role/bedrock-role"

    def program() -> None:
        gw = Gateway(
            "gateway",
            GatewayArgs(
                namespace="serving",
                image=IMAGE,
                routes=prod_routes(),
                provider=None,
                role_arn=pulumi.Output.from_input(role),
                replicas=3,
            ),
        )
        assert gw.service_url == "http://paddock-gateway.serving.svc:8080/v1"
        assert gw.aliases == ["llama-70b", "llama-8b-eu-only"]

    reg = run(program)
    assert reg.children("gateway") == {"gateway-release": "kubernetes:helm.sh/v3:Release"}
    rel = reg.named("gateway-release")
    assert (rel.inputs["name"], rel.inputs["namespace"]) == ("paddock-gateway", "serving")
    assert rel.inputs["chart"].endswith("serving/charts/gateway")
    values = rel.inputs["values"]
    assert values["serviceAccount"] == {"name": "paddock-gateway", "roleArn": role}
    assert values["replicas"] == 3 and values["image"] == {
        "repository": "ghcr.io/example/paddock-gateway",
        "tag": "0.1.0",
        "pullPolicy": "IfNotPresent",
    }
    assert values["nodeSelector"] == {}  # GatewayArgs.node_selector default (adopted clusters)
    assert values["routes"] == prod_routes() and values["apiKeysSecret"] == "paddock-gateway-keys"
    assert reg.named("gateway").type == "paddock:serving:Gateway"


def test_pod_identity_needs_no_role_arn(run: Callable[..., Registered]) -> None:
    def program() -> None:
        Gateway("gw", GatewayArgs(namespace="serving", image=IMAGE, routes=prod_routes(), provider=None))

    values = run(program).named("gw-release").inputs["values"]
    assert values["serviceAccount"]["roleArn"] == "" and values["pdb"] == {"minAvailable": 1}


def test_every_bad_argument_is_named_before_any_child(run: Callable[..., Registered]) -> None:
    created: list[str] = []

    def program() -> None:
        with pytest.raises(pulumi.InputPropertiesError) as info:
            Gateway(
                "bad",
                GatewayArgs(
                    namespace="Serving",
                    image="gw-without-tag",
                    provider=None,
                    replicas=0,
                    routes={"apiKeys": {"file": "/k"}, "aliases": {"a": {"primary": {"url": "x"}}}},
                    api_keys_secret=None,
                    chart_path=Path("/nonexistent"),
                ),
            )
        message = str(info.value)
        for fragment in (
            "namespace: 'Serving' is not a DNS-1123 label",
            "image: image 'gw-without-tag' has no tag",
            "replicas: must be >= 1, got 0",
            "aliases.a.primary.url: expected an http(s) URL",
            "aliases.a.primary.model: is required",
            "chart_path: /nonexistent is not a Helm chart",
        ):
            assert fragment in message
        created.append("checked")

    reg = run(program)
    assert created == ["checked"] and reg.records == []


def test_file_keys_without_a_secret_is_refused(run: Callable[..., Registered]) -> None:
    def program() -> None:
        with pytest.raises(pulumi.InputPropertiesError, match="api_keys_secret: routes read apiKeys.file"):
            Gateway(
                "gw",
                GatewayArgs(
                    namespace="serving",
                    image=IMAGE,
                    routes=prod_routes(),
                    provider=None,
                    api_keys_secret=None,
                ),
            )

    assert run(program).records == []
