"""Network under Pulumi mocks: VPC layout, NAT, endpoints, adoption, validation."""

from __future__ import annotations

from collections.abc import Callable

import pulumi
import pytest

from components.network import INTERFACE_ENDPOINTS, Network, NetworkArgs, subnet_cidrs
from tests.components.conftest import Registered

TAGS = {"paddock:stack": "t", "team": "ml"}
Run = Callable[..., Registered]


def test_subnet_layout_is_private_first_public_from_block_eight() -> None:
    private, public = subnet_cidrs("10.40.0.0/16", 3)
    assert private == ["10.40.0.0/20", "10.40.16.0/20", "10.40.32.0/20"]
    assert public == ["10.40.128.0/20", "10.40.144.0/20", "10.40.160.0/20"]


def test_private_vpc_with_endpoints_and_no_nat(run: Run) -> None:
    reg = run(
        lambda: Network("net", NetworkArgs(region="eu-central-1", tags=TAGS, cidr="10.40.0.0/16", az_count=3))
    )
    assert reg.named("net").type == "paddock:network:Network"
    vpc = reg.named("net-vpc")
    assert (vpc.type, vpc.parent, vpc.inputs["cidrBlock"]) == ("aws:ec2/vpc:Vpc", "net", "10.40.0.0/16")
    subnets = reg.of_type("aws:ec2/subnet:Subnet")
    assert [(s.name, s.inputs["cidrBlock"], s.inputs["availabilityZone"]) for s in subnets] == [
        ("net-private-0", "10.40.0.0/20", "eu-central-1a"),
        ("net-private-1", "10.40.16.0/20", "eu-central-1b"),
        ("net-private-2", "10.40.32.0/20", "eu-central-1c"),
    ]
    assert all(s.inputs["mapPublicIpOnLaunch"] is False for s in subnets)
    assert all(s.inputs["tags"]["kubernetes.io/role/internal-elb"] == "1" for s in subnets)
    assert reg.of_type("aws:ec2/natGateway:NatGateway") == []
    assert reg.of_type("aws:ec2/internetGateway:InternetGateway") == []
    endpoints = {r.inputs["serviceName"]: r.inputs for r in reg.of_type("aws:ec2/vpcEndpoint:VpcEndpoint")}
    expected = {"com.amazonaws.eu-central-1.s3"} | {
        f"com.amazonaws.eu-central-1.{s}" for s in INTERFACE_ENDPOINTS
    }
    assert set(endpoints) == expected
    s3 = endpoints["com.amazonaws.eu-central-1.s3"]
    private_rt = reg.named("net-private-rta-0").inputs["routeTableId"]
    assert (s3["vpcEndpointType"], s3["routeTableIds"]) == ("Gateway", [private_rt])
    bedrock = endpoints["com.amazonaws.eu-central-1.bedrock-runtime"]
    assert bedrock["vpcEndpointType"] == "Interface" and bedrock["privateDnsEnabled"] is True
    assert len(bedrock["subnetIds"]) == 3
    sg = reg.named("net-vpce-sg").inputs
    assert sg["ingress"] == [
        {"protocol": "tcp", "fromPort": 443, "toPort": 443, "cidrBlocks": ["10.40.0.0/16"]}
    ]


def test_every_taggable_network_resource_is_tagged(run: Run) -> None:
    reg = run(lambda: Network("net", NetworkArgs(region="us-east-1", tags=TAGS, nat_gateway=True)))
    untaggable = {"aws:ec2/routeTableAssociation:RouteTableAssociation", "aws:ec2/route:Route"}
    aws_resources = [r for r in reg.records if r.type.startswith("aws:") and r.type not in untaggable]
    assert len(aws_resources) > 10
    for r in aws_resources:
        assert r.inputs["tags"]["team"] == "ml", r.name
        assert r.inputs["tags"]["Name"] == r.name, r.name
        assert r.parent == "net"


