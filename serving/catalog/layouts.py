"""Layer layouts read from a Hugging Face config: MoE layers, chunked-local and sliding-window attention."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from serving.errors import InputError


def req_int(cfg: Mapping[str, Any], key: str, where: str) -> int:
    """A required positive integer ``cfg[key]``; InputError naming ``where:key`` otherwise."""
    value = cfg.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise InputError(f"'{key}' must be a positive integer, got {value!r}", field=f"{where}:{key}")
    return value


def opt_int(cfg: Mapping[str, Any], key: str, where: str, default: int) -> int:
    """An optional positive integer (``default`` when absent or null)."""
    if cfg.get(key) is None:
        return default
    return req_int(cfg, key, where)


def moe_layout(text: Mapping[str, Any], model_type: str, layers: int, where: str) -> dict[str, Any]:
    experts = text.get("num_local_experts") or text.get("num_experts") or 0
    if not experts:
        return {}
    experts = req_int({"e": experts}, "e", where)
    out: dict[str, Any] = {
        "num_experts": experts,
        "experts_per_token": opt_int(text, "num_experts_per_tok", where, 2),
    }
    if model_type.startswith("llama4"):
        step = opt_int(text, "interleave_moe_layer_step", where, 1)
        out["moe_layers"] = tuple(i for i in range(layers) if (i + 1) % step == 0)
        out["moe_intermediate_size"] = req_int(text, "intermediate_size", where)
        out["shared_expert_intermediate_size"] = out["moe_intermediate_size"]
        return out
    step = opt_int(text, "decoder_sparse_step", where, 1)
    dense_only = set(text.get("mlp_only_layers") or [])
    out["moe_layers"] = tuple(i for i in range(layers) if (i + 1) % step == 0 and i not in dense_only)
    out["moe_intermediate_size"] = opt_int(text, "moe_intermediate_size", where, 0) or req_int(
        text, "intermediate_size", where
    )
    shared = opt_int(text, "shared_expert_intermediate_size", where, 0)
    out["shared_expert_intermediate_size"] = shared
    out["shared_expert_gate"] = shared > 0 and model_type == "qwen2_moe"
    return out


def chunked_layout(text: Mapping[str, Any], layers: int, where: str) -> dict[str, Any]:
    chunk = text.get("attention_chunk_size")
    if not chunk:
        return {}
    pattern = text.get("no_rope_layers")
    if isinstance(pattern, list) and len(pattern) == layers:
        chunked = tuple(i for i, rope in enumerate(pattern) if rope)
    else:
        interval = opt_int(text, "no_rope_layer_interval", where, 4)
        chunked = tuple(i for i in range(layers) if (i + 1) % interval != 0)
    return {"attention_chunk_size": req_int(text, "attention_chunk_size", where), "chunked_layers": chunked}


def sliding_layout(text: Mapping[str, Any], model_type: str, layers: int, where: str) -> dict[str, Any]:
    """Sliding-window layers: HF ``layer_types``, Gemma 2 (every other layer), Gemma 3 (all but every
    ``sliding_window_pattern``-th), or every layer when ``sliding_window`` is set on Mistral-style configs
    (Qwen2 only with ``use_sliding_window``)."""
    window = text.get("sliding_window")
    if not isinstance(window, int) or isinstance(window, bool) or window <= 0:
        return {}
    types = text.get("layer_types")
    if isinstance(types, list) and len(types) == layers:
        sliding = tuple(i for i, kind in enumerate(types) if kind == "sliding_attention")
    elif model_type == "gemma2":
        sliding = tuple(i for i in range(layers) if i % 2 == 0)
    elif model_type.startswith("gemma3"):
        pattern = opt_int(text, "sliding_window_pattern", where, 6)
        sliding = tuple(i for i in range(layers) if (i + 1) % pattern)
    elif model_type in ("mistral", "mixtral") or (
        model_type.startswith("qwen") and text.get("use_sliding_window")
    ):
        sliding = tuple(range(layers))
    else:
        return {}
    return {"sliding_window": window, "sliding_layers": sliding} if sliding else {}
