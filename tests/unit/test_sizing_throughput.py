"""Serving throughput model: closed-loop TTFT/TPOT/tokens per second vs published figures and its shape."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from bench.throughput_accuracy import predict, value
from serving.catalog import get_gpu, get_model
from serving.sizing.core import memory_for
from serving.sizing.settings import resolve
from serving.sizing.throughput import serving_estimate

CASES = Path(__file__).resolve().parents[2] / "bench" / "data" / "throughput-benchmarks.csv"


def _rows() -> list[dict[str, str]]:
    with CASES.open(newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.parametrize("row", _rows(), ids=lambda r: r["case_id"])
def test_published_throughput_tpot_and_ttft_within_20_percent(row: dict[str, str]) -> None:
    assert value(predict(row), row["metric"]) / float(row["value"]) == pytest.approx(1.0, abs=0.2)


def test_every_case_names_its_source() -> None:
    rows = _rows()
    assert len(rows) >= 15
    assert all(r["source_url"].startswith("https://") and r["accessed"] for r in rows)


def _estimate(concurrency: int, prompt: int = 5000, output: int = 500) -> object:
    model, gpu = get_model("llama-3.3-70b"), get_gpu("h100-80gb")
    s = resolve(model, gpu=gpu, total_gib=gpu.total_memory_gib, quantization="fp8", max_model_len=8192)
    mem = memory_for(model, s, total_gib=gpu.total_memory_gib, tp=2, pp=1)
    return serving_estimate(
        model, s, mem, gpu, tp=2, pp=1, concurrency=concurrency, prompt_tokens=prompt, output_tokens=output
    )


def test_batching_trades_latency_for_throughput() -> None:
    one, many = _estimate(1), _estimate(50)
    assert many.output_tokens_per_second > 10 * one.output_tokens_per_second  # type: ignore[attr-defined]
    assert many.tpot_s > 2 * one.tpot_s and many.ttft_s > one.ttft_s  # type: ignore[attr-defined]
    # prefill interference: the same load with short prompts streams faster
    short = _estimate(50, prompt=500)
    assert short.tpot_s < many.tpot_s  # type: ignore[attr-defined]


def test_running_batch_is_bounded_by_max_num_seqs_and_kv() -> None:
    huge = _estimate(100_000)
    assert huge.running <= 1024 and huge.concurrency == 100_000  # type: ignore[attr-defined]
