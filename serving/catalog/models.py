"""Model architectures: the catalog (``data/models.yaml``) and any Hugging Face ``config.json`` given by path.

Both go through :func:`parse_hf_config`, so a catalog entry sizes exactly like its repository's config.json.
Supported: Llama 2/3.x, Llama 4 (``text_config``, MoE, chunked-local attention), Qwen2/2.5/3 (+ MoE),
Mistral/Mistral3 (``text_config`` + Pixtral vision tower), Mixtral; MHA and GQA; explicit ``head_dim``;
tied embeddings; pre-quantized checkpoints (``quantization_config``).
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from serving.catalog._data import records
from serving.catalog.layouts import chunked_layout, moe_layout, opt_int, req_int, sliding_layout
from serving.catalog.vision import vision_params
from serving.errors import CatalogError, CatalogLookupError, InputError

CheckpointQuant = Literal["none", "fp8", "int8", "int4", "fp8_mlp_only"]
_DTYPES = {
    "bfloat16": "bfloat16",
    "bf16": "bfloat16",
    "float16": "float16",
    "fp16": "float16",
    "half": "float16",
    "float32": "float32",
    "fp32": "float32",
    "float": "float32",
    "auto": "bfloat16",
}
#: model types whose q/k/v projections carry a bias regardless of ``attention_bias``
_QKV_BIAS_TYPES = {"qwen2", "qwen2_moe"}
#: model types with per-head RMSNorm weights on q and k (``q_norm``/``k_norm``, head_dim each)
_QK_NORM_TYPES = {"qwen3", "qwen3_moe"}


@dataclass(frozen=True, kw_only=True)
class ModelSpec:
    """Decoder architecture values that drive memory: shapes, MoE layout, attention layout."""

    id: str
    """Catalog id, or the config.json path the spec was read from."""
    hf_ids: tuple[str, ...]
    """Hugging Face repository ids known for this model (empty for a config.json path)."""
    model_type: str
    num_layers: int
    hidden_size: int
    intermediate_size: int
    """MLP width of dense layers (``intermediate_size_mlp`` for Llama 4)."""
    num_heads: int
    num_kv_heads: int
    head_dim: int
    vocab_size: int
    tie_embeddings: bool
    max_position_embeddings: int
    dtype: str
    """Checkpoint dtype (``bfloat16``/``float16``/``float32``): the default ``--dtype``."""
    qkv_bias: bool = False
    qk_norm: bool = False
    """Per-head RMSNorm weights on q and k (Qwen3)."""
    num_experts: int = 0
    """Routed experts per MoE layer (0 = dense model)."""
    experts_per_token: int = 0
    moe_intermediate_size: int = 0
    shared_expert_intermediate_size: int = 0
    shared_expert_gate: bool = False
    """Qwen2-MoE's sigmoid gate on the shared expert (hidden x 1)."""
    moe_layers: tuple[int, ...] = ()
    """Indices of MoE layers (others use the dense MLP)."""
    attention_chunk_size: int | None = None
    """Chunked-local attention window (Llama 4: 8192) on ``chunked_layers``."""
    chunked_layers: tuple[int, ...] = ()
    """Indices of chunked-local attention layers (the others are full/global attention)."""
    sliding_window: int | None = None
    """Sliding-window attention width (Mistral 7B v0.1, Gemma 2/3) on ``sliding_layers``."""
    sliding_layers: tuple[int, ...] = ()
    """Indices of sliding-window layers."""
    rotary_dim: int = 0
    """Rotary embedding width; vLLM caches cos/sin for max_position_embeddings x rotary_dim."""
    vision_params: int = 0
    """Parameters of a vision tower + projector loaded with the model (0 for text-only)."""
    checkpoint_quantization: CheckpointQuant = "none"
    """Quantization baked into the checkpoint (from ``quantization_config``)."""
    fp8_checkpoint: str = ""
    """Hugging Face id of the model's official FP8 checkpoint (from its publisher), "" when there is none."""
    fp8_catalog_id: str = ""
    """Catalog entry describing that checkpoint's layout ("" = size it as FP8 linears, bf16 embeddings)."""
    source: str = ""

    @property
    def is_moe(self) -> bool:
        """True when some layers route tokens to experts."""
        return self.num_experts > 0


