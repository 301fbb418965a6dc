"""GpuPlumbing: NVIDIA device plugin and DCGM exporter, as Helm releases of NVIDIA's charts.

Charts are referenced by repository URL and the version pinned in ``paddock:versions`` (never vendored, never
defaulted here); values come from helm_values/ via serving.release_values. Bottlerocket's NVIDIA variants ship
the device plugin in the OS, so the release is skipped for them (``device_plugin_version=None``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import pulumi
import pulumi_kubernetes as k8s

from components._common import PKG, child, raise_problems
from serving.chart_overrides import ReleasePolicy
from serving.release_values import dcgm_exporter_values, device_plugin_values

DEVICE_PLUGIN_REPO = "https://nvidia.github.io/k8s-device-plugin"
DCGM_EXPORTER_REPO = "https://nvidia.github.io/dcgm-exporter/helm-charts"
_VERSION = re.compile(r"v?\d+\.\d+\.\d+([-+][0-9A-Za-z.-]+)?")


@dataclass(frozen=True, kw_only=True)
class GpuPlumbingArgs:
    """Arguments of :class:`GpuPlumbing`."""

    provider: k8s.Provider
    device_plugin_version: str | None
    """nvidia-device-plugin chart version; None = not deployed (Bottlerocket NVIDIA has it built in)."""
    dcgm_exporter_version: str
    """dcgm-exporter chart version."""
    service_monitor: bool = False
    """Create the DCGM ServiceMonitor (needs kube-prometheus-stack's CRDs: paddock:monitoring.enabled)."""
    namespace: str = "kube-system"
    """Namespace of both DaemonSets (system-node-critical priority)."""
    releases: ReleasePolicy = field(default_factory=ReleasePolicy)
    """Image routes (serving/chart_overrides.py); both DaemonSets keep their GPU-node placement."""

    def problems(self) -> list[tuple[str, str]]:
        found: list[tuple[str, str]] = []
        if self.device_plugin_version is not None and not _VERSION.fullmatch(self.device_plugin_version):
            found.append(("device_plugin_version", f"{self.device_plugin_version!r} is not a chart version"))
        if not _VERSION.fullmatch(self.dcgm_exporter_version):
            found.append(("dcgm_exporter_version", f"{self.dcgm_exporter_version!r} is not a chart version"))
        return found


class GpuPlumbing(pulumi.ComponentResource):
    """Device plugin + DCGM exporter (token ``paddock:k8s:GpuPlumbing``). Outputs: ``releases`` (names)."""

    def __init__(self, name: str, args: GpuPlumbingArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        raise_problems("GpuPlumbing", args.problems())
        super().__init__(f"{PKG}:k8s:GpuPlumbing", name, None, opts)
        releases: list[str] = []
        if args.device_plugin_version is not None:
            k8s.helm.v3.Release(
                f"{name}-device-plugin",
                name="nvidia-device-plugin",
                chart="nvidia-device-plugin",
                version=args.device_plugin_version,
                repository_opts={"repo": DEVICE_PLUGIN_REPO},
                namespace=args.namespace,
                values=args.releases.apply(
                    "nvidia-device-plugin", args.device_plugin_version, device_plugin_values()
                ),
                opts=child(self, provider=args.provider),
            )
            releases.append("nvidia-device-plugin")
        k8s.helm.v3.Release(
            f"{name}-dcgm-exporter",
            name="dcgm-exporter",
            chart="dcgm-exporter",
            version=args.dcgm_exporter_version,
            repository_opts={"repo": DCGM_EXPORTER_REPO},
            namespace=args.namespace,
            values=args.releases.apply(
                "dcgm-exporter",
                args.dcgm_exporter_version,
                dcgm_exporter_values(service_monitor=args.service_monitor),
            ),
            opts=child(self, provider=args.provider),
        )
        releases.append("dcgm-exporter")
        self.releases = releases
        self.register_outputs({"releases": releases})
