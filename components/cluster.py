"""Cluster: an EKS cluster (private endpoint option, KMS-encrypted Secrets, access entries) or an adopted one,
plus a Kubernetes provider built from its kubeconfig and the serving namespace.

Authentication mode is ``API`` (EKS access entries; managed node groups get theirs automatically). The EKS
Pod Identity agent add-on is installed on created clusters (ModelServer binds its IAM role through it); an
adopted cluster must already run it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components._common import PKG, assume_role_policy, aws_partition, child, raise_problems

CLUSTER_LOG_TYPES = ("api", "audit", "authenticator")
ADMIN_POLICY = "arn:{partition}:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"


@dataclass(frozen=True, kw_only=True)
class ClusterArgs:
    """Arguments of :class:`Cluster`. Only one of ``create`` or ``existing_cluster_name``."""

    region: str
    name: str
    """EKS cluster name (created, or the adopted cluster's)."""
    tags: Mapping[str, str] = field(default_factory=dict)
    create: bool = True
    kubernetes_version: str | None = None
    """Required when ``create`` (e.g. "1.33")."""
    subnet_ids: pulumi.Input[list[str]] | None = None
    """Private subnets for the control-plane ENIs (required when ``create``)."""
    endpoint_public_access: bool = False
    secrets_kms_key_arn: str | None = None
    """KMS key for Secrets encryption; None = create one (rotation on)."""
    admin_role_arns: tuple[str, ...] = ()
    log_retention_days: int = 30
    """Retention of the control-plane log group ``/aws/eks/<name>/cluster``."""
    serving_namespace: str = "serving"
    existing_cluster_name: str | None = None

    def problems(self) -> list[tuple[str, str]]:
        found: list[tuple[str, str]] = []
        if self.create and self.existing_cluster_name:
            found.append(("existing_cluster_name", "Only one of create or existing_cluster_name"))
        if self.create and not self.kubernetes_version:
            found.append(("kubernetes_version", "is required when create is true"))
        if self.create and self.subnet_ids is None:
            found.append(("subnet_ids", "is required when create is true"))
        if not self.create and not self.existing_cluster_name:
            found.append(("existing_cluster_name", "is required when create is false"))
        return found


def kubeconfig(cluster_name: str, endpoint: str, ca_data: str, region: str) -> str:
    """A kubeconfig (JSON) that authenticates with ``aws eks get-token`` (no static credentials)."""
    user = {
        "exec": {
            "apiVersion": "client.authentication.k8s.io/v1beta1",
            "command": "aws",
            "args": [
                "eks",
                "get-token",
                "--cluster-name",
                cluster_name,
                "--region",
                region,
                "--output",
                "json",
            ],
            "interactiveMode": "Never",
        }
    }
    return json.dumps(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {"name": cluster_name, "cluster": {"server": endpoint, "certificate-authority-data": ca_data}}
            ],
            "users": [{"name": cluster_name, "user": user}],
            "contexts": [{"name": cluster_name, "context": {"cluster": cluster_name, "user": cluster_name}}],
            "current-context": cluster_name,
        },
        sort_keys=True,
    )


