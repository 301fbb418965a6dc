"""Recommendation mode: sensible picks, rejected cheaper options, multi-node PP only when needed."""

from __future__ import annotations

import math

import pytest

from serving.catalog import get_instance, instance_price
from serving.errors import CatalogLookupError, InputError
from serving.sizing import NoFitError, plan_for_deployment, recommend, size_on_gpu


def test_8b_runs_on_one_gpu() -> None:
    plan = recommend("llama-3.1-8b", context=8192, concurrency=16)
    assert plan.fits and plan.tensor_parallel_size == 1 and plan.pipeline_parallel_size == 1
    assert plan.gpus_per_node == 1 and plan.nodes_per_replica == 1
    assert plan.max_concurrency * plan.replicas >= 16 * 1.1
    assert plan.max_num_seqs == -(-16 // plan.replicas)


def test_70b_bf16_needs_four_or_eight_gpus() -> None:
    plan = recommend("llama-3.3-70b", context=8192, concurrency=16)
    assert plan.quantization == "none" and plan.tensor_parallel_size in (4, 8)
    assert plan.pipeline_parallel_size == 1 and plan.nodes_per_replica == 1


def test_70b_fp8_uses_fp8_gpus_with_two_or_four_way_tp() -> None:
    plan = recommend("llama-3.3-70b", context=8192, concurrency=16, quantization="fp8")
    assert get_instance(plan.instance_type or "").gpu.fp8
    assert plan.tensor_parallel_size in (2, 4) and "--quantization" in plan.engine_args
    on_h100 = recommend(
        "llama-3.3-70b", context=8192, concurrency=16, quantization="fp8", instance_types=["p5.48xlarge"]
    )
    assert on_h100.tensor_parallel_size == 2 and on_h100.replicas_per_node == 4


def test_405b_fp8_on_one_p5_class_node() -> None:
    plan = recommend("llama-3.1-405b", context=8192, concurrency=8, quantization="fp8")
    assert plan.instance_type in ("p5.48xlarge", "p5e.48xlarge", "p5en.48xlarge")
    assert plan.tensor_parallel_size == 8 and plan.nodes_per_replica == 1


def test_405b_bf16_spans_two_nodes_only_because_one_cannot_hold_it() -> None:
    plan = recommend("llama-3.1-405b", context=8192, concurrency=8)
    assert plan.nodes_per_replica == 2 and plan.pipeline_parallel_size == 2 and plan.tensor_parallel_size == 8
    h200 = recommend("llama-3.1-405b", context=8192, concurrency=8, instance_types=["p5e.48xlarge"])
    assert h200.nodes_per_replica == 1 and h200.pipeline_parallel_size == 1  # 8 x 139.81 GiB holds 756 GiB


def test_rejected_options_are_cheaper_and_explained() -> None:
    plan = recommend("llama-3.1-70b", context=32768, concurrency=64)
    assert plan.rejected and plan.total_hourly_cost_usd is not None
    for rejection in plan.rejected:
        price = instance_price(rejection.option, "us-east-1")
        assert price is not None and price < plan.total_hourly_cost_usd
        assert rejection.option != plan.instance_type
    reasons = {r.option: r.reason for r in plan.rejected}
    assert reasons["g6e.xlarge"] == "1×L40S 40.8 GiB usable < 131.4 GiB weights (TP1 PP1)"
    assert "replica(s)" in reasons["g6e.48xlarge"]


def test_fp8_is_not_offered_on_gpus_without_fp8() -> None:
    plan = recommend("llama-3.3-70b", context=8192, concurrency=16, quantization="fp8")
    reasons = {r.option: r.reason for r in plan.rejected}
    assert "no FP8 tensor cores" in reasons["g5.12xlarge"]


def test_nothing_fits_lists_every_rejection() -> None:
    with pytest.raises(NoFitError) as exc:
        recommend("llama-3.1-405b", context=131072, concurrency=50_000)
    assert len(exc.value.rejected) == 29
    assert all(r.reason for r in exc.value.rejected)


def test_region_changes_the_price_not_the_choice_rules() -> None:
    us = recommend("llama-3.1-8b", context=8192, concurrency=16)
    eu = recommend("llama-3.1-8b", context=8192, concurrency=16, region="eu-central-1")
    assert eu.region == "eu-central-1"
    assert eu.total_hourly_cost_usd is not None and us.total_hourly_cost_usd is not None
    assert eu.total_hourly_cost_usd > us.total_hourly_cost_usd


def test_spot_falls_back_to_on_demand_prices_with_a_note() -> None:
    plan = recommend("llama-3.1-8b", context=8192, concurrency=16, capacity_type="spot")
    assert plan.capacity_type == "spot" and any("spot" in note for note in plan.notes)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"context": 0}, "--context"),
        ({"concurrency": 0}, "--concurrency"),
        ({"headroom": -0.5}, "--headroom"),
        ({"region": "moon-1"}, "--region"),
        ({"capacity_type": "reserved"}, "--capacity-type"),
        ({"context": 10**7}, "--max-model-len"),
        ({"engine_version": "x"}, "--engine-version"),
    ],
)
def test_recommend_bad_input(kwargs: dict[str, object], field: str) -> None:
    args: dict[str, object] = {"context": 8192, "concurrency": 4, **kwargs}
    with pytest.raises(InputError) as exc:
        recommend("llama-3.1-8b", **args)  # type: ignore[arg-type]
    assert exc.value.field == field


