"""``paddock audit`` end to end on crafted stacks: exit codes, formats, plans, preflight overrides."""

from __future__ import annotations

import json
import re
import shutil
import sys
import types
from pathlib import Path
from typing import Any

import pytest
import yaml

from scripts.cli import main
from serving.residency.plan_cache import plan_key
from tests.unit.test_residency_crafted import stack_path

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "stacks"
SONNET = "eu.anthropic.claude-sonnet-4-5-20250929-v1:0"


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(["audit", *args])
    out, err = capsys.readouterr()
    return int(exc.value.code or 0), out, err


def fixture(name: str) -> str:
    return str(stack_path(name))


@pytest.fixture
def dirs(tmp_path: Path) -> dict[str, str]:
    return {"plan": str(tmp_path / "plan"), "pre": str(tmp_path / "pre")}


def audit_json(capsys: pytest.CaptureFixture[str], dirs: dict[str, str], *args: str) -> tuple[int, Any]:
    code, out, _ = run(
        capsys,
        *args,
        "--format",
        "json",
        "--plan-dir",
        dirs["plan"],
        "--preflight-dir",
        dirs["pre"],
        "--no-render",
    )
    return code, json.loads(out)


def test_clean_stack_exits_zero_with_inventory(
    capsys: pytest.CaptureFixture[str], dirs: dict[str, str]
) -> None:
    code, doc = audit_json(capsys, dirs, "--stack", fixture("clean-eu"))
    (stack,) = doc["stacks"]
    assert code == 0 and stack["clean"] is True and stack["findings"] == []
    assert stack["note"].startswith("no ") and stack["resourcesChecked"] == 0
    assert {p["region"] for p in stack["places"] if p["kind"] == "prompts"} == {
        "eu-central-1",
        "eu-north-1",
        "eu-south-1",
        "eu-south-2",
        "eu-west-1",
        "eu-west-3",
    }


def test_us_profile_on_eu_stack_exits_one(capsys: pytest.CaptureFixture[str], dirs: dict[str, str]) -> None:
    code, doc = audit_json(capsys, dirs, "--stack", fixture("eu-us-profile"))
    (finding,) = doc["stacks"][0]["findings"]
    assert code == 1
    assert finding["rule"] == "profile-destinations"
    assert finding["config_key"] == "paddock:fallback.bedrock.models.claude-sonnet.inferenceProfile"


def test_all_audits_every_stack_file_and_prints_timing(
    capsys: pytest.CaptureFixture[str], dirs: dict[str, str], tmp_path: Path
) -> None:
    stacks = tmp_path / "stacks"
    stacks.mkdir()
    for name in ("clean-eu", "clean-pinned", "weights-other-region"):
        shutil.copy(fixture(name), stacks / f"Pulumi.{name}.yaml")
    code, out, err = run(
        capsys,
        "--all",
        "--stacks-dir",
        str(stacks),
        "--format",
        "json",
        "--plan-dir",
        dirs["plan"],
        "--no-render",
    )
    doc = json.loads(out)
    assert code == 1
    assert [s["stack"] for s in doc["stacks"]] == ["clean-eu", "clean-pinned", "weights-other-region"]
    assert [len(s["findings"]) for s in doc["stacks"]] == [0, 0, 1]
    assert re.fullmatch(
        r"audited 3 stack\(s\) in \d+\.\d\d s: 1 error\(s\), 0 warning\(s\) \(exit 1 on: error\)\n", err
    )


def test_markdown_report(capsys: pytest.CaptureFixture[str], dirs: dict[str, str]) -> None:
    code, out, _ = run(
        capsys,
        "--stack",
        fixture("weights-other-region"),
        "--stack",
        fixture("clean-pinned"),
        "--format",
        "md",
        "--plan-dir",
        dirs["plan"],
        "--no-render",
    )
    assert code == 1
    assert out.startswith("# Paddock data-residency audit\n")
    assert "## Stack `weights-other-region`: 1 error(s), 0 warning(s)" in out
    assert "## Stack `clean-pinned`: clean" in out
    row = (
        "| weights-other-region | error | `weights-region` | s3://acme-models-us/llama/ "
        "| `paddock:models[1].weightsRegion` | us-east-1 |"
    )
    assert row in out
    assert "- `weights-region` (error): Every S3 weights bucket is in an allowed Region." in out


