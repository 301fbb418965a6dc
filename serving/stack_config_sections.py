"""Parsers of each ``paddock:*`` section into the dataclasses of serving/stack_config_models.py.

Each parser reads through a :class:`serving.config_reader.Section`, so problems are collected with their key
and the caller (:func:`serving.stack_config.parse_stack_config`) raises once.
"""

from __future__ import annotations

import ipaddress
import re
from datetime import datetime
from typing import Any

from serving.config_reader import Problems, Section
from serving.images import REGISTRY_MODES, default_mode
from serving.stack_config_models import (
    ALERT_RECEIVER_KINDS,
    ALERT_SEVERITIES,
    RESERVED_CAPACITY_TYPES,
    AlertReceiver,
    AlertsConfig,
    AutoscalingConfig,
    BedrockModel,
    ClusterConfig,
    EphemeralConfig,
    FallbackConfig,
    GatewayConfig,
    ModelConfig,
    MonitoringConfig,
    NetworkConfig,
    RegistryConfig,
    Residency,
    SystemNodesConfig,
    Versions,
)

REGION = r"[a-z]{2}(-gov)?-[a-z]+-\d"
ALIAS = r"[a-z]([-a-z0-9]{0,38}[a-z0-9])?"
S3_URI = r"s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/[^\s]*)?"
INSTANCE_TYPE = r"[a-z][a-z0-9-]*\.(metal|[0-9]*x?large)"
IMAGE = r"[a-z0-9]+([._/:-][a-z0-9]+)*(:[A-Za-z0-9_][A-Za-z0-9._-]{0,127})?(@sha256:[0-9a-f]{64})?"
CHART_VERSION = r"v?\d+\.\d+\.\d+([-+][0-9A-Za-z.-]+)?"
ROLE_ARN = r"arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+"
KMS_ARN = r"arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key/[0-9a-f-]+"
#: a Secrets Manager secret ECR pull-through cache may use: its name must start with ecr-pullthroughcache/
PTC_SECRET_ARN = r"arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:ecr-pullthroughcache/[\w/+=.@-]+"
#: registry prefix: ``host/prefix`` or a bare ECR repository prefix (``paddock-mirror``)
MIRROR = r"([a-z0-9]([-a-z0-9.]*[a-z0-9])?(:\d+)?/)?[a-z0-9]+([._/-][a-z0-9]+)*"
#: GPU catalog ids accepted for ``gpu`` (DESIGN.md "paddock size"); sizing validates against the catalog.
GPU_IDS = ("a10g", "l4", "l40s", "a100-40gb", "a100-80gb", "h100-80gb", "h200")
AMI_TYPES = ("AL2023_x86_64_NVIDIA", "BOTTLEROCKET_x86_64_NVIDIA")
CIDR = r"(\d{1,3}\.){3}\d{1,3}/(\d|[12]\d|3[0-2])"
CAPACITY_RESERVATION_ID = r"cr-[0-9a-f]{8,17}"
#: EKS managed add-ons every created cluster runs, pinned in ``paddock:versions.eksAddons``
EKS_ADDONS = ("vpc-cni", "coredns", "kube-proxy", "eks-pod-identity-agent", "aws-ebs-csi-driver")
ADDON_VERSION = r"v\d+\.\d+\.\d+-eksbuild\.\d+"


def parse_residency(s: Section, region: str) -> Residency:
    """Shapes only: an ``aws:region`` outside ``allowedRegions`` is valid config; the residency rules
    (``paddock audit``, the CrossGuard pack, ``serving.residency.iam``) report and block it."""
    allowed = s.get_str_list(
        "allowedRegions", (region,) if region else (), pattern=REGION, hint="is not a region"
    )
    r = Residency(
        allowed_regions=tuple(allowed),
        allow_geo_inference_profiles=s.get_bool("allowGeoInferenceProfiles", True),
        allow_global_inference_profiles=s.get_bool("allowGlobalInferenceProfiles", False),
        allow_fallback=s.get_bool("allowFallback", True),
        log_retention_days=s.get_int("logRetentionDays", 30, lo=1, hi=3653),
        allow_public_egress=s.get_bool("allowPublicEgress", False),
    )
    s.finish()
    return r


