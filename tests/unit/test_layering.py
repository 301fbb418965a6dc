"""The import rules of README, checked on the source tree (AST, no imports executed).

serving/    -> never pulumi*, components, stacks, scripts
components/ -> never stacks, scripts; never reads pulumi.Config
scripts/    -> never pulumi*/components directly (the offline plan goes through stacks.offline)
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

FORBIDDEN = {
    "serving": (
        "pulumi",
        "pulumi_aws",
        "pulumi_kubernetes",
        "pulumi_policy",
        "components",
        "stacks",
        "scripts",
    ),
    "components": ("stacks", "scripts"),
    "scripts": ("pulumi", "pulumi_aws", "pulumi_kubernetes", "components"),
}


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
    return found


def _violations(package: str) -> list[str]:
    bad: list[str] = []
    for path in sorted((ROOT / package).rglob("*.py")):
        for lineno, name in _imports(path):
            top = name.split(".")[0]
            if top in FORBIDDEN[package]:
                bad.append(f"{path.relative_to(ROOT)}:{lineno} imports {name}")
    return bad


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_respects_import_rules(package: str) -> None:
    assert _violations(package) == []


def test_components_never_read_pulumi_config() -> None:
    offenders = [
        str(p.relative_to(ROOT))
        for p in sorted((ROOT / "components").rglob("*.py"))
        if "pulumi.Config(" in p.read_text() or "from pulumi import Config" in p.read_text()
    ]
    assert offenders == []


def test_checker_catches_a_forbidden_import(tmp_path: Path) -> None:
    sample = tmp_path / "bad.py"
    sample.write_text("import os\nfrom pulumi_aws import ec2\n")
    assert (2, "pulumi_aws") in _imports(sample)


def test_rendering_a_stack_does_not_load_the_gateway_http_stack() -> None:
    """`paddock plan`/`audit` import the gateway package for routes and chart values only: the HTTP stack
    (aiohttp, the Starlette app, botocore's Bedrock client) must stay unloaded (~350 ms per process)."""
    import subprocess
    import sys

    code = (
        "import sys, components.gateway, serving.gateway.routes_from_stack;"
        "heavy = ('aiohttp', 'serving.gateway.app', 'serving.gateway.bedrock');"
        "print(sorted(m for m in heavy if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
