"""Cluster under Pulumi mocks: EKS with KMS, logs, access entries, Pod Identity, provider; adoption."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pulumi
import pytest

from components.cluster import Cluster, ClusterArgs, kubeconfig
from serving.stack_config_models import SystemNodesConfig
from tests.components.conftest import Registered

Run = Callable[..., Registered]
ADMIN = "arn:aws:iam::111122223333:role/platform-admin"
ADDONS = {
    "vpc-cni": "v1.21.1-eksbuild.3",
    "coredns": "v1.13.2-eksbuild.1",
    "kube-proxy": "v1.35.0-eksbuild.2",
    "eks-pod-identity-agent": "v1.3.10-eksbuild.3",
    "aws-ebs-csi-driver": "v1.57.1-eksbuild.1",
}


def _create(**overrides: object) -> ClusterArgs:
    base: dict[str, object] = dict(
        region="eu-central-1",
        name="paddock-t",
        kubernetes_version="1.35",
        subnet_ids=["subnet-a", "subnet-b"],
        addon_versions=ADDONS,
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
        "eks-sg-discovery": "aws:ec2/tag:Tag",
        "eks-managed": "paddock:eks:ClusterAddons",
        "eks-k8s": "pulumi:providers:kubernetes",
        "eks-sc-gp3": "kubernetes:storage.k8s.io/v1:StorageClass",
        "eks-ns-serving": "kubernetes:core/v1:Namespace",
    }
    cluster = reg.named("eks-eks").inputs
    assert cluster["name"] == "paddock-t" and cluster["version"] == "1.35"
    assert cluster["bootstrapSelfManagedAddons"] is False
    assert cluster["upgradePolicy"] == {"supportType": "STANDARD"}
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
    assert reg.named("eks-managed-eks-pod-identity-agent").inputs["addonVersion"] == "v1.3.10-eksbuild.3"
    assert reg.named("eks-sg-discovery").inputs["key"] == "karpenter.sh/discovery"
    assert reg.named("eks-sg-discovery").inputs["value"] == "paddock-t"
    trust = reg.policy("eks-role", "assumeRolePolicy")
    assert trust["Statement"][0]["Principal"] == {"Service": "eks.amazonaws.com"}
    ns = reg.named("eks-ns-serving").inputs["metadata"]
    assert ns["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"


def test_provider_kubeconfig_uses_aws_eks_get_token(run: Run) -> None:
    reg = run(
        lambda: Cluster("eks", _create(endpoint_public_access=True, public_access_cidrs=("203.0.113.10/32",)))
    )
    assert reg.named("eks-eks").inputs["vpcConfig"]["endpointPublicAccess"] is True
    assert reg.named("eks-eks").inputs["vpcConfig"]["publicAccessCidrs"] == ["203.0.113.10/32"]
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
    with pytest.raises(pulumi.InputPropertiesError, match="public_access_cidrs: is required"):
        Cluster("eks", _create(endpoint_public_access=True))
    with pytest.raises(pulumi.InputPropertiesError, match="public_access_cidrs: set without"):
        Cluster("eks", _create(public_access_cidrs=("0.0.0.0/0",)))
    with pytest.raises(pulumi.InputPropertiesError, match="no pinned version for coredns"):
        Cluster("eks", _create(addon_versions={k: v for k, v in ADDONS.items() if k != "coredns"}))
    with pytest.raises(pulumi.InputPropertiesError, match="existing_cluster_name: is required"):
        Cluster("eks", ClusterArgs(region="eu-west-1", name="x", create=False))


def _config(reg: Registered, name: str) -> object:
    raw = reg.named(name).inputs.get("configurationValues")
    return json.loads(raw) if raw else None


def test_managed_addons_are_pinned_and_configured(run: Run) -> None:
    reg = run(lambda: Cluster("eks", _create()))
    addons = {r.inputs["addonName"]: r.inputs for r in reg.of_type("aws:eks/addon:Addon")}
    assert {k: v["addonVersion"] for k, v in addons.items()} == ADDONS
    assert _config(reg, "eks-managed-vpc-cni") == {"enableNetworkPolicy": "true"}
    assert _config(reg, "eks-managed-coredns") == {"nodeSelector": {"paddock.dev/pool": "system"}}
    assert _config(reg, "eks-managed-aws-ebs-csi-driver") == {
        "controller": {"nodeSelector": {"paddock.dev/pool": "system"}}
    }
    assert _config(reg, "eks-managed-kube-proxy") is None
    (assoc,) = addons["aws-ebs-csi-driver"]["podIdentityAssociations"]
    assert assoc == {
        "roleArn": "arn:aws:iam::123456789012:role/eks-managed-ebs-csi-role",
        "serviceAccount": "ebs-csi-controller-sa",
    }
    trust = reg.policy("eks-managed-ebs-csi-role", "assumeRolePolicy")
    assert trust["Statement"][0]["Principal"] == {"Service": "pods.eks.amazonaws.com"}
    assert trust["Statement"][0]["Action"] == ["sts:AssumeRole", "sts:TagSession"]
    assert reg.named("eks-managed-ebs-csi-policy").inputs["policyArn"] == (
        "arn:aws:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy"
    )


def test_default_gp3_storage_class(run: Run) -> None:
    sc = run(lambda: Cluster("eks", _create())).named("eks-sc-gp3").inputs
    assert sc["metadata"]["annotations"] == {"storageclass.kubernetes.io/is-default-class": "true"}
    assert (sc["provisioner"], sc["volumeBindingMode"]) == ("ebs.csi.aws.com", "WaitForFirstConsumer")
    assert sc["parameters"] == {"type": "gp3", "encrypted": "true"}


def test_system_node_group_is_untainted_labelled_and_hardened(run: Run) -> None:
    reg = run(lambda: Cluster("eks", _create()))
    ng = reg.named("eks-managed-system-ng").inputs
    assert "taints" not in ng
    assert ng["labels"] == {"paddock.dev/pool": "system"}
    assert (ng["capacityType"], ng["amiType"], ng["instanceTypes"]) == (
        "ON_DEMAND",
        "AL2023_x86_64_STANDARD",
        ["m6i.xlarge"],
    )
    assert ng["scalingConfig"] == {"minSize": 2, "maxSize": 4, "desiredSize": 2}
    assert ng["subnetIds"] == ["subnet-a", "subnet-b"]
    lt = reg.named("eks-managed-system-lt").inputs
    assert lt["metadataOptions"]["httpTokens"] == "required"
    assert lt["metadataOptions"]["httpPutResponseHopLimit"] == 1
    ebs = lt["blockDeviceMappings"][0]["ebs"]
    assert (ebs["volumeType"], ebs["encrypted"], ebs["volumeSize"]) == ("gp3", "true", 50)
    attached = sorted(
        r.inputs["policyArn"]
        for r in reg.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
        if r.parent == "eks-managed-system"
    )
    assert attached == [
        "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPullOnly",
        "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy",
        "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy",
    ]


def test_system_nodes_sized_from_config(run: Run) -> None:
    nodes = SystemNodesConfig(create=True, instance_types=("m7i.large",), min_size=3, max_size=6, disk_gib=80)
    reg = run(lambda: Cluster("eks", _create(system_nodes=nodes)))
    ng = reg.named("eks-managed-system-ng").inputs
    assert ng["instanceTypes"] == ["m7i.large"]
    assert ng["scalingConfig"] == {"minSize": 3, "maxSize": 6, "desiredSize": 3}
    assert reg.named("eks-managed-system-lt").inputs["blockDeviceMappings"][0]["ebs"]["volumeSize"] == 80


def test_no_system_node_group_when_opted_out(run: Run) -> None:
    reg = run(lambda: Cluster("eks", _create(system_nodes=SystemNodesConfig(create=False))))
    assert reg.of_type("aws:eks/nodeGroup:NodeGroup") == []
    assert len(reg.of_type("aws:eks/addon:Addon")) == 5


def test_private_access_cidrs_open_443_on_the_cluster_security_group(run: Run) -> None:
    reg = run(lambda: Cluster("eks", _create(private_access_cidrs=("10.99.0.0/24",))))
    rule = reg.named("eks-api-private-0").inputs
    assert (rule["cidrIpv4"], rule["fromPort"], rule["toPort"], rule["ipProtocol"]) == (
        "10.99.0.0/24",
        443,
        443,
        "tcp",
    )
    assert rule["securityGroupId"].startswith("sg-")
    assert (
        run(lambda: Cluster("eks", _create())).of_type(
            "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
        )
        == []
    )


def _dependencies(monkeypatch: pytest.MonkeyPatch) -> dict[str, set[str]]:
    """Record each registration's explicit dependencies (names), by wrapping the recording monitor."""
    from stacks import mock_runtime

    found: dict[str, set[str]] = {}
    original = mock_runtime.RecordingMonitor.RegisterResource

    def register(self: mock_runtime.RecordingMonitor, request: Any) -> Any:
        found[request.name] = {urn.rsplit("::", 1)[-1] for urn in request.dependencies}
        return original(self, request)

    monkeypatch.setattr(mock_runtime.RecordingMonitor, "RegisterResource", register)
    return found


