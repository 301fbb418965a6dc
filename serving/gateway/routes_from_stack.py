"""routes.yaml from the parsed stack config: the table the platform stack renders into the gateway ConfigMap.

Per model alias:
- ``primary``: the engine Service ``http://<alias>.<namespace>.svc:8000/v1`` and its served model name (the
  plan's model id when plans are given, else ``paddock:models[i].model``); ``maxInFlight`` = concurrency ×
  ``replicas.max`` for aliases that may spill (pinned aliases queue on their engine instead).
- ``fallback``: the Bedrock inference profile of ``paddock:models[i].fallback`` in
  ``paddock:fallback.bedrock`` (region: ``fallback.bedrock.region`` or ``aws:region``), or ``none`` when
  the alias is pinned or ``paddock:residency.allowFallback`` is false.
- ``coldStartHoldSeconds`` only for scale-to-zero aliases (``replicas.min`` 0): a refused connection there
  means "scaling up"; elsewhere it means "down", and holding would only delay the fallback.
- ``timeouts.firstTokenSeconds`` = max(5, 4 × ``sloTtftSeconds``); ``limits.maxTokens`` = ``context``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from serving.errors import InputError
from serving.gateway.chart_values import API_KEYS_FILE
from serving.gateway.config import parse_routes
from serving.release_values import ENGINE_PORT, served_model_name
from serving.sizing.plan import ServingPlan
from serving.stack_config import StackConfig
from serving.stack_config_models import ModelConfig


def _fallback(cfg: StackConfig, index: int, model: ModelConfig) -> dict[str, Any] | str:
    if model.pinned or not cfg.residency.allow_fallback:
        return "none"
    target = cfg.fallback.models.get(model.fallback)
    if target is None:
        known = ", ".join(sorted(cfg.fallback.models)) or "none defined"
        raise InputError(
            f"{model.fallback!r} is not a key of paddock:fallback.bedrock.models ({known})",
            field=f"paddock:models[{index}].fallback",
        )
    return {"bedrock": {"model": target.inference_profile, "region": cfg.fallback.region or cfg.region}}


def _alias(cfg: StackConfig, index: int, model: ModelConfig, plan: ServingPlan | None) -> dict[str, Any]:
    fallback = _fallback(cfg, index, model)
    primary: dict[str, Any] = {
        "url": f"http://{model.alias}.{cfg.namespace}.svc:{ENGINE_PORT}/v1",
        "model": served_model_name(plan) if plan is not None else model.model,
    }
    if fallback != "none":
        primary["maxInFlight"] = model.concurrency * max(1, model.replicas_max)
    route: dict[str, Any] = {
        "primary": primary,
        "fallback": fallback,
        "timeouts": {"connectSeconds": 2, "firstTokenSeconds": max(5.0, 4 * model.slo_ttft_seconds)},
        "limits": {"maxTokens": model.context},
    }
    if model.replicas_min == 0:
        route["coldStartHoldSeconds"] = model.cold_start_hold_seconds
    return route


def routes_from_stack(cfg: StackConfig, plans: Mapping[str, ServingPlan] | None = None) -> dict[str, Any]:
    """The routes.yaml document for ``cfg`` (validated by the gateway's own loader before it is returned)."""
    doc: dict[str, Any] = {
        "aliases": {m.alias: _alias(cfg, i, m, (plans or {}).get(m.alias)) for i, m in enumerate(cfg.models)},
        "limits": {"maxBodyBytes": cfg.gateway.max_body_bytes},
    }
    if cfg.gateway.api_keys_secret:
        doc["apiKeys"] = {"file": API_KEYS_FILE}
    parse_routes(doc)
    return doc
