"""Serving-throughput model against published benchmarks (bench/data/throughput-benchmarks.csv).

For each case: size the replica (serving.sizing.size_on_gpu with the case's GPU, TP, quantization and KV
dtype,
max_model_len = prompt + output rounded up to a power of two, the engine defaults otherwise), estimate the
closed-loop serving figures (serving/sizing/throughput.py) at the case's concurrency and prompt/output mix,
and print predicted / published. Goal: every ratio within 0.8-1.2.

    uv run python bench/throughput_accuracy.py [--cases PATH]
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

from serving.catalog import get_gpu, get_model
from serving.sizing import size_on_gpu
from serving.sizing.core import memory_for
from serving.sizing.settings import resolve
from serving.sizing.throughput import ServingEstimate, serving_estimate

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = ROOT / "bench" / "data" / "throughput-benchmarks.csv"


def predict(row: dict[str, str]) -> ServingEstimate:
    """The model's estimate for one CSV row."""
    model = get_model(row["model"])
    gpu = get_gpu(row["gpu"])
    tp = int(row["tp"])
    prompt, output, conc = int(row["prompt_tokens"]), int(row["output_tokens"]), int(row["concurrency"])
    length = 1 << (prompt + output - 1).bit_length()
    plan = size_on_gpu(
        model,
        gpu=gpu.id,
        tp=tp,
        quantization=row["quantization"],
        kv_cache_dtype=row["kv_cache_dtype"],
        max_model_len=min(length, model.max_position_embeddings),
    )
    settings = resolve(
        model,
        gpu=gpu,
        total_gib=gpu.total_memory_gib,
        engine_version=plan.engine_version,
        quantization=row["quantization"],
        kv_cache_dtype=row["kv_cache_dtype"],
        max_model_len=plan.max_model_len,
    )
    mem = memory_for(model, settings, total_gib=gpu.total_memory_gib, tp=tp, pp=1)
    return serving_estimate(
        model, settings, mem, gpu, tp=tp, pp=1, concurrency=conc, prompt_tokens=prompt, output_tokens=output
    )


def value(est: ServingEstimate, metric: str) -> float:
    """The estimate's figure for a CSV metric name."""
    return {
        "output_tok_s": est.output_tokens_per_second,
        "tpot_ms": est.tpot_s * 1000,
        "ttft_ms": est.ttft_s * 1000,
    }[metric]


def main() -> None:
    """Print the ratio table and the summary."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cases", type=Path, default=DEFAULT)
    args = parser.parse_args()
    ratios: dict[str, list[float]] = {}
    print(f"{'case':4} {'setup':44} {'c':>4} {'metric':12} {'published':>10} {'model':>10} {'ratio':>6}")
    with args.cases.open(newline="") as handle:
        for row in csv.DictReader(handle):
            est = predict(row)
            got, published = value(est, row["metric"]), float(row["value"])
            ratio = got / published
            ratios.setdefault(row["metric"], []).append(ratio)
            setup = (
                f"{row['model']} {row['quantization']} {row['gpu']} TP{row['tp']} "
                f"{row['prompt_tokens']}/{row['output_tokens']}"
            )
            print(
                f"{row['case_id']:4} {setup:44} {row['concurrency']:>4} {row['metric']:12} "
                f"{published:10.2f} {got:10.2f} {ratio:6.2f}"
            )
    every = [r for rs in ratios.values() for r in rs]
    print(f"\nwithin 0.8-1.2: {sum(0.8 <= r <= 1.2 for r in every)}/{len(every)}")
    for metric, rs in ratios.items():
        print(f"  {metric:12} ratios {min(rs):.2f}-{max(rs):.2f} ({len(rs)} cases)")


if __name__ == "__main__":
    main()