def parse_network(s: Section) -> NetworkConfig:
    existing = s.get_str("existingVpcId", None, pattern=r"vpc-[0-9a-f]{8,17}", hint="is not a VPC id")
    create = s.get_bool("create", existing is None)
    subnets = s.get_str_list(
        "privateSubnetIds", (), pattern=r"subnet-[0-9a-f]{8,17}", hint="is not a subnet id"
    )
    if create and existing:
        s.problems.add(s.key("existingVpcId"), "Only one of create: true or existingVpcId")
    if existing and len(subnets) < 2:
        s.problems.add(
            s.key("privateSubnetIds"), "at least 2 subnets (in 2 AZs) are required with existingVpcId"
        )
    if not create and not existing:
        s.problems.add(s.key("existingVpcId"), "is required when create is false")
    n = NetworkConfig(
        create=bool(create),
        cidr=s.get_str(
            "cidr", "10.0.0.0/16", pattern=r"(\d{1,3}\.){3}\d{1,3}/(1[6-9]|2[0-4])", hint="is not a /16-/24"
        ),
        az_count=s.get_int("azCount", 2, lo=2, hi=6),
        nat_gateway=s.get_bool("natGateway", False),
        vpc_endpoints=s.get_bool("vpcEndpoints", True),
        existing_vpc_id=existing,
        private_subnet_ids=tuple(subnets),
    )
    s.finish()
    return n


def _system_nodes(s: Section, create_cluster: bool) -> SystemNodesConfig:
    create = s.get_bool("create", create_cluster)
    types = s.get_str_list("instanceTypes", None, pattern=INSTANCE_TYPE, hint="is not an instance type")
    if s.has("instanceTypes") and s.raw("instanceTypes") == []:
        s.problems.add(s.key("instanceTypes"), "needs at least one instance type")
    lo = s.get_int("min", 2, lo=1, hi=100)
    hi = s.get_int("max", max(4, lo or 2), lo=1, hi=100)
    if lo is not None and hi is not None and lo > hi:
        s.problems.add(s.key("min"), f"{lo} is greater than max {hi}")
    if create and not create_cluster:
        s.problems.add(s.key("create"), "a system node group is only created with the cluster (create: true)")
    n = SystemNodesConfig(
        create=bool(create),
        instance_types=tuple(types) if types else SystemNodesConfig(create=False).instance_types,
        min_size=lo or 2,
        max_size=hi or max(4, lo or 2),
        disk_gib=s.get_int("diskGib", 50, lo=20, hi=1000),
    )
    s.finish()
    return n


def _cidrs(s: Section, name: str) -> tuple[str, ...]:
    found = s.get_str_list(name, (), pattern=CIDR, hint="is not a CIDR block like 203.0.113.10/32")
    good: list[str] = []
    for i, cidr in enumerate(found or ()):
        try:
            ipaddress.IPv4Network(cidr)
        except ValueError as exc:  # 300.1.2.3/32, or host bits set (10.0.0.1/16)
            s.problems.add(f"{s.key(name)}[{i}]", f"{cidr!r} is not a network CIDR ({exc})")
            continue
        good.append(cidr)
    return tuple(good)


def parse_cluster(s: Section, stack: str) -> ClusterConfig:
    existing = s.get_str(
        "existingClusterName", None, pattern=r"[0-9A-Za-z][A-Za-z0-9_-]{0,99}", hint="bad name"
    )
    create = s.get_bool("create", existing is None)
    if create and existing:
        s.problems.add(s.key("existingClusterName"), "Only one of create: true or existingClusterName")
    if not create and not existing:
        s.problems.add(s.key("existingClusterName"), "is required when create is false")
    version = s.get_str("kubernetesVersion", None, pattern=r"1\.\d{2}", hint="is not a version like 1.33")
    if create and version is None and not s.has("kubernetesVersion"):
        s.problems.add(s.key("kubernetesVersion"), "is required when the stack creates the cluster")
    public = s.get_bool("endpointPublicAccess", False)
    public_cidrs = _cidrs(s, "publicAccessCidrs")
    if create and public and not public_cidrs and not s.has("publicAccessCidrs"):
        s.problems.add(
            s.key("publicAccessCidrs"),
            "is required with endpointPublicAccess: true (the runner's CIDR; 0.0.0.0/0 = the whole internet)",
        )
    elif public and s.has("publicAccessCidrs") and not s.raw("publicAccessCidrs"):
        s.problems.add(s.key("publicAccessCidrs"), "must not be empty with endpointPublicAccess: true")
    if public_cidrs and not public:
        s.problems.add(s.key("publicAccessCidrs"), "set without endpointPublicAccess: true")
    c = ClusterConfig(
        create=bool(create),
        name=s.get_str(
            "name", existing or f"paddock-{stack}", pattern=r"[0-9A-Za-z][A-Za-z0-9_-]{0,99}", hint="bad"
        ),
        kubernetes_version=version,
        endpoint_public_access=bool(public),
        public_access_cidrs=public_cidrs,
        private_access_cidrs=_cidrs(s, "privateAccessCidrs"),
        system_nodes=_system_nodes(s.section("systemNodes"), bool(create)),
        secrets_kms_key_arn=s.get_str("secretsKmsKeyArn", None, pattern=KMS_ARN, hint="is not a KMS key ARN"),
        admin_role_arns=tuple(
            s.get_str_list("adminRoleArns", (), pattern=ROLE_ARN, hint="is not an IAM role ARN")
        ),
        existing_cluster_name=existing,
    )
    s.finish()
    return c


