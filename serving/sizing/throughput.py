"""Serving throughput under continuous batching with chunked prefill (what a load test measures).

A closed loop of ``concurrency`` clients, each sending a ``prompt``-token request and reading ``output``
tokens (``vllm bench serve --max-concurrency``, NIM/AIPerf). In steady state every engine step decodes one
token for each running sequence and mixes in prefill chunks of the requests that just arrived: over one
request's life the engine runs ``output`` steps for each sequence and prefills ``prompt`` tokens for it, so an
average step carries ``B`` decode tokens plus ``B x prompt / output`` prefill tokens (capped by
max_num_batched_tokens), where ``B`` = min(concurrency, max_num_seqs, what the KV cache holds at the mix's
average length).

Step time = memory time (weights the step touches + KV of every running sequence at its average length,
at BANDWIDTH_EFFICIENCY of the datasheet) + compute time of all the step's tokens (2 x active parameters
per token + attention over the context, at SERVING_COMPUTE_EFFICIENCY of the dense peak) + TP all-reduces
+ STEP_OVERHEAD_S (scheduler, sampler, launch). The memory and compute parts are summed, not overlapped:
at mixed prefill/decode batches the GEMMs of a step are neither purely bandwidth- nor compute-bound, and the
sum fits the published NIM sweep (bench/throughput_accuracy.py); at decode-only batches the sum is within
a few % of the max because one term dominates.

TPOT = the average step time (decode tokens of a sequence are spaced one step apart, prefill interference
included). TTFT = the steps that prefill one prompt in chunks of max_num_batched_tokens - B tokens, each
a step with that chunk (the prefill "service time"), plus the M/D/1 wait behind other clients' prefills at
the arrival rate the loop implies (B / request latency), plus half a step for the running step to end.
Output tokens/s = B x output / (TTFT + (output - 1) x TPOT); more clients than B queue (their TTFT grows).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from serving.catalog.hardware import GpuSpec
from serving.catalog.models import ModelSpec
from serving.sizing.estimates import (
    ALLREDUCE_S,
    BANDWIDTH_EFFICIENCY,
    peak_flops,
    weight_read_bytes,
)
from serving.sizing.memory import MemoryResult
from serving.sizing.settings import EngineSettings
from serving.sizing.weights import active_params_per_token, stage_layers

SERVING_COMPUTE_EFFICIENCY = 0.50
"""Share of the dense tensor peak that mixed prefill/decode steps reach: fitted on the NIM sweep (TTFT of a
5000-token prompt and TPOT at c=50 are prefill-bound); the decode roofline's COMPUTE_EFFICIENCY is 0.55."""
STEP_OVERHEAD_S = 0.0007
"""Per-step engine overhead (s): scheduler, sampler, input preparation (fitted on the c=1 TPOTs)."""


MAX_PREFILL_LOAD = 0.9
"""Cap on the prefill queue's load in the M/D/1 wait (beyond it the queue grows without bound)."""


@dataclass(frozen=True, kw_only=True)
class ServingEstimate:
    """Latency and throughput of one replica under a closed-loop load."""

    concurrency: int
    """Clients sending requests back to back."""
    running: int
    """Sequences the engine runs at once (the rest queue)."""
    prompt_tokens: int
    output_tokens: int
    ttft_s: float
    """Time to first token of one request, seconds (queueing behind a full batch excluded)."""
    tpot_s: float
    """Time per output token after the first, seconds."""
    output_tokens_per_second: float
    """Output tokens/s of the replica (all running sequences)."""
    prompt_tokens_per_second: float
    """Prompt tokens/s prefilled at that rate."""