def test_plan_for_deployment_gpu_modes() -> None:
    auto = plan_for_deployment(
        model="meta-llama/Llama-3.1-8B-Instruct",
        engine="vllm",
        engine_version="0.11.0",
        context=8192,
        concurrency=16,
        gpu="auto",
        quantization="none",
        kv_cache_dtype="auto",
        region="eu-central-1",
        capacity_type="on-demand",
    )
    assert auto.engine_version == "0.11.0" and auto.region == "eu-central-1"
    p5 = plan_for_deployment(
        model="llama-3.3-70b", context=32768, concurrency=64, gpu="p5.48xlarge", quantization="fp8"
    )
    assert p5.instance_type == "p5.48xlarge"
    l40s = plan_for_deployment(model="llama-3.1-8b", context=8192, concurrency=16, gpu="l40s")
    assert (l40s.instance_type or "").startswith("g6e.")
    with pytest.raises(CatalogLookupError) as exc:
        plan_for_deployment(model="llama-3.1-8b", context=8192, concurrency=16, gpu="tpu-v5")
    assert exc.value.field == "--gpu"
    with pytest.raises(NoFitError):
        plan_for_deployment(model="llama-3.1-405b", context=8192, concurrency=8, gpu="g5.xlarge")


def test_plan_carries_deployment_estimates() -> None:
    plan = recommend(
        "llama-3.3-70b", context=32768, concurrency=64, quantization="fp8", instance_types=["p5.48xlarge"]
    )
    tp = plan.tensor_parallel_size
    assert plan.root_volume_gib >= 100 and plan.shm_size_gib == min(16, max(4, 2 * tp))
    assert plan.checkpoint_gib == pytest.approx(131.4, abs=0.1)  # online fp8 downloads the bf16 checkpoint
    steps = dict(plan.load_time_breakdown)
    assert plan.load_time_seconds == pytest.approx(sum(steps.values()), abs=0.5)
    assert 0 < plan.single_stream_tokens_per_second < plan.decode_tokens_per_second
    assert plan.hourly_cost_usd == pytest.approx(55.04 * tp / 8, abs=1e-3)
    assert plan.cost_per_million_tokens_usd == pytest.approx(
        plan.hourly_cost_usd / (plan.decode_tokens_per_second * 3600 * 0.6) * 1e6, rel=1e-3
    )


def test_weight_cache_on_local_nvme_or_root_volume() -> None:
    p5 = recommend("llama-3.1-405b", context=8192, concurrency=8, quantization="fp8")
    assert p5.weights_on_local_nvme and p5.root_volume_gib == 100
    bare = size_on_gpu("llama-3.3-70b", gpu="h100-80gb", tp=4, max_model_len=8192)
    assert not bare.weights_on_local_nvme
    assert bare.root_volume_gib == math.ceil((30 + 20 + 1.1 * bare.checkpoint_gib) / 10) * 10 == 200
