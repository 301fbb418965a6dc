"""GPU and EC2 instance catalogs, on-demand prices and Bedrock Claude prices (typed views of the data)."""

from __future__ import annotations

import difflib
import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from serving.catalog._data import load_file, number, optional_number, records
from serving.errors import CatalogError, CatalogLookupError

#: Regions whose prices the catalog stores.
REGIONS: tuple[str, ...] = ("us-east-1", "us-west-2", "eu-central-1", "eu-west-1")


@dataclass(frozen=True, kw_only=True)
class GpuSpec:
    """One GPU model as an engine sees it."""

    id: str
    """Catalog id (``h100-80gb``)."""
    name: str
    total_memory_gib: float
    """Total memory as ``cudaMemGetInfo`` reports it (GiB); what vLLM multiplies by the utilisation."""
    memory_bandwidth_gbps: float
    """Datasheet memory bandwidth, GB/s (10**9 bytes/s)."""
    bf16_tflops: float
    """Dense BF16 tensor throughput, TFLOP/s."""
    fp8_tflops: float | None
    """Dense FP8 tensor throughput, TFLOP/s; None without FP8 tensor cores."""
    int8_tops: float | None
    """Dense INT8 tensor throughput, TOP/s."""
    fp8: bool
    """Hardware FP8 support (Ada, Hopper)."""
    nvlink: bool
    """GPUs of one instance are connected by NVLink/NVSwitch."""
    architecture: str


@dataclass(frozen=True, kw_only=True)
class InstanceSpec:
    """One EC2 GPU instance type."""

    type: str
    gpu: GpuSpec
    gpus: int
    vcpu: int
    memory_gib: float
    """Instance RAM, GiB."""
    nvme_gb: float
    """Local instance-store NVMe, GB (decimal); 0 when none."""
    network_gbps: float
    """Network bandwidth, Gbit/s (burst figure when ``network_burst``)."""
    network_burst: bool
    efa: bool
    """Elastic Fabric Adapter available (multi-node NCCL)."""


@dataclass(frozen=True, kw_only=True)
class BedrockPrice:
    """On-demand price of one Claude tier on Bedrock, USD per 1M tokens."""

    id: str
    """Tier id (``claude-sonnet``)."""
    name: str
    model_id: str
    input_usd_per_mtok: float
    output_usd_per_mtok: float
    regional_premium: float
    """Extra fraction charged by regional/geo endpoints (0.10 = +10 %)."""

    def price(self, *, regional: bool) -> tuple[float, float]:
        """(input, output) USD per 1M tokens for a global (False) or regional/geo (True) endpoint."""
        factor = 1.0 + self.regional_premium if regional else 1.0
        return self.input_usd_per_mtok * factor, self.output_usd_per_mtok * factor


@dataclass(frozen=True, kw_only=True)
class BedrockOptions:
    """Bedrock price options as multipliers of the on-demand price (bedrock.yaml)."""

    cache_read_factor: float
    """Prompt tokens read from the prompt cache, x the input price."""
    cache_write_factor: float
    """Prompt tokens written to the prompt cache, x the input price."""
    batch_factor: float
    """Batch inference, x the on-demand price (input and output)."""


Purchase = Literal["on-demand", "capacity-blocks"]
"""How AWS sells an instance type in a region: On-Demand, or only through EC2 Capacity Blocks."""


@dataclass(frozen=True, kw_only=True)
class Availability:
    """Whether AWS sells one instance type On-Demand in one region (the ``offered`` field of prices.yaml)."""

    instance_type: str
    region: str
    offered: bool
    """True when AWS sells the type On-Demand in the region, per the price list of ``as_of``."""
    purchase: Purchase | None
    """"on-demand" when offered; "capacity-blocks" when AWS sells the type only through EC2 Capacity Blocks
    (no On-Demand list price anywhere); None when not offered and nothing else is recorded for the region."""
    as_of: str
    """Date (``YYYY-MM-DD``) of the AWS price list that says so."""

    def describe(self) -> str:
        """A phrase for notes/rejections: "not sold On-Demand in eu-central-1 (price list 2026-11-23)"."""
        if self.offered:
            return f"sold On-Demand in {self.region} (price list {self.as_of})"
        if self.purchase == "capacity-blocks":
            return (
                "no On-Demand list price in any region (sold through EC2 Capacity Blocks only; "
                f"price list {self.as_of})"
            )
        return f"not sold On-Demand in {self.region} (price list {self.as_of})"