def test_table_format(capsys: pytest.CaptureFixture[str], dirs: dict[str, str]) -> None:
    code, out, _ = run(
        capsys, "--stack", fixture("fallback-forbidden"), "--plan-dir", dirs["plan"], "--no-render"
    )
    assert code == 1
    assert (
        "Where data can reach" in out and "fallback-forbidden" in out and "paddock:models[0].fallback" in out
    )


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("--stack", "no-such-stack"), "--stack: no stack file"),
        (("--stack", fixture("bad-input")), "paddock:residency.allowedRegions"),
        ((), "--stack: name a stack"),
    ],
)
def test_bad_input_exits_two(capsys: pytest.CaptureFixture[str], args: tuple[str, ...], needle: str) -> None:
    code, _, err = run(capsys, *args, "--no-render")
    assert code == 2 and needle in err


def write_plan(root: str, env: str, records: Any) -> None:
    path = Path(root) / env / "resources.json"
    path.parent.mkdir(parents=True)
    path.write_text(records if isinstance(records, str) else json.dumps(records))


def test_plan_resources_are_checked(capsys: pytest.CaptureFixture[str], dirs: dict[str, str]) -> None:
    routes = yaml.safe_dump({"aliases": {"llama-8b-eu-only": {"fallback": {"bedrock": {"model": SONNET}}}}})
    write_plan(
        dirs["plan"],
        "clean-eu",
        [
            {
                "type": "kubernetes:core/v1:ConfigMap",
                "name": "gateway-routes",
                "parent": "gateway",
                "inputs": {"data": {"routes.yaml": routes}},
            },
            {
                "type": "aws:cloudwatch/logGroup:LogGroup",
                "name": "cluster-logs",
                "parent": None,
                "inputs": {"retentionInDays": 30.0},
            },
            {
                "type": "aws:eks/nodeGroup:NodeGroup",
                "name": "gpu-ng",
                "parent": None,
                "inputs": {"diskSize": 200.0},
            },
        ],
    )
    code, doc = audit_json(capsys, dirs, "--stack", fixture("clean-eu"))
    stack = doc["stacks"][0]
    assert code == 1 and stack["resourcesChecked"] == 3 and "is not keyed to" in stack["note"]
    assert [(f["rule"], f["resource"]) for f in stack["findings"]] == [
        ("pinned-alias-bedrock-route", "gateway-routes")
    ]
    kinds = {(p["kind"], p["resource"]) for p in stack["places"]}
    assert {("logs", "cluster-logs"), ("volumes", "gpu-ng")} <= kinds


@pytest.mark.parametrize("records", ["{not json", [{"name": "x"}], {"type": "x"}])
def test_malformed_plan_exits_two(
    capsys: pytest.CaptureFixture[str], dirs: dict[str, str], records: Any
) -> None:
    write_plan(dirs["plan"], "clean-eu", records)
    code, _, err = run(capsys, "--stack", fixture("clean-eu"), "--plan-dir", dirs["plan"], "--no-render")
    assert code == 2 and "--plan-dir" in err


def test_preflight_result_overrides_data_file(
    capsys: pytest.CaptureFixture[str], dirs: dict[str, str]
) -> None:
    code, _ = audit_json(capsys, dirs, "--stack", fixture("eu-narrow-allowed"))
    assert code == 1
    saved = Path(dirs["pre"]) / "eu-narrow-allowed" / "profiles.json"
    saved.parent.mkdir(parents=True)
    saved.write_text(json.dumps({"profiles": {SONNET: ["eu-west-1", "eu-central-1"]}}))
    code, doc = audit_json(capsys, dirs, "--stack", fixture("eu-narrow-allowed"))
    assert code == 0 and doc["stacks"][0]["findings"] == []
    saved.write_text(json.dumps({"profiles": ["x"]}))
    code, _, err = run(
        capsys, "--stack", fixture("eu-narrow-allowed"), "--preflight-dir", dirs["pre"], "--no-render"
    )
    assert code == 2 and "--preflight-dir" in err


def test_missing_plan_is_rendered_with_the_offline_renderer(
    capsys: pytest.CaptureFixture[str], dirs: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[str, Path]] = []

    def render_plan(*, stack_file: Path, stack: str, out_dir: Path, manifests: bool) -> None:
        assert manifests is False  # audit reads resource inputs, never rendered manifests
        calls.append((stack, out_dir))
        out_dir.mkdir(parents=True)
        nat = {"type": "aws:ec2/natGateway:NatGateway", "name": "nat", "parent": None, "inputs": {}}
        (out_dir / "resources.json").write_text(json.dumps([nat]))

    monkeypatch.setitem(sys.modules, "stacks.offline", types.SimpleNamespace(render_plan=render_plan))
    code, out, _ = run(
        capsys,
        "--stack",
        fixture("clean-eu"),
        "--format",
        "json",
        "--plan-dir",
        dirs["plan"],
        "--preflight-dir",
        dirs["pre"],
    )
    ((stack, out_dir),) = calls
    key = plan_key(Path(fixture("clean-eu")))
    assert (stack, out_dir) == ("clean-eu", Path(dirs["plan"]) / ".audit" / f"clean-eu-{key[:16]}")
    assert code == 1 and [f["rule"] for f in json.loads(out)["stacks"][0]["findings"]] == ["public-egress"]
    code, _, _ = run(capsys, "--stack", fixture("clean-eu"), "--plan-dir", dirs["plan"])
    assert len(calls) == 1 and code == 1  # the cached plan of the same content is reused


