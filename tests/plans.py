"""ServingPlan factories for tests (hand-built, so component tests do not depend on the sizing engine)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from serving.sizing.plan import ServingPlan


def plan_8b_l40s(**overrides: Any) -> ServingPlan:
    """Llama 3.1 8B, bf16, one L40S on g6e.xlarge (figures are plausible, fixed test data)."""
    base = ServingPlan(
        model_id="meta-llama/Llama-3.1-8B-Instruct",
        engine="vllm",
        engine_version="0.11.0",
        instance_type="g6e.xlarge",
        gpu="l40s",
        gpus_per_node=1,
        nodes_per_replica=1,
        replicas=1,
        tensor_parallel_size=1,
        pipeline_parallel_size=1,
        dtype="bfloat16",
        quantization="none",
        kv_cache_dtype="auto",
        max_model_len=8192,
        max_num_seqs=16,
        max_num_batched_tokens=8192,
        gpu_memory_utilization=0.9,
        block_size=16,
        weights_gib_per_gpu=14.96,
        kv_cache_gib_per_gpu=23.1,
        kv_cache_tokens=189_235,
        max_concurrency=23.1,
        fits=True,
        weights_gib_total=14.96,
        root_volume_gib=100,
        checkpoint_gib=14.96,
        weights_on_local_nvme=True,
        cache_disk="nvme",
        cache_gib=21,  # ceil(1.1 x 14.96) + 4
        ephemeral_storage_gib=31,  # 21 + 8 (/tmp) + 2 (logs)
        image_gib=38.41,
        disk_used_gib=69.4,
        disk_capacity_gib=232.8,  # g6e.xlarge 250 GB NVMe
        disk_throughput_mb_s=2000.0,
        download_mb_s=1500.0,
        shm_size_gib=1.0,
        load_time_seconds=240.0,
        decode_tokens_per_second=1400.0,
        hourly_cost_usd=1.861,
        cost_per_million_tokens_usd=0.37,
        engine_args=(
            "--max-model-len",
            "8192",
            "--max-num-seqs",
            "16",
            "--gpu-memory-utilization",
            "0.9",
            "--tensor-parallel-size",
            "1",
        ),
    )
    return replace(base, **overrides)


def plan_70b_h100(**overrides: Any) -> ServingPlan:
    """Llama 3.3 70B FP8 with fp8 KV cache on p5.48xlarge (TP 4)."""
    base = plan_8b_l40s(
        model_id="meta-llama/Llama-3.3-70B-Instruct",
        instance_type="p5.48xlarge",
        gpu="h100-80gb",
        gpus_per_node=4,
        tensor_parallel_size=4,
        quantization="fp8",
        kv_cache_dtype="fp8",
        max_model_len=32768,
        max_num_seqs=64,
        weights_gib_per_gpu=17.2,
        weights_gib_total=68.6,
        checkpoint_gib=131.42,  # online fp8: the bf16 checkpoint is synced
        cache_gib=149,
        ephemeral_storage_gib=159,
        disk_used_gib=197.4,
        disk_capacity_gib=28610.2,  # p5.48xlarge 8 x 3.84 TB NVMe
        root_volume_gib=300,
        shm_size_gib=16.0,
        load_time_seconds=610.0,
        hourly_cost_usd=55.04,
        engine_args=(
            "--max-model-len",
            "32768",
            "--max-num-seqs",
            "64",
            "--gpu-memory-utilization",
            "0.92",
            "--tensor-parallel-size",
            "4",
            "--quantization",
            "fp8",
            "--kv-cache-dtype",
            "fp8",
        ),
    )
    return replace(base, **overrides)


def fake_planner(cfg: Any) -> dict[str, ServingPlan]:
    """A planner for offline runs in tests: 70B-class models get the H100 plan, others the L40S plan."""
    return {
        m.alias: plan_70b_h100() if "70b" in m.model else plan_8b_l40s(model_id=m.model) for m in cfg.models
    }
