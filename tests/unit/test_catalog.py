"""Catalog data integrity and lookups (models, GPUs, instances, prices, Bedrock)."""

from __future__ import annotations

from pathlib import Path

import pytest

from serving.catalog import (
    REGIONS,
    availability,
    bedrock_options,
    bedrock_prices,
    get_gpu,
    get_instance,
    get_model,
    instance_price,
    is_offered,
    list_gpus,
    list_instances,
    list_models,
)
from serving.catalog._data import DATA_FILES, check_provenance, load_file
from serving.catalog.hardware import _availability
from serving.errors import CatalogError, CatalogLookupError

SIZES = ("xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge", "16xlarge", "24xlarge", "48xlarge")

NEW_US_EAST_ONLY = (
    "p5.4xlarge",
    *(f"g7e.{size}" for size in ("2xlarge", "4xlarge", "8xlarge", "12xlarge", "24xlarge", "48xlarge")),
    "p6-b200.48xlarge",
    "p6-b300.48xlarge",
)
#: (type, region) pairs with no On-Demand offer in the AWS price list (see the prices.yaml header): their rows
#: are the only estimates left
NOT_OFFERED_ON_DEMAND = (
    {(f"{family}.{size}", "eu-west-1") for family in ("g6", "g6e") for size in SIZES}
    | {("p4de.24xlarge", "eu-west-1")}
    | {(t, r) for t in ("p5.48xlarge", "p5en.48xlarge") for r in ("eu-central-1", "eu-west-1")}
    | {("p5e.48xlarge", region) for region in REGIONS}
    # added 2026-12-04 with a verified us-east-1 price only (Karpenter's generated table): skipped elsewhere
    | {(t, r) for t in NEW_US_EAST_ONLY for r in REGIONS if r != "us-east-1"}
)

LISTS = {
    "models.yaml": "models",
    "gpus.yaml": "gpus",
    "instances.yaml": "instances",
    "prices.yaml": "on_demand",
    "bedrock.yaml": "models",
    "charts.yaml": "charts",
}


@pytest.mark.parametrize("name", DATA_FILES)
def test_every_record_has_source_and_date(name: str) -> None:
    records = load_file(name)[LISTS[name]]
    assert records, name
    for index, record in enumerate(records):
        assert isinstance(record["source"], str) and len(record["source"]) > 10, (name, index)
        assert len(str(record["date"])) == 10 and str(record["date"]).startswith("20"), (name, index)


def test_provenance_check_rejects_missing_source_and_bad_date() -> None:
    with pytest.raises(CatalogError, match="missing 'source'"):
        check_provenance({"date": "2026-01-01"}, where="x")
    with pytest.raises(CatalogError, match="not YYYY-MM-DD"):
        check_provenance({"source": "somewhere", "date": "last week"}, where="x")
    with pytest.raises(CatalogError, match="not a mapping"):
        check_provenance(["source"], where="x")


def test_price_estimates_say_so_in_their_source() -> None:
    records = load_file("prices.yaml")["on_demand"]
    assert {(r["type"], r["region"]) for r in records if r["estimate"]} == NOT_OFFERED_ON_DEMAND
    for record in records:
        where = (record["type"], record["region"])
        assert record["offered"] is (where not in NOT_OFFERED_ON_DEMAND), where
        assert record.get("purchase") == ("capacity-blocks" if where[0] == "p5e.48xlarge" else None), where
        if record["estimate"]:
            assert record["source"].startswith("ESTIMATE: "), where
            assert "NOT OFFERED" in record["source"] or "NO On-Demand list price" in record["source"], where
        else:
            assert "skypilot-catalog" in record["source"] or "karpenter-provider-aws" in record["source"], (
                where
            )


def test_gpu_ids_are_the_design_contract_with_driver_reported_memory() -> None:
    assert sorted(g.id for g in list_gpus()) == sorted(
        ["a10g", "l4", "l40s", "a100-40gb", "a100-80gb", "h100-80gb", "h200", "rtx-pro-6000", "b200", "b300"]
    )
    assert get_gpu("h100-80gb").total_memory_gib == 79.19
    assert get_gpu("h200").total_memory_gib == 139.81
    assert get_gpu("a100-40gb").total_memory_gib == 39.39
    assert get_gpu("h100-80gb").fp8 and not get_gpu("a100-80gb").fp8


