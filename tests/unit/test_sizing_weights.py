"""Exact weight and KV bytes per GPU, computed by hand from the architecture values of
shared/reference/vllm-tgi-memory.md §4 (never by calling the code under test)."""

from __future__ import annotations

import pytest

from serving.catalog import get_model
from serving.sizing import size_on_gpu
from serving.sizing.weights import GIB, language_model_params, pp_layer_split, stage_weight_bytes

ROPE_128 = 131072 * 128 * 2  # max_position x rotary_dim x bf16: every rank holds it


def _llama_rank(
    *,
    layers: int,
    hidden: int,
    heads: int,
    kv: int,
    hd: int,
    inter: int,
    vocab: int,
    tp: int,
    tied: bool = False,
    byte: int = 2,
) -> int:
    """Bytes of a Llama-3 TP rank in ``byte``-sized dtype (no rope cache)."""
    qo = 2 * hidden * heads // tp * hd
    kv_w = 2 * hidden * max(1, kv // tp) * hd
    mlp = 3 * hidden * inter // tp
    embed = vocab // tp * hidden
    return (layers * (qo + kv_w + mlp + 2 * hidden) + embed * (1 if tied else 2) + hidden) * byte


@pytest.mark.parametrize(
    ("model", "tp", "expected"),
    [
        ("llama-3.2-1b", 1, 1_235_814_400 * 2 + 131072 * 64 * 2),
        ("llama-3.2-3b", 1, 3_212_749_824 * 2 + ROPE_128),
        ("llama-3.1-8b", 1, 8_030_261_248 * 2 + ROPE_128),
        ("llama-3.1-70b", 1, 70_553_706_496 * 2 + ROPE_128),
        ("llama-3.3-70b", 1, 70_553_706_496 * 2 + ROPE_128),
        ("llama-3.1-405b", 1, 405_853_388_800 * 2 + ROPE_128),
        (
            "llama-3.1-8b",
            2,
            _llama_rank(layers=32, hidden=4096, heads=32, kv=8, hd=128, inter=14336, vocab=128256, tp=2)
            + ROPE_128,
        ),
        (
            "llama-3.1-8b",
            4,
            _llama_rank(layers=32, hidden=4096, heads=32, kv=8, hd=128, inter=14336, vocab=128256, tp=4)
            + ROPE_128,
        ),
        (
            "llama-3.1-70b",
            4,
            _llama_rank(layers=80, hidden=8192, heads=64, kv=8, hd=128, inter=28672, vocab=128256, tp=4)
            + ROPE_128,
        ),
        (
            "llama-3.1-405b",
            8,
            _llama_rank(layers=126, hidden=16384, heads=128, kv=8, hd=128, inter=53248, vocab=128256, tp=8)
            + ROPE_128,
        ),
        (
            "llama-3.1-405b",
            16,
            _llama_rank(layers=126, hidden=16384, heads=128, kv=8, hd=128, inter=53248, vocab=128256, tp=16)
            + ROPE_128,
        ),
    ],
)
def test_bf16_weights_per_gpu(model: str, tp: int, expected: int) -> None:
    assert (
        stage_weight_bytes(get_model(model), dtype="bfloat16", quantization="none", tp=tp, pp=1)[0]
        == expected
    )


def test_published_parameter_counts() -> None:
    assert language_model_params(get_model("llama-3.1-8b")) == 8_030_261_248
    assert language_model_params(get_model("llama-3.2-1b")) == 1_235_814_400
    assert language_model_params(get_model("llama-4-scout")) == 107_769_861_120
    assert language_model_params(get_model("llama-4-maverick")) == 400_711_848_960


def test_fp8_70b_tp2_per_channel_scales() -> None:
    linear = 8192 * 4096 + 2 * 8192 * 512 + 4096 * 8192 + 3 * 14336 * 8192
    scales = (4096 + 512 + 512 + 8192 + 14336 + 14336 + 8192) * 4
    bf16 = (80 * 2 * 8192 + 2 * 64128 * 8192 + 8192) * 2
    expected = 80 * (linear + scales) + bf16 + ROPE_128
    got = stage_weight_bytes(get_model("llama-3.3-70b"), dtype="bfloat16", quantization="fp8", tp=2, pp=1)[0]
    assert got == expected
    assert got / GIB == pytest.approx(33.88, abs=0.005)  # vLLM log: "Model loading took 33.88 GiB"


def test_int4_and_fp32_8b() -> None:
    linear = 32 * (2 * 4096 * 4096 + 2 * 4096 * 1024 + 3 * 4096 * 14336)
    assert linear == 6_979_321_856
    bf16_rest = (2 * 128256 * 4096 + 32 * 2 * 4096 + 4096) * 2
    m = get_model("llama-3.1-8b")
    assert stage_weight_bytes(m, dtype="bfloat16", quantization="int4", tp=1, pp=1)[0] == pytest.approx(
        linear * (0.5 + 2.5 / 128) + bf16_rest + ROPE_128
    )
    assert stage_weight_bytes(m, dtype="float32", quantization="none", tp=1, pp=1)[0] == 8_030_261_248 * 4 + (
        131072 * 128 * 4
    )


def test_scout_tp4_includes_vision_and_10m_rope_cache() -> None:
    per_layer = (
        2 * 5120 * 1280 + 2 * 5120 * 256 + 16 * 3 * 5120 * 2048 + 3 * 5120 * 2048 + 5120 * 16 + 2 * 5120
    )
    vision = 871_932_416
    expected = (48 * per_layer + 2 * 50512 * 5120 + 5120) * 2 + vision / 4 * 2 + 10485760 * 128 * 2
    got = stage_weight_bytes(get_model("llama-4-scout"), dtype="bfloat16", quantization="none", tp=4, pp=1)[0]
    assert got == expected
    assert got / GIB == pytest.approx(53.12, rel=0.002)  # vLLM v0.19 log


def test_pipeline_stages_split_layers_like_vllm() -> None:
    assert pp_layer_split(32, 4) == [8, 8, 8, 8]
    assert pp_layer_split(126, 4) == [31, 32, 32, 31]
    assert pp_layer_split(80, 3) == [27, 27, 26]
    stages = stage_weight_bytes(get_model("llama-3.1-8b"), dtype="bfloat16", quantization="none", tp=1, pp=4)
    layer = 2 * 4096 * 4096 + 2 * 4096 * 1024 + 3 * 4096 * 14336 + 2 * 4096
    assert stages[0] == (8 * layer + 128256 * 4096) * 2 + ROPE_128
    assert stages[1] == 8 * layer * 2 + ROPE_128
    assert stages[3] == (8 * layer + 128256 * 4096 + 4096) * 2 + ROPE_128
    assert stages[0] / GIB == pytest.approx(4.26, abs=0.005)  # v0.19 log "PP4 rank0 4.26"


@pytest.mark.parametrize(
    ("model", "tp", "kv_bytes"),
    [
        ("llama-3.2-1b", 1, 32 * 1024),
        ("llama-3.2-3b", 1, 112 * 1024),
        ("llama-3.1-8b", 1, 128 * 1024),
        ("llama-3.1-8b", 2, 64 * 1024),
        ("llama-3.1-70b", 1, 320 * 1024),
        ("llama-3.1-70b", 8, 40 * 1024),
        ("llama-3.1-405b", 1, 504 * 1024),
        ("llama-3.1-405b", 8, 63 * 1024),
        ("llama-3.1-405b", 16, 63 * 1024),  # TP > KV heads: one KV head replicated per rank
        ("llama-4-scout", 1, 192 * 1024),
    ],
)
def test_kv_bytes_per_token_per_gpu(model: str, tp: int, kv_bytes: int) -> None:
    plan = size_on_gpu(model, gpu="h200", tp=tp, max_model_len=4096)
    assert plan.kv_bytes_per_token_per_gpu == kv_bytes


def test_fp8_kv_cache_halves_bytes_and_doubles_tokens() -> None:
    auto = size_on_gpu("llama-3.1-8b", gpu="h100-80gb", max_model_len=8192)
    fp8 = size_on_gpu("llama-3.1-8b", gpu="h100-80gb", max_model_len=8192, kv_cache_dtype="fp8")
    assert fp8.kv_bytes_per_token_per_gpu == 64 * 1024
    assert fp8.kv_cache_blocks in (2 * auto.kv_cache_blocks, 2 * auto.kv_cache_blocks + 1)
