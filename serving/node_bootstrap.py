"""User data of GPU nodes: mount the instance store (local NVMe) as RAID0 under kubelet/containerd, so
emptyDir volumes (the model cache) and image layers land on it instead of the root EBS volume.

- AL2023 (nodeadm): a MIME multipart document with a ``NodeConfig`` part (``node.eks.aws/v1alpha1``,
  ``spec.instance.localStorage.strategy: RAID0``). EKS merges its own NodeConfig part into managed node
  groups' user data, which must therefore be MIME multipart.
- Bottlerocket: TOML ``settings.bootstrap-commands`` running ``apiclient ephemeral-storage init`` and
  ``bind --dirs /var/lib/containerd /var/lib/kubelet /var/log/pods`` (essential, mode always).

Pure functions (no Pulumi): components/gpu_node_group.py base64-encodes the result into the launch
template.
"""

from __future__ import annotations

import base64
from typing import Literal

CacheDisk = Literal["nvme", "ebs"]
MIME_BOUNDARY = "//paddock//"
#: directories bound onto the Bottlerocket instance-store array
BOTTLEROCKET_BIND_DIRS = ("/var/lib/containerd", "/var/lib/kubelet", "/var/log/pods")


def nodeadm_raid0_user_data() -> str:
    """AL2023 MIME multipart user data asking nodeadm to RAID0 the instance store for kubelet/containerd."""
    return "\n".join(
        [
            "MIME-Version: 1.0",
            f'Content-Type: multipart/mixed; boundary="{MIME_BOUNDARY}"',
            "",
            f"--{MIME_BOUNDARY}",
            "Content-Type: application/node.eks.aws",
            "",
            "---",
            "apiVersion: node.eks.aws/v1alpha1",
            "kind: NodeConfig",
            "spec:",
            "  instance:",
            "    localStorage:",
            "      strategy: RAID0",
            "",
            f"--{MIME_BOUNDARY}--",
            "",
        ]
    )


def bottlerocket_raid0_user_data() -> str:
    """Bottlerocket TOML: init the ephemeral (instance-store) array, bind kubelet/containerd onto it."""
    dirs = ", ".join(f'"{d}"' for d in BOTTLEROCKET_BIND_DIRS)
    return "\n".join(
        [
            "[settings.bootstrap-commands.paddock-ephemeral-storage]",
            "commands = [",
            '  ["apiclient", "ephemeral-storage", "init"],',
            f'  ["apiclient", "ephemeral-storage", "bind", "--dirs", {dirs}],',
            "]",
            "essential = true",
            'mode = "always"',
            "",
        ]
    )


def gpu_user_data(ami_type: str, nvme_gb: float) -> str | None:
    """Plain-text user data for a GPU launch template, or None when the instance has no instance store."""
    if nvme_gb <= 0:
        return None
    if ami_type.startswith("BOTTLEROCKET"):
        return bottlerocket_raid0_user_data()
    return nodeadm_raid0_user_data()


def cache_disk(nvme_gb: float) -> CacheDisk:
    """Where emptyDir (the model cache) lives on a node of this instance: the NVMe array or the root EBS."""
    return "nvme" if nvme_gb > 0 else "ebs"


def b64(text: str) -> str:
    """Base64 (what ``aws.ec2.LaunchTemplate.user_data`` takes)."""
    return base64.b64encode(text.encode()).decode()
