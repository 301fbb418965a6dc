"""Parameter counts of vision towers that vLLM loads with a multimodal checkpoint (they add to weights).

Two layouts are modelled from their published module shapes: Llama 4's vision encoder (CLIP-style MLP,
pixel-shuffle MLP, projector) and Pixtral (Mistral 3: gated MLP, patch merger, 2-layer projector).
Any other ``vision_config`` is counted as a plain ViT (4h^2 attention + 2hi MLP per layer + projector).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from serving.errors import InputError


def _int(cfg: Mapping[str, Any], key: str, where: str, default: int | None = None) -> int:
    value = cfg.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise InputError(
            f"'{key}' must be a positive integer, got {value!r}", field=f"{where}:vision_config.{key}"
        )
    return value


def _llama4(v: Mapping[str, Any], text_hidden: int, where: str) -> int:
    h, i, n = (
        _int(v, "hidden_size", where),
        _int(v, "intermediate_size", where),
        _int(v, "num_hidden_layers", where),
    )
    patch, image = _int(v, "patch_size", where, 14), _int(v, "image_size", where, 336)
    proj_in = _int(v, "projector_input_dim", where, 4096)
    proj_out = _int(v, "projector_output_dim", where, 4096)
    out_dim = _int(v, "vision_output_dim", where, 4096)
    per_layer = 4 * (h * h + h) + (h * i + i) + (i * h + h) + 4 * h  # q,k,v,o (+bias), fc1, fc2, 2 LayerNorms
    positions = (image // patch) ** 2 + 1
    embed = _int(v, "num_channels", where, 3) * patch * patch * h + positions * h + h + 4 * h
    pixel_shuffle_mlp = i * proj_in + proj_out * proj_out
    return n * per_layer + embed + pixel_shuffle_mlp + out_dim * text_hidden


def _pixtral(v: Mapping[str, Any], raw: Mapping[str, Any], text_hidden: int, where: str) -> int:
    h, i, n = (
        _int(v, "hidden_size", where),
        _int(v, "intermediate_size", where),
        _int(v, "num_hidden_layers", where),
    )
    patch = _int(v, "patch_size", where, 14)
    merge = raw.get("spatial_merge_size", 2)
    merge = merge if isinstance(merge, int) and merge > 0 else 2
    per_layer = 4 * h * h + 3 * h * i + 2 * h  # q,k,v,o; gate/up/down; 2 RMSNorms
    tower = n * per_layer + _int(v, "num_channels", where, 3) * patch * patch * h + h
    projector = h + h * merge * merge * h + h * text_hidden + text_hidden * text_hidden
    return tower + projector


def vision_params(raw: Mapping[str, Any], *, text_hidden: int, where: str) -> int:
    """Parameters of ``raw['vision_config']`` plus its projector into the text model (0 when absent)."""
    v = raw.get("vision_config")
    if not v:
        return 0
    if not isinstance(v, dict):
        raise InputError("must be a mapping", field=f"{where}:vision_config")
    kind = str(v.get("model_type", ""))
    if kind.startswith("llama4"):
        return _llama4(v, text_hidden, where)
    if kind == "pixtral":
        return _pixtral(v, raw, text_hidden, where)
    h, i, n = (
        _int(v, "hidden_size", where),
        _int(v, "intermediate_size", where),
        _int(v, "num_hidden_layers", where),
    )
    return n * (4 * h * h + 2 * h * i) + h * text_hidden
