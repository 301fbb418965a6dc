"""What the recommender searches on one instance: TP layouts (PCIe-capped) and engine-option variants.

Variants (``search``, what ``paddock size`` asks for; deployments keep the stack's settings) on GPUs with FP8
tensor cores (Ada, Hopper, Blackwell), with vLLM: fp8 KV cache (the vLLM recipes' default there: half the KV
bytes per token, so twice the tokens in the same memory) when the request left ``--kv-cache-dtype auto``, and
the model's official FP8 checkpoint (catalog ``fp8_checkpoint``) when it asked for no quantization.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from serving.catalog.hardware import InstanceSpec
from serving.catalog.models import ModelSpec, get_model
from serving.errors import InputError
from serving.sizing.settings import check_parallelism

MAX_PCIE_TP = 4
"""Largest TP searched on GPUs without NVLink unless asked: beyond it the two all-reduces per layer cross
PCIe switches and the host bridge between the CPU sockets of an 8-GPU PCIe node (g6e.48xlarge, g7e.48xlarge),
which costs more per token than splitting the node into replicas or TP4 x PP2 saves."""


@dataclass(frozen=True, kw_only=True)
class Variant:
    """Engine options searched on one instance: the request's, fp8 KV cache, the official FP8 checkpoint."""

    label: str
    """"" for the request as given, else what changed (``fp8 KV cache``, the FP8 checkpoint's HF id)."""
    model: ModelSpec
    quantization: str
    kv_cache_dtype: str


def engine_variants(
    model: ModelSpec, inst: InstanceSpec, *, engine: str, quantization: str, kv_cache_dtype: str, search: bool
) -> list[Variant]:
    """The request's own settings first, then the variants worth trying on ``inst``."""
    base = Variant(label="", model=model, quantization=quantization, kv_cache_dtype=kv_cache_dtype)
    if not search or engine != "vllm" or not inst.gpu.fp8:
        return [base]
    weights = [base]
    if model.fp8_checkpoint and quantization == "none" and model.checkpoint_quantization == "none":
        spec = get_model(model.fp8_catalog_id) if model.fp8_catalog_id else model
        quant = "none" if model.fp8_catalog_id else "fp8"
        weights.append(
            Variant(label=model.fp8_checkpoint, model=spec, quantization=quant, kv_cache_dtype=kv_cache_dtype)
        )
    out = list(weights)
    if kv_cache_dtype == "auto":
        for v in weights:
            label = ", ".join(x for x in (v.label, "fp8 KV cache") if x)
            out.append(dataclasses.replace(v, label=label, kv_cache_dtype="fp8"))
    return out


def tp_layouts(
    model: ModelSpec, inst: InstanceSpec, *, engine: str, allow_pcie_tp: bool
) -> tuple[list[tuple[int, int]], str | None]:
    """(TP, PP=1) sizes to try on one node, and why larger ones were skipped over PCIe (None if none were)."""
    out, skipped = [], None
    for tp in (1, 2, 4, 8):
        if tp > inst.gpus:
            continue
        try:
            check_parallelism(model, tp, 1, engine=engine)
        except InputError:
            continue
        if tp > MAX_PCIE_TP and not inst.gpu.nvlink and not allow_pcie_tp:
            skipped = (
                f"TP{tp} over PCIe (no NVLink on {inst.gpu.id}) is not searched beyond TP{MAX_PCIE_TP}; "
                "pass --allow-pcie-tp to consider it"
            )
            continue
        out.append((tp, 1))
    return out, skipped