def test_instances_cover_every_family_size_and_region() -> None:
    types = {i.type for i in list_instances()}
    for family in ("g5", "g6", "g6e"):
        for size in SIZES:
            assert f"{family}.{size}" in types
    assert {"p4d.24xlarge", "p4de.24xlarge", "p5.48xlarge", "p5e.48xlarge", "p5en.48xlarge"} <= types
    for itype in types:
        for region in REGIONS:
            hypothetical = instance_price(itype, region, hypothetical=True)
            assert hypothetical is not None and hypothetical > 0, (itype, region)
            offered = (itype, region) not in NOT_OFFERED_ON_DEMAND
            assert is_offered(itype, region) is offered, (itype, region)
            assert instance_price(itype, region) == (hypothetical if offered else None), (itype, region)


def test_instance_specs() -> None:
    p5 = get_instance("p5.48xlarge")
    assert (p5.gpus, p5.gpu.id, p5.vcpu, p5.memory_gib, p5.network_gbps, p5.efa) == (
        8,
        "h100-80gb",
        192,
        2048,
        3200,
        True,
    )
    g6e = get_instance("g6e.12xlarge")
    assert (g6e.gpus, g6e.gpu.id, g6e.memory_gib) == (4, "l40s", 384)


def test_new_instance_types_and_their_prices() -> None:
    assert instance_price("p5.4xlarge", "us-east-1") == 6.88
    assert instance_price("g7e.2xlarge", "us-east-1") == 3.36312
    assert instance_price("g7e.48xlarge", "us-east-1") == 33.14432
    assert instance_price("p6-b200.48xlarge", "us-east-1") == 113.9328
    assert instance_price("p6-b300.48xlarge", "us-east-1") == 142.416
    assert instance_price("g7e.2xlarge", "eu-central-1") is None  # no verified EU price row yet
    p5 = get_instance("p5.4xlarge")
    assert (p5.gpus, p5.gpu.id, p5.network_gbps) == (1, "h100-80gb", 100)
    b200, g7e = get_instance("p6-b200.48xlarge"), get_instance("g7e.24xlarge")
    assert (b200.gpus, b200.gpu.nvlink, b200.gpu.architecture) == (8, True, "blackwell")
    assert (g7e.gpus, g7e.gpu.id, g7e.gpu.nvlink, g7e.gpu.fp8) == (4, "rtx-pro-6000", False, True)


def test_prices_and_spot_unknown() -> None:
    assert instance_price("g5.xlarge", "us-east-1") == 1.006
    assert instance_price("g5.xlarge", "eu-west-1") == 1.123
    assert instance_price("p5.48xlarge", "us-east-1") == 55.04
    assert instance_price("p4d.24xlarge", "eu-west-1") == 23.71569  # cheaper than Frankfurt (27.43298)
    assert instance_price("g5.xlarge", "eu-central-1") > instance_price("g5.xlarge", "us-east-1")  # type: ignore[operator]
    assert instance_price("g5.xlarge", "us-east-1", spot=True) is None


def test_not_offered_pairs_are_typed_and_their_price_is_opt_in() -> None:
    p5 = availability("p5.48xlarge", "eu-central-1")
    assert p5 is not None and (p5.offered, p5.purchase, p5.as_of) == (False, None, "2026-11-23")
    assert p5.describe() == "not sold On-Demand in eu-central-1 (price list 2026-11-23)"
    assert instance_price("p5.48xlarge", "eu-central-1") is None
    assert instance_price("p5.48xlarge", "eu-central-1", hypothetical=True) == 68.7647
    p5e = availability("p5e.48xlarge", "us-west-2")
    assert p5e is not None and (p5e.offered, p5e.purchase) == (False, "capacity-blocks")
    assert p5e.describe() == (
        "no On-Demand list price in any region (sold through EC2 Capacity Blocks only; price list 2026-11-23)"
    )
    us = availability("p5.48xlarge", "us-east-1")
    assert us is not None and (us.offered, us.purchase) == (True, "on-demand")
    assert us.describe() == "sold On-Demand in us-east-1 (price list 2026-11-23)"
    # the verified price of an offered pair needs no opt-in and is the same with it
    assert instance_price("p5.48xlarge", "us-east-1", hypothetical=True) == 55.04


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ({"estimate": False}, "'offered' must be true or false, got None"),
        ({"estimate": False, "offered": "no"}, "'offered' must be true or false, got 'no'"),
        ({"estimate": False, "offered": False}, "set estimate: true"),
        ({"estimate": False, "offered": True, "purchase": "capacity-blocks"}, "'purchase' may only be"),
        ({"estimate": True, "offered": False, "purchase": "reserved"}, "'purchase' may only be"),
    ],
)
def test_bad_availability_fields_are_catalog_errors(record: dict[str, object], message: str) -> None:
    with pytest.raises(CatalogError, match=message):
        _availability({**record, "date": "2026-11-23"}, "p5.48xlarge", "eu-central-1", spot=False, where="x")


