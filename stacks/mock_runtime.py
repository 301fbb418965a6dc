"""Run a Pulumi program under the SDK's mock runtime and record every resource it registers.

Used by ``paddock plan`` (stacks/offline.py) and by tests/components. No engine, no CLI, no providers: the
monitor answers each registration with deterministic fake outputs (ids derived from the name, ARNs in the
stack's region and a fixed account) so a plan renders identically on every machine.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pulumi
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import rpc
from pulumi.runtime import settings as pulumi_settings
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from stacks import ensure_event_loop

ACCOUNT_ID = "123456789012"
_ID_PREFIX = {
    "aws:ec2/vpc:Vpc": "vpc-",
    "aws:ec2/subnet:Subnet": "subnet-",
    "aws:ec2/securityGroup:SecurityGroup": "sg-",
    "aws:ec2/routeTable:RouteTable": "rtb-",
    "aws:ec2/internetGateway:InternetGateway": "igw-",
    "aws:ec2/natGateway:NatGateway": "nat-",
    "aws:ec2/eip:Eip": "eipalloc-",
    "aws:ec2/vpcEndpoint:VpcEndpoint": "vpce-",
    "aws:ec2/launchTemplate:LaunchTemplate": "lt-",
}


@dataclass(frozen=True)
class Recorded:
    """One registered resource: Pulumi type token, logical name, parent's logical name, inputs (camelCase)."""

    type: str
    name: str
    parent: str | None
    inputs: dict[str, Any]
    custom: bool
    depends_on: tuple[str, ...] = ()
    """Logical names this resource waits for directly: explicit ``depends_on`` plus every resource an input
    Output came from (the request's ``dependencies`` and ``propertyDependencies``), sorted, without itself."""
    provider: str | None = None
    """Logical name of its explicit provider (``eks-k8s``); None for the default provider."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "name": self.name,
            "parent": self.parent,
            "dependsOn": list(self.depends_on),
            "provider": self.provider,
            "inputs": self.inputs,
        }


def urn_name(urn: str) -> str:
    """Logical name of a resource URN (``urn:pulumi:dev::paddock::a$b::name`` -> ``name``)."""
    return urn.rsplit("::", 1)[-1]


def provider_name(reference: str) -> str | None:
    """Logical name in a provider reference (``<urn>::<id>``); None when empty."""
    if not reference:
        return None
    return urn_name(reference.rsplit("::", 1)[0])


def request_dependencies(request: Any) -> tuple[str, ...]:
    """Names of every URN in a RegisterResource request's ``dependencies`` and ``propertyDependencies``."""
    urns = set(request.dependencies)
    for deps in request.propertyDependencies.values():
        urns.update(deps.urns)
    names = {urn_name(u) for u in urns if u and not u.split("::")[2].endswith("pulumi:pulumi:Stack")}
    names.discard(request.name)
    return tuple(sorted(names))


def _hex(name: str, n: int = 17) -> str:
    return hashlib.sha256(name.encode()).hexdigest()[:n]


