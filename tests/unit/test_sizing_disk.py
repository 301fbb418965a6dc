"""Model cache and the disk under it (serving/sizing/disk.py): exact figures for known shapes, the disk kind,
and the load-time download step at the rate of the disk really used."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

from serving.catalog.hardware import get_instance
from serving.sizing import recommend, size_on_gpu
from serving.sizing.disk import (
    GP3_THROUGHPUT_MIB_S,
    NVME_RAID0_WRITE_MB_S,
    cache_gib,
    disk_plan,
    image_disk_gib,
    pod_ephemeral_gib,
)
from serving.sizing.memory import GIB

VLLM_IMAGE_GIB = round((12.64 + 28.6) * 1e9 / GIB, 2)  # compressed + unpacked at the peak of a pull


def test_image_and_cache_figures() -> None:
    assert image_disk_gib("vllm") == VLLM_IMAGE_GIB == 38.41
    assert cache_gib(14.958) == 21  # ceil(16.45) + 4
    assert pod_ephemeral_gib(14.958) == 31  # + 8 /tmp + 2 logs
    assert cache_gib(755.961) == 836


def test_8b_on_g6e_xlarge_caches_on_nvme() -> None:
    plan = size_on_gpu("llama-3.1-8b", instance_type="g6e.xlarge", max_model_len=8192)
    assert plan.checkpoint_gib == pytest.approx(14.958, abs=1e-3)
    assert (plan.cache_disk, plan.cache_gib, plan.ephemeral_storage_gib) == ("nvme", 21, 31)
    assert plan.weights_on_local_nvme is True
    assert plan.image_gib == 38.41
    assert plan.disk_capacity_gib == 232.8  # 250 GB instance store
    assert plan.disk_used_gib == 69.4  # 38.41 + 1 x 31
    assert plan.disk_fits and plan.root_volume_gib == 100  # root holds OS + image only
    assert (plan.disk_throughput_mb_s, plan.download_mb_s) == (
        NVME_RAID0_WRITE_MB_S,
        1500.0,
    )  # 60 % of 20 Gbps
    steps = dict(plan.load_time_breakdown)
    assert steps["weight download"] == pytest.approx(14.958 * GIB / 1e9 / 1.5, abs=0.1)
    assert steps["image pull"] == pytest.approx(12.64 / 0.058, abs=0.1)


def test_70b_fp8_on_an_instance_without_nvme_sizes_the_root_volume() -> None:
    # the catalog has no GPU instance without instance store; a g6e.12xlarge without NVMe stands in
    no_nvme = replace(get_instance("g6e.12xlarge"), nvme_gb=0)
    disk = disk_plan(engine="vllm", checkpoint_gib=131.417, instance=no_nvme, pods_per_node=1)
    assert (disk.cache_disk, disk.cache_gib, disk.ephemeral_storage_gib) == ("ebs", 149, 159)
    assert disk.disk_used_gib == 227.4  # OS 30 + image 38.41 + 159
    assert disk.root_volume_gib == 260 == disk.disk_capacity_gib  # 227.4 / 0.9 = 252.7 -> 260
    assert disk.disk_fits
    # gp3 as provisioned (500 MiB/s) is slower than S3 at 60 % of 100 Gbps: the disk sets the download rate
    assert (
        disk.disk_throughput_mb_s == disk.download_mb_s == round(GP3_THROUGHPUT_MIB_S * 1.048576, 1) == 524.3
    )


def test_replicas_sharing_a_node_each_get_their_cache() -> None:
    no_nvme = replace(get_instance("g6e.12xlarge"), nvme_gb=0)
    one = disk_plan(engine="vllm", checkpoint_gib=14.958, instance=no_nvme, pods_per_node=1)
    four = disk_plan(engine="vllm", checkpoint_gib=14.958, instance=no_nvme, pods_per_node=4)
    assert four.disk_used_gib == pytest.approx(one.disk_used_gib + 3 * 31, abs=0.05) == 192.4
    assert four.root_volume_gib == math.ceil(192.41 / 0.9 / 10) * 10 == 220


def test_nvme_too_small_is_flagged_in_the_plan() -> None:
    small = replace(get_instance("g6e.xlarge"), nvme_gb=100)
    disk = disk_plan(engine="vllm", checkpoint_gib=131.417, instance=small, pods_per_node=1)
    assert disk.cache_disk == "nvme" and not disk.disk_fits  # 197.4 GiB > 90 % of 93.1 GiB
    fits = disk_plan(engine="vllm", checkpoint_gib=14.958, instance=small, pods_per_node=1)
    assert fits.disk_fits  # 69.4 <= 83.8


@pytest.mark.parametrize(
    ("kwargs", "instance", "nodes"),
    [
        ({"quantization": "none"}, "p4de.24xlarge", 2),  # bf16 PP2 across two nodes
        ({"quantization": "fp8"}, "p5.48xlarge", 1),  # online fp8: still syncs the bf16 checkpoint
    ],
)
def test_405b_plans_get_a_disk_that_fits(kwargs: dict[str, str], instance: str, nodes: int) -> None:
    plan = recommend("llama-3.1-405b", context=8192, concurrency=16, instance_types=[instance], **kwargs)
    assert (plan.instance_type, plan.nodes_per_replica) == (instance, nodes)
    assert plan.checkpoint_gib == pytest.approx(755.961, abs=1e-3)
    assert (plan.cache_disk, plan.cache_gib, plan.ephemeral_storage_gib) == ("nvme", 836, 846)
    assert plan.disk_used_gib == 884.4 and plan.disk_fits
    assert plan.disk_capacity_gib >= 7450.6  # p4de 8 x 1 TB, p5 8 x 3.84 TB
    assert not any(n.startswith("DISK TOO SMALL") for n in plan.notes)


def test_bare_gpu_plan_caches_on_ebs() -> None:
    plan = size_on_gpu("llama-3.1-8b", gpu="h100-80gb", max_model_len=8192)
    assert plan.cache_disk == "ebs" and not plan.weights_on_local_nvme
    # OS 30 + image 38.41 + 31 = 99.4 GiB over 90 % usable = 110.5 -> 120 GiB
    assert plan.disk_capacity_gib == plan.root_volume_gib == 120
    assert plan.download_mb_s == 524.3  # gp3 500 MiB/s < 60 % of the assumed 10 Gbps (750 MB/s)
