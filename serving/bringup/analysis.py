"""Run every bring-up check over one stack and summarise verdicts."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from serving.bringup.checks_hardware import check_capacity, check_disk
from serving.bringup.checks_images import check_images
from serving.bringup.checks_order import check_controllers, check_order, check_reachability
from serving.bringup.checks_scheduling import check_scheduling
from serving.bringup.context import Cluster
from serving.bringup.model import BringupInput, Finding, Verdict

Check = Callable[[Cluster], list[Finding]]
#: check id -> (function, what it proves), in report order
CHECKS: dict[str, tuple[Check, str]] = {
    "scheduling": (check_scheduling, "every pod at install fits a node group at its minimum size"),
    "images": (check_images, "every image has a route from the stack's network"),
    "order": (check_order, "CRDs, identities and the API/CNI/DNS come before what needs them"),
    "disk": (check_disk, "model cache + image fit the disk they are written to"),
    "capacity": (check_capacity, "instance types are sold in the region for the purchase option"),
    "controllers": (check_controllers, "every feature's in-cluster controller is installed"),
    "reachability": (check_reachability, "the program can reach the cluster's API endpoint"),
}


def analyze(inp: BringupInput) -> list[Finding]:
    """Every finding of every check, in :data:`CHECKS` order."""
    cluster = Cluster(inp)
    return [f for check, _ in CHECKS.values() for f in check(cluster)]


def verdicts(findings: Sequence[Finding]) -> dict[str, Verdict]:
    """Per check: fail if any finding fails, else assumed if any is assumed, else pass."""
    out: dict[str, Verdict] = {}
    for check in CHECKS:
        mine = {f.verdict for f in findings if f.check == check}
        out[check] = "fail" if "fail" in mine else "assumed" if "assumed" in mine else "pass"
    return out
