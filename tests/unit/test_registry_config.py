"""paddock:registry: defaults, every error path (named as the user writes the key), shipped stacks."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from serving.config_reader import ConfigErrors
from serving.stack_config import PADDOCK_KEYS, load_stack_file, parse_stack_config
from serving.stack_images import registry_needs, stack_image_routes
from tests.unit.test_stack_config import BASE

STACKS = Path(__file__).resolve().parents[2] / "stacks"
DOCKER = "arn:aws:secretsmanager:eu-central-1:111122223333:secret:ecr-pullthroughcache/docker-hub-AbCdEf"
GITHUB = "arn:aws:secretsmanager:eu-central-1:111122223333:secret:ecr-pullthroughcache/github-AbCdEf"


def _cfg(registry: Any = None, *, nat: bool | None = None) -> dict[str, Any]:
    raw = copy.deepcopy(BASE)
    if registry is not None:
        raw["paddock:registry"] = registry
    if nat is not None:
        raw["paddock:network"] = {"natGateway": nat}
    return raw


def _errors(raw: dict[str, Any]) -> list[tuple[str, str]]:
    with pytest.raises(ConfigErrors) as info:
        parse_stack_config(raw, stack="t")
    return info.value.problems


def test_registry_is_a_known_top_level_key() -> None:
    assert "registry" in PADDOCK_KEYS


@pytest.mark.parametrize(("nat", "mode"), [(True, "direct"), (False, "pull-through"), (None, "pull-through")])
def test_default_mode_follows_nat(nat: bool | None, mode: str) -> None:
    cfg = parse_stack_config(_cfg(nat=nat), stack="t")
    assert cfg.registry.mode == mode and cfg.registry.mirror is None


def test_full_pull_through_config() -> None:
    cfg = parse_stack_config(
        _cfg(
            {
                "mode": "pull-through",
                "mirror": "paddock-mirror",
                "dockerHubCredentialArn": DOCKER,
                "githubCredentialArn": GITHUB,
            }
        ),
        stack="t",
    )
    assert cfg.registry.docker_hub_credential_arn == DOCKER
    assert cfg.registry.github_credential_arn == GITHUB


@pytest.mark.parametrize(
    ("registry", "nat", "key", "message"),
    [
        ({"mode": "cache"}, None, "paddock:registry.mode", "is not one of direct, pull-through, mirror"),
        ({"mode": "mirror"}, None, "paddock:registry.mirror", "is required with mode: mirror"),
        ({"mode": "direct"}, False, "paddock:registry.mode", "direct needs internet egress"),
        ({"mirror": "Not A Prefix!"}, None, "paddock:registry.mirror", "is not a registry prefix"),
        (
            {"dockerHubCredentialArn": "arn:aws:secretsmanager:eu-central-1:111122223333:secret:dockerhub"},
            None,
            "paddock:registry.dockerHubCredentialArn",
            "ecr-pullthroughcache/",
        ),
        (
            {"githubCredentialArn": GITHUB.replace("eu-central-1", "us-east-1")},
            None,
            "paddock:registry.githubCredentialArn",
            "must be in eu-central-1",
        ),
        ({"mode": 3}, None, "paddock:registry.mode", "expected a string"),
        ({"mirrors": "x"}, None, "paddock:registry.mirrors", "unknown key"),
        ("pull-through", None, "paddock:registry", "expected a mapping"),
    ],
)
def test_each_error_names_its_key(registry: Any, nat: bool | None, key: str, message: str) -> None:
    problems = _errors(_cfg(registry, nat=nat))
    assert any(k == key and message in m for k, m in problems), problems


def test_direct_without_nat_is_fine_on_an_adopted_vpc() -> None:
    raw = _cfg({"mode": "direct"})
    raw["paddock:network"] = {
        "existingVpcId": "vpc-0123456789abcdef0",
        "privateSubnetIds": ["subnet-0a1b2c3d", "subnet-1a2b3c4d"],
    }
    assert parse_stack_config(raw, stack="t").registry.mode == "direct"


def test_unroutable_images_are_rows_without_route_not_parse_errors() -> None:
    """No NAT, no credentials, no mirror: the config parses; the routes say which images cannot be pulled
    (the bring-up analysis fails the plan on them)."""
    cfg = parse_stack_config(_cfg(), stack="t")
    rows = stack_image_routes(cfg)
    missing = {(r.user, r.image) for r in rows if r.pulled is None}
    assert ("model-llama-8b", "engine") in missing  # docker.io without dockerHubCredentialArn
    assert ("dcgm-exporter", "dcgm-exporter") in missing  # nvcr.io without a mirror
    assert ("keda", "keda") in missing  # ghcr.io without githubCredentialArn
    assert ("kube-prometheus-stack", "prometheus") not in missing  # quay.io needs nothing


def test_prod_eu_routes_every_image_and_needs_these_ecr_objects() -> None:
    cfg = load_stack_file(STACKS / "Pulumi.prod-eu.yaml")
    rows = stack_image_routes(cfg)
    assert rows and all(r.pulled is not None for r in rows), [r.error for r in rows if r.pulled is None]
    assert {r.pulled.route for r in rows if r.pulled} == {"pull-through", "mirror", "ecr"}
    mirrored = {r.image for r in rows if r.pulled and r.pulled.route == "mirror"}
    assert mirrored == {"k8s-device-plugin", "dcgm-exporter"}
    needs = registry_needs(cfg, "123456789012")
    assert [r.prefix for r in needs.rules] == ["docker-hub", "ecr-public", "github", "k8s", "quay"]
    assert needs.mirror_repositories == (
        "paddock-mirror/nvcr.io/nvidia/k8s-device-plugin",
        "paddock-mirror/nvcr.io/nvidia/k8s/dcgm-exporter",
    )
    assert needs.gateway_repository == "paddock-gateway"


@pytest.mark.parametrize("stack", ["dev", "ephemeral"])
def test_nat_stacks_pull_direct_and_need_no_rules(stack: str) -> None:
    cfg = load_stack_file(STACKS / f"Pulumi.{stack}.yaml")
    rows = stack_image_routes(cfg)
    assert {r.pulled.route for r in rows if r.pulled} == {"direct", "ecr"}
    assert registry_needs(cfg, "123456789012").rules == ()


def test_ephemeral_stacks_create_no_repository_or_rule() -> None:
    cfg = load_stack_file(STACKS / "Pulumi.ephemeral.yaml")
    needs = registry_needs(cfg, "123456789012")
    assert needs.gateway_repository is None and needs.rules == () and needs.mirror_repositories == ()
    dev = registry_needs(load_stack_file(STACKS / "Pulumi.dev.yaml"), "123456789012")
    assert dev.gateway_repository == "paddock-gateway"  # dev (same region) owns it


def test_gateway_image_defaults_to_the_stacks_repository_at_the_project_version() -> None:
    from serving.stack_images import gateway_image, project_version

    cfg = load_stack_file(STACKS / "Pulumi.dev.yaml")
    assert cfg.versions.gateway_image is None  # the ghcr.io/example placeholder is gone
    assert gateway_image(cfg, "123456789012") == (
        f"123456789012.dkr.ecr.us-east-1.amazonaws.com/paddock-gateway:{project_version()}"
    )
    pinned = parse_stack_config(_cfg(), stack="t")  # BASE pins ghcr.io/example/paddock-gateway:0.1.0
    assert gateway_image(pinned, "123456789012") == "ghcr.io/example/paddock-gateway:0.1.0"
    assert registry_needs(pinned, "123456789012").gateway_repository is None
