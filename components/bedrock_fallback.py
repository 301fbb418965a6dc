"""BedrockFallback: the gateway's least-privilege Bedrock role and the bedrock-runtime VPC endpoint.

The role may only call ``bedrock:InvokeModel`` / ``InvokeModelWithResponseStream`` on the configured inference
profiles and, through them (``bedrock:InferenceProfileArn`` condition), the foundation models in their
destination Regions (documents from :mod:`serving.residency.iam`). A stack whose aliases are all pinned passes
no targets and gets no children at all: ``role_arn`` is None.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components._common import PKG, aws_partition, child, raise_problems, with_name
from serving.residency.iam import (
    BedrockTarget,
    endpoint_policy,
    invoke_policy,
    irsa_trust_policy,
    pod_identity_trust_policy,
)

#: ServiceAccount the gateway's pods must run as for the Pod Identity association made here
GATEWAY_SERVICE_ACCOUNT = "paddock-gateway"
DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")


@dataclass(frozen=True, kw_only=True)
class BedrockFallbackArgs:
    """Inputs of :class:`BedrockFallback`; ``targets`` from ``serving.residency.iam.bedrock_targets``."""

    targets: tuple[BedrockTarget, ...]
    """Inference profiles the gateway may call; empty = every alias pinned (no role, no endpoint)."""
    region: str
    """Bedrock source Region (``paddock:fallback.bedrock.region``); the endpoint lives here."""
    account_id: pulumi.Input[str]
    """AWS account id of the stack (profile ARNs carry it)."""
    namespace: str = "serving"
    """Kubernetes namespace of the gateway's ServiceAccount."""
    service_account: str = GATEWAY_SERVICE_ACCOUNT
    cluster_name: pulumi.Input[str] | None = None
    """When set (and no OIDC provider), a Pod Identity association binds the role to the ServiceAccount."""
    oidc_provider_arn: pulumi.Input[str] | None = None
    """IRSA instead of Pod Identity: the cluster's IAM OIDC provider ARN (with ``oidc_issuer``)."""
    oidc_issuer: pulumi.Input[str] | None = None
    create_endpoint: bool = True
    """Create the bedrock-runtime interface endpoint (needs ``vpc_id``, ``subnet_ids`` and SGs or a CIDR)."""
    vpc_id: pulumi.Input[str] | None = None
    subnet_ids: pulumi.Input[Sequence[pulumi.Input[str]]] | None = None
    """Private subnets for the endpoint (e.g. ``Network.private_subnet_ids``)."""
    security_group_ids: pulumi.Input[Sequence[pulumi.Input[str]]] | None = None
    """Endpoint security groups (e.g. ``[Network.endpoint_security_group_id]``)."""
    vpc_cidr: str | None = None
    """Without ``security_group_ids``: a security group admitting HTTPS from this CIDR is created."""
    tags: Mapping[str, str] = field(default_factory=dict)

    def problems(self) -> list[tuple[str, str]]:
        """Every invalid field as ``(field, reason)``."""
        out: list[tuple[str, str]] = []
        for label, value in (("namespace", self.namespace), ("service_account", self.service_account)):
            if not DNS_LABEL.fullmatch(value):
                out.append((label, f"{value!r} is not a DNS-1123 label"))
        if not re.fullmatch(r"[a-z]{2}(-gov)?-[a-z]+-\d", self.region):
            out.append(("region", f"{self.region!r} is not an AWS Region"))
        for i, t in enumerate(self.targets):
            if t.scope != "global" and not t.destinations:
                out.append((f"targets[{i}]", f"{t.profile_id} has no destination Regions"))
            if t.source_region != self.region:
                out.append((f"targets[{i}]", f"source Region {t.source_region} != region {self.region}"))
        if (self.oidc_provider_arn is None) != (self.oidc_issuer is None):
            out.append(("oidc_issuer", "IRSA needs both oidc_provider_arn and oidc_issuer"))
        if self.targets and self.create_endpoint:
            if self.vpc_id is None:
                out.append(("vpc_id", "required when create_endpoint is true"))
            if self.subnet_ids is None:
                out.append(("subnet_ids", "required when create_endpoint is true"))
            if self.security_group_ids is None and not self.vpc_cidr:
                out.append(("security_group_ids", "give security_group_ids or vpc_cidr"))
        return out


