"""Where an engine pod's model cache lives, how big it is, and how fast the disk under it writes.

The S3 init container (or the Hugging Face download for ``weights: hf``) writes the whole checkpoint
(``ServingPlan.checkpoint_gib``: bf16 for online ``--quantization fp8``) into the ``models`` emptyDir. An
emptyDir lives where kubelet keeps its state:

- instance with local NVMe (``InstanceSpec.nvme_gb > 0``): the GPU node group mounts the instance store RAID0
  for kubelet and containerd (AL2023 nodeadm ``localStorage: RAID0``, Bottlerocket ephemeral storage), so the
  cache, the engine image and the pods' scratch space land on NVMe; the root EBS volume then holds the OS and
  logs only (``cache_disk = "nvme"``);
- otherwise the root EBS volume (AL2023: /dev/xvda; Bottlerocket: its data volume /dev/xvdb) holds them all
  and is sized for every engine pod that can share the node (``cache_disk = "ebs"``).

Figures (each is a constant below, with its source):

- cache per pod = ceil(1.1 x checkpoint_gib) + 4 GiB (tokenizer/configs, HF metadata, torch.compile /
  Triton / vLLM caches, which the chart puts on the same volume);
- pod ephemeral-storage request = cache + the 8 GiB /tmp (HOME) emptyDir + 2 GiB container logs;
- engine image on disk while it is pulled: unpacked layers + the compressed blobs (containerd on EKS AMIs
  discards the compressed blobs only after unpacking: ``discard_unpacked_layers = true``);
- usable disk = 90 % of capacity (kubelet's default hard eviction ``nodefs.available<10%``);
- gp3 as the launch template sets it: 500 MiB/s, 6000 IOPS; NVMe RAID0 write 2000 MB/s (assumption).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from serving.catalog.hardware import InstanceSpec
from serving.sizing.memory import GIB

CacheDisk = Literal["nvme", "ebs"]

CACHE_HEADROOM = 1.1
"""Cache emptyDir = checkpoint x 1.1 + CACHE_EXTRA_GIB (partial files of a resumed sync, the index)."""
CACHE_EXTRA_GIB = 4
"""Tokenizer/configs, HF metadata and the compile caches (TORCHINDUCTOR/TRITON/VLLM cache dirs), GiB."""
TMP_GIB = 8
"""The chart's /tmp emptyDir (HOME of the engine and init containers), GiB; sizeLimit 8Gi in the chart."""
LOG_GIB = 2
"""Container logs and writable-layer slack in the pod's ephemeral-storage request, GiB."""
OS_RESERVE_GIB = 30
"""Root volume share of the OS, kubelet state and /var/log (GiB; AL2023 EKS AMI root is 20 GiB + logs)."""
EVICTION_FREE = 0.10
"""Kubelet's default hard eviction threshold nodefs.available<10% (Kubernetes kubelet defaults; the EKS AMIs
keep it), so only 90 % of a disk is usable by pods and images."""
MIN_ROOT_GIB = 100
"""Smallest root/data volume Paddock requests (GiB)."""

GP3_THROUGHPUT_MIB_S = 500
"""gp3 throughput the GPU launch template provisions (components/gpu_node_group.py: throughput 500, iops
6000); AWS EBS specifies gp3 throughput in MiB/s (125 baseline, up to 1000)."""
GP3_IOPS = 6000
NVME_RAID0_WRITE_MB_S = 2000.0
"""Sequential write of the instance-store RAID0 (MB/s). ASSUMPTION, not verified: AWS publishes only random
4 KiB IOPS for instance stores; 2 GB/s is a conservative figure for one or more Nitro NVMe SSDs in RAID0."""
S3_SHARE_OF_NETWORK = 0.6
"""Share of the instance's network bandwidth the init container's ``aws s3 sync`` achieves with the CRT
transfer client the chart selects (assumption, not measured; the classic client's 10 concurrent requests
would not)."""
DEFAULT_NETWORK_GBPS = 10.0
"""Network bandwidth assumed for a bare GPU (no instance type), Gbps."""