def _dtype(raw: Mapping[str, Any], text: Mapping[str, Any], where: str) -> str:
    value = text.get("torch_dtype") or raw.get("torch_dtype") or text.get("dtype") or raw.get("dtype")
    if value is None:
        return "bfloat16"
    if str(value) not in _DTYPES:
        raise InputError(f"unsupported dtype {value!r}", field=f"{where}:torch_dtype")
    return _DTYPES[str(value)]


def _quantization(raw: Mapping[str, Any], text: Mapping[str, Any], where: str) -> CheckpointQuant:
    qc = text.get("quantization_config") or raw.get("quantization_config")
    if not qc:
        return "none"
    if not isinstance(qc, dict):
        raise InputError("must be a mapping", field=f"{where}:quantization_config")
    method = str(qc.get("quant_method", "")).lower()
    if method == "fbgemm_fp8":
        return "fp8_mlp_only"
    if method in ("fp8", "modelopt"):
        return "fp8"
    bits = qc.get("bits") or qc.get("w_bit")
    if method in ("awq", "gptq", "awq_marlin", "gptq_marlin"):
        return "int4" if bits in (None, 4) else "int8"
    if method == "compressed-tensors":
        weights: dict[str, Any] = {}
        for group in (qc.get("config_groups") or {}).values():
            if isinstance(group, dict) and isinstance(group.get("weights"), dict):
                weights = group["weights"]
                break
        num_bits, kind = weights.get("num_bits", 8), str(weights.get("type", "int"))
        if num_bits == 4:
            return "int4"
        return "fp8" if kind == "float" else "int8"
    raise InputError(
        f"quant_method {method!r} is not modelled (fp8, compressed-tensors, awq, gptq, fbgemm_fp8)",
        field=f"{where}:quantization_config.quant_method",
    )


def parse_hf_config(
    raw: Mapping[str, Any],
    *,
    model_id: str,
    hf_ids: tuple[str, ...] = (),
    where: str = "config.json",
    source: str = "",
) -> ModelSpec:
    """Build a :class:`ModelSpec` from a Hugging Face config mapping. Errors name ``where:key``."""
    text: Mapping[str, Any] = raw.get("text_config") or raw
    if not isinstance(text, dict):
        raise InputError("must be a mapping", field=f"{where}:text_config")
    twhere = f"{where}:text_config" if "text_config" in raw else where
    model_type = str(text.get("model_type") or raw.get("model_type") or "llama")
    layers = req_int(text, "num_hidden_layers", twhere)
    hidden = req_int(text, "hidden_size", twhere)
    heads = req_int(text, "num_attention_heads", twhere)
    kv_heads = opt_int(text, "num_key_value_heads", twhere, heads)
    if text.get("head_dim") is not None:
        head_dim = req_int(text, "head_dim", twhere)
    elif hidden % heads:
        raise InputError(
            f"hidden_size {hidden} is not a multiple of num_attention_heads {heads}; give head_dim",
            field=f"{twhere}:head_dim",
        )
    else:
        head_dim = hidden // heads
    if heads % kv_heads:
        raise InputError(
            f"num_attention_heads {heads} is not a multiple of num_key_value_heads {kv_heads}",
            field=f"{twhere}:num_key_value_heads",
        )
    if "max_position_embeddings" not in text:
        raise InputError(
            "missing (needed for the default --max-model-len and the rotary cache)",
            field=f"{twhere}:max_position_embeddings",
        )
    tie = text.get("tie_word_embeddings", raw.get("tie_word_embeddings", False))
    dense_inter = text.get("intermediate_size_mlp") or text.get("intermediate_size")
    factor = float(text.get("partial_rotary_factor", 1.0))
    return ModelSpec(
        id=model_id,
        hf_ids=hf_ids,
        model_type=model_type,
        num_layers=layers,
        hidden_size=hidden,
        intermediate_size=req_int({"intermediate_size": dense_inter}, "intermediate_size", twhere),
        num_heads=heads,
        num_kv_heads=kv_heads,
        head_dim=head_dim,
        vocab_size=req_int(text, "vocab_size", twhere),
        tie_embeddings=bool(tie),
        max_position_embeddings=req_int(text, "max_position_embeddings", twhere),
        dtype=_dtype(raw, text, where),
        qkv_bias=model_type in _QKV_BIAS_TYPES or bool(text.get("attention_bias", False)),
        qk_norm=model_type in _QK_NORM_TYPES,
        rotary_dim=int(head_dim * factor),
        vision_params=vision_params(raw, text_hidden=hidden, where=where),
        checkpoint_quantization=_quantization(raw, text, where),
        source=source,
        **moe_layout(text, model_type, layers, twhere),
        **chunked_layout(text, layers, twhere),
        **sliding_layout(text, model_type, layers, twhere),
    )