@dataclass(frozen=True, kw_only=True)
class _PriceRow:
    usd_per_hour: float
    availability: Availability


def _unknown(kind: str, value: str, known: list[str], field: str) -> CatalogLookupError:
    near = difflib.get_close_matches(value, known, n=3, cutoff=0.4)
    hint = f"; did you mean {', '.join(near)}?" if near else f"; known: {', '.join(sorted(known))}"
    return CatalogLookupError(f"unknown {kind} '{value}'{hint}", field=field)


@functools.cache
def _gpus() -> dict[str, GpuSpec]:
    out: dict[str, GpuSpec] = {}
    for rec in records("gpus.yaml", "gpus"):
        where = f"gpus.yaml:{rec.get('id')}"
        out[str(rec["id"])] = GpuSpec(
            id=str(rec["id"]),
            name=str(rec["name"]),
            total_memory_gib=number(rec, "total_memory_gib", where=where),
            memory_bandwidth_gbps=number(rec, "memory_bandwidth_gbps", where=where),
            bf16_tflops=number(rec, "bf16_tflops", where=where),
            fp8_tflops=optional_number(rec, "fp8_tflops", where=where),
            int8_tops=optional_number(rec, "int8_tops", where=where),
            fp8=bool(rec["fp8"]),
            nvlink=bool(rec["nvlink"]),
            architecture=str(rec["architecture"]),
        )
    return out


@functools.cache
def _instances() -> dict[str, InstanceSpec]:
    gpus = _gpus()
    out: dict[str, InstanceSpec] = {}
    for rec in records("instances.yaml", "instances"):
        where = f"instances.yaml:{rec.get('type')}"
        gpu_id = str(rec["gpu"])
        if gpu_id not in gpus:
            raise CatalogError(f"{where}: gpu '{gpu_id}' is not in gpus.yaml")
        out[str(rec["type"])] = InstanceSpec(
            type=str(rec["type"]),
            gpu=gpus[gpu_id],
            gpus=int(number(rec, "gpus", where=where)),
            vcpu=int(number(rec, "vcpu", where=where)),
            memory_gib=number(rec, "memory_gib", where=where),
            nvme_gb=number(rec, "nvme_gb", where=where),
            network_gbps=number(rec, "network_gbps", where=where),
            network_burst=bool(rec["network_burst"]),
            efa=bool(rec["efa"]),
        )
    return out


@functools.cache
def _prices() -> dict[tuple[str, str, bool], _PriceRow]:
    out: dict[tuple[str, str, bool], _PriceRow] = {}
    known = _instances()
    for key, spot in (("on_demand", False), ("spot", True)):
        for rec in records("prices.yaml", key):
            where = f"prices.yaml:{key}:{rec.get('type')}@{rec.get('region')}"
            itype, region = str(rec["type"]), str(rec["region"])
            if itype not in known:
                raise CatalogError(f"{where}: unknown instance type")
            if region not in REGIONS:
                raise CatalogError(f"{where}: region not in {REGIONS}")
            out[(itype, region, spot)] = _PriceRow(
                usd_per_hour=number(rec, "usd_per_hour", where=where),
                availability=_availability(rec, itype, region, spot=spot, where=where),
            )
    return out


def _availability(rec: Mapping[str, Any], itype: str, region: str, *, spot: bool, where: str) -> Availability:
    """The typed ``offered`` / ``purchase`` fields of one price row (``offered`` required On-Demand)."""
    offered = rec.get("offered", True) if spot else rec.get("offered")
    if not isinstance(offered, bool):
        raise CatalogError(f"{where}: 'offered' must be true or false, got {offered!r}")
    purchase = rec.get("purchase")
    if purchase is not None and (offered or purchase != "capacity-blocks"):
        raise CatalogError(f"{where}: 'purchase' may only be capacity-blocks, on a row with offered: false")
    if not offered and rec.get("estimate") is not True:
        raise CatalogError(
            f"{where}: a row with offered: false holds a hypothetical price: set estimate: true"
        )
    return Availability(
        instance_type=itype,
        region=region,
        offered=offered,
        purchase="on-demand" if offered else purchase,
        as_of=str(rec["date"]),
    )


