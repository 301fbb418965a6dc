"""Size every model of a stack with the sizing engine; errors name the model's config key.

Pure (no Pulumi), so the offline runner sizes once and hands the plans to the program.
"""

from __future__ import annotations

from serving.config_reader import ConfigErrors
from serving.controllers import controller_problems
from serving.errors import PaddockError
from serving.sizing.plan import ServingPlan
from serving.stack_config import StackConfig

#: sizing flag -> model key, to name the config key a sizing error is about
FLAG_TO_KEY = {
    "--model": "model",
    "--gpu": "gpu",
    "--engine": "engine",
    "--engine-version": "engineVersion",
    "--context": "context",
    "--max-model-len": "context",
    "--concurrency": "concurrency",
    "--quantization": "quantization",
    "--kv-cache-dtype": "kvCacheDtype",
    "--capacity-type": "capacityType",
}


def plan_models(cfg: StackConfig) -> dict[str, ServingPlan]:
    """ServingPlan per alias via ``serving.sizing.plan_for_deployment``. Raises :class:`ConfigErrors`
    listing each model that cannot be sized (bad id, nothing fits), each as ``paddock:models[i].<key>``."""
    from serving.sizing import plan_for_deployment

    plans: dict[str, ServingPlan] = {}
    problems: list[tuple[str, str]] = []
    for i, m in enumerate(cfg.models):
        try:
            plans[m.alias] = plan_for_deployment(
                model=m.model,
                engine=m.engine,
                engine_version=m.engine_version or cfg.versions.image_engine_version(m.engine),
                context=m.context,
                concurrency=m.concurrency,
                gpu=m.gpu,
                quantization=m.quantization,
                kv_cache_dtype=m.kv_cache_dtype,
                region=cfg.region,
                # reserved capacity (ODCR, Capacity Block) is sized and priced like On-Demand
                capacity_type="spot" if m.capacity_type == "spot" else "on-demand",
            )
        except PaddockError as exc:
            field = exc.field or ""
            key = (
                "aws:region"
                if field == "--region"
                else f"paddock:models[{i}].{FLAG_TO_KEY.get(field, 'gpu')}"
            )
            problems.append((key, exc.message))
    problems += controller_problems(cfg, plans)  # charts the sized plans need (LWS, EFA)
    if problems:
        raise ConfigErrors(problems)
    return plans
