"""``paddock ephemeral up`` with the real sizing engine, the real stack template and the real stack-config
schema (only the Pulumi workspace is faked)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from click.testing import CliRunner

from scripts.ephemeral import Env, command, project_dir
from serving.ephemeral.cost import EKS_CONTROL_PLANE_USD_PER_HOUR, NAT_GATEWAY_USD_PER_HOUR
from serving.ephemeral.planning import SizingRequest, engine_sizer
from serving.stack_config import parse_stack_config
from tests.unit.ephemeral_fakes import NOW, FakeWorkspace

TEMPLATE = project_dir() / "stacks" / "Pulumi.ephemeral.yaml"


def real_env(ws: FakeWorkspace) -> Env:
    return Env(workspace_factory=lambda: ws, clock=lambda: NOW, interactive=lambda: False)


def test_default_env_uses_the_engine_and_the_repo_template() -> None:
    env = Env()
    assert env.sizer is engine_sizer
    assert env.template_path == TEMPLATE and TEMPLATE.is_file()


def test_up_sizes_with_the_engine_and_the_config_passes_the_schema() -> None:
    ws = FakeWorkspace()
    result = CliRunner().invoke(
        command,
        ["up", "--model", "llama-3.1-8b", "--owner", "alice", "--ttl", "4h", "--yes"],
        obj=real_env(ws),
    )
    assert result.exit_code == 0, result.output + result.stderr
    [stack] = list(ws.stacks)
    config = ws.stacks[stack].config
    assert config is not None
    parsed = parse_stack_config(config, stack=stack)
    assert parsed.ephemeral is not None
    assert (parsed.ephemeral.owner, parsed.ephemeral.expires_at, parsed.ephemeral.ttl) == (
        "alice",
        "2026-11-23T16:00:00Z",
        "4h",
    )
    template = yaml.safe_load(TEMPLATE.read_text())["config"]
    expected = engine_sizer(SizingRequest("llama-3.1-8b", 8192, 1, None, template["aws:region"], "on-demand"))
    [model] = parsed.models
    assert model.gpu == expected.instance_type
    assert (model.replicas_min, model.replicas_max, model.capacity_type) == (0, 1, "on-demand")
    assert parsed.tags["paddock:expires-at"] == "2026-11-23T16:00:00Z"
    assert parsed.tags["paddock:owner"] == "alice" and parsed.tags["paddock:stack"] == stack
    assert expected.hourly_cost_usd is not None
    hourly = expected.hourly_cost_usd + EKS_CONTROL_PLANE_USD_PER_HOUR + NAT_GATEWAY_USD_PER_HOUR
    assert "+ EKS control plane $0.10 + NAT gateway $0.045)" in result.output
    assert f"${hourly:,.2f} while a replica runs" in result.output
    assert f"at most ${round(hourly * 4, 2):,.2f}" in result.output


def test_ttl_written_to_config_always_matches_the_schema() -> None:
    ws = FakeWorkspace()
    env = real_env(ws)
    result = CliRunner().invoke(
        command, ["up", "--model", "llama-3.1-8b", "--owner", "bob", "--ttl", "1h30m", "--yes"], obj=env
    )
    assert result.exit_code == 0, result.output
    [stack] = list(ws.stacks)
    extended = CliRunner().invoke(command, ["extend", stack, "--ttl", "45m"], obj=env)
    assert extended.exit_code == 0, extended.output
    config: dict[str, Any] | None = ws.stacks[stack].config
    assert config is not None
    assert config["paddock:ephemeral"]["ttl"] == "135m"
    assert parse_stack_config(config, stack=stack).ephemeral is not None


def test_unknown_model_is_bad_input() -> None:
    ws = FakeWorkspace()
    result = CliRunner().invoke(command, ["up", "--model", "llama-9-unknown", "--yes"], obj=real_env(ws))
    assert result.exit_code == 2
    assert "error: --model: unknown model 'llama-9-unknown'" in result.stderr
    assert ws.calls == []


def test_config_json_model(tmp_path: Path) -> None:
    config_json = tmp_path / "tiny" / "config.json"
    config_json.parent.mkdir()
    config_json.write_text(
        json.dumps(
            {
                "architectures": ["LlamaForCausalLM"],
                "model_type": "llama",
                "hidden_size": 2048,
                "intermediate_size": 8192,
                "num_hidden_layers": 16,
                "num_attention_heads": 32,
                "num_key_value_heads": 8,
                "vocab_size": 128256,
                "max_position_embeddings": 131072,
                "torch_dtype": "bfloat16",
                "tie_word_embeddings": True,
            }
        )
    )
    ws = FakeWorkspace()
    result = CliRunner().invoke(
        command, ["up", "--model", str(config_json), "--owner", "alice", "--dry-run"], obj=real_env(ws)
    )
    assert result.exit_code == 0, result.output + result.stderr
    assert "dry run: nothing was created" in result.output
    assert str(config_json) in result.output


def test_nothing_fits_in_a_pinned_gpu_exits_1() -> None:
    ws = FakeWorkspace()
    result = CliRunner().invoke(
        command,
        ["up", "--model", "llama-3.1-405b", "--gpu", "g6.xlarge", "--owner", "a", "--dry-run"],
        obj=real_env(ws),
    )
    assert result.exit_code == 1, result.output
    assert "error:" in result.stderr and "no instance" in result.stderr


def test_schema_validator_rejects_a_broken_template(tmp_path: Path) -> None:
    broken = yaml.safe_load(TEMPLATE.read_text())
    broken["config"]["paddock:autoscaling"] = {"nodeAutoscaler": "magic"}
    path = tmp_path / "Pulumi.ephemeral.yaml"
    path.write_text(yaml.safe_dump(broken))
    env = real_env(FakeWorkspace())
    env.template_path = path
    result = CliRunner().invoke(
        command, ["up", "--model", "llama-3.1-8b", "--owner", "a", "--dry-run"], obj=env
    )
    assert result.exit_code == 2
    assert "paddock:autoscaling.nodeAutoscaler" in result.stderr