def _eks_addons(s: Section, create_cluster: bool) -> dict[str, str]:
    """``paddock:versions.eksAddons``: each of :data:`EKS_ADDONS`, pinned when the cluster is created."""
    out: dict[str, str] = {}
    for name in EKS_ADDONS:
        value = s.get_str(
            name, None, pattern=ADDON_VERSION, hint="is not an add-on version like v1.21.1-eksbuild.3"
        )
        if value is None and create_cluster and not s.has(name):
            s.problems.add(s.key(name), "is required (the stack creates the cluster and its managed add-ons)")
        if isinstance(value, str):
            out[name] = value
    s.finish()
    return out


def _image(s: Section, name: str, needed_by: str | None) -> Any:
    value = s.get_str(name, None, pattern=IMAGE, hint="is not an image reference")
    if value is None and needed_by and not s.has(name):
        s.problems.add(s.key(name), f"is required ({needed_by})")
    if isinstance(value, str) and ":" not in value.rsplit("/", 1)[-1] and "@" not in value:
        s.problems.add(s.key(name), f"{value!r} has no tag or digest: pin a version")
        return None
    if isinstance(value, str) and value.endswith(":latest"):
        s.problems.add(s.key(name), f"{value!r} uses :latest; pin a version")
        return None
    return value


def _chart(s: Section, name: str, needed_by: str | None) -> Any:
    value = s.get_str(name, None, pattern=CHART_VERSION, hint="is not a chart version like 1.2.3")
    if value is None and needed_by and not s.has(name):
        s.problems.add(s.key(name), f"is required ({needed_by})")
    return value


def parse_versions(
    s: Section,
    *,
    models: tuple[ModelConfig, ...],
    gateway: GatewayConfig,
    autoscaling: AutoscalingConfig,
    monitoring: MonitoringConfig,
    create_cluster: bool = False,
) -> Versions:
    engines = {m.engine for m in models}
    node_as = autoscaling.node_autoscaler

    def when(cond: bool, why: str) -> str | None:
        return why if cond else None

    v = Versions(
        gpu_ami_type=s.get_choice("gpuAmiType", AMI_TYPES),
        nvidia_device_plugin_chart=_chart(s, "nvidiaDevicePluginChart", "GPU plumbing"),
        dcgm_exporter_chart=_chart(s, "dcgmExporterChart", "GPU plumbing"),
        vllm_image=_image(s, "vllmImage", when("vllm" in engines, "a model uses engine vllm")),
        tgi_image=_image(s, "tgiImage", when("tgi" in engines, "a model uses engine tgi")),
        aws_cli_image=_image(s, "awsCliImage", when(any(m.weights != "hf" for m in models), "s3:// weights")),
        gateway_image=_image(s, "gatewayImage", None),  # default: the ECR repository the stack creates
        keda_chart=_chart(s, "kedaChart", when(autoscaling.keda, "paddock:autoscaling.keda")),
        prometheus_adapter_chart=_chart(
            s,
            "prometheusAdapterChart",
            when(not autoscaling.keda and bool(models), "paddock:autoscaling.keda is false: HPAs read it"),
        ),
        kube_prometheus_stack_chart=_chart(
            s,
            "kubePrometheusStackChart",
            # KEDA or the HPAs read Prometheus: it runs (without Grafana/alerts) even with monitoring disabled
            when(
                monitoring.enabled or autoscaling.keda or bool(models),
                "paddock:monitoring.enabled, or pod autoscaling (KEDA or HPA) reads Prometheus",
            ),
        ),
        cluster_autoscaler_chart=_chart(
            s,
            "clusterAutoscalerChart",
            when(node_as == "cluster-autoscaler", "nodeAutoscaler: cluster-autoscaler"),
        ),
        karpenter_chart=_chart(
            s, "karpenterChart", when(node_as == "karpenter", "nodeAutoscaler: karpenter")
        ),
        eks_addons=_eks_addons(s.section("eksAddons"), create_cluster),
        # required only when a plan spans nodes: known after sizing (serving.controllers.controller_problems)
        lws_chart=_chart(s, "lwsChart", None),
        efa_device_plugin_chart=_chart(s, "efaDevicePluginChart", None),
    )
    s.finish()
    return v