class BedrockFallback(pulumi.ComponentResource):
    """Gateway IAM role (IRSA or Pod Identity), its invoke policy, and the bedrock-runtime endpoint."""

    role_arn: pulumi.Output[str] | None
    """ARN for the gateway's ServiceAccount; None when every alias is pinned."""
    endpoint_id: pulumi.Output[str] | None
    ready: list[pulumi.Resource]
    """What the gateway release waits for: the invoke policy and the Pod Identity association (EKS injects
    credentials only into pods admitted after the association exists). Empty when every alias is pinned."""

    def __init__(
        self, name: str, args: BedrockFallbackArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        raise_problems("BedrockFallback", args.problems())
        super().__init__(f"{PKG}:residency:BedrockFallback", name, None, opts)
        self.role_arn = None
        self.endpoint_id = None
        self.ready = []
        if args.targets:
            role = self._role(name, args)
            self.role_arn = role.arn
            if args.create_endpoint:
                self.endpoint_id = self._endpoint(name, args, role).id
        self.register_outputs({"roleArn": self.role_arn, "endpointId": self.endpoint_id})

    def _role(self, name: str, args: BedrockFallbackArgs) -> aws.iam.Role:
        if args.oidc_provider_arn is not None and args.oidc_issuer is not None:
            trust = pulumi.Output.all(args.oidc_provider_arn, args.oidc_issuer).apply(
                lambda v: json.dumps(
                    irsa_trust_policy(
                        oidc_provider_arn=v[0],
                        issuer=v[1],
                        namespace=args.namespace,
                        service_account=args.service_account,
                    )
                )
            )
        else:
            trust = pulumi.Output.from_input(json.dumps(pod_identity_trust_policy()))
        role = aws.iam.Role(
            f"{name}-role",
            assume_role_policy=trust,
            description="Paddock gateway: Bedrock invoke on configured inference profiles only",
            tags=dict(args.tags),
            opts=child(self),
        )
        partition = aws_partition(args.region)
        invoke = aws.iam.RolePolicy(
            f"{name}-invoke",
            role=role.id,
            policy=pulumi.Output.from_input(args.account_id).apply(
                lambda acct: json.dumps(invoke_policy(args.targets, account_id=acct, partition=partition))
            ),
            opts=child(self),
        )
        self.ready.append(invoke)
        if args.cluster_name is not None and args.oidc_provider_arn is None:
            association = aws.eks.PodIdentityAssociation(
                f"{name}-pod-identity",
                cluster_name=args.cluster_name,
                namespace=args.namespace,
                service_account=args.service_account,
                role_arn=role.arn,
                tags=dict(args.tags),
                opts=child(self),
            )
            self.ready.append(association)
        return role

    def _endpoint(self, name: str, args: BedrockFallbackArgs, role: aws.iam.Role) -> aws.ec2.VpcEndpoint:
        groups = args.security_group_ids
        if groups is None:
            sg = aws.ec2.SecurityGroup(
                f"{name}-endpoint-sg",
                vpc_id=args.vpc_id,
                description="HTTPS to the bedrock-runtime endpoint from the VPC",
                ingress=[
                    aws.ec2.SecurityGroupIngressArgs(
                        protocol="tcp", from_port=443, to_port=443, cidr_blocks=[args.vpc_cidr or ""]
                    )
                ],
                tags=with_name(args.tags, f"{name}-endpoint-sg"),
                opts=child(self),
            )
            groups = [sg.id]
        partition = aws_partition(args.region)
        policy = pulumi.Output.all(args.account_id, role.arn).apply(
            lambda v: json.dumps(
                endpoint_policy(args.targets, role_arn=v[1], account_id=v[0], partition=partition)
            )
        )
        return aws.ec2.VpcEndpoint(
            f"{name}-bedrock-runtime",
            vpc_id=args.vpc_id,
            service_name=f"com.amazonaws.{args.region}.bedrock-runtime",
            vpc_endpoint_type="Interface",
            private_dns_enabled=True,
            subnet_ids=args.subnet_ids,
            security_group_ids=groups,
            policy=policy,
            tags=with_name(args.tags, f"{name}-bedrock-runtime"),
            opts=child(self),
        )
