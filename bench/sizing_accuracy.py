"""Sizing accuracy against published engine startup logs (bench/data/vllm-calibration-cases.csv).

For every case whose model we can describe (catalog model or a config.json fixture) we predict the weights per
GPU ("Model loading took") and the KV capacity ("GPU KV cache size" tokens; TGI "max batch total tokens";
the available KV GiB when no token count was logged), and print the relative errors plus a summary.
Goals: weights within 1 %, KV tokens within 3 %.

    uv run python bench/sizing_accuracy.py [--cases PATH]
"""

from __future__ import annotations

import argparse
import csv
import re
from dataclasses import dataclass
from pathlib import Path

from serving.catalog import get_model
from serving.errors import InputError
from serving.sizing import size_on_gpu

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures" / "configs"
#: model column of the CSV -> (catalog id or fixture file, quantization)
MODELS = {
    "meta-llama/Llama-3.1-8B-Instruct": ("llama-3.1-8b", "none"),
    "RedHatAI/Llama-3.3-70B-Instruct-fp8-dynamic": ("llama-3.3-70b", "fp8"),
    "meta-llama/Llama-4-Scout-17B-16E-Instruct": ("llama-4-scout", "none"),
    "Qwen/Qwen2.5-7B-Instruct": (str(FIXTURES / "qwen2.5-7b-instruct.json"), "none"),
    "mistralai/Mixtral-8x7B-Instruct-v0.1": (str(FIXTURES / "mixtral-8x7b-instruct.json"), "none"),
    "mistralai/Mistral-Small-3.1-24B-Instruct-2503": (
        str(FIXTURES / "mistral-small-3.1-24b-instruct.json"),
        "none",
    ),
    "meta-llama/Meta-Llama-3.1-8B-Instruct (local copy)": ("llama-3.1-8b", "none"),
    "deepseek-ai/DeepSeek-R1-Distill-Llama-8B": ("llama-3.1-8b", "none"),
    "(not named in the doc; 14.9888 GB weights, 131072 ctx)": ("llama-3.1-8b", "none"),
    "meta-llama/Meta-Llama-3.1-8B-Instruct": ("llama-3.1-8b", "none"),
    "Meta-Llama-3.1-405B-Instruct-FP8 (local path /models/...)": ("llama-3.1-405b-fp8", "none"),
    # pre-quantized RedHatAI checkpoints: the base architecture served with the checkpoint's scheme
    "RedHatAI/Qwen2.5-7B-Instruct-fp8-dynamic": (str(FIXTURES / "qwen2.5-7b-instruct.json"), "fp8"),
    "RedHatAI/Qwen2.5-7B-Instruct-quantized.w8a8": (str(FIXTURES / "qwen2.5-7b-instruct.json"), "int8"),
    "RedHatAI/Llama-3.3-70B-Instruct-quantized.w8a8": ("llama-3.3-70b", "int8"),
    "RedHatAI/Mistral-Small-3.1-24B-Instruct-2503-quantized.w8a8": (
        str(FIXTURES / "mistral-small-3.1-24b-instruct.json"),
        "int8",
    ),
    "RedHatAI/Meta-Llama-3.1-8B-Instruct-quantized.w4a16": ("llama-3.1-8b", "int4"),
    "RedHatAI/Meta-Llama-3.1-8B-Instruct-quantized.w8a8": ("llama-3.1-8b", "int8"),
    # a Qwen2.5-72B fine-tune with the same config.json shapes
    "moonshotai/Kimi-Dev-72B": (str(FIXTURES / "qwen2.5-72b-instruct.json"), "none"),
}
GPUS = {
    "H100": "h100-80gb",
    "H200": "h200",
    "A100 40GB": "a100-40gb",
    "A100 80GB": "a100-80gb",
    "A100": "a100-80gb",
    "A10G": "a10g",
    "A10": "a10g",
    "24GB-class": "a10g",
    "L40S": "l40s",
    "L4": "l4",
}
#: engine version when the row leaves it blank (see the row's notes)
DEFAULT_VERSION = {"V31": "0.7.0", "P01": "0.5.3"}


@dataclass
class Row:
    """One evaluated case."""

    case: str
    what: str
    weights_err: float | None
    kv_err: float | None
    kv_kind: str


def _num(text: str) -> float | None:
    match = re.match(r"\s*([0-9.]+)", text or "")
    return float(match.group(1)) if match else None


def _model(name: str) -> tuple[str, str] | None:
    """(model reference, quantization) for a CSV model name: the table above, a catalog/HF id, or a fixture
    config named after the repository (``Qwen/Qwen3-14B`` -> tests/fixtures/configs/qwen3-14b.json)."""
    if name in MODELS:
        return MODELS[name]
    try:
        return get_model(name).id, "none"
    except InputError:
        pass
    base = name.split(" ")[0].split("/")[-1].lower()
    for candidate in (base, base.removesuffix("-instruct"), f"{base}-instruct"):
        if (FIXTURES / f"{candidate}.json").exists():
            return str(FIXTURES / f"{candidate}.json"), "none"
    return None


