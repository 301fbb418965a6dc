"""Plan warnings about the cluster's reachability and support status (pure; fed the ``stack_config.json`` dict
that ``paddock plan`` writes, i.e. :meth:`serving.stack_config.StackConfig.to_dict`).

``serving.plan_report.warnings`` can append :func:`cluster_warnings` (wired at integration): each line names
the config key to edit.
"""

from __future__ import annotations

import datetime as _dt
import ipaddress
from collections.abc import Mapping
from typing import Any

from serving.catalog.eks import support_warning

#: RFC 5737 documentation ranges: never a real runner (the shipped stacks use 203.0.113.10/32 as placeholder)
DOCUMENTATION_RANGES = tuple(
    ipaddress.IPv4Network(n) for n in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24")
)
WHOLE_INTERNET = ipaddress.IPv4Network("0.0.0.0/0")


def cluster_warnings(config: Mapping[str, Any], today: _dt.date) -> list[str]:
    """One line per problem: Kubernetes version leaving EKS standard support within 90 days (or unknown),
    an API endpoint the deploy runner cannot reach, a public endpoint open to the internet, a placeholder."""
    cluster = config.get("cluster", {})
    found: list[str] = []
    version = cluster.get("kubernetes_version")
    if cluster.get("create") and version:
        note = support_warning(str(version), today)
        if note:
            found.append(f"paddock:cluster.kubernetesVersion: {note}")
    if cluster.get("create") and not cluster.get("endpoint_public_access"):
        if config.get("network", {}).get("create"):
            found.append(
                "paddock:cluster.endpointPublicAccess: false with a created VPC: nothing outside the new "
                "VPC can reach the Kubernetes API on the first deploy (set it true with publicAccessCidrs, "
                "or adopt a VPC the runner is inside of and list it in privateAccessCidrs)"
            )
        elif not cluster.get("private_access_cidrs"):
            found.append(
                "paddock:cluster.privateAccessCidrs: empty with a private-only endpoint: list the CIDR of "
                "the runner inside or connected to the VPC (TCP 443 on the cluster security group)"
            )
    if cluster.get("endpoint_public_access"):
        for i, cidr in enumerate(cluster.get("public_access_cidrs", ())):
            net = ipaddress.IPv4Network(cidr, strict=False)  # the parser accepts IPv4 CIDRs only
            key = f"paddock:cluster.publicAccessCidrs[{i}]"
            if net == WHOLE_INTERNET:
                found.append(f"{key}: 0.0.0.0/0 opens the public API endpoint to the whole internet")
            elif any(net.subnet_of(doc) for doc in DOCUMENTATION_RANGES):
                found.append(
                    f"{key}: {cidr} is a documentation-range placeholder: replace it with the deploy "
                    "runner's egress CIDR, or `pulumi up` cannot reach the Kubernetes API"
                )
    return found
