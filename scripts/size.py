"""``paddock size``: the VRAM calculator (explicit GPU/TP/PP mode) and the instance recommender.

Explicit mode when --gpu, --gpu-memory-gib, --tp or --pp is given; recommendation mode otherwise (needs
--context and --concurrency). Exit 0 when it fits, 1 when nothing fits, 2 on bad input (the flag is named).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import click
import yaml
from rich.console import Console
from rich.table import Table

from serving.catalog import get_model
from serving.catalog.hardware import list_instances
from serving.errors import InputError, SizingError
from serving.sizing import NoFitError, ServingPlan, recommend, size_on_gpu
from serving.sizing.offers import PIN_NOTE_PREFIX
from serving.sizing.settings import DTYPES, ENGINES, KV_CACHE_DTYPES, QUANTIZATIONS
from serving.sizing.versions import image_version

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_STACK = "ephemeral"
"""Stack whose pinned engine image names the default --engine-version (the shipped stacks pin the same)."""

CONTRACT_FIELDS = (
    "weights_gib_per_gpu",
    "kv_cache_gib_per_gpu",
    "kv_cache_tokens",
    "max_concurrency",
    "fits",
    "tensor_parallel_size",
    "pipeline_parallel_size",
    "instance_type",
    "replicas",
    "rejected",
)


def _fail(message: str, code: int) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def _first(*values: int | None) -> int | None:
    return next((v for v in values if v is not None), None)


def stack_config(stack: str) -> tuple[dict[str, Any], str]:
    """(config mapping, file name) of a stack: ``stack`` is a name under stacks/ (``dev`` ->
    stacks/Pulumi.dev.yaml) or a path to a Pulumi stack file. InputError (--stack) when unreadable."""
    project = Path(os.environ.get("PADDOCK_PROJECT_DIR") or ROOT)
    path = Path(stack) if stack.endswith((".yaml", ".yml")) else project / "stacks" / f"Pulumi.{stack}.yaml"
    if not path.is_file():
        raise InputError(f"no stack file {path}", field="--stack")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise InputError(f"{path} is not YAML: {exc}", field="--stack") from None
    config = data.get("config") if isinstance(data, dict) else None
    return (config if isinstance(config, dict) else {}), path.name


def stack_engine_version(stack: str, engine: str) -> tuple[str | None, str]:
    """(version, where) from the image a stack pins; (None, why) when it pins none."""
    config, name = stack_config(stack)
    versions = config.get("paddock:versions")
    key = "vllmImage" if engine == "vllm" else "tgiImage"
    image = versions.get(key) if isinstance(versions, dict) else None
    version = image_version(image if isinstance(image, str) else None)
    where = f"{key} {image} pinned in {name}" if version else f"{name} pins no {key} tag"
    return version, where


def stack_pins_geography(stack: str) -> bool:
    """True when the stack has a residency section that does not allow global inference profiles (the
    default): its Bedrock fallback may only use regional/geo endpoints."""
    residency = stack_config(stack)[0].get("paddock:residency")
    return isinstance(residency, dict) and residency.get("allowGlobalInferenceProfiles") is not True


def _plan(opts: dict[str, Any]) -> ServingPlan:
    model = get_model(opts["model"])
    note = None
    if opts["engine_version"] is None:
        version, where = stack_engine_version(opts["stack"], opts["engine"])
        opts = {**opts, "engine_version": version}
        note = f"engine version {version or 'newest modelled'}: {where} (--stack / --engine-version)"
    plan = _sized(model, opts)
    return plan if note is None else plan.with_notes((note,))


def node_gpus(gpu: str | None) -> int | None:
    """GPUs of one node for ``--gpu``: the instance type's count, or the largest catalog instance of that GPU
    id (None when the catalog has neither, e.g. only ``--gpu-memory-gib``)."""
    if gpu is None:
        return None
    counts = [i.gpus for i in list_instances() if gpu in (i.type, i.gpu.id)]
    return max(counts) if counts else None


def check_tp_within_node(opts: dict[str, Any]) -> None:
    """Tensor parallelism past one node without pipeline parallelism is an error naming ``--tp``: vLLM's
    TP all-reduces every layer, so it stays inside a node's NVLink/PCIe; span nodes with ``--pp``."""
    tp, pp, per_node = opts["tp"], opts["pp"] or 1, node_gpus(opts["gpu"])
    if tp is not None and per_node is not None and tp > per_node and pp == 1:
        raise InputError(
            f"{tp} exceeds the {per_node} GPUs of one {opts['gpu']} node: keep TP within a node and span "
            f"nodes with --pp (e.g. --tp {per_node} --pp {-(-tp // per_node)})",
            field="--tp",
        )