@functools.cache
def _catalog() -> dict[str, ModelSpec]:
    out: dict[str, ModelSpec] = {}
    for rec in records("models.yaml", "models"):
        model_id = str(rec["id"])
        config = rec.get("config")
        if not isinstance(config, dict):
            raise CatalogError(f"models.yaml:{model_id}: 'config' must be a mapping")
        try:
            spec = parse_hf_config(
                config,
                model_id=model_id,
                hf_ids=tuple(rec.get("hf_ids", ())),
                where=f"models.yaml:{model_id}",
                source=str(rec["source"]),
            )
        except InputError as exc:
            raise CatalogError(str(exc)) from exc
        fp8 = rec.get("fp8_checkpoint")
        if fp8 is not None:
            if not isinstance(fp8, dict) or "hf_id" not in fp8 or "source" not in fp8:
                raise CatalogError(f"models.yaml:{model_id}: fp8_checkpoint needs hf_id and source")
            spec = dataclasses.replace(
                spec, fp8_checkpoint=str(fp8["hf_id"]), fp8_catalog_id=str(fp8.get("catalog", "") or "")
            )
        out[model_id] = spec
    for spec in out.values():
        if spec.fp8_catalog_id and spec.fp8_catalog_id not in out:
            raise CatalogError(
                f"models.yaml:{spec.id}: fp8_checkpoint.catalog {spec.fp8_catalog_id} is unknown"
            )
    return out


def list_models() -> list[ModelSpec]:
    """Every catalog model."""
    return list(_catalog().values())


def load_config_file(path: Path, *, field: str = "--model") -> ModelSpec:
    """Read a config.json (or a directory holding one) into a ModelSpec."""
    file = path / "config.json" if path.is_dir() else path
    try:
        raw = json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise InputError(f"no such file: {file}", field=field) from exc
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{file} is not a readable JSON config: {exc}", field=field) from exc
    if not isinstance(raw, dict):
        raise InputError(f"{file} is not a JSON object", field=field)
    return parse_hf_config(raw, model_id=str(file), where=file.name, source=f"config.json at {file}")


def get_model(id_or_path: str, *, field: str = "--model") -> ModelSpec:
    """A model by catalog id (``llama-3.1-8b``), Hugging Face repo id known to the catalog
    (``meta-llama/Llama-3.1-8B-Instruct``) or path to a config.json (or a directory holding one).

    Raises CatalogLookupError (unknown id, with suggestions) or InputError (unreadable/invalid config,
    naming the config key) with ``field`` set."""
    catalog = _catalog()
    if not id_or_path.strip():  # Path("") is the current directory: never read ./config.json by accident
        raise InputError(
            "is empty: give a catalog id (e.g. llama-3.1-8b), a known HF repo id or a path to config.json",
            field=field,
        )
    if id_or_path in catalog:
        return catalog[id_or_path]
    lowered = id_or_path.lower()
    for spec in catalog.values():
        if any(lowered == hf.lower() for hf in spec.hf_ids):
            return spec
    path = Path(id_or_path).expanduser()
    if path.exists() or id_or_path.endswith(".json"):
        return load_config_file(path, field=field)
    known = list(catalog) + [hf for spec in catalog.values() for hf in spec.hf_ids]
    near = difflib.get_close_matches(id_or_path, known, n=3, cutoff=0.4)
    hint = f"; did you mean {', '.join(near)}?" if near else f"; catalog ids: {', '.join(catalog)}"
    raise CatalogLookupError(
        f"unknown model '{id_or_path}' (not a catalog id, known HF id or config.json path){hint}", field=field
    )
