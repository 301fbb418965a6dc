"""GpuPlumbing under Pulumi mocks: NVIDIA charts by repo URL + pinned version, values from helm_values/."""

from __future__ import annotations

from collections.abc import Callable

import pulumi
import pulumi_kubernetes as k8s
import pytest

from components.gpu_plumbing import DCGM_EXPORTER_REPO, DEVICE_PLUGIN_REPO, GpuPlumbing, GpuPlumbingArgs
from tests.components.conftest import Registered

Run = Callable[..., Registered]
TOLERATION = {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}


def _program(device_plugin: str | None, service_monitor: bool) -> Callable[[], None]:
    def program() -> None:
        provider = k8s.Provider("k8s", kubeconfig="{}")
        GpuPlumbing(
            "gpu",
            GpuPlumbingArgs(
                provider=provider,
                device_plugin_version=device_plugin,
                dcgm_exporter_version="4.1.1",
                service_monitor=service_monitor,
            ),
        )

    return program


def test_two_pinned_releases_on_gpu_nodes(run: Run) -> None:
    reg = run(_program("0.17.1", service_monitor=True))
    assert reg.children("gpu") == {
        "gpu-device-plugin": "kubernetes:helm.sh/v3:Release",
        "gpu-dcgm-exporter": "kubernetes:helm.sh/v3:Release",
    }
    plugin = reg.named("gpu-device-plugin").inputs
    assert (plugin["chart"], plugin["version"], plugin["repositoryOpts"]) == (
        "nvidia-device-plugin",
        "0.17.1",
        {"repo": DEVICE_PLUGIN_REPO},
    )
    assert plugin["namespace"] == "kube-system" and plugin["name"] == "nvidia-device-plugin"
    assert plugin["values"]["nodeSelector"] == {"nvidia.com/gpu.present": "true"}
    assert plugin["values"]["tolerations"] == [TOLERATION]
    dcgm = reg.named("gpu-dcgm-exporter").inputs
    assert (dcgm["chart"], dcgm["version"], dcgm["repositoryOpts"]) == (
        "dcgm-exporter",
        "4.1.1",
        {"repo": DCGM_EXPORTER_REPO},
    )
    assert dcgm["values"]["serviceMonitor"]["enabled"] is True
    assert dcgm["values"]["tolerations"] == [TOLERATION]


def test_bottlerocket_skips_the_device_plugin_and_monitoring_off_skips_service_monitor(run: Run) -> None:
    reg = run(_program(None, service_monitor=False))
    assert reg.children("gpu") == {"gpu-dcgm-exporter": "kubernetes:helm.sh/v3:Release"}
    assert reg.named("gpu-dcgm-exporter").inputs["values"]["serviceMonitor"]["enabled"] is False


def test_versions_must_be_chart_versions() -> None:
    provider = k8s.Provider.__new__(k8s.Provider)
    with pytest.raises(pulumi.InputPropertiesError) as err:
        GpuPlumbing(
            "gpu",
            GpuPlumbingArgs(provider=provider, device_plugin_version="latest", dcgm_exporter_version="x"),
        )
    assert [e["property_path"] for e in err.value.errors or []] == [
        "device_plugin_version",
        "dcgm_exporter_version",
    ]
