"""Cluster under Pulumi mocks: EKS with KMS, logs, access entries, Pod Identity, provider; adoption."""

from __future__ import annotations

import json
from collections.abc import Callable

import pulumi
import pytest

from components.cluster import Cluster, ClusterArgs, kubeconfig
from tests.components.conftest import Registered

Run = Callable[..., Registered]
ADMIN = "arn:aws:iam::111122223333:role/platform-admin"


def _create(**overrides: object) -> ClusterArgs:
    base: dict[str, object] = dict(
        region="eu-central-1",
        name="paddock-t",
        kubernetes_version="1.33",
        subnet_ids=["subnet-a", "subnet-b"],
        admin_role_arns=(ADMIN,),
        tags={"team": "ml"},
        log_retention_days=14,
    )
    base.update(overrides)
    return ClusterArgs(**base)  # type: ignore[arg-type]


def test_created_cluster_children_and_security_settings(run: Run) -> None:
    reg = run(lambda: Cluster("eks", _create()))
    assert reg.children("eks") == {
        "eks-role": "aws:iam/role:Role",
        "eks-role-cluster-policy": "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
        "eks-secrets-key": "aws:kms/key:Key",
        "eks-logs": "aws:cloudwatch/logGroup:LogGroup",
        "eks-eks": "aws:eks/cluster:Cluster",
        "eks-admin-0": "aws:eks/accessEntry:AccessEntry",
        "eks-admin-0-policy": "aws:eks/accessPolicyAssociation:AccessPolicyAssociation",
        "eks-pod-identity-agent": "aws:eks/addon:Addon",
        "eks-k8s": "pulumi:providers:kubernetes",
        "eks-ns-serving": "kubernetes:core/v1:Namespace",
    }
    cluster = reg.named("eks-eks").inputs
    assert cluster["name"] == "paddock-t" and cluster["version"] == "1.33"
    assert cluster["vpcConfig"] == {
        "subnetIds": ["subnet-a", "subnet-b"],
        "endpointPrivateAccess": True,
        "endpointPublicAccess": False,
    }
    key_arn = "arn:aws:kms:eu-central-1:123456789012:key/eks-secrets-key"
    assert cluster["encryptionConfig"] == {"provider": {"keyArn": key_arn}, "resources": ["secrets"]}
    assert cluster["accessConfig"]["authenticationMode"] == "API"
    assert cluster["enabledClusterLogTypes"] == ["api", "audit", "authenticator"]
    assert reg.named("eks-secrets-key").inputs["enableKeyRotation"] is True
    logs = reg.named("eks-logs").inputs
    assert (logs["name"], logs["retentionInDays"]) == ("/aws/eks/paddock-t/cluster", 14)
    assoc = reg.named("eks-admin-0-policy").inputs
    assert assoc["principalArn"] == ADMIN
    assert assoc["policyArn"] == "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
    assert reg.named("eks-pod-identity-agent").inputs["addonName"] == "eks-pod-identity-agent"
    trust = reg.policy("eks-role", "assumeRolePolicy")
    assert trust["Statement"][0]["Principal"] == {"Service": "eks.amazonaws.com"}
    ns = reg.named("eks-ns-serving").inputs["metadata"]
    assert ns["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"


def test_provider_kubeconfig_uses_aws_eks_get_token(run: Run) -> None:
    reg = run(lambda: Cluster("eks", _create(endpoint_public_access=True)))
    assert reg.named("eks-eks").inputs["vpcConfig"]["endpointPublicAccess"] is True
    raw = reg.named("eks-k8s").inputs["kubeconfig"]
    config = json.loads(raw["value"] if isinstance(raw, dict) else raw)
    user = config["users"][0]["user"]["exec"]
    assert user["command"] == "aws"
    assert user["args"] == [
        "eks",
        "get-token",
        "--cluster-name",
        "paddock-t",
        "--region",
        "eu-central-1",
        "--output",
        "json",
    ]
    assert config["clusters"][0]["cluster"]["server"].endswith(".eu-central-1.eks.amazonaws.com")


def test_given_kms_key_is_used_and_none_is_created(run: Run) -> None:
    arn = "arn:aws:kms:eu-central-1:111122223333:key/0000aaaa-1111-2222-3333-444455556666"
    reg = run(lambda: Cluster("eks", _create(secrets_kms_key_arn=arn, admin_role_arns=())))
    assert reg.of_type("aws:kms/key:Key") == []
    assert reg.of_type("aws:eks/accessEntry:AccessEntry") == []
    assert reg.named("eks-eks").inputs["encryptionConfig"]["provider"]["keyArn"] == arn


def test_adopted_cluster_gets_provider_and_namespace_only(run: Run) -> None:
    reg = run(
        lambda: Cluster(
            "eks",
            ClusterArgs(
                region="eu-west-1",
                name="shared",
                create=False,
                existing_cluster_name="shared",
                serving_namespace="llm",
            ),
        )
    )
    assert reg.children("eks") == {
        "eks-k8s": "pulumi:providers:kubernetes",
        "eks-ns-llm": "kubernetes:core/v1:Namespace",
    }
    raw = reg.named("eks-k8s").inputs["kubeconfig"]
    config = json.loads(raw["value"] if isinstance(raw, dict) else raw)
    assert config["current-context"] == "shared"


def test_kubeconfig_is_plain_json_without_credentials() -> None:
    doc = json.loads(kubeconfig("c", "https://x", "Q0E=", "us-east-1"))
    assert doc["clusters"] == [
        {"name": "c", "cluster": {"server": "https://x", "certificate-authority-data": "Q0E="}}
    ]
    assert "token" not in json.dumps(doc["users"]).replace("get-token", "")


def test_invalid_args_named_together() -> None:
    with pytest.raises(pulumi.InputPropertiesError) as err:
        Cluster("eks", ClusterArgs(region="eu-west-1", name="x", existing_cluster_name="y"))
    assert [e["property_path"] for e in err.value.errors or []] == [
        "existing_cluster_name",
        "kubernetes_version",
        "subnet_ids",
    ]
    with pytest.raises(pulumi.InputPropertiesError, match="existing_cluster_name: is required"):
        Cluster("eks", ClusterArgs(region="eu-west-1", name="x", create=False))
