"""vLLM and TGI memory accounting: calibration points, version regimes, hybrid KV groups, PP, errors."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from serving.errors import InputError
from serving.sizing import size_on_gpu

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "configs"
H100 = {"gpu": "h100-80gb", "gpu_memory_utilization": 0.95, "engine_version": "0.19.0", "max_model_len": 8192}


def test_llama_8b_h100_matches_the_v019_log() -> None:
    plan = size_on_gpu("llama-3.1-8b", **H100)  # type: ignore[arg-type]
    assert plan.weights_gib_per_gpu == pytest.approx(14.99, abs=0.005)
    assert plan.requested_gib_per_gpu == pytest.approx(75.23, abs=0.005)
    assert plan.kv_cache_tokens == 16 * plan.kv_cache_blocks
    assert plan.kv_cache_blocks == math.floor(plan.kv_cache_gib_per_gpu * 2**30 / (16 * 131072))
    assert plan.kv_cache_tokens == pytest.approx(476_016, rel=0.01)
    assert plan.max_concurrency == pytest.approx(plan.kv_cache_blocks / 512, abs=1e-4)
    assert plan.fits


def test_tp_adds_non_torch_memory_and_splits_kv() -> None:
    tp1 = size_on_gpu("llama-3.1-8b", **H100)  # type: ignore[arg-type]
    tp2 = size_on_gpu("llama-3.1-8b", tp=2, **H100)  # type: ignore[arg-type]
    assert tp1.non_torch_gib_per_gpu == 0.25
    assert tp2.non_torch_gib_per_gpu == pytest.approx(2.07, abs=0.01)  # llm-d v0.19 TP2 log
    assert tp2.kv_cache_tokens == pytest.approx(1_044_688, rel=0.01)


def test_scout_hybrid_groups_print_blocks_over_four() -> None:
    plan = size_on_gpu("llama-4-scout", tp=4, **H100)  # type: ignore[arg-type]
    blocks = plan.kv_cache_blocks
    assert plan.kv_cache_tokens == blocks // 4 * 16
    assert plan.max_concurrency == pytest.approx(blocks / 2048, abs=1e-4)  # 512 full + 3 x 512 chunked
    assert plan.kv_cache_tokens == pytest.approx(365_968, rel=0.03)
    long = size_on_gpu(
        "llama-4-scout",
        tp=4,
        gpu="h100-80gb",
        gpu_memory_utilization=0.95,
        engine_version="0.19.0",
        max_model_len=131072,
    )
    assert long.max_concurrency == pytest.approx(long.kv_cache_blocks / (8192 + 3 * 1024), abs=1e-4)


def test_version_regimes() -> None:
    v19 = size_on_gpu("llama-3.1-8b", gpu="h100-80gb", max_model_len=8192, engine_version="0.19.0")
    v20 = size_on_gpu("llama-3.1-8b", gpu="h100-80gb", max_model_len=8192, engine_version="0.20.0")
    v21 = size_on_gpu("llama-3.1-8b", gpu="h100-80gb", max_model_len=10000, engine_version="0.21.0")
    v16 = size_on_gpu("llama-3.1-8b", gpu="h100-80gb", max_model_len=8192, engine_version="0.16.0")
    v0 = size_on_gpu("llama-3.1-8b", gpu="h100-80gb", max_model_len=8192, engine_version="0.6.6.post1")
    assert (v19.gpu_memory_utilization, v20.gpu_memory_utilization) == (0.90, 0.92)
    assert v19.cuda_graph_gib_per_gpu == 0 and v20.cuda_graph_gib_per_gpu == pytest.approx(0.32 + 0.0183 * 32)
    assert v21.kv_cache_tokens == int(v21.kv_cache_blocks / math.ceil(10000 / 16) * 10000)
    assert v16.activation_gib_per_gpu == pytest.approx(2.53 * v19.activation_gib_per_gpu, abs=1e-3)
    assert (v0.max_num_seqs, v0.max_num_batched_tokens, v0.non_torch_gib_per_gpu) == (256, 8192, 0.05)
    assert v19.max_num_batched_tokens == 8192 and v19.max_num_seqs == 1024
    eager = size_on_gpu(
        "llama-3.1-8b", gpu="h100-80gb", max_model_len=8192, engine_version="0.20.0", enforce_eager=True
    )
    assert eager.cuda_graph_gib_per_gpu == 0 and "--enforce-eager" in eager.engine_args


def test_small_gpu_defaults_and_a100_rule() -> None:
    l4 = size_on_gpu("llama-3.2-3b", gpu="l4", max_model_len=8192)
    a100 = size_on_gpu("llama-3.2-3b", gpu="a100-80gb", max_model_len=8192)
    assert (l4.max_num_batched_tokens, l4.max_num_seqs) == (2048, 256)
    assert (a100.max_num_batched_tokens, a100.max_num_seqs) == (2048, 256)


def test_pipeline_capacity_is_the_tightest_stage() -> None:
    pp2 = size_on_gpu("llama-3.1-8b", pp=2, **H100)  # type: ignore[arg-type]
    assert pp2.weights_gib_per_gpu == pytest.approx(7.51, abs=0.005)
    assert pp2.weights_gib_per_gpu_max == pytest.approx(7.51, abs=0.005)  # last stage: lm_head + final norm
    assert pp2.non_torch_gib_per_gpu == 0.07
    assert pp2.kv_bytes_per_token_per_gpu == 16 * 2 * 8 * 128 * 2
    rank0_blocks = math.floor(pp2.kv_cache_gib_per_gpu * 2**30 / (16 * 16 * 4096))
    assert pp2.kv_cache_blocks < rank0_blocks


def test_model_that_does_not_fit() -> None:
    plan = size_on_gpu("llama-3.1-70b", gpu="l40s", max_model_len=8192)
    assert not plan.fits and plan.kv_cache_tokens == 0
    long = size_on_gpu("llama-3.1-8b", gpu="a10g", max_model_len=131072)
    assert not long.fits and 0 < long.max_concurrency < 1


def test_tgi_22_a10g_matches_the_log() -> None:
    plan = size_on_gpu(
        "llama-3.1-8b",
        gpu="a10g",
        engine="tgi",
        engine_version="2.2.0",
        max_model_len=4096,
        max_num_batched_tokens=4145,
    )
    assert plan.block_size == 16
    assert plan.kv_cache_tokens == pytest.approx(19_056, rel=0.02)


def test_tgi_33_reserves_ten_percent_and_emits_flags() -> None:
    plan = size_on_gpu(
        "llama-3.1-8b", gpu="h100-80gb", engine="tgi", max_model_len=8192, kv_cache_dtype="fp8", tp=2
    )
    assert plan.engine_version == "3.3.6" and plan.block_size == 1
    free = (
        79.19 - 1.5 - plan.weights_gib_per_gpu - 4096 * 32 * 2 * 4 * 128 / 2**30 - plan.activation_gib_per_gpu
    )
    usable = free - 0.1 * 79.19
    assert plan.kv_cache_gib_per_gpu == pytest.approx(usable + 4096 * 32 * 2 * 4 * 128 / 2**30, abs=0.001)
    args = plan.engine_args
    assert args[args.index("--num-shard") + 1] == "2"
    assert args[args.index("--max-total-tokens") + 1] == "8192"
    assert args[args.index("--max-input-tokens") + 1] == "8191"
    assert args[args.index("--kv-cache-dtype") + 1] == "fp8_e4m3fn"


def test_vllm_engine_args() -> None:
    plan = size_on_gpu(
        "llama-3.3-70b", gpu="h100-80gb", tp=2, quantization="fp8", max_model_len=16384, max_num_seqs=64
    )
    args = dict(zip(plan.engine_args[::2], plan.engine_args[1::2], strict=False))
    assert args["--tensor-parallel-size"] == "2" and args["--quantization"] == "fp8"
    assert args["--max-model-len"] == "16384" and args["--max-num-seqs"] == "64"
    assert args["--gpu-memory-utilization"] == "0.92" and args["--kv-cache-dtype"] == "auto"
    prequant = size_on_gpu("llama-3.1-405b-fp8", gpu="h100-80gb", tp=8, max_model_len=8192)
    assert "--quantization" not in prequant.engine_args


@pytest.mark.parametrize(
    ("kwargs", "field", "text"),
    [
        ({"model": "llama-3.1-8b", "tp": 3}, "--tp", "32 attention heads"),
        ({"model": "llama-4-scout", "tp": 5}, "--tp", "8 KV heads"),
        ({"model": "llama-3.1-8b", "tp": 0}, "--tp", ">= 1"),
        ({"model": "llama-3.1-8b", "pp": 0}, "--pp", ">= 1"),
        ({"model": "llama-3.2-1b", "pp": 17}, "--pp", "16 layers"),
        ({"model": "llama-3.1-8b", "pp": 2, "engine": "tgi"}, "--pp", "TGI"),
        ({"model": "llama-3.1-8b", "gpu_memory_utilization": 1.5}, "--gpu-memory-utilization", "(0, 1]"),
        ({"model": "llama-3.1-8b", "max_model_len": 200000}, "--max-model-len", "131072"),
        ({"model": "llama-3.1-8b", "max_model_len": 0}, "--max-model-len", ">= 1"),
        ({"model": "llama-3.1-8b", "max_num_seqs": 0}, "--max-num-seqs", ">= 1"),
        (
            {"model": "llama-3.1-8b", "max_num_seqs": 512, "max_num_batched_tokens": 256},
            "--max-num-batched-tokens",
            "smaller",
        ),
        ({"model": "llama-3.1-8b", "engine_version": "latest"}, "--engine-version", "not a version"),
        ({"model": "llama-3.1-8b", "engine_version": "0.4.0"}, "--engine-version", "oldest"),
        ({"model": "llama-3.1-8b", "engine": "sglang"}, "--engine", "vllm, tgi"),
        ({"model": "llama-3.1-8b", "dtype": "int8"}, "--dtype", "bfloat16"),
        ({"model": "llama-3.1-8b", "quantization": "int2"}, "--quantization", "fp8"),
        ({"model": "llama-3.1-8b", "kv_cache_dtype": "int8"}, "--kv-cache-dtype", "auto"),
        ({"model": "llama-3.1-405b-fp8", "quantization": "int4"}, "--quantization", "pre-quantized"),
        ({"model": "llama-3.1-8b", "gpu_memory_gib": -1.0}, "--gpu-memory-gib", "> 0"),
        ({"model": "llama-3.1-8b", "gpu": None}, "--gpu", "GPU id"),
        ({"model": "llama-3.1-8b", "capacity_type": "reserved"}, "--capacity-type", "on-demand"),
        ({"model": "llama-3.1-8b", "region": "mars-1"}, "--region", "unknown region"),
        ({"model": "llama-3.1-8b", "gpu": "g6e.xlarge", "tp": 2}, "--tp", "inside one node"),
    ],
)
def test_bad_input_names_the_flag(kwargs: dict[str, object], field: str, text: str) -> None:
    args = {"gpu": "h100-80gb", **kwargs}
    with pytest.raises(InputError) as exc:
        size_on_gpu(**args)  # type: ignore[arg-type]
    assert exc.value.field == field
    assert text in exc.value.message


def test_gpu_given_as_instance_type_prices_the_plan() -> None:
    plan = size_on_gpu("llama-3.1-8b", gpu="g6e.xlarge", max_model_len=8192, region="eu-central-1")
    assert plan.instance_type == "g6e.xlarge" and plan.gpu == "l40s" and plan.region == "eu-central-1"
    assert plan.hourly_cost_usd == pytest.approx(2.327, abs=1e-3)  # AWS list price, g6e.xlarge eu-central-1
    assert plan.cost_per_million_tokens_usd is not None and plan.cost_per_million_tokens_usd > 0


def test_sliding_window_model_caps_blocks_per_request() -> None:
    path = str(FIXTURES / "mistral-7b-v0.1.json")
    plan = size_on_gpu(path, gpu="h100-80gb", engine_version="0.19.0", max_model_len=32768)
    per_request = math.ceil(min(4096 - 1 + 8192, 32768) / 16) + 1
    assert plan.kv_cache_tokens == plan.kv_cache_blocks * 16
    assert plan.max_concurrency == pytest.approx(plan.kv_cache_blocks / per_request, abs=1e-4)
    tgi = size_on_gpu(path, gpu="h100-80gb", engine="tgi", max_model_len=32768)
    assert tgi.max_concurrency == pytest.approx(tgi.kv_cache_tokens / 32768)


def test_mixed_sliding_and_full_layers_form_groups(tmp_path: Path) -> None:
    raw = json.loads((FIXTURES / "mistral-7b-v0.1.json").read_text())
    raw["layer_types"] = ["sliding_attention", "full_attention"] * 16
    path = tmp_path / "config.json"
    path.write_text(json.dumps(raw))
    plan = size_on_gpu(str(path), gpu="h100-80gb", engine_version="0.19.0", max_model_len=32768)
    per_request = 2048 + math.ceil((4095 + 8192) / 16) + 1  # one full group + one sliding group of 16 layers
    assert plan.kv_cache_tokens == plan.kv_cache_blocks // 2 * 16
    assert plan.max_concurrency == pytest.approx(plan.kv_cache_blocks / per_request, abs=1e-4)


def test_pipeline_across_nodes_of_an_instance_type() -> None:
    plan = size_on_gpu("llama-3.1-405b", gpu="p5.48xlarge", tp=8, pp=2, max_model_len=8192)
    assert (plan.nodes_per_replica, plan.gpus_per_node, plan.replicas_per_node) == (2, 8, 1)
    assert plan.fits and plan.hourly_cost_usd == pytest.approx(2 * 55.04)


def test_decode_roofline_matches_the_h100_measurement() -> None:
    plan = size_on_gpu("llama-3.1-8b", gpu="h100-80gb", max_model_len=2048, max_num_seqs=1)
    weights_read = (8_030_261_248 - 128256 * 4096) * 2  # every weight but the embedding lookup
    assert weights_read / 2**30 == pytest.approx(13.98, abs=0.005)  # "weights read / step" in the measurement
    step = (weights_read + 1024 * 131072) / (0.76 * 3350e9)
    assert plan.single_stream_tokens_per_second == pytest.approx(1 / step, rel=0.002)  # ~170 tok/s measured
    assert plan.decode_tokens_per_second == plan.single_stream_tokens_per_second


def test_decode_batch_is_capped_by_kv_and_local_layers_read_less() -> None:
    from serving.catalog import get_model
    from serving.sizing.estimates import kv_read_bytes
    from serving.sizing.settings import resolve

    scout = get_model("llama-4-scout")
    s = resolve(scout, gpu=None, total_gib=79.19, max_model_len=131072)
    per_layer = 2 * 2 * 128 * 2  # TP4: 2 KV heads per rank, bf16
    assert kv_read_bytes(scout, s, 4, 1) == per_layer * (12 * 65536 + 36 * 8192)
    plan = size_on_gpu("llama-4-scout", gpu="h100-80gb", tp=4, max_model_len=131072)
    assert plan.max_num_seqs == 1024 and plan.max_concurrency < 10  # batch used: floor(2 x concurrency)


def test_activation_shrinks_at_017_like_the_qwen3_14b_sweep() -> None:
    path = str(FIXTURES / "qwen3-14b.json")
    old = size_on_gpu(path, gpu="h100-80gb", engine_version="0.16.0", max_model_len=8192)
    new = size_on_gpu(path, gpu="h100-80gb", engine_version="0.17.0", max_model_len=8192)
    assert old.activation_gib_per_gpu == pytest.approx(5.64, rel=0.03)  # llm-d version sweep
    assert new.activation_gib_per_gpu == pytest.approx(2.23, rel=0.03)
