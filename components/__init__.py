"""Paddock's Pulumi components (one per module, Args beside each). Re-exports the public ones."""

from components.cluster import Cluster, ClusterArgs
from components.cluster_addons import ClusterAddons, ClusterAddonsArgs
from components.gpu_node_group import GpuNodeGroup, GpuNodeGroupArgs
from components.gpu_plumbing import GpuPlumbing, GpuPlumbingArgs
from components.model_server import ModelServer, ModelServerArgs
from components.network import Network, NetworkArgs
from components.system_node_group import SystemNodeGroup, SystemNodeGroupArgs

__all__ = [
    "Cluster",
    "ClusterAddons",
    "ClusterAddonsArgs",
    "ClusterArgs",
    "GpuNodeGroup",
    "GpuNodeGroupArgs",
    "GpuPlumbing",
    "GpuPlumbingArgs",
    "ModelServer",
    "ModelServerArgs",
    "Network",
    "NetworkArgs",
    "SystemNodeGroup",
    "SystemNodeGroupArgs",
]
