"""Recommendation mode: sensible picks, rejected cheaper options, multi-node PP only when needed."""

from __future__ import annotations

import math

import pytest

from serving.catalog import get_instance, instance_price, is_offered, list_instances
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
    # one node either way: TP8 streams fastest at the same $/h; TP2 and TP4 are the runners-up
    assert on_h100.tensor_parallel_size == 8 and on_h100.replicas == 1
    runners = [a.option for a in on_h100.top_options]
    assert runners == ["1 x p5.48xlarge TP8", "1 x p5.48xlarge TP4", "1 x p5.48xlarge TP2"]


def test_405b_fp8_on_one_eight_gpu_node() -> None:
    plan = recommend("llama-3.1-405b", context=8192, concurrency=8, quantization="fp8")
    # 8 x RTX PRO 6000 (PCIe): TP is capped at 4 there, so TP4 x PP2 inside the node
    assert (plan.instance_type, plan.tensor_parallel_size, plan.pipeline_parallel_size) == (
        "g7e.48xlarge",
        4,
        2,
    )
    assert plan.nodes_per_replica == 1
    assert [a.option for a in plan.top_options][1:] == ["1 x p5.48xlarge TP8", "1 x p5en.48xlarge TP8"]
    pcie = recommend("llama-3.1-405b", context=8192, concurrency=8, quantization="fp8", allow_pcie_tp=True)
    assert any("g7e.48xlarge TP8" in a.option for a in pcie.top_options)


def test_405b_bf16_spans_two_nodes_only_because_one_cannot_hold_it() -> None:
    plan = recommend("llama-3.1-405b", context=8192, concurrency=8, instance_types=["p4de.24xlarge"])
    assert plan.nodes_per_replica == 2 and plan.pipeline_parallel_size == 2 and plan.tensor_parallel_size == 8
    # over the whole catalog one H200 node (no PP) and two A100-80GB nodes (PP2) are within a few % per token
    best = recommend("llama-3.1-405b", context=8192, concurrency=8)
    options = [a.option for a in best.top_options]
    assert "1 x p5en.48xlarge TP8" in options and "2 x p4de.24xlarge TP8 PP2" in options
    h200 = recommend("llama-3.1-405b", context=8192, concurrency=8, instance_types=["p5e.48xlarge"])
    assert h200.nodes_per_replica == 1 and h200.pipeline_parallel_size == 1  # 8 x 139.81 GiB holds 756 GiB


def test_rejected_options_are_cheaper_and_explained() -> None:
    plan = recommend("llama-3.1-70b", context=32768, concurrency=64)
    assert plan.rejected and plan.total_hourly_cost_usd is not None
    for rejection in plan.rejected:
        assert rejection.option != plan.instance_type
        if rejection.option == "p5e.48xlarge":  # no On-Demand offer: rejected whatever its price
            continue
        price = instance_price(rejection.option, "us-east-1")
        assert price is not None and price < plan.total_hourly_cost_usd
    reasons = {r.option: r.reason for r in plan.rejected}
    assert reasons["p5e.48xlarge"] == (
        "no On-Demand list price in any region (sold through EC2 Capacity Blocks only; "
        "price list 2026-11-23); pin it only with a Capacity Block, or use another instance type"
    )
    assert reasons["g6e.xlarge"] == "1×L40S 40.8 GiB usable < 131.4 GiB weights (TP1 PP1)"
    # a feasible type dearer in total (g6e.48xlarge: several nodes) is never listed as a cheaper option
    assert "g6e.48xlarge" not in reasons


def test_fp8_is_not_offered_on_gpus_without_fp8() -> None:
    plan = recommend("llama-3.3-70b", context=8192, concurrency=16, quantization="fp8")
    reasons = {r.option: r.reason for r in plan.rejected}
    assert "no FP8 tensor cores" in reasons["g5.12xlarge"]


def test_nothing_fits_lists_every_rejection() -> None:
    with pytest.raises(NoFitError) as exc:
        recommend("llama-3.1-405b", context=131072, concurrency=50_000)
    assert len(exc.value.rejected) == len(list_instances())
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
    p5 = recommend(
        "llama-3.1-405b", context=8192, concurrency=8, quantization="fp8", instance_types=["p5.48xlarge"]
    )
    assert p5.weights_on_local_nvme and p5.cache_disk == "nvme" and p5.root_volume_gib == 100
    bare = size_on_gpu("llama-3.3-70b", gpu="h100-80gb", tp=4, max_model_len=8192)
    assert not bare.weights_on_local_nvme and bare.cache_disk == "ebs"
    # OS 30 + image 38.41 + (ceil(1.1 x 131.4) + 4 + 8 + 2) = 227.4 GiB over 90 % usable -> 252.7 -> 260
    assert bare.root_volume_gib == math.ceil((30 + 38.41 + bare.ephemeral_storage_gib) / 0.9 / 10) * 10 == 260


P5_EU_REASON = (
    "not sold On-Demand in eu-central-1 (price list 2026-11-23); use a Capacity Block/ODCR or another region"
)


def test_auto_skips_pairs_not_sold_on_demand_and_says_why() -> None:
    plan = recommend("llama-3.3-70b", context=8192, concurrency=16, quantization="fp8", region="eu-central-1")
    assert plan.offered_on_demand and is_offered(plan.instance_type or "", "eu-central-1")
    assert (plan.instance_type or "").startswith("g6e.") and plan.hourly_cost_usd is not None
    reasons = {r.option: r.reason for r in plan.rejected}
    assert reasons["p5.48xlarge"] == P5_EU_REASON
    assert reasons["p5en.48xlarge"] == P5_EU_REASON.replace("p5.", "p5en.")
    assert reasons["p5e.48xlarge"].startswith("no On-Demand list price in any region")
    unsold = sum(not is_offered(i.type, "eu-central-1") for i in list_instances())
    assert plan.notes[0].endswith(f", {unsold} not sold On-Demand in eu-central-1") and unsold == 12
    assert not any(note.startswith("NOT SOLD ON-DEMAND") for note in plan.notes)