def _sized(model: Any, opts: dict[str, Any]) -> ServingPlan:
    explicit = any(opts[k] is not None for k in ("gpu", "gpu_memory_gib", "tp", "pp"))
    check_tp_within_node(opts)
    common = {
        k: opts[k] for k in ("engine", "engine_version", "dtype", "kv_cache_dtype", "gpu_memory_utilization")
    }
    common["quantization"] = opts["quantization"]
    if explicit:
        return size_on_gpu(
            model,
            gpu=opts["gpu"],
            gpu_memory_gib=opts["gpu_memory_gib"],
            tp=_first(opts["tp"], 1) or 0,
            pp=_first(opts["pp"], 1) or 0,
            max_model_len=_first(opts["max_model_len"], opts["context"]),
            max_num_batched_tokens=opts["max_num_batched_tokens"],
            max_num_seqs=_first(opts["max_num_seqs"], opts["concurrency"]),
            enforce_eager=opts["enforce_eager"],
            region=opts["region"],
            capacity_type=opts["capacity_type"],
            prompt_tokens=opts["prompt_tokens"],
            output_tokens=opts["output_tokens"],
            **common,
        )
    context = _first(opts["context"], opts["max_model_len"])
    if context is None:
        raise InputError(
            "required in recommendation mode (or give --gpu/--tp for explicit sizing)", field="--context"
        )
    if opts["concurrency"] is None:
        raise InputError(
            "required in recommendation mode (or give --gpu/--tp for explicit sizing)", field="--concurrency"
        )
    return recommend(
        model,
        context=context,
        concurrency=opts["concurrency"],
        region=opts["region"],
        capacity_type=opts["capacity_type"],
        headroom=opts["headroom"],
        prompt_tokens=opts["prompt_tokens"],
        output_tokens=opts["output_tokens"],
        max_tpot_ms=opts["max_tpot_ms"],
        allow_pcie_tp=opts["allow_pcie_tp"],
        variants=not opts["exact"],
        **common,
    )


def _money(value: float | None, unit: str) -> str:
    return "unknown" if value is None else f"${value:,.2f}{unit}"


def _cost(plan: ServingPlan) -> str:
    if not plan.offered_on_demand:
        return (
            f"[bold yellow]no list price[/bold yellow]: {plan.instance_type} is not sold On-Demand in "
            f"{plan.region} (see the NOT SOLD ON-DEMAND note)"
        )
    return (
        f"{_money(plan.total_hourly_cost_usd, '/h')} total for {plan.replicas} replica(s) on "
        f"{plan.nodes_total} node(s) ({_money(plan.hourly_cost_usd, '/h')} per replica's share); "
        f"{_money(plan.serving_cost_per_million_output_usd, '')} per 1M output tokens at this load, "
        f"{_money(plan.cost_per_million_tokens_usd, '')} decode-only at {plan.assumed_utilization:.0%} "
        "utilisation"
    )