def test_creation_order_is_real_dependencies(run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    deps = _dependencies(monkeypatch)
    run(lambda: Cluster("eks", _create()))
    nodeless = {"eks-managed-vpc-cni", "eks-managed-kube-proxy", "eks-managed-eks-pod-identity-agent"}
    # cluster -> CNI, kube-proxy, pod identity -> system nodes -> CoreDNS + EBS CSI -> Kubernetes provider
    assert deps["eks-eks"] >= {"eks-logs", "eks-role-cluster-policy"}
    assert nodeless <= deps["eks-managed-system"]
    assert "eks-managed-system-ng" in deps["eks-managed-coredns"]
    assert {"eks-managed-system-ng", "eks-managed-ebs-csi-policy"} <= deps["eks-managed-aws-ebs-csi-driver"]
    assert deps["eks-k8s"] >= nodeless | {
        "eks-managed-coredns",
        "eks-managed-aws-ebs-csi-driver",
        "eks-managed-system-ng",
    }
    # the node group waits for its role's policies (and is deleted before they are detached)
    assert deps["eks-managed-system-ng"] >= {
        "eks-managed-system-node-AmazonEKSWorkerNodePolicy",
        "eks-managed-system-node-AmazonEC2ContainerRegistryPullOnly",
        "eks-managed-system-node-AmazonEKS_CNI_Policy",
    }


def test_adopted_cluster_provider_waits_for_nothing_created(
    run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    deps = _dependencies(monkeypatch)
    run(
        lambda: Cluster(
            "eks", ClusterArgs(region="eu-west-1", name="s", create=False, existing_cluster_name="s")
        )
    )
    assert deps["eks-k8s"] == set()