def test_nat_gateway_routes_private_subnets_through_one_nat(run: Run) -> None:
    reg = run(lambda: Network("net", NetworkArgs(region="us-east-1", nat_gateway=True, vpc_endpoints=False)))
    assert [s.name for s in reg.of_type("aws:ec2/subnet:Subnet")] == [
        "net-private-0",
        "net-private-1",
        "net-public-0",
        "net-public-1",
    ]
    nat = reg.named("net-nat").inputs
    assert nat["subnetId"] == reg.named("net-public-rta-0").inputs["subnetId"]
    route = reg.named("net-private-default").inputs
    assert route["destinationCidrBlock"] == "0.0.0.0/0" and route["natGatewayId"].startswith("nat-")
    public_rt = reg.named("net-public-rt").inputs
    assert public_rt["routes"][0]["cidrBlock"] == "0.0.0.0/0" and public_rt["routes"][0][
        "gatewayId"
    ].startswith("igw-")
    assert reg.of_type("aws:ec2/vpcEndpoint:VpcEndpoint") == []


def test_bedrock_endpoint_can_be_left_out_or_given_a_policy(run: Run) -> None:
    reg = run(lambda: Network("net", NetworkArgs(region="eu-west-1", bedrock_endpoint=False)))
    names = {r.inputs["serviceName"] for r in reg.of_type("aws:ec2/vpcEndpoint:VpcEndpoint")}
    assert "com.amazonaws.eu-west-1.bedrock-runtime" not in names and "com.amazonaws.eu-west-1.sts" in names
    policy = '{"Statement": []}'
    reg = run(lambda: Network("net", NetworkArgs(region="eu-west-1", bedrock_endpoint_policy=policy)))
    assert reg.named("net-vpce-bedrock-runtime").inputs["policy"] == policy
    assert "policy" not in reg.named("net-vpce-sts").inputs


def test_adopting_a_vpc_creates_nothing(run: Run) -> None:
    args = NetworkArgs(
        region="eu-west-1",
        create=False,
        existing_vpc_id="vpc-0123456789abcdef0",
        private_subnet_ids=("subnet-0123456789abcdef0", "subnet-0123456789abcdef1"),
    )
    reg = run(lambda: Network("net", args))
    assert [r.type for r in reg.records] == ["paddock:network:Network"]


def test_invalid_args_are_reported_together_before_any_child() -> None:
    args = NetworkArgs(
        region="eu-west-1",
        existing_vpc_id="vpc-1",
        az_count=9,
        cidr="10.0.0.0/8",
        bedrock_endpoint=False,
        bedrock_endpoint_policy="{}",
    )
    with pytest.raises(pulumi.InputPropertiesError) as err:
        Network("net", args)
    paths = [e["property_path"] for e in err.value.errors or []]
    assert paths == ["existing_vpc_id", "az_count", "cidr", "bedrock_endpoint_policy"]
    assert "az_count: 9 is not between 2 and 6" in err.value.message


def test_adoption_needs_two_subnets() -> None:
    with pytest.raises(pulumi.InputPropertiesError, match="private_subnet_ids"):
        Network("net", NetworkArgs(region="eu-west-1", create=False, existing_vpc_id="vpc-1"))


def test_endpoints_for_cluster_autoscaler_and_discovery_tags(run: Run) -> None:
    reg = run(lambda: Network("net", NetworkArgs(region="eu-central-1", discovery_tag="paddock-t")))
    services = {r.inputs["serviceName"] for r in reg.of_type("aws:ec2/vpcEndpoint:VpcEndpoint")}
    assert {"com.amazonaws.eu-central-1.autoscaling", "com.amazonaws.eu-central-1.eks"} <= services
    for subnet in reg.of_type("aws:ec2/subnet:Subnet"):
        assert subnet.inputs["tags"]["karpenter.sh/discovery"] == "paddock-t"
    plain = run(lambda: Network("net", NetworkArgs(region="eu-central-1")))
    assert all(
        "karpenter.sh/discovery" not in s.inputs["tags"] for s in plain.of_type("aws:ec2/subnet:Subnet")
    )