def render(plan: ServingPlan, console: Console) -> None:
    """Print the plan as a rich table, the explanation and the rejected options."""
    where = f"{plan.instance_type} ({plan.region}, {plan.capacity_type})" if plan.instance_type else plan.gpu
    if not plan.offered_on_demand:
        where += " - NOT SOLD ON-DEMAND"
    table = Table(title=f"{plan.model_id} on {where}", show_header=False)
    table.add_column("", style="bold")
    table.add_column("")
    rows = [
        ("fits", "[green]yes[/green]" if plan.fits else "[red]no[/red]"),
        ("GPUs", f"{plan.gpus_per_node} x {plan.gpu} per node, {plan.nodes_per_replica} node(s) per replica"),
        ("parallelism", f"TP {plan.tensor_parallel_size} x PP {plan.pipeline_parallel_size}"),
        ("replicas", f"{plan.replicas} ({plan.replicas_per_node}/node, {plan.nodes_total} node(s) total)"),
        ("weights / GPU", f"{plan.weights_gib_per_gpu:.2f} GiB (checkpoint {plan.checkpoint_gib:.1f} GiB)"),
        ("KV cache / GPU", f"{plan.kv_cache_gib_per_gpu:.2f} GiB = {plan.kv_cache_tokens:,} tokens"),
        ("max concurrency", f"{plan.max_concurrency:.2f} x {plan.max_model_len} tokens per replica"),
        (
            "serving",
            f"{plan.serving_tokens_per_second:,.0f} output tok/s per replica at "
            f"{plan.concurrency_per_replica} "
            f"request(s) of {plan.prompt_tokens}+{plan.output_tokens} tokens: TTFT ~{plan.ttft_ms:,.0f} ms, "
            f"TPOT ~{plan.tpot_ms:.1f} ms",
        ),
        (
            "decode ceiling",
            f"{plan.decode_tokens_per_second:,.0f} tok/s per replica decode-only at {plan.max_num_seqs} seqs "
            f"({plan.single_stream_tokens_per_second:.0f} tok/s single stream)",
        ),
        (
            "load time",
            f"{plan.load_time_seconds:.0f} s ("
            + ", ".join(f"{k} {v:.0f}s" for k, v in plan.load_time_breakdown)
            + ")",
        ),
        (
            "disk / shm",
            f"root volume {plan.root_volume_gib} GiB, /dev/shm {plan.shm_size_gib:g} GiB"
            + (" (weights cached on local NVMe)" if plan.weights_on_local_nvme else ""),
        ),
        ("cost", _cost(plan)),
        ("engine flags", " ".join(plan.engine_args)),
    ]
    for key, value in rows:
        table.add_row(key, value)
    console.print(table)
    for note in plan.notes:
        style = "bold yellow" if note.startswith(PIN_NOTE_PREFIX) else None
        console.print(f"- {note}", highlight=False, style=style, markup=False)
    if plan.top_options:
        top = Table(title="Best options (first = chosen)")
        for col in ("option", "$/h total", "$/1M out", "TPOT ms", "why"):
            top.add_column(col)
        for alt in plan.top_options:
            top.add_row(
                alt.option,
                _money(alt.total_hourly_cost_usd, ""),
                _money(alt.cost_per_million_output_usd, ""),
                f"{alt.tpot_ms:.1f}",
                alt.why,
            )
        console.print(top)
    if plan.rejected:
        _rejections(plan.rejected, console, title="Options rejected")


def _rejections(rejected: Any, console: Console, *, title: str) -> None:
    table = Table(title=title)
    table.add_column("option", style="bold")
    table.add_column("reason")
    for item in rejected:
        table.add_row(item.option, item.reason)
    console.print(table)


def _no_fit_json(exc: NoFitError) -> dict[str, Any]:
    out: dict[str, Any] = {key: None for key in CONTRACT_FIELDS}
    out.update(
        fits=False, error=str(exc), rejected=[{"option": r.option, "reason": r.reason} for r in exc.rejected]
    )
    return out


