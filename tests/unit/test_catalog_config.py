"""Hugging Face config.json parsing (path mode): architectures, exact parameter counts, error paths."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from serving.catalog import get_model
from serving.errors import InputError
from serving.sizing.weights import language_model_params

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "configs"


def test_qwen2_has_qkv_bias_and_exact_params() -> None:
    m = get_model(str(FIXTURES / "qwen2.5-7b-instruct.json"))
    assert (m.num_kv_heads, m.head_dim, m.qkv_bias, m.tie_embeddings) == (4, 128, True, False)
    per_layer = 3584 * 3584 + 3584 + 2 * (3584 * 512 + 512) + 3584 * 3584 + 3 * 3584 * 18944 + 2 * 3584
    assert language_model_params(m) == 28 * per_layer + 2 * 152064 * 3584 + 3584 == 7_615_616_512


def test_qwen3_explicit_head_dim_and_qk_norm() -> None:
    m = get_model(str(FIXTURES / "qwen3-8b.json"))
    assert (m.head_dim, m.qk_norm, m.qkv_bias) == (128, True, False)
    per_layer = 4096 * 4096 * 2 + 2 * 4096 * 1024 + 3 * 4096 * 12288 + 2 * 4096 + 2 * 128
    assert language_model_params(m) == 36 * per_layer + 2 * 151936 * 4096 + 4096


def test_mixtral_moe_params() -> None:
    m = get_model(str(FIXTURES / "mixtral-8x7b-instruct.json"))
    assert (m.num_experts, m.experts_per_token, m.moe_layers) == (8, 2, tuple(range(32)))
    per_layer = 2 * 4096 * 4096 + 2 * 4096 * 1024 + 8 * 3 * 4096 * 14336 + 4096 * 8 + 2 * 4096
    assert language_model_params(m) == 32 * per_layer + 2 * 32000 * 4096 + 4096 == 46_702_792_704


def test_mistral3_text_config_and_pixtral_tower() -> None:
    m = get_model(str(FIXTURES / "mistral-small-3.1-24b-instruct.json"))
    assert (m.num_layers, m.hidden_size, m.head_dim, m.vocab_size) == (40, 5120, 128, 131072)
    tower = 24 * (4 * 1024 * 1024 + 3 * 1024 * 4096 + 2 * 1024) + 3 * 14 * 14 * 1024 + 1024
    projector = 1024 + 1024 * 4 * 1024 + 1024 * 5120 + 5120 * 5120
    assert m.vision_params == tower + projector


def test_mha_config_without_kv_heads_or_head_dim(tmp_path: Path) -> None:
    m = get_model(str(FIXTURES / "llama-2-7b-mha.json"))
    assert (m.num_kv_heads, m.head_dim, m.dtype) == (32, 128, "float16")
    raw = json.loads((FIXTURES / "llama-2-7b-mha.json").read_text())
    del raw["num_key_value_heads"]
    path = tmp_path / "c.json"
    path.write_text(json.dumps(raw))
    assert get_model(str(path)).num_kv_heads == 32


def test_llama4_text_config_like_the_catalog(tmp_path: Path) -> None:
    raw = {
        "model_type": "llama4",
        "torch_dtype": "bfloat16",
        "text_config": {
            "model_type": "llama4_text",
            "hidden_size": 5120,
            "intermediate_size": 8192,
            "intermediate_size_mlp": 16384,
            "num_hidden_layers": 48,
            "num_attention_heads": 40,
            "num_key_value_heads": 8,
            "head_dim": 128,
            "vocab_size": 202048,
            "num_local_experts": 16,
            "num_experts_per_tok": 1,
            "interleave_moe_layer_step": 1,
            "attention_chunk_size": 8192,
            "no_rope_layers": [1, 1, 1, 0] * 12,
            "max_position_embeddings": 10485760,
        },
    }
    path = tmp_path / "config.json"
    path.write_text(json.dumps(raw))
    m = get_model(str(path))
    assert language_model_params(m) == 107_769_861_120
    assert m.chunked_layers == get_model("llama-4-scout").chunked_layers


def _write(tmp_path: Path, raw: object) -> str:
    path = tmp_path / "config.json"
    path.write_text(json.dumps(raw))
    return str(path)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"hidden_size": None}, "config.json:hidden_size"),
        ({"num_hidden_layers": -1}, "config.json:num_hidden_layers"),
        ({"num_key_value_heads": 5}, "config.json:num_key_value_heads"),
        ({"hidden_size": 4100}, "config.json:head_dim"),
        ({"max_position_embeddings": None}, "config.json:max_position_embeddings"),
        ({"torch_dtype": "int3"}, "config.json:torch_dtype"),
        (
            {"quantization_config": {"quant_method": "bitsandbytes"}},
            "config.json:quantization_config.quant_method",
        ),
    ],
)
def test_config_errors_name_the_key(tmp_path: Path, change: dict[str, object], field: str) -> None:
    raw = json.loads((FIXTURES / "llama-2-7b-mha.json").read_text())
    for key, value in change.items():
        if value is None:
            raw.pop(key)
        else:
            raw[key] = value
    with pytest.raises(InputError) as exc:
        get_model(_write(tmp_path, raw))
    assert exc.value.field == field


def test_unreadable_and_missing_config(tmp_path: Path) -> None:
    bad = tmp_path / "config.json"
    bad.write_text("{not json")
    with pytest.raises(InputError) as exc:
        get_model(str(bad))
    assert exc.value.field == "--model" and "not a readable JSON" in exc.value.message
    with pytest.raises(InputError) as exc:
        get_model(str(tmp_path / "nope.json"))
    assert exc.value.field == "--model" and "no such file" in exc.value.message
    bad.write_text("[1, 2]")
    with pytest.raises(InputError, match="not a JSON object"):
        get_model(str(bad))


@pytest.mark.parametrize(
    ("qc", "expected"),
    [
        ({"quant_method": "fp8"}, "fp8"),
        ({"quant_method": "awq", "bits": 4}, "int4"),
        ({"quant_method": "gptq", "bits": 8}, "int8"),
        (
            {
                "quant_method": "compressed-tensors",
                "config_groups": {"g": {"weights": {"num_bits": 8, "type": "float"}}},
            },
            "fp8",
        ),
        (
            {
                "quant_method": "compressed-tensors",
                "config_groups": {"g": {"weights": {"num_bits": 8, "type": "int"}}},
            },
            "int8",
        ),
        (
            {"quant_method": "compressed-tensors", "config_groups": {"g": {"weights": {"num_bits": 4}}}},
            "int4",
        ),
        ({"quant_method": "fbgemm_fp8"}, "fp8_mlp_only"),
    ],
)
def test_prequantized_checkpoints(tmp_path: Path, qc: dict[str, object], expected: str) -> None:
    raw = json.loads((FIXTURES / "llama-2-7b-mha.json").read_text())
    raw["quantization_config"] = qc
    assert get_model(_write(tmp_path, raw)).checkpoint_quantization == expected


def test_sliding_window_layouts(tmp_path: Path) -> None:
    mistral = get_model(str(FIXTURES / "mistral-7b-v0.1.json"))
    assert mistral.sliding_window == 4096 and mistral.sliding_layers == tuple(range(32))
    qwen = get_model(str(FIXTURES / "qwen2.5-7b-instruct.json"))
    assert qwen.sliding_window is None  # use_sliding_window: false
    raw = json.loads((FIXTURES / "mistral-7b-v0.1.json").read_text())
    raw.update(model_type="gemma2")
    assert get_model(_write(tmp_path, raw)).sliding_layers == tuple(range(0, 32, 2))
    raw.update(model_type="gemma3_text", sliding_window_pattern=4)
    assert get_model(_write(tmp_path, raw)).sliding_layers == tuple(i for i in range(32) if (i + 1) % 4)


def test_qwen3_moe_routed_experts_exact_params() -> None:
    m = get_model(str(FIXTURES / "qwen3-30b-a3b.json"))
    assert (m.num_experts, m.experts_per_token, m.moe_intermediate_size, m.num_kv_heads) == (128, 8, 768, 4)
    per_layer = (
        2048 * 4096 + 2 * 2048 * 512 + 4096 * 2048 + 2 * 128 + 2 * 2048 + 128 * 3 * 2048 * 768 + 2048 * 128
    )
    assert language_model_params(m) == 48 * per_layer + 2 * 151936 * 2048 + 2048


@pytest.mark.parametrize(
    ("name", "billions"),
    [
        ("qwen3-0.6b", 0.596),
        ("qwen3-4b", 4.022),
        ("qwen3-14b", 14.768),
        ("qwen3-32b", 32.762),
        ("qwen2.5-72b-instruct", 72.706),
        ("mistral-7b-instruct-v0.3", 7.248),
    ],
)
def test_fixture_configs_match_published_sizes(name: str, billions: float) -> None:
    assert language_model_params(get_model(str(FIXTURES / f"{name}.json"))) / 1e9 == pytest.approx(
        billions, abs=5e-4
    )
