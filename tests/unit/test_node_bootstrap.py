"""serving.node_bootstrap: instance-store RAID0 user data for AL2023 (nodeadm) and Bottlerocket."""

from __future__ import annotations

import base64
import email
import tomllib

import yaml

from serving.node_bootstrap import b64, cache_disk, gpu_user_data


def test_no_instance_store_means_no_user_data_and_cache_on_ebs() -> None:
    assert gpu_user_data("AL2023_x86_64_NVIDIA", 0) is None
    assert gpu_user_data("BOTTLEROCKET_x86_64_NVIDIA", 0) is None
    assert cache_disk(0) == "ebs" and cache_disk(250) == "nvme"


def test_al2023_user_data_is_mime_multipart_with_a_raid0_node_config() -> None:
    text = gpu_user_data("AL2023_x86_64_NVIDIA", 3800)
    assert text is not None
    msg = email.message_from_string(text)
    assert msg.is_multipart() and msg.get_content_type() == "multipart/mixed"
    (part,) = msg.get_payload()
    assert part.get_content_type() == "application/node.eks.aws"
    doc = yaml.safe_load(part.get_payload())
    assert doc["apiVersion"] == "node.eks.aws/v1alpha1" and doc["kind"] == "NodeConfig"
    assert doc["spec"] == {"instance": {"localStorage": {"strategy": "RAID0"}}}


def test_bottlerocket_user_data_is_toml_bootstrap_commands() -> None:
    text = gpu_user_data("BOTTLEROCKET_x86_64_NVIDIA", 3800)
    assert text is not None
    cmd = tomllib.loads(text)["settings"]["bootstrap-commands"]["paddock-ephemeral-storage"]
    assert cmd["commands"] == [
        ["apiclient", "ephemeral-storage", "init"],
        [
            "apiclient",
            "ephemeral-storage",
            "bind",
            "--dirs",
            "/var/lib/containerd",
            "/var/lib/kubelet",
            "/var/log/pods",
        ],
    ]
    assert (cmd["essential"], cmd["mode"]) == (True, "always")


def test_b64_round_trips() -> None:
    assert base64.b64decode(b64("a\nb")).decode() == "a\nb"