@click.command(name="size")
@click.option(
    "--model", required=True, help="Catalog id, known Hugging Face repo id, or path to a config.json."
)
@click.option(
    "--gpu",
    default=None,
    help="GPU catalog id (a10g, l4, l40s, a100-40gb, a100-80gb, h100-80gb, h200, rtx-pro-6000, b200, b300) "
    "or an EC2 instance type.",
)
@click.option("--gpu-memory-gib", type=float, default=None, help="Override the GPU's total memory (GiB).")
@click.option("--tp", type=int, default=None, help="Tensor-parallel size (explicit mode).")
@click.option("--pp", type=int, default=None, help="Pipeline-parallel size (explicit mode).")
@click.option(
    "--dtype", type=click.Choice(DTYPES), default=None, help="Model dtype (default: the checkpoint's)."
)
@click.option("--quantization", type=click.Choice(QUANTIZATIONS), default="none", show_default=True)
@click.option("--kv-cache-dtype", type=click.Choice(KV_CACHE_DTYPES), default="auto", show_default=True)
@click.option("--max-model-len", type=int, default=None, help="Tokens per sequence (default: the model's).")
@click.option(
    "--gpu-memory-utilization", type=float, default=None, help="vLLM fraction / TGI memory fraction."
)
@click.option(
    "--max-num-batched-tokens", type=int, default=None, help="vLLM chunk size / TGI prefill budget."
)
@click.option("--max-num-seqs", type=int, default=None, help="Concurrent sequences per replica.")
@click.option("--engine", type=click.Choice(ENGINES), default="vllm", show_default=True)
@click.option(
    "--engine-version",
    default=None,
    help="Engine version whose accounting to model (default: --stack's pin).",
)
@click.option(
    "--stack",
    default=DEFAULT_STACK,
    show_default=True,
    help="Stack (name under stacks/ or a Pulumi.<stack>.yaml path) whose pinned engine image tag is the "
    "default --engine-version.",
)
@click.option("--enforce-eager", is_flag=True, help="vLLM without CUDA graphs / torch.compile.")
@click.option("--context", type=int, default=None, help="Tokens per request (recommendation mode).")
@click.option(
    "--concurrency", type=int, default=None, help="Concurrent requests to serve (recommendation mode)."
)
@click.option(
    "--prompt-tokens",
    type=int,
    default=None,
    help="Expected prompt tokens per request (with --output-tokens).",
)
@click.option(
    "--output-tokens",
    type=int,
    default=None,
    help="Expected output tokens per request (with --prompt-tokens).",
)
@click.option(
    "--max-tpot-ms", type=float, default=None, help="Reject options slower than this time per output token."
)
@click.option("--allow-pcie-tp", is_flag=True, help="Also search TP > 4 on GPUs without NVLink.")
@click.option(
    "--exact", is_flag=True, help="Search only the given --kv-cache-dtype/--quantization (no fp8 variants)."
)
@click.option(
    "--headroom",
    type=click.FloatRange(0.0, 1.0, max_open=True),
    default=0.1,
    show_default=True,
    help="Spare KV capacity fraction, 0 <= h < 1.",
)
@click.option("--region", default="us-east-1", show_default=True, help="AWS region for prices.")
@click.option(
    "--capacity-type", type=click.Choice(["on-demand", "spot"]), default="on-demand", show_default=True
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def command(as_json: bool, **opts: Any) -> None:
    """Size GPU memory for a model, or recommend the cheapest instance for a context x concurrency."""
    try:
        plan = _plan(opts)
    except InputError as exc:
        _fail(str(exc), 2)
        return
    except NoFitError as exc:
        if as_json:
            click.echo(json.dumps(_no_fit_json(exc)))
        else:
            console = Console()
            console.print(f"[red]nothing fits:[/red] {exc}")
            _rejections(exc.rejected, console, title="Options rejected")
        sys.exit(1)
    except SizingError as exc:
        _fail(str(exc), 1)
        return
    if as_json:
        click.echo(json.dumps(plan.to_dict()))
    else:
        render(plan, Console())
    sys.exit(0 if plan.fits else 1)