class Cluster(pulumi.ComponentResource):
    """EKS cluster or adopted cluster (token ``paddock:cluster:Cluster``).

    Outputs: ``cluster_name``, ``endpoint``, ``kubeconfig`` (secret), ``provider`` (k8s Provider),
    ``serving_namespace`` (name of the created Namespace), ``cluster_security_group_id``.
    """

    cluster_name: pulumi.Output[str]

    def __init__(self, name: str, args: ClusterArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        raise_problems("Cluster", args.problems())
        super().__init__(f"{PKG}:cluster:Cluster", name, None, opts)
        if args.create:
            endpoint, ca_data, sg_id = self._create(name, args)
        else:
            existing = aws.eks.get_cluster_output(
                name=str(args.existing_cluster_name), opts=pulumi.InvokeOptions(parent=self)
            )
            self.cluster_name = existing.name
            endpoint = existing.endpoint
            ca_data = existing.certificate_authorities.apply(lambda cas: cas[0].data)
            sg_id = existing.vpc_config.cluster_security_group_id
        self.endpoint: pulumi.Output[str] = endpoint
        self.cluster_security_group_id: pulumi.Output[str] = sg_id
        self.kubeconfig: pulumi.Output[str] = pulumi.Output.secret(
            pulumi.Output.all(self.cluster_name, endpoint, ca_data).apply(
                lambda v: kubeconfig(v[0], v[1], v[2], args.region)
            )
        )
        self.provider = k8s.Provider(f"{name}-k8s", kubeconfig=self.kubeconfig, opts=child(self))
        namespace = k8s.core.v1.Namespace(
            f"{name}-ns-{args.serving_namespace}",
            metadata={
                "name": args.serving_namespace,
                "labels": {
                    "pod-security.kubernetes.io/enforce": "restricted",
                    "app.kubernetes.io/part-of": "paddock",
                },
            },
            opts=child(self, provider=self.provider),
        )
        self.serving_namespace: pulumi.Output[str] = namespace.metadata.apply(lambda m: m["name"])
        self.register_outputs(
            {"cluster_name": self.cluster_name, "endpoint": endpoint, "kubeconfig": self.kubeconfig}
        )

    def _create(
        self, name: str, args: ClusterArgs
    ) -> tuple[pulumi.Output[str], pulumi.Output[str], pulumi.Output[str]]:
        partition = aws_partition(args.region)
        tags = dict(args.tags)
        role = aws.iam.Role(
            f"{name}-role",
            assume_role_policy=assume_role_policy("eks.amazonaws.com"),
            tags=tags,
            opts=child(self),
        )
        aws.iam.RolePolicyAttachment(
            f"{name}-role-cluster-policy",
            role=role.name,
            policy_arn=f"arn:{partition}:iam::aws:policy/AmazonEKSClusterPolicy",
            opts=child(self),
        )
        key_arn: pulumi.Input[str]
        if args.secrets_kms_key_arn:
            key_arn = args.secrets_kms_key_arn
        else:
            key = aws.kms.Key(
                f"{name}-secrets-key",
                description=f"EKS Secrets envelope encryption for {args.name}",
                enable_key_rotation=True,
                deletion_window_in_days=30,
                tags=tags,
                opts=child(self),
            )
            key_arn = key.arn
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs",
            name=f"/aws/eks/{args.name}/cluster",
            retention_in_days=args.log_retention_days,
            tags=tags,
            opts=child(self),
        )
        cluster = aws.eks.Cluster(
            f"{name}-eks",
            name=args.name,
            version=args.kubernetes_version,
            role_arn=role.arn,
            vpc_config=aws.eks.ClusterVpcConfigArgs(
                subnet_ids=args.subnet_ids,  # type: ignore[arg-type]
                endpoint_private_access=True,
                endpoint_public_access=args.endpoint_public_access,
            ),
            encryption_config=aws.eks.ClusterEncryptionConfigArgs(
                provider=aws.eks.ClusterEncryptionConfigProviderArgs(key_arn=key_arn), resources=["secrets"]
            ),
            access_config=aws.eks.ClusterAccessConfigArgs(
                authentication_mode="API", bootstrap_cluster_creator_admin_permissions=True
            ),
            enabled_cluster_log_types=list(CLUSTER_LOG_TYPES),
            tags=tags,
            opts=child(self, depends_on=[log_group]),
        )
        for i, role_arn in enumerate(args.admin_role_arns):
            entry = aws.eks.AccessEntry(
                f"{name}-admin-{i}",
                cluster_name=cluster.name,
                principal_arn=role_arn,
                tags=tags,
                opts=child(self),
            )
            aws.eks.AccessPolicyAssociation(
                f"{name}-admin-{i}-policy",
                cluster_name=cluster.name,
                principal_arn=role_arn,
                policy_arn=ADMIN_POLICY.format(partition=partition),
                access_scope={"type": "cluster"},
                opts=child(self, depends_on=[entry]),
            )
        aws.eks.Addon(
            f"{name}-pod-identity-agent",
            cluster_name=cluster.name,
            addon_name="eks-pod-identity-agent",
            tags=tags,
            opts=child(self),
        )
        self.cluster_name = cluster.name
        ca = cluster.certificate_authority.apply(lambda c: c.data or "")
        sg = cluster.vpc_config.apply(lambda v: v.cluster_security_group_id or "")
        return cluster.endpoint, ca, sg
