"""Recommendation options: expected mix, fp8 variants, PCIe TP cap, TPOT target, top three, versions."""

from __future__ import annotations

import pytest

from serving.catalog import get_gpu, get_model
from serving.errors import InputError
from serving.sizing import plan_for_deployment, recommend, size_on_gpu
from serving.sizing.core import memory_for
from serving.sizing.settings import resolve
from serving.sizing.versions import calibration_note, image_version, parse_version
from serving.sizing.vllm import KV_ERROR_GIB, usable_concurrency
from serving.sizing.workload import workload


def test_expected_mix_sizes_fewer_replicas_than_the_worst_case() -> None:
    worst = recommend("llama-3.1-8b", context=32768, concurrency=64, instance_types=["g6e.xlarge"])
    mix = recommend(
        "llama-3.1-8b",
        context=32768,
        concurrency=64,
        prompt_tokens=2000,
        output_tokens=500,
        instance_types=["g6e.xlarge"],
    )
    assert mix.replicas < worst.replicas and mix.max_model_len == worst.max_model_len == 32768
    assert "expected mix" in mix.workload_basis and "worst case" in worst.workload_basis
    assert (mix.prompt_tokens, mix.output_tokens) == (2000, 500)


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        ({"prompt_tokens": 100}, "--output-tokens"),
        ({"output_tokens": 100}, "--prompt-tokens"),
        ({"prompt_tokens": 0, "output_tokens": 1}, "--prompt-tokens"),
        ({"prompt_tokens": 8000, "output_tokens": 500}, "--prompt-tokens"),
    ],
)
def test_workload_bad_input_names_the_flag(kw: dict[str, int], field: str) -> None:
    with pytest.raises(InputError) as exc:
        workload(context=8192, concurrency=4, **kw)
    assert exc.value.field == field


def test_fp8_kv_cache_variant_on_hopper_halves_the_nodes() -> None:
    kw: dict[str, object] = {"context": 32768, "concurrency": 64, "instance_types": ["p5.48xlarge"]}
    plain = recommend("llama-3.1-70b", **kw)  # type: ignore[arg-type]
    searched = recommend("llama-3.1-70b", variants=True, **kw)  # type: ignore[arg-type]
    assert searched.kv_cache_dtype == "fp8" and "--kv-cache-dtype" in searched.engine_args
    assert searched.total_hourly_cost_usd is not None and plain.total_hourly_cost_usd is not None
    assert searched.total_hourly_cost_usd <= plain.total_hourly_cost_usd
    assert searched.kv_cache_tokens > 1.9 * plain.kv_cache_tokens / plain.replicas * searched.replicas / 2


def test_official_fp8_checkpoint_variant_uses_the_fp8_repo() -> None:
    plan = recommend(
        "llama-3.1-405b", context=8192, concurrency=8, variants=True, instance_types=["p5.48xlarge"]
    )
    assert plan.model_id == "meta-llama/Llama-3.1-405B-Instruct-FP8" and plan.nodes_per_replica == 1


def test_variants_never_reach_a_deployment() -> None:
    plan = plan_for_deployment(model="llama-3.1-70b", context=32768, concurrency=64, gpu="p5.48xlarge")
    assert plan.kv_cache_dtype == "auto"


def test_tp_over_pcie_is_capped_unless_asked() -> None:
    capped = recommend("llama-3.3-70b", context=8192, concurrency=16, instance_types=["g6e.48xlarge"])
    assert capped.tensor_parallel_size <= 4
    wide = recommend(
        "llama-3.3-70b", context=8192, concurrency=16, instance_types=["g6e.48xlarge"], allow_pcie_tp=True
    )
    assert any("TP8" in a.option for a in wide.top_options)


def test_tpot_target_rejects_slow_options_and_says_why() -> None:
    loose = recommend("llama-3.3-70b", context=8192, concurrency=16, quantization="fp8")
    strict = recommend("llama-3.3-70b", context=8192, concurrency=16, quantization="fp8", max_tpot_ms=20)
    assert loose.tpot_ms > 20 >= strict.tpot_ms
    reasons = {r.option: r.reason for r in strict.rejected}
    assert "--max-tpot-ms 20" in reasons[loose.instance_type or ""]
    with pytest.raises(InputError) as exc:
        recommend("llama-3.1-8b", context=8192, concurrency=1, max_tpot_ms=0)
    assert exc.value.field == "--max-tpot-ms"


