"""Helpers shared by the checks: finding constructors."""

from __future__ import annotations

from serving.bringup.model import Finding


def fail(check: str, resource: str, key: str, message: str) -> Finding:
    """A failing finding."""
    return Finding(check, "fail", str(resource), key, message)


def assumed(check: str, resource: str, key: str, message: str) -> Finding:
    """A finding the analysis cannot prove either way (adopted resources, unmodelled facts)."""
    return Finding(check, "assumed", str(resource), key, message)


def passed(findings: list[Finding], check: str, resource: str, key: str, message: str) -> list[Finding]:
    """``findings`` plus one pass finding when none of them fails."""
    if any(f.verdict == "fail" for f in findings):
        return findings
    return [*findings, Finding(check, "pass", resource, key, message)]
