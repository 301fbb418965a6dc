"""Frozen dataclasses of the stack config sections (parsed in serving/stack_config_sections.py).

Import them from :mod:`serving.stack_config`. Field docstrings name the config key and the default.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

Engine = Literal["vllm", "tgi"]
CapacityType = Literal["on-demand", "spot", "capacity-block", "reservation"]
#: capacity types that consume a reservation (``capacityReservationId`` required)
RESERVED_CAPACITY_TYPES = ("capacity-block", "reservation")
NodeAutoscaler = Literal["cluster-autoscaler", "karpenter", "none"]
GpuAmiType = Literal["AL2023_x86_64_NVIDIA", "BOTTLEROCKET_x86_64_NVIDIA"]
RegistryMode = Literal["direct", "pull-through", "mirror"]


@dataclass(frozen=True, kw_only=True)
class Residency:
    """``paddock:residency``: where prompts, responses, weights and logs may go."""

    allowed_regions: tuple[str, ...]
    """``allowedRegions``; default ``[aws:region]``."""
    allow_geo_inference_profiles: bool = True
    """``allowGeoInferenceProfiles`` (eu./us./apac. ok if ALL destinations are allowed); default true."""
    allow_global_inference_profiles: bool = False
    """``allowGlobalInferenceProfiles`` (global. profiles reach any commercial region); default false."""
    allow_fallback: bool = True
    """``allowFallback``: false = prompts never leave the cluster (no Bedrock at all); default true."""
    log_retention_days: int = 30
    """``logRetentionDays`` of CloudWatch log groups; default 30."""
    allow_public_egress: bool = False
    """``allowPublicEgress``: accept a NAT gateway, ``weights: hf``, Bedrock without a VPC endpoint and an
    open public API endpoint (each is a residency error otherwise); default false."""


@dataclass(frozen=True, kw_only=True)
class NetworkConfig:
    """``paddock:network``: create a VPC, or adopt one (``existingVpcId`` + ``privateSubnetIds``)."""

    create: bool
    cidr: str = "10.0.0.0/16"
    """``cidr`` of a created VPC; default 10.0.0.0/16."""
    az_count: int = 2
    """``azCount``: availability zones (one private + one public subnet each); 2..6, default 2."""
    nat_gateway: bool = False
    """``natGateway``: one NAT gateway for internet egress (HF downloads); default false (endpoints only)."""
    vpc_endpoints: bool = True
    """``vpcEndpoints``: S3 gateway + ECR, STS, logs, bedrock-runtime... interface endpoints; default true."""
    existing_vpc_id: str | None = None
    private_subnet_ids: tuple[str, ...] = ()


#: default instance types of the system node group: small, current, general purpose, sold On-Demand everywhere
DEFAULT_SYSTEM_INSTANCE_TYPES = ("m6i.xlarge",)


@dataclass(frozen=True, kw_only=True)
class SystemNodesConfig:
    """``paddock:cluster.systemNodes``: untainted managed node group for CoreDNS, add-ons, monitoring, KEDA,
    the node autoscaler and the gateway (label ``paddock.dev/pool: system``)."""

    create: bool
    """``create``; default = the stack creates the cluster (an adopted cluster brings its own)."""
    instance_types: tuple[str, ...] = DEFAULT_SYSTEM_INSTANCE_TYPES
    """``instanceTypes``; default ``[m6i.xlarge]`` (4 vCPU, 16 GiB, On-Demand)."""
    min_size: int = 2
    """``min``: nodes at least (spread over the private subnets' AZs); 1..100, default 2."""
    max_size: int = 4
    """``max``: nodes at most; >= min, default max(4, min)."""
    disk_gib: int = 50
    """``diskGib``: encrypted gp3 root volume per node, GiB; 20..1000, default 50."""


@dataclass(frozen=True, kw_only=True)
class ClusterConfig:
    """``paddock:cluster``: create an EKS cluster, or adopt one (``existingClusterName``)."""

    create: bool
    name: str
    """``name``; default ``paddock-<stack>`` (or the adopted cluster's name)."""
    kubernetes_version: str | None = None
    """``kubernetesVersion`` (required when creating), e.g. "1.33"."""
    endpoint_public_access: bool = False
    """``endpointPublicAccess``; default false (private API endpoint only)."""
    public_access_cidrs: tuple[str, ...] = ()
    """``publicAccessCidrs``: CIDRs allowed on the public endpoint; required with endpointPublicAccess."""
    private_access_cidrs: tuple[str, ...] = ()
    """``privateAccessCidrs``: runner CIDRs inside/connected to the VPC, allowed on 443 of the cluster SG."""
    system_nodes: SystemNodesConfig = field(default_factory=lambda: SystemNodesConfig(create=False))
    """``systemNodes`` (see :class:`SystemNodesConfig`)."""
    secrets_kms_key_arn: str | None = None
    """``secretsKmsKeyArn``: KMS key for Secrets envelope encryption; default: a key the stack creates."""
    admin_role_arns: tuple[str, ...] = ()
    """``adminRoleArns``: IAM roles given cluster-admin via EKS access entries."""
    existing_cluster_name: str | None = None


@dataclass(frozen=True, kw_only=True)
class RegistryConfig:
    """``paddock:registry``: where nodes pull images from (serving/images.py maps each image to its route)."""

    mode: RegistryMode
    """``mode``: ``direct`` (upstream registries, needs a NAT), ``pull-through`` (ECR pull-through cache rules
    the stack creates; nvcr.io images still come from ``mirror``) or ``mirror`` (every image copied to
    ``mirror``); default ``direct`` when ``paddock:network.natGateway`` is true, else ``pull-through``."""
    mirror: str | None = None
    """``mirror``: private registry prefix the user copies images into: ``<host>/<prefix>`` or a bare prefix
    in the stack's own ECR registry (``paddock-mirror``); required by ``mode: mirror`` and by pull-through
    stacks that pull from registries ECR cannot cache (nvcr.io: device plugin, DCGM exporter)."""
    docker_hub_credential_arn: str | None = None
    """``dockerHubCredentialArn``: Secrets Manager secret (name prefixed ``ecr-pullthroughcache/``) with a
    Docker Hub user and access token; required for a pull-through rule on Docker Hub (vLLM, Grafana)."""
    github_credential_arn: str | None = None
    """``githubCredentialArn``: secret (``ecr-pullthroughcache/`` prefix) with a GitHub user and token;
    required for a pull-through rule on ghcr.io (KEDA, TGI)."""


@dataclass(frozen=True, kw_only=True)
class Versions:
    """``paddock:versions``: every third-party chart and image, pinned (never defaulted in components)."""

    gpu_ami_type: GpuAmiType
    nvidia_device_plugin_chart: str
    dcgm_exporter_chart: str
    vllm_image: str | None = None
    tgi_image: str | None = None
    aws_cli_image: str | None = None
    """Image of the init container that syncs S3 weights (required when a model uses s3:// weights)."""
    gateway_image: str | None = None
    """``gatewayImage``; default: the ECR repository the stack creates (``paddock-gateway``) at the project
    version tag (resolved by stacks/addons.py, which knows the account)."""
    keda_chart: str | None = None
    prometheus_adapter_chart: str | None = None
    """prometheus-adapter chart: the HPAs' custom-metrics API when ``paddock:autoscaling.keda`` is false."""
    kube_prometheus_stack_chart: str | None = None
    cluster_autoscaler_chart: str | None = None
    karpenter_chart: str | None = None
    """``karpenterChart`` (oci://public.ecr.aws/karpenter/karpenter); required with karpenter."""
    lws_chart: str | None = None
    """``lwsChart`` (oci://registry.k8s.io/lws/charts/lws): the LeaderWorkerSet controller; required when a
    model's plan spans nodes (checked after sizing, stacks/planning.py)."""
    efa_device_plugin_chart: str | None = None
    """``efaDevicePluginChart`` (eks-charts aws-efa-k8s-device-plugin); required when a multi-node plan runs
    on an EFA instance type (checked after sizing)."""
    eks_addons: Mapping[str, str] = field(default_factory=dict)
    """``eksAddons``: EKS managed add-on -> pinned version (required for created clusters): vpc-cni, coredns,
    kube-proxy, eks-pod-identity-agent, aws-ebs-csi-driver."""

    def image_engine_version(self, engine: Engine) -> str | None:
        """The engine version named by the pinned image's tag (``vllm/vllm-openai:v0.11.0`` -> ``0.11.0``),
        or None when the image is unpinned or its tag is not a version (a digest, ``latest``)."""
        image = self.vllm_image if engine == "vllm" else self.tgi_image
        found = re.search(r":v?(\d+\.\d+(?:\.\d+)?)(?:[-+@].*)?$", image or "")
        return found.group(1) if found else None

    def engine_image(self, engine: Engine) -> str:
        """The pinned image of ``engine`` (the parser guarantees it is set for every engine in use)."""
        image = self.vllm_image if engine == "vllm" else self.tgi_image
        if image is None:
            raise ValueError(f"no image pinned for engine {engine}")
        return image


@dataclass(frozen=True, kw_only=True)
class ModelConfig:
    """One entry of ``paddock:models``."""

    alias: str
    """DNS-1035 label naming the model's objects and its gateway route."""
    model: str
    """Catalog id, HF repo id known to the catalog, or path to a config.json."""
    engine: Engine = "vllm"
    engine_version: str | None = None
    """Engine version whose memory accounting sizing models; None = newest modelled."""
    weights: str
    """``s3://bucket/prefix/`` or ``hf`` (token from Secret paddock-hf-token)."""
    weights_region: str
    """Region of the weights bucket (default aws:region)."""
    context: int
    """Tokens per sequence (prompt + output) to serve."""
    concurrency: int
    """Concurrent sequences to serve at ``context``."""
    gpu: str = "auto"
    """``auto``, an instance type (p5.48xlarge) or a GPU id (h100-80gb)."""
    quantization: Literal["none", "fp8", "int8", "int4"] = "none"
    kv_cache_dtype: Literal["auto", "fp8"] = "auto"
    capacity_type: CapacityType = "on-demand"
    """``capacityType``: on-demand, spot, capacity-block (EC2 Capacity Block) or reservation (On-Demand
    Capacity Reservation); default on-demand."""
    capacity_reservation_id: str | None = None
    """``capacityReservationId`` (``cr-...``): required with capacity-block/reservation, else rejected."""
    replicas_min: int = 1
    """``replicas.min``; 0 = scale to zero."""
    replicas_max: int = 1
    fallback: str = "none"
    """Key in ``paddock:fallback.bedrock.models`` or ``none`` (pinned: never reaches Bedrock)."""
    slo_ttft_seconds: float = 2.0
    cold_start_hold_seconds: float = 60.0

    @property
    def weights_source(self) -> Literal["s3", "hf"]:
        return "hf" if self.weights == "hf" else "s3"

    @property
    def weights_bucket(self) -> str | None:
        """Bucket name of s3:// weights (None for hf)."""
        if self.weights_source != "s3":
            return None
        return self.weights[len("s3://") :].split("/", 1)[0]

    @property
    def weights_prefix(self) -> str:
        """Key prefix of s3:// weights without leading slash, ending with ``/`` ('' for a whole bucket)."""
        if self.weights_source != "s3":
            return ""
        rest = self.weights[len("s3://") :].split("/", 1)
        prefix = rest[1] if len(rest) > 1 else ""
        return prefix if not prefix or prefix.endswith("/") else prefix + "/"

    @property
    def pinned(self) -> bool:
        """True when the alias never falls back to Bedrock."""
        return self.fallback == "none"


@dataclass(frozen=True, kw_only=True)
class BedrockModel:
    """One entry of ``paddock:fallback.bedrock.models``."""

    inference_profile: str
    """Inference profile id (``eu.anthropic...``) or a base model id."""


@dataclass(frozen=True, kw_only=True)
class FallbackConfig:
    """``paddock:fallback.bedrock``."""

    region: str | None = None
    """Bedrock region (default aws:region when models are listed)."""
    models: Mapping[str, BedrockModel] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class GatewayConfig:
    """``paddock:gateway``."""

    enabled: bool = True
    replicas: int = 2
    api_keys_secret: str = "paddock-gateway-keys"
    max_body_bytes: int = 1_048_576


@dataclass(frozen=True, kw_only=True)
class AutoscalingConfig:
    """``paddock:autoscaling``."""

    keda: bool = True
    node_autoscaler: NodeAutoscaler = "cluster-autoscaler"
    polling_interval_seconds: int = 15
    cooldown_seconds: int = 600
    karpenter_ami_alias: str | None = None
    """``karpenterAmiAlias``: pinned EC2NodeClass AMI alias (``al2023@v20251103``); needed by karpenter."""


ALERT_RECEIVER_KINDS = ("slack", "pagerduty", "webhook")
ALERT_SEVERITIES = ("critical", "warning")


@dataclass(frozen=True, kw_only=True)
class AlertReceiver:
    """``paddock:monitoring.alerts.receivers[]``: a Slack/PagerDuty/webhook target whose URL or routing key
    lives in Secret ``secret`` (key ``key``) in the monitoring namespace, never in stack config or values."""

    kind: str
    """``slack`` (incoming-webhook URL), ``pagerduty`` (Events v2 routing key) or ``webhook`` (URL)."""
    secret: str
    key: str
    severities: tuple[str, ...] = ALERT_SEVERITIES
    """Which severities it receives: ``critical`` pages, ``warning`` tickets."""
    channel: str | None = None
    """Slack channel override (``#paddock-alerts``); None = the webhook's own channel."""


@dataclass(frozen=True, kw_only=True)
class AlertsConfig:
    """``paddock:monitoring.alerts`` (``true``/``false`` is short for ``{enabled: ...}``)."""

    enabled: bool = True
    sns: bool = False
    """Create an SNS topic; Alertmanager publishes to it with its own Pod Identity (no secret)."""
    sns_severities: tuple[str, ...] = ALERT_SEVERITIES
    receivers: tuple[AlertReceiver, ...] = ()
    heartbeat: AlertReceiver | None = None
    """Where the always-firing Watchdog goes (a dead man's switch: healthchecks, PagerDuty heartbeat URL);
    kind ``webhook``. None = no one notices a dead Prometheus."""
    docs_base_url: str | None = None
    """Absolute URL of serving/monitoring/README.md as published (``https://git.example.com/paddock/blob/main/
    serving/monitoring/README.md``); every runbook_url is ``<base>#<alert>``. None = the repository path (the
    plan warns: a pager cannot open it)."""

    @property
    def has_receiver(self) -> bool:
        """Some alert reaches someone."""
        return self.sns or bool(self.receivers)


@dataclass(frozen=True, kw_only=True)
class MonitoringConfig:
    """``paddock:monitoring``."""

    enabled: bool = True
    grafana: bool = True
    alerting: AlertsConfig = field(default_factory=AlertsConfig)

    @property
    def alerts(self) -> bool:
        """PrometheusRules and Alertmanager are on."""
        return self.alerting.enabled


@dataclass(frozen=True, kw_only=True)
class EphemeralConfig:
    """``paddock:ephemeral`` (short-lived developer stacks only)."""

    owner: str
    expires_at: str | None = None
    """ISO-8601 UTC instant (``2026-11-23T18:00:00Z``) after which the stack may be reaped."""
    ttl: str | None = None
    """Duration like ``4h`` / ``90m`` / ``2d`` from creation."""
