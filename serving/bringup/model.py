"""Inputs, findings and the dependency graph of the bring-up analysis (pure data, no Pulumi)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal

from serving.bringup.charts import ChartCatalog

Verdict = Literal["pass", "fail", "assumed"]


@dataclass(frozen=True)
class Finding:
    """One result of one check: the resource it is about and the config key that causes it."""

    check: str
    verdict: Verdict
    resource: str
    key: str
    message: str

    def line(self) -> str:
        """One line for the terminal: ``scheduling: autoscaling-keda: ... [paddock:cluster.systemNodes]``."""
        return f"{self.check}: {self.resource}: {self.message} [{self.key}]"

    def to_dict(self) -> dict[str, str]:
        return {
            "check": self.check,
            "verdict": self.verdict,
            "resource": self.resource,
            "key": self.key,
            "message": self.message,
        }


@dataclass(frozen=True)
class BringupInput:
    """Everything the analysis reads. ``manifests`` maps a release name (our charts) to its ``helm
    template`` output; None when manifests were not rendered (no helm)."""

    stack: str
    config: Mapping[str, Any]
    plans: Mapping[str, Mapping[str, Any]]
    resources: Sequence[Mapping[str, Any]]
    manifests: Mapping[str, str] | None
    charts: ChartCatalog

    @property
    def region(self) -> str:
        return str(self.config.get("region", ""))


@dataclass
class Graph:
    """Who waits for whom. A resource waits for its ``dependsOn``, its provider, everything its ancestors
    wait for (a child inherits its parent's dependencies), and, for a dependency that is a component, all of
    that component's descendants; transitively."""

    resources: Sequence[Mapping[str, Any]]
    _memo: dict[str, frozenset[str]] = field(default_factory=dict)

    @cached_property
    def by_name(self) -> dict[str, Mapping[str, Any]]:
        return {str(r["name"]): r for r in self.resources}

    @cached_property
    def children(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for r in self.resources:
            if r.get("parent"):
                out.setdefault(str(r["parent"]), []).append(str(r["name"]))
        return out

    def descendants(self, name: str) -> set[str]:
        found: set[str] = set()
        stack = list(self.children.get(name, []))
        while stack:
            child = stack.pop()
            if child not in found:
                found.add(child)
                stack.extend(self.children.get(child, []))
        return found

    def direct(self, name: str) -> set[str]:
        """Direct edges: own dependsOn + provider + the ancestors' dependsOn/provider."""
        deps: set[str] = set()
        node: str | None = name
        seen: set[str] = set()
        while node and node in self.by_name and node not in seen:
            seen.add(node)
            rec = self.by_name[node]
            deps.update(str(d) for d in rec.get("dependsOn") or ())
            if rec.get("provider"):
                deps.add(str(rec["provider"]))
            node = rec.get("parent")
        return deps

    def waits_for(self, name: str) -> frozenset[str]:
        """Every resource that is created before ``name`` (transitive, through parents)."""
        if name in self._memo:
            return self._memo[name]
        self._memo[name] = frozenset()  # cycle guard
        out: set[str] = set()
        for dep in self.direct(name):
            out.add(dep)
            out.update(self.descendants(dep))
        for dep in list(out):
            out.update(self.waits_for(dep))
        out.discard(name)
        result = frozenset(out)
        self._memo[name] = result
        return result

    def of_type(self, typ: str) -> list[Mapping[str, Any]]:
        return [r for r in self.resources if r["type"] == typ]