class RecordingMocks(pulumi.runtime.Mocks):
    """Deterministic fake outputs for the AWS/Kubernetes resources and invokes Paddock uses."""

    def __init__(self, region: str) -> None:
        self.region = region

    def _arn(self, typ: str, name: str) -> str:
        service = typ.split(":")[1].split("/")[0]
        if service == "iam":
            kind = "policy" if typ.endswith(":Policy") else "role"
            return f"arn:aws:iam::{ACCOUNT_ID}:{kind}/{name}"
        return f"arn:aws:{service}:{self.region}:{ACCOUNT_ID}:{typ.rsplit(':', 1)[-1].lower()}/{name}"

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        typ, name = args.typ, args.name
        state = dict(args.inputs)
        rid = _ID_PREFIX.get(typ, "") + (_hex(name) if typ in _ID_PREFIX else f"{name}-id")
        state.setdefault("arn", self._arn(typ, name))
        if typ == "aws:eks/cluster:Cluster":
            state["endpoint"] = f"https://{_hex(name, 32).upper()}.gr7.{self.region}.eks.amazonaws.com"
            state["certificateAuthority"] = {"data": base64.b64encode(b"mock-cluster-ca").decode()}
            state["vpcConfig"] = {
                **state.get("vpcConfig", {}),
                "clusterSecurityGroupId": "sg-" + _hex(name + "c"),
            }
            rid = state.get("name", name)
        elif typ in ("aws:iam/role:Role", "aws:eks/nodeGroup:NodeGroup"):
            state.setdefault("name", name)
        elif typ == "aws:ec2/launchTemplate:LaunchTemplate":
            state["latestVersion"] = 1
        elif typ == "aws:ec2/vpc:Vpc":
            state["defaultSecurityGroupId"] = "sg-" + _hex(name + "d")
        return rid, state

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict[str, Any]:  # type: ignore[override]
        if args.token == "aws:index/getAvailabilityZones:getAvailabilityZones":
            names = [f"{self.region}{c}" for c in "abcdef"]
            return {"names": names, "zoneIds": [f"az{i}" for i in range(6)], "id": self.region}
        if args.token == "aws:eks/getCluster:getCluster":
            name = args.args.get("name", "cluster")
            return {
                "name": name,
                "endpoint": f"https://{_hex(name, 32).upper()}.gr7.{self.region}.eks.amazonaws.com",
                "certificateAuthorities": [{"data": base64.b64encode(b"mock-cluster-ca").decode()}],
                "arn": f"arn:aws:eks:{self.region}:{ACCOUNT_ID}:cluster/{name}",
                "vpcConfig": {"clusterSecurityGroupId": "sg-" + _hex(name + "c")},
                "id": name,
            }
        if args.token == "aws:index/getCallerIdentity:getCallerIdentity":
            return {"accountId": ACCOUNT_ID, "arn": f"arn:aws:iam::{ACCOUNT_ID}:user/mock", "userId": "mock"}
        return {}


class RecordingMonitor(pulumi_mocks.MockMonitor):
    """MockMonitor that also records each registration with its parent (MockResourceArgs lacks it)."""

    def __init__(self, mocks: RecordingMocks) -> None:
        super().__init__(mocks)
        self.records: list[Recorded] = []

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 (gRPC method name)
        response = super().RegisterResource(request)  # type: ignore[no-untyped-call]
        if request.type != "pulumi:pulumi:Stack":
            parent = request.parent.rsplit("::", 1)[-1] if request.parent else None
            if parent and request.parent.split("::")[2].endswith("pulumi:pulumi:Stack"):
                parent = None
            inputs = rpc.deserialize_properties(request.object)
            self.records.append(
                Recorded(
                    type=request.type,
                    name=request.name,
                    parent=parent,
                    inputs=inputs,
                    custom=request.custom,
                    depends_on=request_dependencies(request),
                    provider=provider_name(request.provider),
                )
            )
        return response


def run_program(
    program: Callable[[], None],
    *,
    stack: str,
    region: str,
    config: Mapping[str, str] | None = None,
    project: str = "paddock",
) -> list[Recorded]:
    """Run ``program`` as the body of stack ``stack`` under mocks; return the resources it registered, in
    registration order. ``config`` is Pulumi config (``{"aws:region": "...", "paddock:models": "<json>"}``).
    Callable several times in one process (each call starts a fresh root stack)."""
    ensure_event_loop()
    pulumi_settings.ROOT.set(None)
    mocks = RecordingMocks(region)
    monitor = RecordingMonitor(mocks)
    pulumi.runtime.set_mocks(mocks, project=project, stack=stack, preview=False, monitor=monitor)
    pulumi.runtime.set_all_config(dict(config or {}))
    pulumi_settings.SETTINGS.rpc_manager.clear()
    pulumi_settings.SETTINGS.outputs.clear()
    _sync_await(run_pulumi_func(program))
    return list(monitor.records)
