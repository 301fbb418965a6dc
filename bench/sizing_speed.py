"""Speed of the sizing engine: one explicit sizing call and a whole-catalog recommendation search.

Goals: one sizing call < 20 ms, the whole catalog search < 0.5 s. Prints the first (cold: catalog parsing and
weight tables not yet cached) and the median of repeated (warm) calls, in milliseconds.

    uv run python bench/sizing_speed.py [--repeat N]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

from serving.catalog import list_instances, list_models
from serving.sizing import recommend, size_on_gpu
from serving.sizing.weights import stage_weight_bytes


def _time(fn: Callable[[], object], repeat: int) -> tuple[float, float]:
    start = time.perf_counter()
    fn()
    cold = (time.perf_counter() - start) * 1000
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        runs.append((time.perf_counter() - start) * 1000)
    return cold, statistics.median(runs)


def main() -> None:
    """Print the timings."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    start = time.perf_counter()
    models, instances = list_models(), list_instances()
    print(
        f"catalog load: {(time.perf_counter() - start) * 1000:.1f} ms "
        f"({len(models)} models, {len(instances)} instances)"
    )
    cases: list[tuple[str, Callable[[], object]]] = [
        ("size_on_gpu llama-3.1-8b h100 TP1", lambda: size_on_gpu("llama-3.1-8b", gpu="h100-80gb")),
        (
            "size_on_gpu llama-3.1-405b h200 TP8",
            lambda: size_on_gpu("llama-3.1-405b", gpu="h200", tp=8, max_model_len=8192),
        ),
        (
            "size_on_gpu llama-4-maverick h200 TP8",
            lambda: size_on_gpu("llama-4-maverick", gpu="h200", tp=8, max_model_len=32768),
        ),
        (
            "recommend llama-3.1-8b 32k x 64 (whole catalog)",
            lambda: recommend("llama-3.1-8b", context=32768, concurrency=64),
        ),
        (
            "recommend llama-3.3-70b 32k x 64 (whole catalog)",
            lambda: recommend("llama-3.3-70b", context=32768, concurrency=64),
        ),
        (
            "recommend llama-3.1-405b 8k x 16 (whole catalog)",
            lambda: recommend("llama-3.1-405b", context=8192, concurrency=16),
        ),
        (
            "recommend llama-4-maverick 32k x 32 (whole catalog)",
            lambda: recommend("llama-4-maverick", context=32768, concurrency=32),
        ),
    ]
    print(f"{'call':52} {'cold ms':>9} {'warm median ms':>15}")
    for name, fn in cases:
        stage_weight_bytes.cache_clear()
        cold, warm = _time(fn, args.repeat)
        print(f"{name:52} {cold:9.2f} {warm:15.2f}")


if __name__ == "__main__":
    main()
