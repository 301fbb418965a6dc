"""routes.example.yaml, the README's gateway example, loads as shipped: no environment variable needed."""

from __future__ import annotations

from pathlib import Path

from serving.gateway import load_routes

EXAMPLE = Path(__file__).resolve().parents[2] / "routes.example.yaml"


def test_the_example_loads_without_any_environment() -> None:
    settings = load_routes(EXAMPLE)
    assert sorted(settings.aliases) == ["llama-8b", "llama-8b-pinned"]
    assert settings.api_keys is None
    assert settings.aliases["llama-8b"].fallback is not None
    assert settings.aliases["llama-8b-pinned"].fallback is None


def test_the_readme_runs_the_example() -> None:
    readme = (EXAMPLE.parent / "README.md").read_text()
    assert "paddock gateway --config routes.example.yaml" in readme