def parse_registry(s: Section, network: NetworkConfig, region: str) -> RegistryConfig:
    """``paddock:registry``; the default mode follows ``paddock:network.natGateway``. Whether every image the
    stack pulls has a route is checked once all sections are parsed (serving/stack_images.py)."""
    mode = s.get_choice("mode", REGISTRY_MODES, default_mode(nat_gateway=network.nat_gateway))
    mirror = s.get_str(
        "mirror", None, pattern=MIRROR, hint="is not a registry prefix (host/prefix or prefix)"
    )
    hint = "is not a Secrets Manager secret ARN whose name starts with ecr-pullthroughcache/"
    docker = s.get_str("dockerHubCredentialArn", None, pattern=PTC_SECRET_ARN, hint=hint)
    github = s.get_str("githubCredentialArn", None, pattern=PTC_SECRET_ARN, hint=hint)
    if mode == "mirror" and mirror is None and not s.has("mirror"):
        s.problems.add(s.key("mirror"), "is required with mode: mirror (the prefix images are copied to)")
    if mode == "direct" and network.create and not network.nat_gateway:
        s.problems.add(
            s.key("mode"),
            "direct needs internet egress: set paddock:network.natGateway: true, or use pull-through/mirror",
        )
    for name, arn in (("dockerHubCredentialArn", docker), ("githubCredentialArn", github)):
        arn_region = arn.split(":")[3] if isinstance(arn, str) else region
        if region and arn_region != region:
            s.problems.add(
                s.key(name), f"the secret must be in {region}, the region of the pull-through rules"
            )
    r = RegistryConfig(
        mode=mode or "pull-through",
        mirror=mirror,
        docker_hub_credential_arn=docker,
        github_credential_arn=github,
    )
    s.finish()
    return r


def _gpu(s: Section) -> Any:
    value = s.get_str("gpu", "auto")
    if (
        isinstance(value, str)
        and value != "auto"
        and value not in GPU_IDS
        and not re.fullmatch(INSTANCE_TYPE, value)
    ):
        s.problems.add(
            s.key("gpu"), f"{value!r} is not a GPU id or instance type (auto, {', '.join(GPU_IDS)})"
        )
        return "auto"
    return value


def _model(s: Section, *, region: str, fallback: FallbackConfig) -> ModelConfig | None:
    n = len(s.problems.items)
    replicas = s.section("replicas")
    r_min = replicas.get_int("min", 1, lo=0, hi=1000)
    r_max = replicas.get_int("max", max(r_min or 1, 1), lo=1, hi=1000)
    if r_min is not None and r_max is not None and r_min > r_max:
        replicas.problems.add(replicas.key("min"), f"{r_min} is greater than max {r_max}")
    replicas.finish()
    fb = s.get_str("fallback", "none")
    if isinstance(fb, str) and fb != "none" and fb not in fallback.models:
        known = ", ".join(sorted(fallback.models)) or "none defined"
        s.problems.add(
            s.key("fallback"), f"{fb!r} is not 'none' or a key of paddock:fallback.bedrock.models ({known})"
        )
    weights = s.get_str("weights", pattern=rf"hf|{S3_URI}", hint="is not 'hf' or s3://bucket/prefix/")
    capacity = s.get_choice("capacityType", ("on-demand", "spot", *RESERVED_CAPACITY_TYPES), "on-demand")
    reservation = s.get_str(
        "capacityReservationId",
        None,
        pattern=CAPACITY_RESERVATION_ID,
        hint="is not a capacity reservation id (cr-...)",
    )
    if capacity in RESERVED_CAPACITY_TYPES and reservation is None and not s.has("capacityReservationId"):
        s.problems.add(s.key("capacityReservationId"), f"is required with capacityType: {capacity}")
    if reservation is not None and capacity not in RESERVED_CAPACITY_TYPES:
        s.problems.add(
            s.key("capacityReservationId"),
            f"is only valid with capacityType: {' or '.join(RESERVED_CAPACITY_TYPES)} (got {capacity})",
        )
    kwargs: dict[str, Any] = dict(
        alias=s.get_str("alias", pattern=ALIAS, hint="is not a DNS label (a-z, 0-9, '-', max 40)"),
        model=s.get_str("model"),
        engine=s.get_choice("engine", ("vllm", "tgi"), "vllm"),
        engine_version=s.get_str("engineVersion", None, pattern=r"\d+\.\d+(\.\d+)?", hint="is not a version"),
        weights=weights,
        weights_region=s.get_str("weightsRegion", region or None, pattern=REGION, hint="is not a region"),
        context=s.get_int("context", lo=256, hi=10_485_760),
        concurrency=s.get_int("concurrency", lo=1, hi=100_000),
        gpu=_gpu(s),
        quantization=s.get_choice("quantization", ("none", "fp8", "int8", "int4"), "none"),
        kv_cache_dtype=s.get_choice("kvCacheDtype", ("auto", "fp8"), "auto"),
        capacity_type=capacity,
        capacity_reservation_id=reservation,
        replicas_min=r_min,
        replicas_max=r_max,
        fallback=fb,
        slo_ttft_seconds=s.get_number("sloTtftSeconds", 2.0, lo=0.01, hi=600),
        cold_start_hold_seconds=s.get_number("coldStartHoldSeconds", 60.0, lo=0, hi=3600),
    )
    s.finish()
    if len(s.problems.items) > n:
        return None
    return ModelConfig(**kwargs)