def test_failing_renderer_is_a_plan_unrendered_error_after_the_config_audit(
    capsys: pytest.CaptureFixture[str], dirs: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def render_plan(**_: Any) -> None:
        raise RuntimeError("mock engine exploded")

    monkeypatch.setitem(sys.modules, "stacks.offline", types.SimpleNamespace(render_plan=render_plan))
    code, out, _ = run(
        capsys,
        "--stack",
        fixture("clean-eu"),
        "--format",
        "json",
        "--plan-dir",
        dirs["plan"],
        "--preflight-dir",
        dirs["pre"],
    )
    (stack,) = json.loads(out)["stacks"]
    assert code == 1 and stack["resourcesChecked"] == 0 and stack["errors"] == 1
    (failure,) = stack["findings"]
    assert (failure["rule"], failure["severity"]) == ("plan-unrendered", "error")
    assert "RuntimeError: mock engine exploded" in failure["message"]


def test_region_without_gpu_prices_is_a_finding_with_exit_one_never_two(
    capsys: pytest.CaptureFixture[str], dirs: dict[str, str], tmp_path: Path
) -> None:
    """eu-north-1 is allowed by the stack but missing from the GPU price catalog: the render fails in sizing.
    The audit still runs the config rules and fails closed with plan-unrendered on aws:region (exit 1)."""
    doc = yaml.safe_load(Path(fixture("clean-eu")).read_text())
    doc["config"]["aws:region"] = "eu-north-1"
    doc["config"]["paddock:fallback"]["bedrock"]["region"] = "eu-central-1"
    path = tmp_path / "Pulumi.north.yaml"
    path.write_text(yaml.safe_dump(doc))
    code, out, err = run(capsys, "--stack", str(path), "--format", "json", "--plan-dir", dirs["plan"])
    (stack,) = json.loads(out)["stacks"]
    assert "error:" not in err
    if stack["resourcesChecked"] == 0:  # the price catalog still lacks eu-north-1
        assert code == 1
        assert [(f["rule"], f["config_key"]) for f in stack["findings"]] == [
            ("plan-unrendered", "aws:region")
        ]
    else:  # it gained prices since: a clean EU stack
        assert stack["findings"] == [] and code == 0


def test_exit_policy_warnings_exit_zero_unless_fail_on_warn(
    capsys: pytest.CaptureFixture[str], dirs: dict[str, str]
) -> None:
    code, doc = audit_json(capsys, dirs, "--stack", fixture("adopted-vpc"))
    (stack,) = doc["stacks"]
    assert code == 0 and doc["failOn"] == "error" and doc["exitCode"] == 0
    assert [(f["rule"], f["severity"], f["stack"]) for f in stack["findings"]] == [
        ("adopted-vpc-egress", "warning", "adopted-vpc")
    ]
    assert (stack["errors"], stack["warnings"]) == (0, 1)
    for flags in (("--fail-on-warn",), ("--fail-on", "warning")):
        code, doc = audit_json(capsys, dirs, "--stack", fixture("adopted-vpc"), *flags)
        assert code == 1 and doc["failOn"] == "warning" and doc["exitCode"] == 1
    code, _ = audit_json(capsys, dirs, "--stack", fixture("clean-eu"), "--fail-on-warn")
    assert code == 0


def test_every_finding_line_and_every_error_line_names_its_stack(
    capsys: pytest.CaptureFixture[str], dirs: dict[str, str], tmp_path: Path
) -> None:
    stacks = tmp_path / "stacks"
    stacks.mkdir()
    for name in ("hf-weights", "public-egress", "bad-input", "clean-eu"):
        shutil.copy(fixture(name), stacks / f"Pulumi.{name}.yaml")
    code, out, err = run(
        capsys, "--all", "--stacks-dir", str(stacks), "--plan-dir", dirs["plan"], "--no-render"
    )
    assert code == 2  # bad input wins, after the other stacks were audited and printed
    lines = [line for line in out.splitlines() if re.match(r"^[a-z-]+: (error|warning) ", line)]
    assert sorted(line.split(":")[0] for line in lines) == ["hf-weights"] * 2 + ["public-egress"] * 2
    problems = [line for line in err.splitlines() if "paddock:" in line]
    assert len(problems) >= 2
    assert all(line.startswith(("error: stack bad-input: ", "stack bad-input: ")) for line in problems)


def test_plan_cache_is_keyed_by_content_not_by_name(
    capsys: pytest.CaptureFixture[str], dirs: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A copy of a stack with the same name elsewhere gets its own plan and never overwrites the original's;
    an edit re-renders; the same content is reused."""
    rendered: list[Path] = []

    def render_plan(*, stack_file: Path, stack: str, out_dir: Path, manifests: bool) -> None:
        rendered.append(out_dir)
        out_dir.mkdir(parents=True)
        region = yaml.safe_load(stack_file.read_text())["config"]["aws:region"]
        cluster = {"type": "aws:eks/cluster:Cluster", "name": "eks", "inputs": {"region": region}}
        (out_dir / "resources.json").write_text(json.dumps([cluster]))

    monkeypatch.setitem(sys.modules, "stacks.offline", types.SimpleNamespace(render_plan=render_plan))
    original = tmp_path / "a" / "Pulumi.prod.yaml"
    copy = tmp_path / "b" / "Pulumi.prod.yaml"
    for path in (original, copy):
        path.parent.mkdir()
        shutil.copy(fixture("clean-eu"), path)
    doc = yaml.safe_load(copy.read_text())
    doc["config"]["aws:region"] = "us-east-1"
    copy.write_text(yaml.safe_dump(doc))
    for path in (original, copy, original):
        run(capsys, "--stack", str(path), "--plan-dir", dirs["plan"], "--preflight-dir", dirs["pre"])
    assert len(rendered) == 2 and rendered[0] != rendered[1]
    assert json.loads((rendered[0] / "resources.json").read_text())[0]["inputs"]["region"] == "eu-central-1"
    original.write_text(original.read_text() + "# edited\n")
    run(capsys, "--stack", str(original), "--plan-dir", dirs["plan"], "--preflight-dir", dirs["pre"])
    assert len(rendered) == 3


def test_markdown_groups_one_profile_into_allowed_and_refused_rows(
    capsys: pytest.CaptureFixture[str], dirs: dict[str, str]
) -> None:
    code, out, _ = run(
        capsys,
        "--stack",
        fixture("eu-narrow-allowed"),
        "--format",
        "md",
        "--plan-dir",
        dirs["plan"],
        "--no-render",
    )
    rows = [line for line in out.splitlines() if line.startswith(f"| prompts | Bedrock {SONNET}")]
    assert code == 1 and [row.split(" | ")[2:4] for row in rows] == [
        ["eu-central-1, eu-west-1", "yes"],
        ["eu-north-1, eu-south-1, eu-south-2, eu-west-3", "**no**"],
    ]


def test_cluster_region_outside_allowed_regions_plans_then_audits_as_a_finding(
    capsys: pytest.CaptureFixture[str], dirs: dict[str, str], tmp_path: Path
) -> None:
    stacks = tmp_path / "stacks"
    stacks.mkdir()
    shutil.copy(fixture("compute-region"), stacks / "Pulumi.compute-region.yaml")
    with pytest.raises(SystemExit) as planned:
        main(
            [
                "plan",
                "-s",
                "compute-region",
                "--stacks-dir",
                str(stacks),
                "--out",
                dirs["plan"] + "/compute-region",
                "--json",
            ]
        )
    out, _ = capsys.readouterr()
    # rendered (0), or rendered with failing bring-up checks (1): either way the plan files exist
    assert planned.value.code in (0, 1, None) and json.loads(out)["resources"] > 20
    code, doc = audit_json(capsys, dirs, "--stack", "compute-region", "--stacks-dir", str(stacks))
    (stack,) = doc["stacks"]
    assert code == 1 and stack["resourcesChecked"] == json.loads(out)["resources"]
    compute = [f for f in stack["findings"] if f["rule"] == "compute-region"]
    assert [(f["config_key"], f["region"], f["severity"]) for f in compute] == [
        ("aws:region", "us-east-1", "error")
    ]
    code, out, err = run(
        capsys,
        "--stack",
        "compute-region",
        "--stacks-dir",
        str(stacks),
        "--plan-dir",
        dirs["plan"],
        "--no-render",
    )
    assert code == 1 and "aws:region" in out and "compute-region" in out and "error:" not in err
