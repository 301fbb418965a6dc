"""ServingPlans and ModelScaling inputs shared by the autoscaling, rules and dashboard tests."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pulumi
import yaml

from serving.autoscaling import AutoscalingSettings, ModelScaling
from serving.sizing.plan import ServingPlan
from tests.plans import plan_70b_h100


def make_plan(**overrides: Any) -> ServingPlan:
    """tests/plans.py's 70B-on-p5 plan with the figures these tests pin: bf16 KV, max_num_seqs 64,
    max_concurrency 40.5, load time 600 s, $98.32/h."""
    figures: dict[str, Any] = {
        "model_id": "llama-3.3-70b",
        "kv_cache_dtype": "auto",
        "weights_gib_per_gpu": 17.5,
        "kv_cache_gib_per_gpu": 50.0,
        "kv_cache_tokens": 1_327_104,
        "max_concurrency": 40.5,
        "weights_gib_total": 70.0,
        "load_time_seconds": 600.0,
        "decode_tokens_per_second": 2400.0,
        "hourly_cost_usd": 98.32,
        "cost_per_million_tokens_usd": 14.22,
        "shm_size_gib": 16.0,
        "engine_args": ("--max-model-len", "32768"),
    }
    return plan_70b_h100(**{**figures, **overrides})


def make_model(alias: str = "llama-70b", **overrides: Any) -> ModelScaling:
    """A ModelScaling over :func:`make_plan`; ``plan_overrides={...}`` changes the plan."""
    plan_overrides = overrides.pop("plan_overrides", {})
    fields: dict[str, Any] = {
        "alias": alias,
        "plan": make_plan(**plan_overrides),
        "min_replicas": 1,
        "max_replicas": 4,
        "slo_ttft_seconds": 2.0,
        "cold_start_hold_seconds": 60.0,
    }
    fields.update(overrides)
    return ModelScaling(**fields)


def tgi_model(alias: str = "llama-8b-tgi", **overrides: Any) -> ModelScaling:
    """A TGI model on one L40S (g6e.xlarge): max_num_seqs 32, load time 240 s."""
    plan = {
        "engine": "tgi",
        "engine_version": "3.3.6",
        "instance_type": "g6e.xlarge",
        "gpu": "l40s",
        "gpus_per_node": 1,
        "tensor_parallel_size": 1,
        "max_num_seqs": 32,
        "max_concurrency": 48.0,
        "load_time_seconds": 240.0,
        "hourly_cost_usd": 1.861,
        "gpu_memory_utilization": 0.95,
    }
    plan.update(overrides.pop("plan_overrides", {}))
    return make_model(alias, plan_overrides=plan, **overrides)


SETTINGS = AutoscalingSettings()


GOLDEN = Path(__file__).resolve().parents[1] / "golden"


def assert_golden(data: Any, relpath: str) -> None:
    """Compare ``data`` (dumped as YAML, or JSON for ``.json``) with ``tests/golden/<relpath>``.
    ``PADDOCK_UPDATE_GOLDEN=1 pytest ...`` rewrites the file instead (review the diff before committing)."""
    path = GOLDEN / relpath
    if relpath.endswith(".json"):
        text = json.dumps(data, indent=2, sort_keys=True) + "\n"
    else:
        text = yaml.safe_dump(data, sort_keys=True, width=120)
    if os.environ.get("PADDOCK_UPDATE_GOLDEN") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    assert path.exists(), f"missing golden {path}; run with PADDOCK_UPDATE_GOLDEN=1"
    assert text == path.read_text(), f"{relpath} differs from its golden"


class Recorder(pulumi.runtime.Mocks):
    """Pulumi mocks that record every registered resource (type token, name, inputs as the engine sees them:
    camelCase keys, numbers as floats) and give IAM resources an ARN."""

    def __init__(self) -> None:
        self.resources: list[pulumi.runtime.MockResourceArgs] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        self.resources.append(args)
        outputs = dict(args.inputs)
        if args.typ.startswith("aws:iam/"):
            outputs["arn"] = f"arn:aws:iam::123456789012:policy/{args.name}"
        if args.typ.startswith("aws:sns/"):
            outputs["arn"] = f"arn:aws:sns:eu-west-1:123456789012:{args.name}"
        return f"{args.name}-id", outputs

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        return {}, []

    def by_type(self, typ: str) -> list[pulumi.runtime.MockResourceArgs]:
        return [r for r in self.resources if r.typ == typ]

    def named(self, name: str) -> pulumi.runtime.MockResourceArgs:
        return next(r for r in self.resources if r.name == name)
