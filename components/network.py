"""Network: a VPC with private subnets for GPU nodes, optional NAT, and VPC endpoints; or an adopted VPC.

Created VPC layout (``cidr`` split into /+4 blocks): private subnet ``i`` = block ``i``, public subnet ``i`` =
block ``8 + i`` (public subnets only exist with ``nat_gateway``). With ``vpc_endpoints`` nodes reach S3
(gateway endpoint), ECR, STS, CloudWatch Logs, EKS Pod Identity, EC2, EKS, Auto Scaling and Bedrock Runtime
without internet.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components._common import PKG, child, raise_problems, with_name

#: interface endpoints (service suffix -> why nodes need it without a NAT)
INTERFACE_ENDPOINTS: dict[str, str] = {
    "ecr.api": "image manifests (ECR)",
    "ecr.dkr": "image layers (ECR)",
    "sts": "IAM roles for pods and nodes",
    "logs": "CloudWatch Logs (cluster and container logs stay in region)",
    "eks-auth": "EKS Pod Identity credentials",
    "ec2": "node bootstrap, VPC CNI IP management, EBS CSI volumes and the node autoscaler",
    "autoscaling": "cluster-autoscaler: describe and resize the node groups' Auto Scaling groups",
    "eks": "cluster-autoscaler DescribeNodegroup (scale from zero) and node bootstrap",
    "bedrock-runtime": "the gateway's Bedrock fallback, inside the VPC",
}


@dataclass(frozen=True, kw_only=True)
class NetworkArgs:
    """Arguments of :class:`Network`. Only one of ``create`` or ``existing_vpc_id``."""

    region: str
    """AWS region (endpoint service names ``com.amazonaws.<region>.<svc>``)."""
    tags: Mapping[str, str] = field(default_factory=dict)
    create: bool = True
    cidr: str = "10.0.0.0/16"
    """VPC CIDR (/16 to /24) when ``create``."""
    az_count: int = 2
    """Availability zones used (2..6), one private subnet each."""
    nat_gateway: bool = False
    """One NAT gateway (in the first AZ) for internet egress, e.g. Hugging Face downloads."""
    vpc_endpoints: bool = True
    bedrock_endpoint: bool = True
    """Create the bedrock-runtime interface endpoint (only with ``vpc_endpoints``)."""
    bedrock_endpoint_policy: str | None = None
    """Endpoint policy JSON for bedrock-runtime (e.g. only allowed inference profiles); None = AWS default."""
    existing_vpc_id: str | None = None
    private_subnet_ids: tuple[str, ...] = ()
    """Subnets of the adopted VPC for nodes (>= 2, in different AZs)."""
    discovery_tag: str | None = None
    """Cluster name for the ``karpenter.sh/discovery`` tag on created private subnets (None = no tag)."""

    def problems(self) -> list[tuple[str, str]]:
        found: list[tuple[str, str]] = []
        if self.create and self.existing_vpc_id:
            found.append(("existing_vpc_id", "Only one of create or existing_vpc_id"))
        if not self.create and (not self.existing_vpc_id or len(self.private_subnet_ids) < 2):
            found.append(
                ("private_subnet_ids", "an adopted VPC needs existing_vpc_id and >= 2 private subnets")
            )
        if not 2 <= self.az_count <= 6:
            found.append(("az_count", f"{self.az_count} is not between 2 and 6"))
        try:
            net = ipaddress.ip_network(self.cidr)
            if not 16 <= net.prefixlen <= 24:
                found.append(("cidr", f"{self.cidr} must be a /16 to /24"))
        except ValueError:
            found.append(("cidr", f"{self.cidr!r} is not a CIDR block"))
        if self.bedrock_endpoint_policy is not None and not self.bedrock_endpoint:
            found.append(("bedrock_endpoint_policy", "set without bedrock_endpoint"))
        return found


def _subnet_role_tags(cluster: str | None) -> dict[str, str]:
    """Tags of a private subnet: internal load balancers, and Karpenter's subnet discovery."""
    tags = {"kubernetes.io/role/internal-elb": "1"}
    if cluster:
        tags["karpenter.sh/discovery"] = cluster
    return tags