def _kv_bytes(m: ModelSpec, s: EngineSettings, tp: int, pp: int, context: float) -> float:
    """KV bytes one sequence of ``context`` tokens makes the busiest stage read per step."""
    per_layer = 2 * max(1, m.num_kv_heads // tp) * m.head_dim * s.kv_bytes
    total = 0.0
    for layer in max(stage_layers(m, pp), key=len):
        if layer in m.chunked_layers and m.attention_chunk_size:
            total += per_layer * min(context, m.attention_chunk_size)
        elif layer in m.sliding_layers and m.sliding_window and s.engine == "vllm":
            total += per_layer * min(context, m.sliding_window)
        else:
            total += per_layer * context
    return total


def _attention_flops(m: ModelSpec, tokens: float, context: float, tp: int, pp: int) -> float:
    """FLOPs of attention scores and values for ``tokens`` query tokens over ``context`` keys (per GPU)."""
    return 4 * tokens * context * m.num_heads * m.head_dim * m.num_layers / (tp * pp)


def step_time(
    m: ModelSpec,
    s: EngineSettings,
    mem: MemoryResult,
    gpu: GpuSpec,
    *,
    tp: int,
    pp: int,
    decode: float,
    prefill: float,
    context: float,
) -> float:
    """Seconds of one engine step decoding ``decode`` sequences of average ``context`` tokens and
    prefilling ``prefill`` prompt tokens (attending to ``context`` on average)."""
    bandwidth = gpu.memory_bandwidth_gbps * 1e9 * BANDWIDTH_EFFICIENCY
    kv = decode * _kv_bytes(m, s, tp, pp, context)
    t_mem = (weight_read_bytes(m, s, mem, tp, pp, decode + prefill) + kv) / bandwidth
    tokens = decode + prefill
    flops = 2 * active_params_per_token(m) / (tp * pp) * tokens
    flops += _attention_flops(m, tokens, context, tp, pp)
    t_comp = flops / (peak_flops(gpu, s) * SERVING_COMPUTE_EFFICIENCY)
    layers = max(len(r) for r in stage_layers(m, pp))
    t_comm = 2 * layers * ALLREDUCE_S[gpu.nvlink] if tp > 1 else 0.0
    return t_mem + t_comp + t_comm + STEP_OVERHEAD_S


def serving_estimate(
    m: ModelSpec,
    s: EngineSettings,
    mem: MemoryResult,
    gpu: GpuSpec,
    *,
    tp: int,
    pp: int,
    concurrency: int,
    prompt_tokens: int,
    output_tokens: int,
) -> ServingEstimate:
    """TTFT, TPOT and tokens/s of one replica serving ``concurrency`` clients of the given mix."""
    prompt, output = max(1, prompt_tokens), max(1, output_tokens)
    length = prompt + output
    kv_fit = mem.max_concurrency * s.max_model_len / length if length else 0.0
    running = max(1, min(concurrency, s.max_num_seqs, math.floor(kv_fit) or 1))
    context = prompt + output / 2
    budget = max(1, s.max_num_batched_tokens - running)
    prefill = min(running * prompt / output, budget)
    tpot = step_time(m, s, mem, gpu, tp=tp, pp=pp, decode=running, prefill=prefill, context=context)
    chunks = math.ceil(prompt / budget)
    chunk = prompt / chunks
    chunk_step = step_time(
        m, s, mem, gpu, tp=tp, pp=pp, decode=running - 1, prefill=chunk, context=prompt / 2
    )
    service = chunks * chunk_step
    ttft = service + (tpot / 2 if running > 1 else 0.0)
    for _ in range(4):  # prefills queue behind each other: M/D/1 wait at the arrival rate they imply
        rate = running / (ttft + (output - 1) * tpot)
        load = min(MAX_PREFILL_LOAD, rate * service) if running > 1 else 0.0
        ttft = service + load * service / (2 * (1 - load)) + (tpot / 2 if running > 1 else 0.0)
    latency = ttft + (output - 1) * tpot
    rate = running / latency
    return ServingEstimate(
        concurrency=concurrency,
        running=running,
        prompt_tokens=prompt,
        output_tokens=output,
        ttft_s=ttft,
        tpot_s=tpot,
        output_tokens_per_second=rate * output,
        prompt_tokens_per_second=rate * prompt,
    )