def parse_models(
    value: Any, problems: Problems, *, region: str, fallback: FallbackConfig
) -> tuple[ModelConfig, ...]:
    if value is None:
        problems.add("paddock:models", "is required (at least one model)")
        return ()
    if not isinstance(value, list) or not value:
        problems.add("paddock:models", "expected a non-empty list of models")
        return ()
    models: list[ModelConfig] = []
    seen: dict[str, int] = {}
    for i, item in enumerate(value):
        m = _model(Section.of(item, f"paddock:models[{i}]", problems), region=region, fallback=fallback)
        if m is None:
            continue
        if m.alias in seen:
            problems.add(
                f"paddock:models[{i}].alias", f"{m.alias!r} duplicates paddock:models[{seen[m.alias]}]"
            )
        seen.setdefault(m.alias, i)
        models.append(m)
    return tuple(models)


def parse_fallback(s: Section, region: str) -> FallbackConfig:
    bedrock = s.section("bedrock")
    s.finish()
    models_sec = bedrock.section("models")
    models: dict[str, BedrockModel] = {}
    for key in models_sec.data:
        entry = models_sec.section(key)
        profile = entry.get_str("inferenceProfile", pattern=r"[a-z0-9.:-]+", hint="is not a model/profile id")
        entry.finish()
        # a bad profile is reported once, here: the key still counts as declared for models[i].fallback
        models[key] = BedrockModel(inference_profile=profile or "")
    region_value = bedrock.get_str(
        "region", (region or None) if models else None, pattern=REGION, hint="is not a region"
    )
    bedrock.finish()
    return FallbackConfig(region=region_value, models=models)


def parse_gateway(s: Section) -> GatewayConfig:
    g = GatewayConfig(
        enabled=s.get_bool("enabled", True),
        replicas=s.get_int("replicas", 2, lo=1, hi=100),
        api_keys_secret=s.get_str(
            "apiKeysSecret", "paddock-gateway-keys", pattern=r"[a-z0-9][-a-z0-9.]{0,252}"
        ),
        max_body_bytes=s.get_int("maxBodyBytes", 1_048_576, lo=1024, hi=100 * 1_048_576),
    )
    s.finish()
    return g


def parse_autoscaling(s: Section) -> AutoscalingConfig:
    a = AutoscalingConfig(
        keda=s.get_bool("keda", True),
        node_autoscaler=s.get_choice(
            "nodeAutoscaler", ("cluster-autoscaler", "karpenter", "none"), "cluster-autoscaler"
        ),
        polling_interval_seconds=s.get_int("pollingIntervalSeconds", 15, lo=1, hi=3600),
        cooldown_seconds=s.get_int("cooldownSeconds", 600, lo=0, hi=86_400),
        karpenter_ami_alias=s.get_str(
            "karpenterAmiAlias",
            None,
            pattern=r"[a-z0-9]+@v\d{8}",
            hint="is not a pinned AMI alias (al2023@v20251103)",
        ),
    )
    if a.node_autoscaler == "karpenter" and a.karpenter_ami_alias is None and not s.has("karpenterAmiAlias"):
        s.problems.add(s.key("karpenterAmiAlias"), "is required with nodeAutoscaler: karpenter")
    s.finish()
    return a


