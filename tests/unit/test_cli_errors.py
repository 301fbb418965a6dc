"""``paddock`` errors: one line per problem on stderr, exit 2 for bad input, and with ``--json`` a JSON
document on stdout naming each key (no traceback anywhere)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from scripts.cli import main

STACKS = Path(__file__).resolve().parents[2] / "stacks"


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(list(args))
    out, err = capsys.readouterr()
    return int(exc.value.code or 0), out, err


def test_plan_json_config_errors_are_json(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    doc = yaml.safe_load((STACKS / "Pulumi.dev.yaml").read_text())
    doc["config"]["foo"] = "bar"
    doc["config"]["paddock:models"][0]["replicas"] = {"min": 3, "max": 2}
    (tmp_path / "Pulumi.bad.yaml").write_text(yaml.safe_dump(doc))
    code, out, err = _run(capsys, "plan", "-s", "bad", "--stacks-dir", str(tmp_path), "--json")
    assert code == 2
    assert err.splitlines() == [
        "error: 2 problem(s) in stack config:",
        "  foo: key without a namespace (Pulumi rejects it): write paddock:<key>",
        "  paddock:models[0].replicas.min: 3 is greater than max 2",
    ]
    payload = json.loads(out)
    assert payload["exitCode"] == 2 and payload["error"]["field"] == "foo"
    assert [p["key"] for p in payload["error"]["problems"]] == ["foo", "paddock:models[0].replicas.min"]


def test_plan_json_flag_error_is_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(capsys, "plan", "-s", "nope", "--stacks-dir", str(STACKS), "--json")
    assert code == 2 and err.startswith("error: --stack: no stack file")
    assert json.loads(out)["error"]["problems"][0]["key"] == "--stack"


def test_without_json_stdout_stays_empty(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(capsys, "plan", "-s", "nope", "--stacks-dir", str(STACKS))
    assert code == 2 and out == "" and "Traceback" not in err


@pytest.mark.parametrize("stack", ["", "../etc", "a/b", ".hidden"])
def test_plan_stack_that_is_not_a_name(capsys: pytest.CaptureFixture[str], stack: str) -> None:
    code, out, err = _run(capsys, "plan", "--stack", stack, "--stacks-dir", str(STACKS))
    assert code == 2 and out == ""
    assert (
        err.startswith(f"error: --stack: {stack!r} is not a stack name") and "dev, ephemeral, prod-eu" in err
    )


def test_a_non_utf8_file_read_by_any_command_is_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    routes = tmp_path / "routes.yaml"
    routes.write_bytes(b"aliases:\n  \xc5: {}\n")
    code, _, err = _run(capsys, "gateway", "--config", str(routes))
    assert code == 2 and err.startswith("error: ") and "not UTF-8" in err and "Traceback" not in err


def test_audit_json_flag_is_format_json_and_bad_input_is_one_document(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, _ = _run(
        capsys, "audit", "--stack", "dev", "--no-render", "--json", "--stacks-dir", str(STACKS)
    )
    assert code == 0 and json.loads(out)["stacks"][0]["stack"] == "dev"
    code, out, err = _run(capsys, "audit", "--stack", "nope", "--json", "--stacks-dir", str(STACKS))
    doc = json.loads(out)  # exactly one JSON document
    assert code == 2 and doc["exitCode"] == 2 and "no stack file" in doc["badInput"][0]
    assert "error: " in err
