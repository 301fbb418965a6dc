"""ModelServer: one model served by vLLM or TGI through Paddock's own chart (serving/charts/model-server).

Children: an IAM role for the engine pods bound to their ServiceAccount by an EKS Pod Identity association
(read of the weights prefix only; no static keys) and a ``helm.v3.Release`` of the local chart whose values
come from helm_values/model_server.yaml.j2 (serving.release_values.model_server_values). HF weights use the
Secret ``paddock-hf-token`` (key ``token``), created out of band so the token never enters Pulumi state.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components._common import (
    PKG,
    assume_role_policy,
    aws_partition,
    child,
    policy_json,
    raise_problems,
    weights_read_statements,
)
from serving.helm import CHARTS_DIR, release_chart
from serving.release_values import ENGINE_PORT, NodeShape, model_server_values, startup_budget
from serving.sizing.plan import ServingPlan
from serving.stack_config_models import ModelConfig

CHART_PATH = CHARTS_DIR / "model-server"
POD_IDENTITY_ACTIONS = ("sts:AssumeRole", "sts:TagSession")


@dataclass(frozen=True, kw_only=True)
class ModelServerArgs:
    """Arguments of :class:`ModelServer`."""

    model: ModelConfig
    plan: ServingPlan
    image: str
    """Engine image pinned in paddock:versions (vllmImage / tgiImage)."""
    aws_cli_image: str | None
    """Image of the S3 sync init container (required for s3:// weights)."""
    cluster_name: pulumi.Input[str]
    provider: k8s.Provider
    namespace: pulumi.Input[str]
    region: str
    tags: Mapping[str, str] = field(default_factory=dict)
    allowed_client_namespaces: Sequence[str] = ()
    """Namespaces allowed through the chart's NetworkPolicy (gateway, monitoring)."""
    node: NodeShape | None = None
    """Shape of the plan's instance type, for CPU/memory requests; None = per-GPU defaults."""
    after: Sequence[pulumi.Resource] = ()
    """What the engine release waits for besides its own Pod Identity association: the model's GPU node
    group (so destroy removes the pods before the nodes), the node autoscaler (a pod at scale to zero needs
    a node from it), the pod-scaling operator, the device plugin and, for multi-node plans, the LWS
    controller that brings the LeaderWorkerSet CRD."""

    def problems(self) -> list[tuple[str, str]]:
        found: list[tuple[str, str]] = []
        if self.plan.engine != self.model.engine:
            found.append(
                (
                    "plan.engine",
                    f"plan is for {self.plan.engine}, model {self.model.alias} uses {self.model.engine}",
                )
            )
        if self.model.weights_source == "s3" and not self.aws_cli_image:
            found.append(("aws_cli_image", "is required for s3:// weights"))
        if self.plan.nodes_per_replica > 1 and self.plan.engine != "vllm":
            found.append(("plan.nodes_per_replica", "multi-node replicas need engine vllm"))
        cache, scratch = self.plan.cache_gib, self.plan.ephemeral_storage_gib
        if cache < 1 or scratch < cache + 8:
            found.append(
                (
                    "plan.cache_gib",
                    f"cache {cache} GiB / ephemeral storage {scratch} GiB: need cache >= 1 and "
                    "ephemeral storage >= cache + 8 (/tmp)",
                )
            )
        if ":" not in self.image.rsplit("/", 1)[-1]:
            found.append(("image", f"{self.image!r} has no tag"))
        return found


class ModelServer(pulumi.ComponentResource):
    """Engine Deployment/LeaderWorkerSet + Service + PDB + ServiceAccount via Helm (token
    ``paddock:serving:ModelServer``).

    Outputs: ``service_url`` (``http://<alias>.<ns>.svc:8000/v1``), ``served_model_name``, ``role_arn``,
    ``values`` (the rendered chart values, a plain dict).
    """

    def __init__(self, name: str, args: ModelServerArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        raise_problems("ModelServer", args.problems())
        super().__init__(f"{PKG}:serving:ModelServer", name, None, opts)
        model, plan = args.model, args.plan
        service_account = f"{model.alias}-engine"
        self.values: dict[str, Any] = model_server_values(
            model,
            plan,
            image=args.image,
            aws_cli_image=args.aws_cli_image,
            service_account=service_account,
            allowed_client_namespaces=args.allowed_client_namespaces,
            node=args.node,
        )
        role, grants = self._pod_role(name, args, service_account)
        budget = startup_budget(plan.load_time_seconds)
        release = k8s.helm.v3.Release(
            f"{name}-release",
            name=model.alias,
            chart=release_chart(CHART_PATH),  # relative to the program dir: state is checkout-independent
            namespace=args.namespace,
            values=self.values,
            # the release waits for readiness: give it the whole cold-start budget
            timeout=budget.progress_deadline_seconds,
            # EKS injects credentials at pod admission only if the association already exists
            opts=child(self, provider=args.provider, depends_on=[role, *grants, *args.after]),
        )
        self.release_name = model.alias
        self.release: k8s.helm.v3.Release = release
        """The engine release (its ScaledObject/HPA waits for it)."""
        self.served_model_name: str = self.values["servedModelName"]
        self.service_url: pulumi.Output[str] = pulumi.Output.concat(
            "http://", model.alias, ".", pulumi.Output.from_input(args.namespace), f".svc:{ENGINE_PORT}/v1"
        )
        self.role_arn: pulumi.Output[str] = role.arn
        self.register_outputs(
            {"service_url": self.service_url, "role_arn": role.arn, "release": release.name}
        )

    def _pod_role(
        self, name: str, args: ModelServerArgs, service_account: str
    ) -> tuple[aws.iam.Role, list[pulumi.Resource]]:
        """The engine pods' role and what must exist before a pod starts: its Pod Identity association and
        (s3:// weights) the policy the init container reads the weights with."""
        partition = aws_partition(args.region)
        tags = dict(args.tags)
        role = aws.iam.Role(
            f"{name}-pod-role",
            assume_role_policy=assume_role_policy("pods.eks.amazonaws.com", POD_IDENTITY_ACTIONS),
            tags=tags,
            opts=child(self),
        )
        grants: list[pulumi.Resource] = []
        bucket = args.model.weights_bucket
        if bucket:
            weights = aws.iam.RolePolicy(
                f"{name}-pod-weights",
                role=role.id,
                policy=policy_json(
                    weights_read_statements(
                        bucket, args.model.weights_prefix, partition, args.model.weights_region
                    )
                ),
                opts=child(self),
            )
            grants.append(weights)
        association = aws.eks.PodIdentityAssociation(
            f"{name}-pod-identity",
            cluster_name=args.cluster_name,
            namespace=args.namespace,
            service_account=service_account,
            role_arn=role.arn,
            tags=tags,
            opts=child(self),
        )
        grants.append(association)
        return role, grants