def get_gpu(gpu_id: str, *, field: str = "--gpu") -> GpuSpec:
    """The GPU with catalog id ``gpu_id`` (``a10g``, ``l4``, ``l40s``, ``a100-40gb``, ``a100-80gb``,
    ``h100-80gb``, ``h200``, ``rtx-pro-6000``, ``b200``, ``b300``). Raises CatalogLookupError naming
    ``field``."""
    gpus = _gpus()
    if gpu_id not in gpus:
        raise _unknown("GPU", gpu_id, list(gpus), field)
    return gpus[gpu_id]


def list_gpus() -> list[GpuSpec]:
    """Every GPU of the catalog."""
    return list(_gpus().values())


def get_instance(instance_type: str, *, field: str = "--gpu") -> InstanceSpec:
    """The EC2 instance type (``p5.48xlarge``). Raises CatalogLookupError naming ``field``."""
    instances = _instances()
    if instance_type not in instances:
        raise _unknown("instance type", instance_type, list(instances), field)
    return instances[instance_type]


def list_instances() -> list[InstanceSpec]:
    """Every instance type of the catalog, in data-file order."""
    return list(_instances().values())


def check_region(region: str, *, field: str = "--region") -> str:
    """Return ``region`` if the catalog has prices for it; else CatalogLookupError naming ``field``."""
    if region not in REGIONS:
        raise _unknown("region", region, list(REGIONS), field)
    return region


def availability(instance_type: str, region: str) -> Availability | None:
    """Whether AWS sells ``instance_type`` On-Demand in ``region`` (None when the catalog has no row for the
    pair). Raises CatalogLookupError for an unknown type or region."""
    get_instance(instance_type, field="instance_type")
    check_region(region)
    row = _prices().get((instance_type, region, False))
    return row.availability if row else None


def is_offered(instance_type: str, region: str) -> bool:
    """True when AWS sells ``instance_type`` On-Demand in ``region`` (False for an ``offered: false`` row and
    for a pair without a row). Raises CatalogLookupError for an unknown type or region."""
    found = availability(instance_type, region)
    return found is not None and found.offered


def instance_price(
    instance_type: str, region: str, *, spot: bool = False, hypothetical: bool = False
) -> float | None:
    """USD per instance-hour (Linux) in ``region``; None when the catalog has no price for it (every spot
    price today) and, unless ``hypothetical``, when AWS does not sell the type On-Demand there
    (``is_offered`` False). ``hypothetical=True`` returns the made-up figure of such a row (derived from
    verified regional ratios): fit only to rank unsold candidates against each other, never to quote a cost.
    Raises CatalogLookupError for an unknown type or region."""
    get_instance(instance_type, field="instance_type")
    check_region(region)
    row = _prices().get((instance_type, region, spot))
    if row is None or not (row.availability.offered or hypothetical):
        return None
    return row.usd_per_hour


@functools.cache
def bedrock_options() -> BedrockOptions:
    """Prompt-caching and batch multipliers of Bedrock prices."""
    raw = load_file("bedrock.yaml")
    return BedrockOptions(
        cache_read_factor=number(raw, "prompt_cache_read_factor", where="bedrock.yaml"),
        cache_write_factor=number(raw, "prompt_cache_write_factor", where="bedrock.yaml"),
        batch_factor=number(raw, "batch_factor", where="bedrock.yaml"),
    )


def bedrock_prices() -> dict[str, BedrockPrice]:
    """Bedrock Claude tiers by id (``claude-haiku``, ``claude-sonnet``, ``claude-opus`` and the legacy
    ``claude-sonnet-4``, ``claude-opus-4``, ``claude-opus-4-1``); a record's own ``regional_premium``
    overrides the file's (0 before the 4.5 generation)."""
    raw = load_file("bedrock.yaml")
    premium = number(raw, "regional_premium", where="bedrock.yaml")
    out: dict[str, BedrockPrice] = {}
    for rec in records("bedrock.yaml", "models"):
        where = f"bedrock.yaml:{rec.get('id')}"
        out[str(rec["id"])] = BedrockPrice(
            id=str(rec["id"]),
            name=str(rec["name"]),
            model_id=str(rec["model_id"]),
            input_usd_per_mtok=number(rec, "input_usd_per_mtok", where=where),
            output_usd_per_mtok=number(rec, "output_usd_per_mtok", where=where),
            regional_premium=number(rec, "regional_premium", where=where)
            if "regional_premium" in rec
            else premium,
        )
    return out
