"""Registry under Pulumi mocks: gateway repository, pull-through rules, mirror repos, first-pull policy."""

from __future__ import annotations

from collections.abc import Callable

import pulumi
import pytest

from components.registry import PullThroughRule, Registry, RegistryArgs, first_pull_policy
from tests.components.conftest import Registered

Run = Callable[..., Registered]
SECRET = "arn:aws:secretsmanager:eu-central-1:123456789012:secret:ecr-pullthroughcache/docker-hub-AbCdEf"
RULES = (
    PullThroughRule(prefix="quay", upstream_url="quay.io"),
    PullThroughRule(
        prefix="docker-hub",
        upstream_url="registry-1.docker.io",
        credential_arn=SECRET,
        credential_required=True,
    ),
)


def _args(**kw: object) -> RegistryArgs:
    base: dict[str, object] = {
        "region": "eu-central-1",
        "account": "123456789012",
        "rules": RULES,
        "mirror_repositories": ("paddock-mirror/nvcr.io/nvidia/k8s-device-plugin",),
        "gateway_repository": "paddock-gateway",
        "tags": {"team": "ml"},
    }
    base.update(kw)
    return RegistryArgs(**base)  # type: ignore[arg-type]


def test_creates_repositories_rules_and_policy(run: Run) -> None:
    reg = run(lambda: Registry("registry", _args()) and None)
    assert reg.children("registry") == {
        "registry-gateway": "aws:ecr/repository:Repository",
        "registry-mirror-paddock-mirror-nvcr-io-nvidia-k8s-device-plugin": "aws:ecr/repository:Repository",
        "registry-ptc-quay": "aws:ecr/pullThroughCacheRule:PullThroughCacheRule",
        "registry-ptc-docker-hub": "aws:ecr/pullThroughCacheRule:PullThroughCacheRule",
        "registry-first-pull": "aws:iam/policy:Policy",
    }
    gateway = reg.named("registry-gateway").inputs
    assert gateway["name"] == "paddock-gateway"
    assert gateway["imageTagMutability"] == "IMMUTABLE"
    assert gateway["imageScanningConfiguration"] == {"scanOnPush": True}
    docker = reg.named("registry-ptc-docker-hub").inputs
    assert docker == {
        "ecrRepositoryPrefix": "docker-hub",
        "upstreamRegistryUrl": "registry-1.docker.io",
        "credentialArn": SECRET,
    }
    assert "credentialArn" not in reg.named("registry-ptc-quay").inputs
    policy = reg.policy("registry-first-pull")
    (statement,) = policy["Statement"]
    assert statement["Action"] == ["ecr:BatchImportUpstreamImage", "ecr:CreateRepository"]
    assert statement["Resource"] == [
        "arn:aws:ecr:eu-central-1:123456789012:repository/docker-hub/*",
        "arn:aws:ecr:eu-central-1:123456789012:repository/quay/*",
    ]


def test_direct_stack_gets_only_the_gateway_repository(run: Run) -> None:
    reg = run(lambda: Registry("registry", _args(rules=(), mirror_repositories=())) and None)
    assert reg.children("registry") == {"registry-gateway": "aws:ecr/repository:Repository"}


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        (
            {"rules": (PullThroughRule(prefix="docker-hub", upstream_url="x", credential_required=True),)},
            "credential_arn",
        ),
        (
            {"rules": (PullThroughRule(prefix="quay", upstream_url="quay.io", credential_arn="arn:x"),)},
            "credential_arn",
        ),
        ({"rules": (RULES[0], RULES[0])}, "rules"),
        ({"rules": (PullThroughRule(prefix="Bad Prefix", upstream_url="quay.io"),)}, "prefix"),
        ({"mirror_repositories": ("UPPER/case",)}, "repositories[0]"),
        ({"account": "12345"}, "account"),
    ],
)
def test_bad_args_fail_before_any_child(kw: dict[str, object], field: str) -> None:
    problems = _args(**kw).problems()
    assert any(field in path for path, _ in problems), problems
    with pytest.raises(pulumi.InputPropertiesError):
        Registry("registry", _args(**kw))


def test_first_pull_policy_partition() -> None:
    doc = first_pull_policy(RULES[:1], region="cn-north-1", account="123456789012")
    assert "arn:aws-cn:ecr:cn-north-1:123456789012:repository/quay/*" in doc
