"""``paddock plan``: exit codes, the key named on invalid config, files written, JSON and tree output."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from scripts.cli import main

STACKS = Path(__file__).resolve().parents[2] / "stacks"


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(["plan", *args])
    out, err = capsys.readouterr()
    return int(exc.value.code or 0), out, err


def test_unknown_stack_is_bad_input(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(capsys, "--stack", "nope", "--stacks-dir", str(STACKS))
    assert code == 2
    assert err.startswith("error: --stack: no stack file") and "known stacks: dev, ephemeral, prod-eu" in err


def test_invalid_config_names_every_bad_key(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    doc = yaml.safe_load((STACKS / "Pulumi.dev.yaml").read_text())
    doc["config"]["paddock:models"][0]["gpu"] = "x"
    doc["config"]["paddock:cluster"]["kubernetesVersion"] = "one"
    (tmp_path / "Pulumi.broken.yaml").write_text(yaml.safe_dump(doc))
    code, _, err = _run(capsys, "-s", "broken", "--stacks-dir", str(tmp_path), "--out", str(tmp_path / "out"))
    assert code == 2
    assert "paddock:models[0].gpu: 'x' is not a GPU id or instance type" in err
    assert "paddock:cluster.kubernetesVersion: 'one' is not a version like 1.33" in err
    assert "Traceback" not in err and not (tmp_path / "out").exists()


def test_out_naming_a_file_is_bad_input(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    target = tmp_path / "notes.txt"
    target.write_text("keep me")
    code, _, err = _run(capsys, "-s", "dev", "--stacks-dir", str(STACKS), "--out", str(target))
    assert (
        code == 2
        and err == f"error: --out: {target} is a file: --out takes a folder (created when missing)\n"
    )
    assert target.read_text() == "keep me"


@pytest.mark.parametrize(
    ("edit", "line"),
    [
        ({"foo": "bar"}, "  foo: key without a namespace (Pulumi rejects it): write paddock:<key>"),
        ({"paddock:tags": "x"}, "  paddock:tags: expected a mapping of strings, got 'x'"),
    ],
    ids=["no-namespace", "tags"],
)
def test_bad_config_is_exit_2_with_one_line_per_key(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, edit: dict[str, object], line: str
) -> None:
    doc = yaml.safe_load((STACKS / "Pulumi.dev.yaml").read_text())
    doc["config"].update(edit)
    (tmp_path / "Pulumi.bad.yaml").write_text(yaml.safe_dump(doc))
    code, out, err = _run(capsys, "-s", "bad", "--stacks-dir", str(tmp_path), "--out", str(tmp_path / "out"))
    assert code == 2 and out == ""
    assert err == f"error: 1 problem(s) in stack config:\n{line}\n"


def test_a_fallback_the_residency_forbids_is_an_error_not_a_silent_pin(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    doc = yaml.safe_load((STACKS / "Pulumi.dev.yaml").read_text())
    doc["config"]["paddock:residency"]["allowFallback"] = False  # models[0] keeps fallback: claude-haiku
    (tmp_path / "Pulumi.nofb.yaml").write_text(yaml.safe_dump(doc))
    code, out, err = _run(
        capsys, "-s", "nofb", "--stacks-dir", str(tmp_path), "--out", str(tmp_path / "out"), "--json"
    )
    assert code == 1
    payload = json.loads(out)
    assert [f["rule"] for f in payload["residency"]] == ["fallback-forbidden"]
    assert payload["residency"][0]["config_key"] == "paddock:models[0].fallback"


def test_non_utf8_stack_file_is_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    (tmp_path / "Pulumi.latin.yaml").write_bytes(b"config:\n  paddock:environment: \xc5lice\n")
    code, _, err = _run(capsys, "-s", "latin", "--stacks-dir", str(tmp_path), "--out", str(tmp_path / "out"))
    assert code == 2 and "is not UTF-8 text" in err and err.count("\n") == 1


def test_model_that_cannot_be_sized_names_its_key(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    doc = yaml.safe_load((STACKS / "Pulumi.dev.yaml").read_text())
    doc["config"]["paddock:models"][0]["model"] = "no-such-model"
    (tmp_path / "Pulumi.badmodel.yaml").write_text(yaml.safe_dump(doc))
    code, _, err = _run(
        capsys, "-s", "badmodel", "--stacks-dir", str(tmp_path), "--out", str(tmp_path / "out")
    )
    assert code == 2 and "paddock:models[0].model:" in err and "no-such-model" in err


def test_json_output_and_files(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    out_dir = tmp_path / "plan"
    code, out, err = _run(
        capsys, "--stack", "dev", "--stacks-dir", str(STACKS), "--out", str(out_dir), "--json"
    )
    assert err == ""
    payload = json.loads(out)
    failing = [f for f in payload["bringup"]["findings"] if f["verdict"] == "fail"]
    assert code == (1 if failing else 0)  # exit 1 exactly when a bring-up check fails
    assert set(payload["bringup"]["verdicts"]) == {
        "scheduling",
        "images",
        "order",
        "disk",
        "capacity",
        "controllers",
        "reachability",
    }
    assert all(set(f) == {"check", "verdict", "resource", "key", "message"} for f in failing)
    assert payload["analysis_seconds"] >= 0
    # the warnings the tree prints travel in the JSON too (dev ships a placeholder API CIDR)
    assert any(
        w.startswith("paddock:cluster.publicAccessCidrs[0]: 203.0.113.10/32") for w in payload["warnings"]
    )
    assert payload["stack"] == "dev" and payload["out"] == str(out_dir) and payload["residency"] == []
    assert payload["plans"]["llama-8b"]["instance_type"] == "g6e.xlarge"
    resources = json.loads((out_dir / "resources.json").read_text())
    assert payload["resources"] == len(resources) > 30
    for name in (
        "plans.json",
        "stack_config.json",
        "summary.md",
        "manifests/llama-8b.yaml",
        "values/llama-8b.yaml",
    ):
        assert (out_dir / name).is_file(), name
    assert (out_dir / "iam" / "model-llama-8b-pod-weights.json").is_file()


def test_tree_output(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    stacks = tmp_path / "stacks"
    shutil.copytree(STACKS, stacks, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    code, out, _ = _run(capsys, "-s", "prod-eu", "--stacks-dir", str(stacks), "--out", str(tmp_path / "p"))
    assert code == 0, out  # prod-eu passes the bring-up analysis
    assert "bring-up reachability: " in out
    assert "prod-eu (eu-central-1)" in out and "gpu-llama-70b-ng" in out and "g6e.12xlarge" in out
    assert "llama-70b: meta-llama/Llama-3.3-70B-Instruct on g6e.12xlarge" in out
    assert f"wrote {tmp_path / 'p'}/ in " in out


def test_without_helm_everything_but_manifests_is_written(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import scripts.tools

    def offline_fetch() -> Path:
        raise OSError("Name or service not known")

    monkeypatch.setenv("PADDOCK_HELM", str(tmp_path / "no-helm"))
    monkeypatch.setattr(scripts.tools, "ensure_tools", offline_fetch)
    out_dir = tmp_path / "plan"
    args = ("-s", "ephemeral", "--stacks-dir", str(STACKS), "--out", str(out_dir), "--json")
    code, out, err = _run(capsys, *args)
    payload = json.loads(out)
    assert payload["stack"] == "ephemeral"
    assert code == 1  # without manifests our charts' pods are unknown: never a silent pass
    assert any(
        f["check"] == "scheduling" and "not rendered" in f["message"] for f in payload["bringup"]["findings"]
    )
    assert "no helm (Name or service not known); manifests/ not rendered" in err
    assert (out_dir / "values" / "llama-8b.yaml").is_file() and not (out_dir / "manifests").exists()


def _broken_stack(tmp_path: Path) -> Path:
    """dev with a private-only endpoint in its created VPC: the bring-up analysis must fail reachability."""
    doc = yaml.safe_load((STACKS / "Pulumi.dev.yaml").read_text())
    doc["config"]["paddock:cluster"]["endpointPublicAccess"] = False
    del doc["config"]["paddock:cluster"]["publicAccessCidrs"]
    (tmp_path / "Pulumi.private.yaml").write_text(yaml.safe_dump(doc))
    return tmp_path


def test_failing_bring_up_exits_1_naming_resource_and_key(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    stacks = _broken_stack(tmp_path)
    code, out, _ = _run(capsys, "-s", "private", "--stacks-dir", str(stacks), "--out", str(tmp_path / "p"))
    assert code == 1
    assert (
        "error: reachability: eks-eks: private-only endpoint in a VPC this stack creates: nothing can route "
        "in on the first deploy [paddock:cluster.endpointPublicAccess]" in out
    )
    summary = (tmp_path / "p" / "summary.md").read_text()
    assert "## Bring-up" in summary and "| `reachability` |" in summary and "**fail**" in summary


def test_plan_keeps_files_it_did_not_write(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    stacks = _broken_stack(tmp_path)
    out_dir = tmp_path / "p"
    (out_dir / "values").mkdir(parents=True)
    (out_dir / "notes.txt").write_text("mine")
    (out_dir / "values" / "mine.yaml").write_text("a: 1")
    for _ in range(2):
        _run(capsys, "-s", "private", "--stacks-dir", str(stacks), "--out", str(out_dir))
    assert (out_dir / "notes.txt").read_text() == "mine" and (out_dir / "values" / "mine.yaml").is_file()
    listed = (out_dir / ".paddock-plan-files").read_text().splitlines()
    assert "resources.json" in listed and "summary.md" in listed and "notes.txt" not in listed