def test_auto_in_eu_west_1_lists_every_unsold_type() -> None:
    plan = recommend("llama-3.1-8b", context=8192, concurrency=16, region="eu-west-1")
    unsold = {i.type for i in list_instances() if not is_offered(i.type, "eu-west-1")}
    assert len(unsold) == 29 and plan.instance_type not in unsold
    listed = {r.option for r in plan.rejected if r.reason.startswith(("not sold", "no On-Demand"))}
    assert listed == unsold


def test_nothing_fits_also_lists_unsold_types() -> None:
    with pytest.raises(NoFitError) as exc:
        recommend("llama-3.1-405b", context=131072, concurrency=50_000, region="eu-central-1")
    reasons = {r.option: r.reason for r in exc.value.rejected}
    assert len(reasons) == len(list_instances()) and reasons["p5.48xlarge"] == P5_EU_REASON


def test_pinned_instance_not_sold_on_demand_is_sized_with_a_note_and_no_cost() -> None:
    kwargs: dict[str, object] = {"context": 32768, "concurrency": 64, "quantization": "fp8"}
    us = plan_for_deployment(model="llama-3.3-70b", gpu="p5.48xlarge", **kwargs)  # type: ignore[arg-type]
    eu = plan_for_deployment(
        model="llama-3.3-70b",
        gpu="p5.48xlarge",
        region="eu-central-1",
        **kwargs,  # type: ignore[arg-type]
    )
    assert eu.instance_type == "p5.48xlarge" and eu.fits and not eu.offered_on_demand and us.offered_on_demand
    same = ("tensor_parallel_size", "replicas", "kv_cache_tokens", "max_num_seqs", "engine_args")
    assert [getattr(eu, k) for k in same] == [getattr(us, k) for k in same]
    assert (eu.hourly_cost_usd, eu.total_hourly_cost_usd, eu.cost_per_million_tokens_usd) == (
        None,
        None,
        None,
    )
    assert eu.notes[0].startswith(
        "NOT SOLD ON-DEMAND: p5.48xlarge: not sold On-Demand in eu-central-1 (price list 2026-11-23). "
        "Sized because it was pinned"
    )
    assert "On-Demand Capacity Reservation or an EC2 Capacity Block" in eu.notes[0]
    assert "x p5.48xlarge (no On-Demand list price); 0 option(s) priced below it rejected" in eu.notes[1]


def test_gpu_pin_falls_back_to_unsold_instances_only_when_no_offered_one_fits() -> None:
    prod_eu = plan_for_deployment(
        model="llama-3.3-70b",
        engine_version="0.11.0",
        context=32768,
        concurrency=64,
        gpu="h100-80gb",
        quantization="fp8",
        kv_cache_dtype="fp8",
        region="eu-central-1",
    )
    assert prod_eu.instance_type == "p5.48xlarge" and not prod_eu.offered_on_demand
    assert prod_eu.notes[0].startswith("NOT SOLD ON-DEMAND: p5.48xlarge")
    h200 = plan_for_deployment(model="llama-3.1-405b", context=8192, concurrency=8, gpu="h200")
    assert h200.instance_type == "p5en.48xlarge" and h200.offered_on_demand  # p5e ties on size, unsold
    assert {r.option: r.reason for r in h200.rejected}["p5e.48xlarge"].startswith("no On-Demand list price")


def test_offered_option_beats_a_cheaper_hypothetical_price() -> None:
    assert instance_price("g6.xlarge", "eu-west-1", hypothetical=True) == 0.8984  # below g5.xlarge 1.123
    plan = recommend(
        "llama-3.1-8b",
        context=8192,
        concurrency=4,
        region="eu-west-1",
        instance_types=["g6.xlarge", "g5.xlarge"],
    )
    assert plan.instance_type == "g5.xlarge" and plan.offered_on_demand
    assert {r.option: r.reason for r in plan.rejected}["g6.xlarge"] == (
        "not sold On-Demand in eu-west-1 (price list 2026-11-23); use a Capacity Block/ODCR or another region"
    )


def test_pinned_unsold_instance_that_does_not_fit_says_both() -> None:
    with pytest.raises(NoFitError) as exc:
        recommend(
            "llama-3.1-405b", context=8192, concurrency=8, region="eu-west-1", instance_types=["g6e.xlarge"]
        )
    (only,) = exc.value.rejected
    assert only.option == "g6e.xlarge"
    assert only.reason.endswith("weights (TP1 PP1) (not sold On-Demand in eu-west-1 (price list 2026-11-23))")


def test_size_on_pinned_unsold_instance_notes_capacity_blocks_for_p5e() -> None:
    plan = size_on_gpu("llama-3.1-8b", gpu="p5e.48xlarge", max_model_len=8192, region="us-west-2")
    assert (
        plan.instance_type == "p5e.48xlarge" and not plan.offered_on_demand and plan.hourly_cost_usd is None
    )
    assert plan.notes[0] == (
        "NOT SOLD ON-DEMAND: p5e.48xlarge: no On-Demand list price in any region (sold through EC2 Capacity "
        "Blocks only; price list 2026-11-23). Sized because it was pinned: run it only on capacity you hold "
        "(an EC2 Capacity Block); the catalog has no list price for it, so the plan's costs are unknown"
    )
    bare = size_on_gpu("llama-3.1-8b", gpu="h200", max_model_len=8192, region="eu-west-1")
    assert bare.offered_on_demand and not any(n.startswith("NOT SOLD") for n in bare.notes)
