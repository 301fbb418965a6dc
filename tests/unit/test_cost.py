"""Self-hosted vs Bedrock cost: arithmetic of $/1M tokens, break-even volume, and the ``paddock cost`` CLI."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from click.testing import CliRunner

from scripts.cli import cli
from serving.catalog import bedrock_prices
from serving.cost import HOURS_PER_MONTH, compare, prefill_tokens_per_second
from serving.errors import InputError, SizingError
from serving.sizing import recommend, size_on_gpu


@pytest.fixture(scope="module")
def plan():  # type: ignore[no-untyped-def]
    return recommend("llama-3.1-8b", context=8192, concurrency=32)


def test_cost_arithmetic(plan) -> None:  # type: ignore[no-untyped-def]
    report = compare(plan, utilization=0.5, input_output_ratio=2.0)
    prefill = prefill_tokens_per_second(plan)
    seconds = 1 / plan.decode_tokens_per_second + 2.0 / prefill
    assert report.monthly_usd_per_replica == pytest.approx(plan.hourly_cost_usd * HOURS_PER_MONTH, abs=0.01)
    assert report.capacity_tokens_per_day == pytest.approx(86400 * 0.5 / seconds * 3, rel=1e-6)
    assert report.self_hosted_usd_per_mtok == pytest.approx(
        plan.hourly_cost_usd / 3600 * seconds / 0.5 * 1e6 / 3, rel=1e-3
    )
    sonnet = next(t for t in report.tiers if t.tier == "claude-sonnet" and t.endpoint == "global")
    assert sonnet.blended_usd_per_mtok == pytest.approx((2 * 3 + 15) / 3)
    assert sonnet.break_even_tokens_per_day == pytest.approx(plan.hourly_cost_usd * 24 / 7.0 * 1e6, rel=1e-6)
    regional = next(t for t in report.tiers if t.tier == "claude-sonnet" and t.endpoint == "regional")
    assert regional.break_even_tokens_per_day is not None and sonnet.break_even_tokens_per_day is not None
    assert regional.break_even_tokens_per_day < sonnet.break_even_tokens_per_day
    assert len(report.tiers) == 2 * len(bedrock_prices())


def test_break_even_is_none_beyond_capacity(plan) -> None:  # type: ignore[no-untyped-def]
    slow = replace(plan, decode_tokens_per_second=1.0)
    report = compare(slow)
    assert all(t.break_even_tokens_per_day is None for t in report.tiers)
    assert all(t.daily_saving_at_capacity_usd < 0 for t in report.tiers)


def test_cost_errors(plan) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InputError) as exc:
        compare(plan, utilization=0)
    assert exc.value.field == "--utilization"
    with pytest.raises(InputError) as exc:
        compare(plan, input_output_ratio=-1)
    assert exc.value.field == "--input-output-ratio"
    with pytest.raises(SizingError, match="no instance price"):
        compare(size_on_gpu("llama-3.1-8b", gpu="h100-80gb", max_model_len=8192))


def test_first_replica_pays_the_whole_node_an_added_one_its_share() -> None:
    packed = recommend(
        "llama-3.3-70b", context=8192, concurrency=4, quantization="fp8", instance_types=["p5.48xlarge"]
    )
    share = replace(
        packed, tensor_parallel_size=2, replicas=1, replicas_per_node=4, hourly_cost_usd=55.04 / 4
    )
    report = compare(share)
    assert (
        report.first_replica_hourly_usd == pytest.approx(55.04) and report.added_replica_hourly_usd == 13.76
    )
    sonnet = next(t for t in report.tiers if t.tier == "claude-sonnet" and t.endpoint == "global")
    # the first replica's break-even is 4x the added replica's (whole node vs a quarter of it)
    first, added = sonnet.break_even_tokens_per_day, sonnet.break_even_tokens_per_day_added_replica
    if first is not None and added is not None:
        assert first == pytest.approx(4 * added, rel=1e-6)
    else:
        assert added is not None and first is None


def test_prompt_caching_batch_and_geography(plan) -> None:  # type: ignore[no-untyped-def]
    base = compare(plan, input_output_ratio=3.0)
    cached = compare(plan, input_output_ratio=3.0, cache_hit_rate=0.8)
    batch = compare(plan, input_output_ratio=3.0, batch=True)
    pinned = compare(plan, regional_only=True)

    def sonnet(r):  # type: ignore[no-untyped-def]
        return next(t for t in r.tiers if t.tier == "claude-sonnet" and t.endpoint == "global")

    assert sonnet(cached).input_usd_per_mtok == pytest.approx(3.0 * (0.8 * 0.1 + 0.2 * 1.25))
    assert sonnet(batch).output_usd_per_mtok == 7.5 and sonnet(batch).input_usd_per_mtok == 1.5
    assert cached.capacity_tokens_per_day > base.capacity_tokens_per_day  # prefix caching skips prefill
    assert {t.endpoint for t in pinned.tiers} == {"regional"}
    assert any("not the same quality" in n for n in base.notes)
    with pytest.raises(InputError) as exc:
        compare(plan, cache_hit_rate=1.5)
    assert exc.value.field == "--cache-hit-rate"


def test_cost_cli_json_and_table() -> None:
    runner = CliRunner()
    result = runner.invoke(
        cli, ["cost", "--model", "llama-3.1-8b", "--context", "8192", "--concurrency", "32", "--json"]
    )
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert data["instance_type"] and {t["tier"] for t in data["tiers"]} == set(bedrock_prices())
    table = runner.invoke(
        cli, ["cost", "--model", "llama-3.1-8b", "--context", "8192", "--concurrency", "32"]
    )
    assert table.exit_code == 0 and "Bedrock Claude tiers" in table.stdout and "M/day" in table.stdout


@pytest.mark.parametrize(
    ("args", "code", "text"),
    [
        (["--utilization", "2"], 2, "--utilization"),
        (["--gpu", "tpu"], 2, "--gpu"),
        (["--region", "xx-1"], 2, "--region"),
        (["--context", "0"], 2, "--context"),
        (["--gpu", "g5.xlarge", "--context", "131072", "--concurrency", "500"], 1, "no instance"),
        (
            ["--gpu", "p5.48xlarge", "--region", "eu-central-1"],
            1,
            "p5.48xlarge is not sold On-Demand in eu-central-1: no list price to compare",
        ),
    ],
)
def test_cost_cli_errors(args: list[str], code: int, text: str) -> None:
    base = ["cost", "--model", "llama-3.1-8b", "--context", "8192", "--concurrency", "8"]
    result = CliRunner().invoke(cli, base + args)
    assert result.exit_code == code and text in result.stderr


def test_cost_cli_options() -> None:
    base = ["cost", "--model", "llama-3.1-8b", "--context", "8192", "--concurrency", "8", "--json"]
    pinned = json.loads(CliRunner().invoke(cli, [*base, "--geography-pinned", "--batch"]).stdout)
    assert {t["endpoint"] for t in pinned["tiers"]} == {"regional"} and pinned["batch"] is True
    cached = json.loads(CliRunner().invoke(cli, [*base, "--cache-hit-rate", "0.5"]).stdout)
    assert cached["cache_hit_rate"] == 0.5 and cached["prefix_cache_hit_rate"] == 0.5
    assert cached["first_replica_hourly_usd"] >= cached["added_replica_hourly_usd"] > 0
    bad = CliRunner().invoke(cli, [*base, "--cache-hit-rate", "2"])
    assert bad.exit_code == 2 and "--cache-hit-rate" in bad.stderr


def test_cost_engine_version_and_geography_follow_the_stack() -> None:
    base = ["cost", "--model", "llama-3.1-8b", "--context", "8192", "--concurrency", "8", "--json"]
    pinned = CliRunner().invoke(cli, [*base, "--stack", "prod-eu", "--region", "eu-central-1"])
    assert pinned.exit_code == 0
    # prod-eu's residency does not allow global inference profiles: never offer the global tier's price
    assert {t["endpoint"] for t in json.loads(pinned.stdout)["tiers"]} == {"regional"}
    free = json.loads(CliRunner().invoke(cli, base).stdout)
    assert {t["endpoint"] for t in free["tiers"]} == {"global", "regional"}
    bad = CliRunner().invoke(cli, [*base, "--stack", "nope"])
    assert bad.exit_code == 2 and "--stack" in bad.stderr
