"""Tables never ellipsize config keys or ids (they fold), piped or not."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from scripts.audit import command as audit

STACKS = Path(__file__).resolve().parents[2] / "stacks"


def test_audit_table_keeps_every_config_key_and_profile_id() -> None:
    result = CliRunner().invoke(audit, ["--all", "--no-render", "--stacks-dir", str(STACKS)])
    assert result.exit_code in (0, 1), result.output
    assert "…" not in result.output
    cells = "".join(ch for ch in result.output if ch not in " │\n")
    # a folded cell reads back whole once the column is joined (one line of the table per fold)
    assert "paddock:fallback.bedrock.models" in cells
