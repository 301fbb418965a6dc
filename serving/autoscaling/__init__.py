"""Autoscaling decisions derived from ServingPlans (pure; no Pulumi).

- :mod:`.model`: inputs (:class:`ModelScaling`, :class:`AutoscalingSettings`), per-replica thresholds, delays.
- :mod:`.pods`: KEDA ScaledObject / HPA manifests, engine pod labels and do-not-evict annotations.
- :mod:`.nodes`: cluster-autoscaler settings and IAM policy, Karpenter NodePool / EC2NodeClass.
- :mod:`.values`: Helm values for KEDA, cluster-autoscaler and Karpenter from ``helm_values/*.yaml.j2``.
- :mod:`.adapter`: prometheus-adapter values (HPA fallback without KEDA) from its ``adapter_rules``.
"""

from serving.autoscaling.model import (
    DEFAULT_PROMETHEUS_URL,
    AutoscalingSettings,
    ModelScaling,
    ScalingDelays,
    ScalingThresholds,
    delays,
    node_scale_down_seconds,
    thresholds,
    validate_models,
    validate_settings,
)
from serving.autoscaling.nodes import (
    ClusterAutoscalerSettings,
    cluster_autoscaler_policy,
    cluster_autoscaler_settings,
    karpenter_node_class,
    karpenter_node_pool,
    node_group_autoscaler_tags,
)
from serving.autoscaling.pods import (
    adapter_rules,
    engine_pod_annotations,
    engine_pod_labels,
    hpa,
    scaled_object,
)

__all__ = [
    "DEFAULT_PROMETHEUS_URL",
    "AutoscalingSettings",
    "ClusterAutoscalerSettings",
    "ModelScaling",
    "ScalingDelays",
    "ScalingThresholds",
    "adapter_rules",
    "cluster_autoscaler_policy",
    "cluster_autoscaler_settings",
    "delays",
    "engine_pod_annotations",
    "engine_pod_labels",
    "hpa",
    "karpenter_node_class",
    "karpenter_node_pool",
    "node_group_autoscaler_tags",
    "node_scale_down_seconds",
    "scaled_object",
    "thresholds",
    "validate_models",
    "validate_settings",
]