def parse_monitoring(s: Section) -> MonitoringConfig:
    raw = s.raw("alerts")
    if raw is None or isinstance(raw, bool):
        alerting = AlertsConfig(enabled=raw is not False)
    elif not isinstance(raw, dict):
        s.problems.add(s.key("alerts"), f"expected true, false or a mapping, got {raw!r}")
        alerting = AlertsConfig()
    else:
        alerting = _alerts(Section.of(raw, s.key("alerts"), s.problems))
    m = MonitoringConfig(
        enabled=s.get_bool("enabled", True), grafana=s.get_bool("grafana", True), alerting=alerting
    )
    s.finish()
    return m


_K8S_NAME = r"[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?"
_SECRET_KEY = r"[-._a-zA-Z0-9]{1,253}"


def _severities(s: Section, name: str) -> tuple[str, ...]:
    got = s.get_str_list(
        name, ALERT_SEVERITIES, pattern="|".join(ALERT_SEVERITIES), hint="is not critical or warning"
    )
    if isinstance(got, tuple) and not got:
        s.problems.add(s.key(name), "is empty: name critical and/or warning")
    return tuple(got or ALERT_SEVERITIES)


def _receiver(s: Section, *, heartbeat: bool = False) -> AlertReceiver:
    kinds = ("webhook",) if heartbeat else ALERT_RECEIVER_KINDS
    r = AlertReceiver(
        kind=(s.get_choice("kind", kinds, "webhook") if heartbeat else s.get_choice("kind", kinds))
        or "webhook",
        secret=s.get_str("secret", pattern=_K8S_NAME, hint="is not a Secret name") or "",
        key=s.get_str("key", pattern=_SECRET_KEY, hint="is not a Secret key") or "",
        severities=ALERT_SEVERITIES if heartbeat else _severities(s, "severities"),
        channel=None
        if heartbeat
        else s.get_str("channel", None, pattern=r"[#@]?[-_a-z0-9.]{1,80}", hint="is not a Slack channel"),
    )
    if r.channel is not None and r.kind != "slack":
        s.problems.add(s.key("channel"), f"only applies to kind slack (this receiver is {r.kind})")
    s.finish()
    return r


def _alerts(s: Section) -> AlertsConfig:
    receivers = s.raw("receivers")
    parsed: list[AlertReceiver] = []
    if receivers is not None and not isinstance(receivers, list):
        s.problems.add(s.key("receivers"), f"expected a list, got {type(receivers).__name__}")
    for i, item in enumerate(receivers if isinstance(receivers, list) else []):
        parsed.append(_receiver(Section.of(item, f"{s.key('receivers')}[{i}]", s.problems)))
    beat = s.raw("heartbeat")
    a = AlertsConfig(
        enabled=s.get_bool("enabled", True),
        sns=s.get_bool("sns", False),
        sns_severities=_severities(s, "snsSeverities"),
        receivers=tuple(parsed),
        heartbeat=None
        if beat is None
        else _receiver(Section.of(beat, s.key("heartbeat"), s.problems), heartbeat=True),
        docs_base_url=s.get_str(
            "docsBaseUrl",
            None,
            pattern=r"https?://[^\s#]+",
            hint="is not an absolute http(s) URL without #fragment",
        ),
    )
    s.finish()
    return a


def parse_ephemeral(value: Any, problems: Problems) -> EphemeralConfig | None:
    if value is None:
        return None
    s = Section.of(value, "paddock:ephemeral", problems)
    expires = s.get_str("expiresAt", None)
    if isinstance(expires, str):
        try:
            datetime.fromisoformat(expires.replace("Z", "+00:00"))
        except ValueError:
            problems.add(s.key("expiresAt"), f"{expires!r} is not an ISO-8601 time like 2026-11-23T18:00:00Z")
            expires = None
    e = EphemeralConfig(
        owner=s.get_str("owner", pattern=r"[a-z0-9][-a-z0-9._@]{0,62}", hint="is not a user name"),
        expires_at=expires,
        ttl=s.get_str("ttl", None, pattern=r"\d+[mhd]", hint="is not a duration like 90m, 4h or 2d"),
    )
    s.finish()
    return e
