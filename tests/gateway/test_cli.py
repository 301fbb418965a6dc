"""``paddock gateway``: bad configs exit 2 with one message naming the key; a good one builds the app."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from scripts.cli import cli, main
from scripts.gateway import build
from serving.gateway.logs import LOGGER


@pytest.fixture(autouse=True)
def _restore_logger(monkeypatch: pytest.MonkeyPatch) -> None:
    """build() installs the JSON log handler process-wide; undo it after each test."""
    for attr in ("propagate", "handlers", "level"):
        monkeypatch.setattr(LOGGER, attr, getattr(LOGGER, attr))


def test_bad_config_exits_2_naming_the_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "routes.yaml"
    cfg.write_text("aliases:\n  a:\n    primary: {url: http://x:8000/v1, model: m}\n    fallbak: none\n")
    with pytest.raises(SystemExit) as info:
        main(["gateway", "--config", str(cfg)])
    assert info.value.code == 2
    assert "aliases.a.fallbak: unknown key" in capsys.readouterr().err


def test_missing_config_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["gateway", "--config", str(tmp_path / "nope.yaml")])
    assert info.value.code == 2
    assert "--config: cannot read" in capsys.readouterr().err


def test_help_and_build(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["gateway", "--help"])
    assert result.exit_code == 0 and "--config" in result.output and "--port" in result.output
    cfg = tmp_path / "routes.yaml"
    cfg.write_text("aliases:\n  a:\n    primary: {url: http://x:8000/v1, model: m}\n    fallback: none\n")
    app = build(str(cfg), "warning")
    assert sorted(app.state.gateway.aliases) == ["a"]
    assert app.state.gateway.bedrock is None  # an all-pinned gateway builds no Bedrock client at all


def test_admin_port_must_differ_from_the_api_port(tmp_path: Path) -> None:
    cfg = tmp_path / "routes.yaml"
    cfg.write_text("aliases:\n  a:\n    primary: {url: http://x:8000/v1, model: m}\n    fallback: none\n")
    result = CliRunner().invoke(
        cli, ["gateway", "--config", str(cfg), "--port", "8080", "--admin-port", "8080"]
    )
    assert result.exit_code == 2 and "--admin-port" in result.output
    app = build(str(cfg), "warning", admin_port=9090)
    assert app.admin_port == 9090  # type: ignore[attr-defined]


def test_startup_line_names_address_aliases_and_metrics(tmp_path: Path) -> None:
    from scripts.gateway import startup_line

    cfg = tmp_path / "routes.yaml"
    cfg.write_text("aliases:\n  a:\n    primary: {url: http://x:8000/v1, model: m}\n    fallback: none\n")
    app = build(str(cfg), "warning")
    line = startup_line(app, "127.0.0.1", 8080, None)
    assert line == (
        "paddock gateway on http://127.0.0.1:8080/v1 · aliases: a (pinned) · metrics: http://127.0.0.1:8080/metrics"
    )
    assert startup_line(app, "0.0.0.0", 8080, 9090).endswith("metrics: http://0.0.0.0:9090/metrics")