def test_top_three_first_is_the_choice_and_rejected_never_dearer_in_total() -> None:
    plan = recommend("llama-3.1-8b", context=8192, concurrency=16)
    assert len(plan.top_options) == 3
    assert plan.top_options[0].total_hourly_cost_usd == pytest.approx(plan.total_hourly_cost_usd)
    assert plan.top_options[0].why.startswith("lowest $")
    assert all(a.why for a in plan.top_options[1:])
    total = plan.total_hourly_cost_usd or 0.0
    for r in plan.rejected:
        if "cheaper per hour" in r.reason:
            assert float(r.reason.split("$")[1].split("/h")[0]) < total


def test_small_kv_share_warns_and_reserves_headroom() -> None:
    fixture = "tests/fixtures/configs/qwen2.5-72b-instruct.json"
    plan = size_on_gpu(
        fixture,
        gpu="h100-80gb",
        tp=2,
        max_model_len=8192,
        engine_version="0.19.0",
        gpu_memory_utilization=0.95,
    )
    assert plan.fits and any(n.startswith("SMALL KV BUDGET") for n in plan.notes)
    # the recommender reserves KV_ERROR_GIB of it: fewer requests per replica than the engine would admit
    model, gpu = get_model(fixture), get_gpu("h100-80gb")
    s = resolve(
        model,
        gpu=gpu,
        total_gib=gpu.total_memory_gib,
        engine_version="0.19.0",
        max_model_len=8192,
        gpu_memory_utilization=0.95,
    )
    mem = memory_for(model, s, total_gib=gpu.total_memory_gib, tp=2, pp=1)
    kv = mem.kv_cache_gib
    assert usable_concurrency(mem) == pytest.approx(mem.max_concurrency * (kv - KV_ERROR_GIB) / kv)
    big = memory_for(
        get_model("llama-3.1-8b"),
        resolve(get_model("llama-3.1-8b"), gpu=gpu, total_gib=gpu.total_memory_gib, max_model_len=8192),
        total_gib=gpu.total_memory_gib,
        tp=1,
        pp=1,
    )
    assert usable_concurrency(big) == big.max_concurrency
    roomy = size_on_gpu("llama-3.1-8b", gpu="h100-80gb", max_model_len=8192, engine_version="0.19.0")
    assert not any(n.startswith("SMALL KV BUDGET") for n in roomy.notes)


def test_image_version_and_calibration_note() -> None:
    assert image_version("vllm/vllm-openai:v0.11.0") == "0.11.0"
    assert image_version("ghcr.io/x/tgi:3.3.6-cuda") == "3.3.6"
    assert image_version("vllm/vllm-openai:latest") is None and image_version(None) is None
    assert calibration_note(parse_version("vllm", "0.11.0")) is None
    note = calibration_note(parse_version("vllm", "0.33.0"))
    assert note is not None and "outside the calibrated range (0.5.3-0.19.0" in note


def test_explicit_sizing_estimates_the_given_mix() -> None:
    plan = size_on_gpu(
        "llama-3.1-8b",
        gpu="h100-80gb",
        max_model_len=8192,
        max_num_seqs=16,
        prompt_tokens=1000,
        output_tokens=200,
    )
    assert (plan.concurrency_per_replica, plan.prompt_tokens, plan.output_tokens) == (16, 1000, 200)
    assert 0 < plan.tpot_ms < 20 and plan.ttft_ms > 0 and "expected mix" in plan.workload_basis
    worst = size_on_gpu("llama-3.1-8b", gpu="h100-80gb", max_model_len=8192, max_num_seqs=16)
    assert "worst case" in worst.workload_basis and worst.tpot_ms > plan.tpot_ms


def test_ephemeral_up_sizes_with_the_templates_pinned_engine() -> None:
    from serving.ephemeral.planning import SizingRequest, UpRequest, build_up_plan
    from serving.ephemeral.ttl import parse_ttl_spec
    from tests.unit.ephemeral_fakes import NOW, make_plan

    asked: list[SizingRequest] = []

    def sizer(request: SizingRequest) -> object:
        asked.append(request)
        return make_plan()

    template = {
        "aws:region": "us-east-1",
        "paddock:versions": {"vllmImage": "vllm/vllm-openai:v0.11.0"},
        "paddock:models": [
            {"alias": "x", "model": "x", "engine": "vllm", "weights": "hf", "fallback": "none"}
        ],
    }
    request = UpRequest(model="llama-3.1-8b", owner="alice", ttl=parse_ttl_spec("4h"))
    build_up_plan(request, template=template, sizer=sizer, now=NOW)  # type: ignore[arg-type]
    assert asked[0].engine_version == "0.11.0"