def _nth(names: list[str], i: int) -> str:
    return names[i]


def subnet_cidrs(cidr: str, az_count: int) -> tuple[list[str], list[str]]:
    """(private, public) subnet CIDRs for ``az_count`` AZs: 16 blocks of prefix+4; public from block 8."""
    blocks = list(ipaddress.ip_network(cidr).subnets(prefixlen_diff=4))
    return [str(blocks[i]) for i in range(az_count)], [str(blocks[8 + i]) for i in range(az_count)]


class Network(pulumi.ComponentResource):
    """VPC + subnets + optional NAT + endpoints (token ``paddock:network:Network``).

    Outputs: ``vpc_id``, ``private_subnet_ids``, ``private_route_table_ids``, ``endpoint_security_group_id``
    (None when no interface endpoints), ``vpc_cidr``.
    """

    vpc_id: pulumi.Output[str]
    private_subnet_ids: pulumi.Output[list[str]]

    def __init__(self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        raise_problems("Network", args.problems())
        super().__init__(f"{PKG}:network:Network", name, None, opts)
        self.endpoint_security_group_id: pulumi.Output[str] | None = None
        if args.create:
            self._create(name, args)
        else:
            self.vpc_id = pulumi.Output.from_input(str(args.existing_vpc_id))
            self.private_subnet_ids = pulumi.Output.from_input(list(args.private_subnet_ids))
            self.private_route_table_ids: pulumi.Output[list[str]] = pulumi.Output.from_input([])
            self.vpc_cidr: pulumi.Output[str] = pulumi.Output.from_input("")
        self.register_outputs({"vpc_id": self.vpc_id, "private_subnet_ids": self.private_subnet_ids})

    def _create(self, name: str, args: NetworkArgs) -> None:
        tags = dict(args.tags)
        vpc = aws.ec2.Vpc(
            f"{name}-vpc",
            cidr_block=args.cidr,
            enable_dns_hostnames=True,
            enable_dns_support=True,
            tags=with_name(tags, f"{name}-vpc"),
            opts=child(self),
        )
        azs = aws.get_availability_zones_output(state="available", opts=pulumi.InvokeOptions(parent=self))
        private_cidrs, public_cidrs = subnet_cidrs(args.cidr, args.az_count)
        private = [
            aws.ec2.Subnet(
                f"{name}-private-{i}",
                vpc_id=vpc.id,
                cidr_block=block,
                availability_zone=azs.names.apply(functools.partial(_nth, i=i)),
                map_public_ip_on_launch=False,
                tags={**with_name(tags, f"{name}-private-{i}"), **_subnet_role_tags(args.discovery_tag)},
                opts=child(self),
            )
            for i, block in enumerate(private_cidrs)
        ]
        route_table = aws.ec2.RouteTable(
            f"{name}-private-rt", vpc_id=vpc.id, tags=with_name(tags, f"{name}-private-rt"), opts=child(self)
        )
        for i, subnet in enumerate(private):
            aws.ec2.RouteTableAssociation(
                f"{name}-private-rta-{i}",
                subnet_id=subnet.id,
                route_table_id=route_table.id,
                opts=child(self),
            )
        if args.nat_gateway:
            self._nat(name, args, vpc, azs, public_cidrs, route_table)
        if args.vpc_endpoints:
            self._endpoints(name, args, vpc, private, route_table)
        self.vpc_id = vpc.id
        self.vpc_cidr = vpc.cidr_block
        self.private_subnet_ids = pulumi.Output.all(*[s.id for s in private]).apply(list)
        self.private_route_table_ids = pulumi.Output.all(route_table.id).apply(list)

    def _nat(
        self,
        name: str,
        args: NetworkArgs,
        vpc: aws.ec2.Vpc,
        azs: pulumi.Output[aws.GetAvailabilityZonesResult],
        public_cidrs: list[str],
        private_rt: aws.ec2.RouteTable,
    ) -> None:
        tags = dict(args.tags)
        igw = aws.ec2.InternetGateway(
            f"{name}-igw", vpc_id=vpc.id, tags=with_name(tags, f"{name}-igw"), opts=child(self)
        )
        public_rt = aws.ec2.RouteTable(
            f"{name}-public-rt",
            vpc_id=vpc.id,
            routes=[{"cidr_block": "0.0.0.0/0", "gateway_id": igw.id}],
            tags=with_name(tags, f"{name}-public-rt"),
            opts=child(self),
        )
        public = []
        for i, block in enumerate(public_cidrs):
            subnet = aws.ec2.Subnet(
                f"{name}-public-{i}",
                vpc_id=vpc.id,
                cidr_block=block,
                availability_zone=azs.names.apply(functools.partial(_nth, i=i)),
                map_public_ip_on_launch=False,
                tags={**with_name(tags, f"{name}-public-{i}"), "kubernetes.io/role/elb": "1"},
                opts=child(self),
            )
            aws.ec2.RouteTableAssociation(
                f"{name}-public-rta-{i}", subnet_id=subnet.id, route_table_id=public_rt.id, opts=child(self)
            )
            public.append(subnet)
        eip = aws.ec2.Eip(
            f"{name}-nat-eip", domain="vpc", tags=with_name(tags, f"{name}-nat-eip"), opts=child(self)
        )
        nat = aws.ec2.NatGateway(
            f"{name}-nat",
            allocation_id=eip.id,
            subnet_id=public[0].id,
            tags=with_name(tags, f"{name}-nat"),
            opts=child(self, depends_on=[igw]),
        )
        aws.ec2.Route(
            f"{name}-private-default",
            route_table_id=private_rt.id,
            destination_cidr_block="0.0.0.0/0",
            nat_gateway_id=nat.id,
            opts=child(self),
        )

    def _endpoints(
        self,
        name: str,
        args: NetworkArgs,
        vpc: aws.ec2.Vpc,
        private: list[aws.ec2.Subnet],
        route_table: aws.ec2.RouteTable,
    ) -> None:
        tags = dict(args.tags)
        aws.ec2.VpcEndpoint(
            f"{name}-vpce-s3",
            vpc_id=vpc.id,
            service_name=f"com.amazonaws.{args.region}.s3",
            vpc_endpoint_type="Gateway",
            route_table_ids=[route_table.id],
            tags=with_name(tags, f"{name}-vpce-s3"),
            opts=child(self),
        )
        sg = aws.ec2.SecurityGroup(
            f"{name}-vpce-sg",
            vpc_id=vpc.id,
            description="HTTPS from the VPC to interface endpoints",
            ingress=[{"protocol": "tcp", "from_port": 443, "to_port": 443, "cidr_blocks": [args.cidr]}],
            tags=with_name(tags, f"{name}-vpce-sg"),
            opts=child(self),
        )
        subnet_ids = [s.id for s in private]
        for service in INTERFACE_ENDPOINTS:
            if service == "bedrock-runtime" and not args.bedrock_endpoint:
                continue
            policy = args.bedrock_endpoint_policy if service == "bedrock-runtime" else None
            aws.ec2.VpcEndpoint(
                f"{name}-vpce-{service.replace('.', '-')}",
                vpc_id=vpc.id,
                service_name=f"com.amazonaws.{args.region}.{service}",
                vpc_endpoint_type="Interface",
                private_dns_enabled=True,
                subnet_ids=subnet_ids,
                security_group_ids=[sg.id],
                policy=policy,
                tags=with_name(tags, f"{name}-vpce-{service.replace('.', '-')}"),
                opts=child(self),
            )
        self.endpoint_security_group_id = sg.id