def _quantization(text: str, default: str) -> str:
    text = text.lower()
    if not text or text == "none":
        return default
    for key, quant in (
        ("int4", "int4"),
        ("w4a16", "int4"),
        ("awq", "int4"),
        ("gptq", "int4"),
        ("int8", "int8"),
        ("w8a8", "int8"),
        ("fp8", "fp8"),
        ("compressed-tensors", "fp8"),
    ):
        if key in text:
            return quant
    return default


def _gpu(text: str) -> str:
    for key, gpu in GPUS.items():
        if text.startswith(key):
            return gpu
    raise KeyError(text)


def evaluate(row: dict[str, str]) -> Row | None:
    """Predict one CSV row; None when the model is not describable here."""
    resolved = _model(row["model"])
    if resolved is None:
        return None
    model_ref, quant = resolved
    model = get_model(model_ref)
    engine = "tgi" if row["engine"] == "TGI" else "vllm"
    version = re.sub(r"^TGI\s*", "", row["engine_version"]).split(" ")[0] or DEFAULT_VERSION.get(
        row["case_id"]
    )
    max_len = int(_num(row["max_model_len"]) or model.max_position_embeddings)
    prefill = None
    if engine == "tgi":
        max_len = int(_num(row["max_model_len"].replace("max_total_tokens", "")) or 4096)
        prefill = int(re.search(r"max_batch_prefill_tokens (\d+)", row["max_model_len"]).group(1))  # type: ignore[union-attr]
    util = _num(row["gpu_memory_utilization"].replace("cuda_memory_fraction", ""))
    plan = size_on_gpu(
        model,
        gpu=_gpu(row["gpu"]),
        gpu_memory_gib=_num(row["gpu_total_mem_gib_logged"]),
        tp=int(row["tp"] or 1),
        pp=int(row["pp"] or 1),
        engine=engine,
        engine_version=version,
        dtype=row["dtype"] if row["dtype"] in ("bfloat16", "float16", "float32") else None,
        quantization=_quantization(row["quantization"], quant),
        kv_cache_dtype="fp8" if row["kv_cache_dtype"] == "fp8" else "auto",
        max_model_len=min(max_len, model.max_position_embeddings),
        gpu_memory_utilization=util,
        max_num_batched_tokens=prefill or (int(_num(row["max_num_batched_tokens"]) or 0) or None),
        max_num_seqs=int(_num(row["max_num_seqs"]) or 0) or None,
        enforce_eager=row["enforce_eager"] == "True",
    )
    weights = _num(row["weights_gib"])
    w_err = plan.weights_gib_per_gpu / weights - 1 if weights else None
    logged_tokens = _num(row["kv_cache_tokens"]) or _num(row["tgi_max_batch_total_tokens"])
    if logged_tokens:
        kv_err, kind = plan.kv_cache_tokens / logged_tokens - 1, "tokens"
    elif _num(row["available_kv_cache_gib"]):
        kv_err, kind = plan.kv_cache_gib_per_gpu / float(_num(row["available_kv_cache_gib"]) or 1) - 1, "GiB"
    else:
        kv_err, kind = None, "-"
    name = Path(model.id).stem if model.id.endswith(".json") else model.id
    what = f"{name} {engine} {plan.engine_version} TP{plan.tensor_parallel_size}"
    return Row(case=row["case_id"], what=what, weights_err=w_err, kv_err=kv_err, kv_kind=kind)


def _pct(value: float | None) -> str:
    return "      -" if value is None else f"{value * 100:+6.2f}%"


def main() -> None:
    """Print per-case errors and the summary."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cases", type=Path, default=ROOT / "bench" / "data" / "vllm-calibration-cases.csv")
    args = parser.parse_args()
    rows, skipped = [], []
    with args.cases.open(newline="") as handle:
        for raw in csv.DictReader(handle):
            result = evaluate(raw)
            (rows.append(result) if result else skipped.append(raw["case_id"]))
    print(f"{'case':5} {'model / engine':48} {'weights':>8} {'KV':>8}  KV metric")
    for r in rows:
        print(f"{r.case:5} {r.what:48} {_pct(r.weights_err)} {_pct(r.kv_err)}  {r.kv_kind}")
    w = [abs(r.weights_err) for r in rows if r.weights_err is not None]
    k = [abs(r.kv_err) for r in rows if r.kv_err is not None and r.kv_kind == "tokens"]
    print(
        f"\nweights: {len(w)} cases, mean |err| {sum(w) / len(w) * 100:.2f}%, max {max(w) * 100:.2f}%, "
        f"within 1%: {sum(e <= 0.01 for e in w)}/{len(w)}"
    )
    print(
        f"KV tokens: {len(k)} cases, mean |err| {sum(k) / len(k) * 100:.2f}%, max {max(k) * 100:.2f}%, "
        f"within 3%: {sum(e <= 0.03 for e in k)}/{len(k)}"
    )
    if skipped:
        print(f"skipped (architecture not describable from the row): {', '.join(skipped)}")


if __name__ == "__main__":
    main()
