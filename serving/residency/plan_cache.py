"""The key of ``paddock audit``'s plan cache: a hash of what the offline plan is a function of.

``key = sha256(stack file bytes, code version)`` where the code version hashes every source and data file
of the renderer (``serving/`` incl. its catalogs and charts, ``components/``, ``stacks/`` Python,
``helm_values/``, and ``pyproject.toml``/``uv.lock``) by path and content. A cached plan is therefore reused
only for the same stack file content rendered by the same code and catalogs, never by name or mtime; two
stack files with one name (a copy outside ``stacks/``) get different entries and never overwrite each other.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
#: (directory under the repo root, file suffixes) that the offline render reads
CODE_TREES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("serving", (".py", ".json", ".yaml", ".yml", ".j2", ".tpl", ".txt", ".csv")),
    ("components", (".py",)),
    ("stacks", (".py",)),
    ("helm_values", (".j2", ".yaml", ".yml")),
)
#: files at the repo root that pin what renders (dependency versions)
ROOT_FILES = ("pyproject.toml", "uv.lock", "Pulumi.yaml")


def _files(root: Path) -> Iterable[Path]:
    yield from (root / name for name in ROOT_FILES if (root / name).is_file())
    for tree, suffixes in CODE_TREES:
        base = root / tree
        if base.is_dir():
            yield from sorted(
                p
                for p in base.rglob("*")
                if p.is_file() and p.suffix in suffixes and "__pycache__" not in p.parts
            )


@lru_cache(maxsize=4)
def code_version(root: Path = ROOT) -> str:
    """sha256 hex of every renderer source/data file (relative path + bytes), in sorted order."""
    digest = hashlib.sha256()
    for path in _files(root):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()


def plan_key(stack_file: Path, root: Path = ROOT) -> str:
    """sha256 hex of the stack file's bytes and :func:`code_version`."""
    digest = hashlib.sha256(stack_file.read_bytes())
    digest.update(b"\0" + code_version(root).encode())
    return digest.hexdigest()


def cache_dir(plan_dir: Path, env: str, key: str) -> Path:
    """Where the plan of (``env``, ``key``) lives: ``<plan_dir>/.audit/<env>-<key[:16]>/``."""
    return plan_dir / ".audit" / f"{env}-{key[:16]}"
