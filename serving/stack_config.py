"""The stack configuration schema: ``config:`` of ``stacks/Pulumi.<env>.yaml`` parsed into frozen dataclasses.

Pure (no Pulumi): ``stacks/config.py`` feeds it the mapping read through ``pulumi.Config``; scripts (plan,
audit, ephemeral) call :func:`load_stack_file`. Every problem is collected and raised at once as
:class:`serving.config_reader.ConfigErrors` (an ``InputError``), each naming its key, e.g.
``paddock:models[1].gpu: 'x' is not a GPU id or instance type``. Every key is documented in stacks/README.md.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from serving.config_reader import ConfigErrors, Problems, Section
from serving.errors import InputError
from serving.stack_config_models import (
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
from serving.stack_config_sections import (
    parse_autoscaling,
    parse_cluster,
    parse_ephemeral,
    parse_fallback,
    parse_gateway,
    parse_models,
    parse_monitoring,
    parse_network,
    parse_registry,
    parse_residency,
    parse_versions,
)

__all__ = [
    "AutoscalingConfig",
    "BedrockModel",
    "ClusterConfig",
    "ConfigErrors",
    "EphemeralConfig",
    "FallbackConfig",
    "GatewayConfig",
    "ModelConfig",
    "MonitoringConfig",
    "NetworkConfig",
    "RegistryConfig",
    "Residency",
    "StackConfig",
    "SystemNodesConfig",
    "Versions",
    "load_stack_file",
    "parse_stack_config",
]

REGION_PATTERN = r"[a-z]{2}(-gov)?-[a-z]+-\d"
#: top-level keys of the ``paddock`` namespace (``paddock:<key>``)
PADDOCK_KEYS = (
    "environment",
    "namespace",
    "tags",
    "residency",
    "network",
    "cluster",
    "versions",
    "models",
    "fallback",
    "gateway",
    "autoscaling",
    "monitoring",
    "ephemeral",
    "registry",
)


@dataclass(frozen=True, kw_only=True)
class StackConfig:
    """One stack's whole configuration (see stacks/README.md for every key)."""

    stack: str
    """Pulumi stack name (``dev``, ``prod-eu``...)."""
    region: str
    """``aws:region``: where compute, the cluster and its logs live."""
    environment: str
    """``paddock:environment``: a label (tag ``paddock:environment``); default = the stack name."""
    namespace: str
    """``paddock:namespace``: Kubernetes namespace of the serving workloads (default ``serving``)."""
    tags: Mapping[str, str]
    """``paddock:tags``: extra tags for every AWS resource."""
    residency: Residency
    network: NetworkConfig
    cluster: ClusterConfig
    versions: Versions
    models: tuple[ModelConfig, ...]
    fallback: FallbackConfig
    gateway: GatewayConfig
    autoscaling: AutoscalingConfig
    monitoring: MonitoringConfig
    registry: RegistryConfig
    """``paddock:registry``: how nodes pull images (direct, ECR pull-through, mirror)."""
    ephemeral: EphemeralConfig | None = field(default=None)

    def model(self, alias: str) -> ModelConfig:
        """The model with this alias (KeyError when absent)."""
        for m in self.models:
            if m.alias == alias:
                return m
        raise KeyError(alias)

    def aws_tags(self) -> dict[str, str]:
        """Tags for every AWS resource: Paddock's own plus ``paddock:tags`` (user tags win)."""
        base = {"paddock:stack": self.stack, "paddock:environment": self.environment, "managed-by": "paddock"}
        return {**base, **dict(self.tags)}

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (``stack_config.json`` of ``paddock plan``)."""
        result: dict[str, Any] = _jsonable(dataclasses.asdict(self))
        return result


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def parse_stack_config(raw: Mapping[str, Any], *, stack: str) -> StackConfig:
    """Parse the ``config:`` mapping of a stack file (keys ``aws:region``, ``paddock:models``...).

    Raises :class:`ConfigErrors` (an :class:`InputError`) listing every problem with its key.
    """
    problems = Problems()
    paddock = {k.split(":", 1)[1]: v for k, v in raw.items() if str(k).startswith("paddock:")}
    region_typo = _namespace_checks(raw, paddock, problems)
    region = raw.get("aws:region")
    if region is None:
        if not region_typo:
            problems.add("aws:region", "is required (e.g. eu-central-1)")
        region = ""
    elif not isinstance(region, str) or not re.fullmatch(REGION_PATTERN, region):
        problems.add("aws:region", f"{region!r} is not a region (e.g. eu-central-1)")
        region = ""
    top = Section.of(paddock, "paddock", problems)

    def sec(name: str) -> Section:
        return Section.of(paddock.get(name), f"paddock:{name}", problems)

    environment = top.get_str("environment", stack, pattern=r"[a-z0-9][-a-z0-9]{0,30}", hint="is not a label")
    namespace = top.get_str(
        "namespace", "serving", pattern=r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?", hint="bad name"
    )
    tags = Section.of({"tags": paddock.get("tags")}, "paddock", problems).get_str_map("tags")
    fallback = parse_fallback(sec("fallback"), region)
    gateway = parse_gateway(sec("gateway"))
    autoscaling = parse_autoscaling(sec("autoscaling"))
    monitoring = parse_monitoring(sec("monitoring"))
    models = parse_models(paddock.get("models"), problems, region=region, fallback=fallback)
    residency = parse_residency(sec("residency"), region)
    network = parse_network(sec("network"))
    cluster = parse_cluster(sec("cluster"), stack)
    config = StackConfig(
        stack=stack,
        region=region,
        environment=environment or stack,
        namespace=namespace or "serving",
        tags=tags,
        residency=residency,
        network=network,
        cluster=cluster,
        versions=parse_versions(
            sec("versions"),
            models=models,
            gateway=gateway,
            autoscaling=autoscaling,
            monitoring=monitoring,
            create_cluster=cluster.create,
        ),
        models=models,
        fallback=fallback,
        gateway=gateway,
        autoscaling=autoscaling,
        monitoring=monitoring,
        registry=parse_registry(sec("registry"), network, region),
        ephemeral=parse_ephemeral(paddock.get("ephemeral"), problems),
    )
    _cross_checks(config, problems)
    problems.raise_if_any()
    return config


def _namespace_checks(raw: Mapping[str, Any], paddock: Mapping[str, Any], problems: Problems) -> bool:
    """Keys without a namespace (Pulumi rejects them), unknown ``paddock:`` keys, misspelled ``aws:region``
    (True when one was reported: then a missing ``aws:region`` is not reported twice)."""
    region_typo = False
    for key in raw:
        text = str(key)
        if ":" not in text:
            guess = difflib.get_close_matches(text, PADDOCK_KEYS, n=1)
            hint = f"paddock:{guess[0]}" if guess else ("aws:region" if text == "region" else "paddock:<key>")
            problems.add(text, f"key without a namespace (Pulumi rejects it): write {hint}")
            region_typo = region_typo or hint == "aws:region"
        elif text.startswith("aws:") and text != "aws:region" and "aws:region" not in raw:
            if difflib.get_close_matches(text, ["aws:region"], n=1, cutoff=0.75):
                problems.add(text, "unknown key: did you mean aws:region? (aws:region is required)")
                region_typo = True
    for key in paddock:
        if key not in PADDOCK_KEYS:
            guess = difflib.get_close_matches(key, PADDOCK_KEYS, n=1)
            hint = f"did you mean paddock:{guess[0]}?" if guess else f"known: {', '.join(PADDOCK_KEYS)}"
            problems.add(f"paddock:{key}", f"unknown key ({hint})")
    return region_typo


def _cross_checks(cfg: StackConfig, problems: Problems) -> None:
    """Problems that span sections."""
    for i, m in enumerate(cfg.models):
        key = f"paddock:models[{i}]"
        # allowFallback: false with a fallback is the residency rule fallback-forbidden (audit, the policy
        # pack and `paddock plan` report it as an error), not a shape problem of the config
        if m.fallback != "none" and not cfg.gateway.enabled:
            problems.add(
                f"{key}.fallback",
                f"{m.fallback!r} needs the gateway (paddock:gateway.enabled is false): it is the gateway "
                "that falls back to Bedrock; set fallback: none or enable the gateway",
            )
        if m.replicas_min == 0 and not cfg.autoscaling.keda:
            problems.add(
                f"{key}.replicas.min",
                "0 (scale to zero) needs paddock:autoscaling.keda: true (an HPA cannot scale from zero)",
            )
        if m.replicas_min == 0 and not cfg.gateway.enabled:
            problems.add(
                f"{key}.replicas.min",
                "0 (scale to zero) needs the gateway to wake the model (paddock:gateway.enabled is false)",
            )
    for i, m in enumerate(cfg.models):
        tagged = cfg.versions.image_engine_version(m.engine)
        if m.engine_version and tagged and m.engine_version != tagged:
            problems.add(
                f"paddock:models[{i}].engineVersion",
                f"{m.engine_version} disagrees with the pinned {m.engine} image tag ({tagged}); "
                "sizing must model the engine that runs: drop engineVersion or change the image",
            )
    if cfg.network.create and not cfg.network.nat_gateway:
        for i, m in enumerate(cfg.models):
            if m.weights_source == "hf":
                problems.add(
                    f"paddock:models[{i}].weights",
                    "'hf' needs internet egress: set paddock:network.natGateway: true or use s3:// weights",
                )


def stack_name_of(path: Path) -> str:
    """``stacks/Pulumi.prod-eu.yaml`` -> ``prod-eu``."""
    name = path.name
    if not (name.startswith("Pulumi.") and name.endswith((".yaml", ".yml"))) or name.count(".") < 2:
        raise InputError(f"{path} is not a stack file (Pulumi.<stack>.yaml)", field="--stack")
    return name[len("Pulumi.") :].rsplit(".", 1)[0]


def read_stack_file(path: Path) -> dict[str, Any]:
    """The raw ``config:`` mapping of a stack file. Raises :class:`InputError` naming the file."""
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"stack file {path} does not exist", field="--stack") from None
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{path} is not UTF-8 text (byte {exc.start}: {exc.reason}); save it as UTF-8", field="--stack"
        ) from None
    except IsADirectoryError:
        raise InputError(f"{path} is a directory, not a stack file", field="--stack") from None
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}", field="--stack") from None
    except yaml.YAMLError as exc:
        raise InputError(f"{path} is not valid YAML: {exc}", field="--stack") from None
    config = doc.get("config") if isinstance(doc, dict) else None
    if not isinstance(config, dict):
        raise InputError(f"{path} has no `config:` mapping", field="--stack")
    return config


def load_stack_file(path: Path | str) -> StackConfig:
    """Read and parse ``stacks/Pulumi.<env>.yaml`` (no Pulumi needed)."""
    path = Path(path)
    return parse_stack_config(read_stack_file(path), stack=stack_name_of(path))
