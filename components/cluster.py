"""Cluster: an EKS cluster (KMS-encrypted Secrets, access entries, restricted API endpoint) or an adopted one,
plus a Kubernetes provider built from its kubeconfig, the serving namespace and (created clusters) the default
``gp3`` StorageClass.

Authentication mode is ``API`` (EKS access entries; managed node groups get theirs automatically). A created
cluster gets no self-managed add-ons (``bootstrap_self_managed_addons=False``): ClusterAddons installs the
pinned managed add-ons and the system node group, and the Kubernetes provider depends on all of them. An
adopted cluster must already run the Pod Identity agent, a CNI enforcing NetworkPolicies, CoreDNS, the EBS
CSI driver and untainted system nodes.

API endpoint: the private endpoint is always on (nodes use it); the public one, when enabled, admits only
``public_access_cidrs``; ``private_access_cidrs`` (runners inside or peered with the VPC) get 443 on the
cluster security group.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components._common import PKG, assume_role_policy, aws_partition, child, raise_problems
from components.cluster_addons import ClusterAddons, ClusterAddonsArgs
from serving.stack_config_models import SystemNodesConfig

CLUSTER_LOG_TYPES = ("api", "audit", "authenticator")
ADMIN_POLICY = "arn:{partition}:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
#: tag Karpenter's EC2NodeClass selectors use to find subnets and security groups
DISCOVERY_TAG = "karpenter.sh/discovery"
#: the default StorageClass of created clusters (PersistentVolumes through the EBS CSI driver)
STORAGE_CLASS = "gp3"


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
    public_access_cidrs: tuple[str, ...] = ()
    """CIDRs allowed on the public endpoint (required non-empty when ``endpoint_public_access``)."""
    private_access_cidrs: tuple[str, ...] = ()
    """CIDRs (inside or connected to the VPC) given 443 on the cluster security group."""
    addon_versions: Mapping[str, str] = field(default_factory=dict)
    """Pinned EKS managed add-on versions (``paddock:versions.eksAddons``), required when ``create``."""
    system_nodes: SystemNodesConfig = field(default_factory=lambda: SystemNodesConfig(create=True))
    """The untainted system node group (created with the cluster when ``system_nodes.create``)."""
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
        if self.create and self.endpoint_public_access and not self.public_access_cidrs:
            found.append(("public_access_cidrs", "is required when endpoint_public_access is true"))
        if self.public_access_cidrs and not self.endpoint_public_access:
            found.append(("public_access_cidrs", "set without endpoint_public_access"))
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

    Outputs: ``cluster_name``, ``endpoint``, ``kubeconfig`` (secret), ``provider`` (k8s Provider, waits for
    ``ready``), ``serving_namespace`` (name of the created Namespace), ``cluster_security_group_id``,
    ``addons`` (ClusterAddons or None), ``ready`` (what the provider waits for), ``node_prerequisites``
    (what a GPU node group waits for).
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
        #: resources every Kubernetes call waits for (created cluster: add-ons and system nodes)
        self.ready: list[pulumi.Resource] = []
        #: what a GPU node group waits for (created cluster: the CNI, kube-proxy and Pod Identity add-ons)
        self.node_prerequisites: list[pulumi.Resource] = []
        self.addons: ClusterAddons | None = None
        if args.create:
            self.addons = ClusterAddons(
                f"{name}-managed",  # sorts after "<name>-eks" in the plan (the cluster is named first)
                ClusterAddonsArgs(
                    cluster_name=self.cluster_name,
                    region=args.region,
                    versions=args.addon_versions,
                    subnet_ids=args.subnet_ids,  # type: ignore[arg-type]
                    system_nodes=args.system_nodes,
                    tags=args.tags,
                ),
                opts=child(self),
            )
            self.ready = list(self.addons.ready)
            self.node_prerequisites = list(self.addons.node_prerequisites)
        self.provider = k8s.Provider(
            f"{name}-k8s", kubeconfig=self.kubeconfig, opts=child(self, depends_on=self.ready)
        )
        #: what a pod with an EBS PersistentVolume waits for (the EBS CSI add-on and the gp3 StorageClass)
        self.storage: list[pulumi.Resource] = []
        if self.addons is not None:
            storage_class = k8s.storage.v1.StorageClass(
                f"{name}-sc-{STORAGE_CLASS}",
                metadata={
                    "name": STORAGE_CLASS,
                    "annotations": {"storageclass.kubernetes.io/is-default-class": "true"},
                },
                provisioner="ebs.csi.aws.com",
                parameters={"type": "gp3", "encrypted": "true"},
                volume_binding_mode="WaitForFirstConsumer",
                allow_volume_expansion=True,
                reclaim_policy="Delete",
                opts=child(self, provider=self.provider),
            )
            self.storage = [self.addons.addons["aws-ebs-csi-driver"], storage_class]
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
        role_policy = aws.iam.RolePolicyAttachment(
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
            opts=child(self, delete_before_replace=True),  # fixed name: a replacement would collide
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
                public_access_cidrs=list(args.public_access_cidrs) if args.endpoint_public_access else None,
            ),
            encryption_config=aws.eks.ClusterEncryptionConfigArgs(
                provider=aws.eks.ClusterEncryptionConfigProviderArgs(key_arn=key_arn), resources=["secrets"]
            ),
            access_config=aws.eks.ClusterAccessConfigArgs(
                authentication_mode="API", bootstrap_cluster_creator_admin_permissions=True
            ),
            enabled_cluster_log_types=list(CLUSTER_LOG_TYPES),
            bootstrap_self_managed_addons=False,  # ClusterAddons installs pinned managed add-ons instead
            upgrade_policy=aws.eks.ClusterUpgradePolicyArgs(support_type="STANDARD"),
            tags=tags,
            # the role's policy stays attached until EKS has deleted the cluster (its ENIs and SGs included)
            opts=child(self, depends_on=[log_group, role_policy], delete_before_replace=True),
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
        self.cluster_name = cluster.name
        ca = cluster.certificate_authority.apply(lambda c: c.data or "")
        sg = cluster.vpc_config.apply(lambda v: v.cluster_security_group_id or "")
        for i, cidr in enumerate(args.private_access_cidrs):
            aws.vpc.SecurityGroupIngressRule(
                f"{name}-api-private-{i}",
                security_group_id=sg,
                description="Kubernetes API from a runner inside or connected to the VPC",
                cidr_ipv4=cidr,
                ip_protocol="tcp",
                from_port=443,
                to_port=443,
                tags=tags,
                opts=child(self),
            )
        aws.ec2.Tag(
            f"{name}-sg-discovery", resource_id=sg, key=DISCOVERY_TAG, value=args.name, opts=child(self)
        )
        return cluster.endpoint, ca, sg
