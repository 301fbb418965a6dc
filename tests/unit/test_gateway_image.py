"""The gateway image recipe: built from uv.lock's `gateway` group, copying only what .dockerignore lets in,
and the gateway code imports nothing outside that group."""

from __future__ import annotations

import ast
import fnmatch
import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "serving" / "gateway" / "Dockerfile"
#: import name -> distribution name where they differ
IMPORT_NAMES = {
    "yaml": "pyyaml",
    "prometheus_client": "prometheus-client",
    "yarl": "aiohttp",  # aiohttp's own dependency (its URL type), installed with it
}


def _group() -> set[str]:
    doc = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return {re.split(r"[<>=\[ ]", d, maxsplit=1)[0] for d in doc["dependency-groups"]["gateway"]}


def _copied_sources() -> list[str]:
    sources: list[str] = []
    for line in DOCKERFILE.read_text().splitlines():
        if line.startswith("COPY ") and "--from=" not in line:
            sources += line.split()[1:-1]
    return sources


def _allowed(path: str) -> bool:
    allowed = False
    for raw in (ROOT / ".dockerignore").read_text().splitlines():
        rule = raw.strip()
        if not rule or rule.startswith("#"):
            continue
        negate = rule.startswith("!")
        pattern = rule[1:] if negate else rule
        if (
            fnmatch.fnmatch(path, pattern)
            or path.startswith(pattern.rstrip("/") + "/")
            or (pattern.endswith("/") and path.rstrip("/") == pattern.rstrip("/"))
        ):
            allowed = negate
    return allowed


def test_every_copied_file_exists_and_is_in_the_build_context() -> None:
    sources = _copied_sources()
    assert "uv.lock" in sources and "serving/gateway/" in sources
    for source in sources:
        assert (ROOT / source).exists(), source
        assert _allowed(source), f"{source} is excluded by .dockerignore"
    assert not _allowed("tests/unit/test_images.py") and not _allowed(".venv/bin/python")


def test_installs_the_locked_gateway_group_with_hashes() -> None:
    text = DOCKERFILE.read_text()
    assert "uv export --frozen --only-group gateway" in text and "--require-hashes" in text
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    names = {re.split(r"[<>=\[ ]", d, maxsplit=1)[0] for d in project}
    assert _group() <= names  # the image runs versions the tests ran
    assert "pulumi" not in _group()


def test_gateway_code_imports_only_the_group() -> None:
    # chart_values.py and routes_from_stack.py are the stack's side (Helm values, routes from the config):
    # copied with the package but never imported by the running gateway
    stack_side = {"chart_values.py", "routes_from_stack.py"}
    files = [p for p in sorted((ROOT / "serving" / "gateway").glob("*.py")) if p.name not in stack_side]
    files.append(ROOT / "scripts" / "cli.py")
    files += [
        ROOT / "scripts" / "gateway.py",
        ROOT / "serving" / "__init__.py",
        ROOT / "serving" / "errors.py",
    ]
    group = _group()
    for path in files:
        for node in ast.walk(ast.parse(path.read_text())):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for name in names:
                top = name.split(".")[0]
                if top in sys.stdlib_module_names or top == "__future__":
                    continue
                if top in ("serving", "scripts"):
                    assert name.startswith(("serving.gateway", "serving.errors", "scripts")), (path, name)
                    continue
                assert IMPORT_NAMES.get(top, top) in group, (path.name, name)
