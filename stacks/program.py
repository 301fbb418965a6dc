"""The platform program: StackConfig + ServingPlans -> components. The composition root, no logic of its own.

``main()`` is what ``pulumi up`` runs (stacks/__main__.py) and what ``paddock plan`` runs under mocks.
Layout: the core (network, cluster with managed add-ons and system nodes, one GPU node group per model, GPU
plumbing, registry) is built by :func:`stacks.core.build_core`; every further component is ONE function in
stacks/addons.py, registered in ``ADDONS`` in creation order (the model servers are one of them, after the
autoscalers and controllers they wait for). An add-on reads what it needs from :class:`Platform`, records
what later resources must wait for (real ``depends_on`` edges) and may add exports to ``platform.exports``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pulumi

from serving.errors import PaddockError
from serving.sizing.plan import ServingPlan
from stacks import config as stack_config
from stacks.addons import ADDONS
from stacks.core import Platform, build_core
from stacks.planning import plan_models

# ── exports ───────────────────────────────────────────────────────────────────────────────────────────────


def core_exports(platform: Platform) -> dict[str, Any]:
    """Stack outputs of the core: cluster, VPC and, per model, its endpoint and hardware."""
    registry = platform.registry
    return {
        "gatewayRepositoryUrl": registry.gateway_repository_url if registry is not None else None,
        "clusterName": platform.cluster.cluster_name,
        "vpcId": platform.network.vpc_id,
        "kubeconfig": platform.cluster.kubeconfig,
        "models": {
            alias: {
                "serviceUrl": server.service_url,
                "servedModelName": server.served_model_name,
                "instanceType": platform.plans[alias].instance_type,
                "pinned": platform.config.model(alias).pinned,
            }
            for alias, server in platform.model_servers.items()
        },
    }


def main(plans: Mapping[str, ServingPlan] | None = None) -> Platform:
    """Load config, size every model (unless ``plans`` are given), build core + add-ons, export."""
    cfg = stack_config.load()
    if plans is None:
        try:
            plans = plan_models(cfg)
        except PaddockError as exc:  # an InputError naming the key: show it without a traceback
            raise pulumi.RunError(str(exc)) from None
    platform = build_core(cfg, plans)
    for addon in ADDONS:
        addon(platform)
    for key, value in {**core_exports(platform), **platform.exports}.items():
        pulumi.export(key, value)
    return platform
