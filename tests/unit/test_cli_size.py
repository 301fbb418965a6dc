"""``paddock size``: JSON contract, exit codes, human output, every bad-input path (exit 2, flag named)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from scripts.cli import cli
from serving.catalog import list_instances

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "configs"
CONTRACT = (
    "weights_gib_per_gpu",
    "kv_cache_gib_per_gpu",
    "kv_cache_tokens",
    "max_concurrency",
    "fits",
    "tensor_parallel_size",
    "pipeline_parallel_size",
)
RECOMMEND = ("instance_type", "replicas", "rejected")


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["size", *args])
    return result.exit_code, result.stdout, result.stderr


def test_explicit_json_contract() -> None:
    code, out, _ = _run("--model", "llama-3.1-8b", "--gpu", "h100-80gb", "--max-model-len", "8192", "--json")
    data = json.loads(out)
    assert code == 0
    for key in CONTRACT:
        assert key in data
    assert data["fits"] is True and data["tensor_parallel_size"] == 1 and data["pipeline_parallel_size"] == 1
    assert data["weights_gib_per_gpu"] == pytest.approx(14.99, abs=0.005)
    assert isinstance(data["kv_cache_tokens"], int) and data["kv_cache_tokens"] > 400_000


def test_recommendation_json_contract() -> None:
    code, out, _ = _run("--model", "llama-3.1-70b", "--context", "32768", "--concurrency", "64", "--json")
    data = json.loads(out)
    assert code == 0
    for key in CONTRACT + RECOMMEND:
        assert key in data
    assert data["instance_type"] and data["replicas"] >= 1
    assert all(set(item) == {"option", "reason"} for item in data["rejected"])


def test_config_json_path_mode() -> None:
    path = str(FIXTURES / "qwen2.5-7b-instruct.json")
    code, out, _ = _run("--model", path, "--gpu", "h100-80gb", "--max-model-len", "8192", "--json")
    assert code == 0 and json.loads(out)["weights_gib_per_gpu"] == pytest.approx(14.19, abs=0.01)


def test_does_not_fit_exits_1_with_json() -> None:
    code, out, _ = _run("--model", "llama-3.1-70b", "--gpu", "l40s", "--max-model-len", "8192", "--json")
    assert code == 1 and json.loads(out)["fits"] is False


def test_nothing_fits_in_recommendation_mode_exits_1_with_json() -> None:
    code, out, _ = _run(
        "--model", "llama-3.1-405b", "--context", "131072", "--concurrency", "50000", "--json"
    )
    data = json.loads(out)
    assert (
        code == 1
        and data["fits"] is False
        and data["instance_type"] is None
        and len(data["rejected"]) == len(list_instances())
    )


def test_human_output_explains_and_lists_rejections() -> None:
    code, out, _ = _run("--model", "llama-3.1-70b", "--context", "8192", "--concurrency", "8")
    assert code == 0
    assert "Options rejected" in out and "GiB weights" in out and "engine flags" in out
    code, out, _ = _run("--model", "llama-3.1-8b", "--gpu", "h100-80gb", "--max-model-len", "8192")
    assert code == 0 and "blocks x 16" in out


def test_tgi_and_engine_version() -> None:
    code, out, _ = _run(
        "--model",
        "llama-3.1-8b",
        "--gpu",
        "a10g",
        "--engine",
        "tgi",
        "--engine-version",
        "2.2.0",
        "--max-model-len",
        "4096",
        "--max-num-batched-tokens",
        "4145",
        "--json",
    )
    data = json.loads(out)
    assert code == 0 and data["engine"] == "tgi" and data["engine_version"] == "2.2.0"


@pytest.mark.parametrize(
    ("args", "flag"),
    [
        (["--model", "llama-9000"], "--model"),
        (["--model", "/no/such/config.json", "--gpu", "h100-80gb"], "--model"),
        (["--model", "llama-3.1-8b", "--gpu", "tpu"], "--gpu"),
        (["--model", "llama-3.1-8b", "--gpu", "h100-80gb", "--tp", "3"], "--tp"),
        (["--model", "llama-3.1-8b", "--gpu", "h100-80gb", "--tp", "0"], "--tp"),
        (["--model", "llama-3.1-8b", "--gpu", "h100-80gb", "--tp", "two"], "--tp"),
        (["--model", "llama-3.1-8b", "--gpu", "h100-80gb", "--pp", "0"], "--pp"),
        (["--model", "llama-3.2-1b", "--gpu", "h100-80gb", "--pp", "99"], "--pp"),
        (["--model", "llama-3.1-8b", "--gpu", "h100-80gb", "--pp", "2", "--engine", "tgi"], "--pp"),
        (["--model", "llama-3.1-8b", "--gpu", "h100-80gb", "--dtype", "int8"], "--dtype"),
        (["--model", "llama-3.1-8b", "--gpu", "h100-80gb", "--quantization", "nf4"], "--quantization"),
        (
            ["--model", "llama-3.1-405b-fp8", "--gpu", "h100-80gb", "--tp", "8", "--quantization", "int4"],
            "--quantization",
        ),
        (["--model", "llama-3.1-8b", "--gpu", "h100-80gb", "--kv-cache-dtype", "int8"], "--kv-cache-dtype"),
        (["--model", "llama-3.1-8b", "--gpu", "h100-80gb", "--max-model-len", "0"], "--max-model-len"),
        (["--model", "llama-3.1-8b", "--gpu", "h100-80gb", "--max-model-len", "999999"], "--max-model-len"),
        (
            ["--model", "llama-3.1-8b", "--gpu", "h100-80gb", "--gpu-memory-utilization", "0"],
            "--gpu-memory-utilization",
        ),
        (["--model", "llama-3.1-8b", "--gpu", "h100-80gb", "--gpu-memory-gib", "-3"], "--gpu-memory-gib"),
        (["--model", "llama-3.1-8b", "--gpu", "h100-80gb", "--max-num-seqs", "0"], "--max-num-seqs"),
        (
            ["--model", "llama-3.1-8b", "--gpu", "h100-80gb", "--max-num-batched-tokens", "0"],
            "--max-num-batched-tokens",
        ),
        (
            [
                "--model",
                "llama-3.1-8b",
                "--gpu",
                "h100-80gb",
                "--max-num-seqs",
                "64",
                "--max-num-batched-tokens",
                "32",
            ],
            "--max-num-batched-tokens",
        ),
        (["--model", "llama-3.1-8b", "--gpu", "h100-80gb", "--engine", "sglang"], "--engine"),
        (["--model", "llama-3.1-8b", "--gpu", "h100-80gb", "--engine-version", "banana"], "--engine-version"),
        (["--model", "llama-3.1-8b", "--gpu", "g5.xlarge", "--region", "mars-1"], "--region"),
        (["--model", "llama-3.1-8b"], "--context"),
        (["--model", "llama-3.1-8b", "--context", "8192"], "--concurrency"),
        (["--model", "llama-3.1-8b", "--context", "0", "--concurrency", "4"], "--context"),
        (["--model", "llama-3.1-8b", "--context", "8192", "--concurrency", "0"], "--concurrency"),
        (
            ["--model", "llama-3.1-8b", "--context", "8192", "--concurrency", "4", "--headroom", "-1"],
            "--headroom",
        ),
        (
            ["--model", "llama-3.1-8b", "--context", "8192", "--concurrency", "4", "--region", "xx"],
            "--region",
        ),
        (
            ["--model", "llama-3.1-8b", "--context", "8192", "--concurrency", "4", "--capacity-type", "x"],
            "--capacity-type",
        ),
        (["--gpu", "h100-80gb"], "--model"),
    ],
)
def test_bad_input_exits_2_naming_the_flag(args: list[str], flag: str) -> None:
    code, out, err = _run(*args)
    assert code == 2, (out, err)
    assert flag in err
    assert "Traceback" not in err + out


def test_bad_config_json_names_the_key(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text(
        json.dumps(
            {
                "hidden_size": 4096,
                "num_attention_heads": 32,
                "vocab_size": 32000,
                "intermediate_size": 11008,
                "max_position_embeddings": 4096,
            }
        )
    )
    code, _, err = _run("--model", str(path), "--gpu", "h100-80gb")
    assert code == 2 and "config.json:num_hidden_layers" in err


def test_pinned_instance_not_sold_on_demand_shows_the_note_and_no_list_price() -> None:
    args = ("--model", "llama-3.3-70b", "--quantization", "fp8", "--gpu", "p5.48xlarge", "--tp", "2")
    args += ("--max-model-len", "8192", "--region", "eu-central-1")
    code, out, _ = _run(*args, "--json")
    data = json.loads(out)
    assert code == 0 and data["offered_on_demand"] is False and data["hourly_cost_usd"] is None
    assert data["notes"][0].startswith("NOT SOLD ON-DEMAND: p5.48xlarge: not sold On-Demand in eu-central-1")
    code, out, _ = _run(*args)
    flat = " ".join(out.replace("│", " ").split())  # table cells wrap at 80 columns
    assert code == 0 and "p5.48xlarge (eu-central-1, on-demand) - NOT SOLD ON-DEMAND" in flat
    assert (
        "cost no list price: p5.48xlarge is not sold On-Demand in eu-central-1 "
        "(see the NOT SOLD ON-DEMAND note)" in flat
    )
    assert "- NOT SOLD ON-DEMAND: p5.48xlarge" in out


def test_recommendation_lists_unsold_types_with_the_reason() -> None:
    code, out, _ = _run(
        "--model",
        "llama-3.1-8b",
        "--context",
        "8192",
        "--concurrency",
        "16",
        "--region",
        "eu-central-1",
        "--json",
    )
    reasons = {r["option"]: r["reason"] for r in json.loads(out)["rejected"]}
    assert code == 0 and reasons["p5.48xlarge"] == (
        "not sold On-Demand in eu-central-1 (price list 2026-11-23); "
        "use a Capacity Block/ODCR or another region"
    )


def test_default_engine_version_is_the_stacks_pinned_image(tmp_path: Path) -> None:
    base = ("--model", "llama-3.1-8b", "--gpu", "h100-80gb", "--max-model-len", "8192", "--json")
    code, out, _ = _run(*base)
    data = json.loads(out)
    assert code == 0 and data["engine_version"] == "0.11.0"
    assert any("vllm/vllm-openai:v0.11.0 pinned in Pulumi.ephemeral.yaml" in n for n in data["notes"])
    assert json.loads(_run(*base, "--stack", "dev")[1])["engine_version"] == "0.11.0"
    assert json.loads(_run(*base, "--engine-version", "0.19.0")[1])["engine_version"] == "0.19.0"
    unpinned = tmp_path / "Pulumi.x.yaml"
    unpinned.write_text("config:\n  paddock:versions: {vllmImage: 'vllm/vllm-openai:latest'}\n")
    data = json.loads(_run(*base, "--stack", str(unpinned))[1])
    assert data["engine_version"] == "0.33.0" and any(
        "outside the calibrated range" in n for n in data["notes"]
    )
    code, _, err = _run(*base, "--stack", "nope")
    assert code == 2 and "--stack" in err


def test_recommendation_json_has_serving_estimates_and_top_options() -> None:
    code, out, _ = _run(
        "--model", "llama-3.1-8b", "--context", "8192", "--concurrency", "8",
        "--prompt-tokens", "1000", "--output-tokens", "200", "--json",
    )  # fmt: skip
    data = json.loads(out)
    assert code == 0 and (data["prompt_tokens"], data["output_tokens"]) == (1000, 200)
    assert data["ttft_ms"] > 0 and data["tpot_ms"] > 0 and data["serving_tokens_per_second"] > 0
    assert len(data["top_options"]) == 3 and data["top_options"][0]["why"].startswith("lowest $")
    code, _, err = _run(
        "--model", "llama-3.1-8b", "--context", "8192", "--concurrency", "8", "--prompt-tokens", "9"
    )
    assert code == 2 and "--output-tokens" in err


@pytest.mark.parametrize(
    ("args", "flag", "text"),
    [
        (("--headroom", "5"), "--headroom", "is not in the range"),
        (("--headroom", "-0.1"), "--headroom", "is not in the range"),
        (("--tp", "16"), "--tp", "16 exceeds the 8 GPUs of one h100-80gb node"),
        (("--gpu", "g6e.xlarge", "--tp", "2"), "--tp", "2 exceeds the 1 GPUs of one g6e.xlarge node"),
    ],
)
def test_out_of_range_flags_are_refused_naming_the_flag(args: tuple[str, ...], flag: str, text: str) -> None:
    base = ("--model", "llama-3.1-8b") + (() if "--gpu" in args else ("--gpu", "h100-80gb"))
    code, out, err = _run(*base, *args)
    assert code == 2 and flag in out + err and text in out + err, out + err


def test_tp_across_nodes_with_pp_is_sized() -> None:
    code, out, _ = _run("--model", "llama-3.1-8b", "--gpu", "h100-80gb", "--tp", "16", "--pp", "2", "--json")
    assert code in (0, 1) and json.loads(out)["tensor_parallel_size"] == 16


def test_empty_model_is_one_clear_line() -> None:
    code, out, err = _run("--model", "", "--gpu", "h100-80gb")
    assert code == 2 and "--model: is empty: give a catalog id" in out + err