def test_spot_rows_default_to_offered() -> None:
    spot = _availability({"date": "2026-11-23"}, "g5.xlarge", "us-east-1", spot=True, where="x")
    assert spot.offered and spot.purchase == "on-demand"


def test_unknown_ids_raise_lookup_errors_naming_the_field() -> None:
    with pytest.raises(CatalogLookupError) as exc:
        get_gpu("h100")
    assert exc.value.field == "--gpu" and "h100-80gb" in exc.value.message
    with pytest.raises(CatalogLookupError) as exc:
        get_instance("p5.48xl")
    assert "p5.48xlarge" in exc.value.message
    with pytest.raises(CatalogLookupError) as exc:
        instance_price("g5.xlarge", "mars-1")
    assert exc.value.field == "--region"
    with pytest.raises(CatalogLookupError) as exc:
        is_offered("g5.xlarge", "mars-1")
    assert exc.value.field == "--region"
    with pytest.raises(CatalogLookupError) as exc:
        availability("p5.48xl", "us-east-1")
    assert exc.value.field == "instance_type"
    with pytest.raises(CatalogLookupError) as exc:
        get_model("llama-3.1-9b")
    assert exc.value.field == "--model" and "llama-3.1-8b" in exc.value.message


def test_bedrock_tiers_and_regional_premium() -> None:
    prices = bedrock_prices()
    assert set(prices) == {
        "claude-haiku",
        "claude-sonnet",
        "claude-opus",
        "claude-sonnet-4",
        "claude-opus-4",
        "claude-opus-4-1",
    }
    sonnet = prices["claude-sonnet"]
    assert sonnet.price(regional=False) == (3.0, 15.0)
    assert sonnet.price(regional=True) == pytest.approx((3.3, 16.5))
    # legacy Opus 4 / 4.1: $15 / $75, no regional premium before the 4.5 generation
    assert prices["claude-opus-4-1"].price(regional=True) == (15.0, 75.0)
    opts = bedrock_options()
    assert (opts.cache_read_factor, opts.cache_write_factor, opts.batch_factor) == (0.1, 1.25, 0.5)


def test_models_by_catalog_id_and_hf_id() -> None:
    assert len(list_models()) == 9
    assert get_model("meta-llama/llama-3.1-8b-instruct").id == "llama-3.1-8b"
    assert get_model("meta-llama/Llama-3.3-70B-Instruct").id == "llama-3.3-70b"
    scout = get_model("llama-4-scout")
    assert scout.attention_chunk_size == 8192 and len(scout.chunked_layers) == 36
    assert scout.moe_layers == tuple(range(48)) and scout.num_experts == 16
    maverick = get_model("llama-4-maverick")
    assert maverick.moe_layers == tuple(range(1, 48, 2)) and maverick.num_experts == 128
    assert get_model("llama-3.1-405b-fp8").checkpoint_quantization == "fp8_mlp_only"


def test_config_json_directory(tmp_path: Path) -> None:
    src = Path(__file__).resolve().parents[1] / "fixtures" / "configs" / "qwen3-8b.json"
    (tmp_path / "config.json").write_text(src.read_text())
    assert get_model(str(tmp_path)).model_type == "qwen3"