IMAGE_PULL_GB = {"vllm": 12.64, "tgi": 5.0}
"""Compressed engine image, GB (decimal) = what a pull downloads.
vllm/vllm-openai: 12.64 GB (discuss.vllm.ai "current vLLM docker image size is 12.64GB", cited in
vllm-project/vllm#27154, 2025-10-18, the v0.11 era). TGI: ESTIMATE, NOT verified (no published figure
found)."""
IMAGE_UNPACKED_GB = {"vllm": 28.6, "tgi": 12.0}
"""Unpacked engine image, GB. vllm/vllm-openai:latest 28.6 GB (`docker images`, vllm-project/vllm#22377,
2025-08/12). TGI: ESTIMATE, NOT verified."""


def image_disk_gib(engine: str) -> float:
    """Engine image on the node's disk at the peak of a pull (unpacked + compressed blobs), GiB."""
    return round((IMAGE_PULL_GB[engine] + IMAGE_UNPACKED_GB[engine]) * 1e9 / GIB, 2)


def cache_gib(checkpoint_gib: float) -> int:
    """Model cache emptyDir sizeLimit of one engine pod (GiB): ceil(1.1 x checkpoint) + 4."""
    return math.ceil(CACHE_HEADROOM * checkpoint_gib) + CACHE_EXTRA_GIB


def pod_ephemeral_gib(checkpoint_gib: float) -> int:
    """ephemeral-storage request = limit of the engine container (GiB): cache + /tmp + logs."""
    return cache_gib(checkpoint_gib) + TMP_GIB + LOG_GIB


@dataclass(frozen=True, kw_only=True)
class DiskPlan:
    """Disk figures of one node of a plan (GiB unless named)."""

    cache_disk: CacheDisk
    cache_gib: int
    ephemeral_storage_gib: int
    image_gib: float
    pods_per_node: int
    disk_used_gib: float
    """What the node's cache disk holds at peak: image + pods_per_node x ephemeral request (+ OS on EBS)."""
    disk_capacity_gib: float
    """Capacity of the disk the cache is written to: NVMe RAID0 total, or the root/data EBS volume."""
    disk_fits: bool
    """disk_used_gib <= 90 % of disk_capacity_gib (kubelet's hard eviction threshold)."""
    root_volume_gib: int
    """Root (AL2023) / data (Bottlerocket) EBS volume to request."""
    disk_throughput_mb_s: float
    """Write throughput of the cache disk (MB/s)."""
    download_mb_s: float
    """Weight download rate: min(S3 share of the network, disk write), MB/s."""


def _ceil10(gib: float) -> int:
    return int(math.ceil(gib / 10) * 10)


def disk_plan(
    *, engine: str, checkpoint_gib: float, instance: InstanceSpec | None, pods_per_node: int
) -> DiskPlan:
    """Size the cache and the disk under it for ``pods_per_node`` engine pods (replicas sharing a node)."""
    cache = cache_gib(checkpoint_gib)
    pod = pod_ephemeral_gib(checkpoint_gib)
    image = image_disk_gib(engine)
    pods = max(1, pods_per_node)
    network = instance.network_gbps if instance else DEFAULT_NETWORK_GBPS
    s3_mb_s = S3_SHARE_OF_NETWORK * network * 1000 / 8
    if instance is not None and instance.nvme_gb > 0:
        used = image + pods * pod
        capacity = round(instance.nvme_gb * 1e9 / GIB, 1)
        root = max(MIN_ROOT_GIB, _ceil10(OS_RESERVE_GIB + image))  # image kept on root if RAID0 is absent
        kind: CacheDisk = "nvme"
        throughput = NVME_RAID0_WRITE_MB_S
    else:
        used = OS_RESERVE_GIB + image + pods * pod
        root = max(MIN_ROOT_GIB, _ceil10(used / (1 - EVICTION_FREE)))
        capacity = float(root)
        kind = "ebs"
        throughput = GP3_THROUGHPUT_MIB_S * 1.048576  # MiB/s -> MB/s
    return DiskPlan(
        cache_disk=kind,
        cache_gib=cache,
        ephemeral_storage_gib=pod,
        image_gib=image,
        pods_per_node=pods,
        disk_used_gib=round(used, 1),
        disk_capacity_gib=capacity,
        disk_fits=used <= capacity * (1 - EVICTION_FREE),
        root_volume_gib=root,
        disk_throughput_mb_s=round(throughput, 1),
        download_mb_s=round(min(s3_mb_s, throughput), 1),
    )
