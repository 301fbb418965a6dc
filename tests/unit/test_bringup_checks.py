"""Each bring-up check on a hand-written stack that comes up and on one broken fact at a time."""

from __future__ import annotations

import base64
import json

from bringup_fixtures import (
    SYSTEM,
    by_name,
    drop,
    engine_manifest,
    fails,
    healthy,
    rec,
    release,
    run,
)

from serving.bringup import verdicts


def test_healthy_stack_passes_every_check() -> None:
    marks = verdicts(run(healthy()))
    assert marks == {
        "scheduling": "pass",
        "images": "pass",
        "order": "pass",
        "disk": "pass",
        "capacity": "assumed",  # the m5.xlarge system pool is not in the GPU catalog
        "controllers": "pass",
        "reachability": "pass",
    }


# --- scheduling ---------------------------------------------------------------------------------------
def test_no_system_pool_leaves_system_pods_pending() -> None:
    stack = drop(healthy(), "system-ng")
    found = {(f.resource, f.key) for f in fails(stack, "scheduling")}
    assert ("eks-coredns", "paddock:cluster.systemNodes") in found
    assert ("ca", "paddock:cluster.systemNodes") in found and ("keda", "paddock:cluster.systemNodes") in found
    line = next(f.line() for f in fails(stack, "scheduling") if f.resource == "ca")
    assert "cluster-autoscaler" in line and "no pool carries its nodeSelector" in line


def test_system_pods_are_summed_on_the_system_pool() -> None:
    stack = healthy()
    by_name(stack, "system-ng")["inputs"]["scalingConfig"] = {"minSize": 1, "maxSize": 1}
    by_name(stack, "ca")["inputs"]["values"]["resources"]["requests"]["memory"] = "9Gi"  # alone fits
    by_name(stack, "keda")["inputs"]["values"]["resources"] = {"operator": {"requests": {"memory": "7Gi"}}}
    (f,) = fails(stack, "scheduling")  # 9 + 7 GiB > one m5.xlarge (16 GiB - 993 MiB reserve)
    assert f.resource == "keda" and "1 of 1 replicas" in f.message and "system-ng (min 1, max 1)" in f.message
    by_name(stack, "system-ng")["inputs"]["scalingConfig"] = {"minSize": 2, "maxSize": 2}
    assert not fails(stack, "scheduling")


def test_gpu_pool_at_min_zero_needs_the_autoscaler_installed_before() -> None:
    stack = healthy()
    by_name(stack, "gpu-a-ng")["inputs"]["scalingConfig"] = {"minSize": 0, "maxSize": 2}
    assert not fails(stack, "scheduling")  # a-release dependsOn ca, which runs on the system pool
    by_name(stack, "a-release")["dependsOn"] = ["a-pia"]
    (f,) = fails(stack, "scheduling")
    assert f.resource == "a-release" and f.key == "paddock:models[0].replicas.min"
    assert "ca is not installed before a-release" in f.message


def test_cluster_autoscaler_grows_only_node_groups_tagged_for_its_cluster() -> None:
    stack = healthy()
    by_name(stack, "gpu-a-ng")["inputs"]["scalingConfig"] = {"minSize": 0, "maxSize": 2}
    del by_name(stack, "gpu-a-ng")["inputs"]["tags"]["k8s.io/cluster-autoscaler/c"]
    (f,) = fails(stack, "scheduling")
    assert "gpu-a-ng lacks the auto-discovery tag k8s.io/cluster-autoscaler/c" in f.message


def test_autoscaler_that_cannot_schedule_cannot_grow_a_pool() -> None:
    stack = healthy()
    by_name(stack, "gpu-a-ng")["inputs"]["scalingConfig"] = {"minSize": 0, "maxSize": 2}
    by_name(stack, "ca")["inputs"]["values"]["nodeSelector"] = {"paddock.dev/pool": "nope"}
    assert "cluster-autoscaler itself cannot schedule" in next(
        f.message for f in fails(stack, "scheduling") if f.resource == "a-release"
    )


def test_without_node_autoscaler_a_min_zero_pool_never_grows() -> None:
    stack = drop(healthy(), "ca")
    by_name(stack, "gpu-a-ng")["inputs"]["scalingConfig"] = {"minSize": 0, "maxSize": 2}
    by_name(stack, "a-release")["dependsOn"] = ["a-pia"]
    (f,) = fails(stack, "scheduling")
    assert f.key == "paddock:autoscaling.nodeAutoscaler" and "no cluster-autoscaler release" in f.message


def test_chart_missing_from_the_catalog_is_a_failure_not_a_pass() -> None:
    stack = healthy()
    by_name(stack, "keda")["inputs"]["version"] = "9.9.9"
    (f,) = fails(stack, "scheduling")
    assert f.resource == "keda" and f.key == "paddock:versions.kedaChart" and "keda@9.9.9" in f.message


def test_adopted_cluster_assumes_its_existing_nodes() -> None:
    stack = drop(healthy(), "system-ng", "eks-eks", "eks-vpc-cni", "eks-coredns")
    stack["config"]["cluster"]["create"] = False
    by_name(stack, "eks-k8s")["dependsOn"] = []
    for name in ("ca", "keda"):  # on an adopted cluster our values set no system nodeSelector
        by_name(stack, name)["inputs"]["values"]["nodeSelector"] = {}
    found = run(stack, "scheduling")
    assert not [f for f in found if f.verdict == "fail"]
    assert {f.resource for f in found if f.verdict == "assumed"} >= {"ca", "keda"}


def test_lws_pods_count_leader_and_workers() -> None:
    stack = healthy()
    stack["manifests"]["a"] = engine_manifest(kind="LeaderWorkerSet")
    stack["resources"].append(release("lws", "lws", version="0.10.0", values={"nodeSelector": SYSTEM}))
    by_name(stack, "a-release")["dependsOn"].append("lws")
    assert not fails(stack, "scheduling")  # leader + worker: 2 GPU pods, 1 node at min, ca grows it to 2
    by_name(stack, "gpu-a-ng")["inputs"]["scalingConfig"]["maxSize"] = 1
    (f,) = fails(stack, "scheduling")
    assert f.resource == "a-release" and "1 of 1 replicas of LeaderWorkerSet serving/a-worker" in f.message


# --- images --------------------------------------------------------------------------------------------
def test_no_nat_no_pull_through_means_no_route() -> None:
    stack = drop(healthy(), "net-nat")
    found = fails(stack, "images")
    vllm = next(f for f in found if "vllm/vllm-openai" in f.message)
    assert (
        vllm.resource == "a-release"
        and vllm.key == "paddock:registry"
        and "registry-1.docker.io" in vllm.message
    )
    assert "credential" in vllm.message
    assert any("nvcr.io" not in f.message and "ghcr.io/kedacore" in f.message for f in found)


def test_pull_through_rules_and_ecr_endpoints_are_a_route() -> None:
    stack = drop(healthy(), "net-nat", "keda", "a-scaledobject", "ca", "device-plugin")
    by_name(stack, "a-release")["dependsOn"] = ["a-pia"]
    ecr = "123456789012.dkr.ecr.us-east-1.amazonaws.com"
    stack["manifests"]["a"] = engine_manifest(image=f"{ecr}/docker-hub/vllm/vllm-openai:v0.11.0").replace(
        "public.ecr.aws/aws-cli", f"{ecr}/ecr-public/aws-cli"
    )
    stack["resources"] += [
        rec("aws:ec2/vpcEndpoint:VpcEndpoint", f"vpce-{s}", serviceName=f"com.amazonaws.us-east-1.{s}")
        for s in ("ecr.api", "ecr.dkr", "s3")
    ]
    stack["resources"] += [
        rec(
            "aws:ecr/pullThroughCacheRule:PullThroughCacheRule",
            "ptc-hub",
            ecrRepositoryPrefix="docker-hub",
            upstreamRegistryUrl="registry-1.docker.io",
            credentialArn="arn:aws:secretsmanager:x",
        ),
        rec(
            "aws:ecr/pullThroughCacheRule:PullThroughCacheRule",
            "ptc-public",
            ecrRepositoryPrefix="ecr-public",
            upstreamRegistryUrl="public.ecr.aws",
        ),
    ]
    assert not fails(stack, "images")
    del by_name(stack, "ptc-hub")["inputs"]["credentialArn"]
    (f,) = fails(stack, "images")
    assert f.resource == "ptc-hub" and "credentialArn" in f.message
    drop(stack, "vpce-ecr.dkr")
    assert any(f.key == "paddock:network.vpcEndpoints" for f in fails(stack, "images"))


def test_own_ecr_images_need_a_rule_a_repository_or_the_mirror() -> None:
    stack = drop(healthy(), "net-nat", "keda", "a-scaledobject", "ca", "device-plugin")
    by_name(stack, "a-release")["dependsOn"] = ["a-pia"]
    ecr = "123456789012.dkr.ecr.us-east-1.amazonaws.com"
    stack["manifests"]["a"] = engine_manifest(image=f"{ecr}/paddock-mirror/vllm/vllm-openai:v0.11.0").replace(
        "public.ecr.aws/aws-cli", f"{ecr}/ecr-public/aws-cli"
    )
    stack["resources"] += [
        rec("aws:ec2/vpcEndpoint:VpcEndpoint", f"vpce-{s}", serviceName=f"com.amazonaws.us-east-1.{s}")
        for s in ("ecr.api", "ecr.dkr", "s3")
    ]
    stack["resources"].append(
        rec(
            "aws:ecr/pullThroughCacheRule:PullThroughCacheRule",
            "ptc-public",
            ecrRepositoryPrefix="ecr-public",
            upstreamRegistryUrl="public.ecr.aws",
        )
    )
    (f,) = fails(stack, "images")
    assert f.resource == "a-release" and "no ECR repository paddock-mirror/vllm/vllm-openai" in f.message
    stack["config"]["registry"] = {"mode": "mirror", "mirror": "paddock-mirror"}
    assert not fails(stack, "images")
    assert [g.key for g in run(stack, "images") if g.verdict == "assumed"] == ["paddock:registry.mirror"]
    del stack["config"]["registry"]
    stack["resources"].append(
        rec("aws:ecr/repository:Repository", "repo", name="paddock-mirror/vllm/vllm-openai")
    )
    assert not fails(stack, "images") and not [g for g in run(stack, "images") if g.verdict == "assumed"]


# --- order ---------------------------------------------------------------------------------------------
def test_custom_resource_before_its_crd_release() -> None:
    stack = healthy()
    by_name(stack, "a-scaledobject")["dependsOn"] = []
    (f,) = fails(stack, "order")
    assert f.resource == "a-scaledobject" and "keda.sh/ScaledObject" in f.message and "keda" in f.message


def test_release_rendering_custom_resources_waits_for_the_crd_release() -> None:
    stack = healthy()
    by_name(stack, "keda")["inputs"]["values"]["prometheus"] = {
        "operator": {"serviceMonitor": {"enabled": True}}
    }
    stack["resources"].append(
        release(
            "kps",
            "kube-prometheus-stack",
            version="75.15.1",
            namespace="monitoring",
            values={
                "alertmanager": {"enabled": False},
                "grafana": {"enabled": False},
                "kubeStateMetrics": {"enabled": False},
                **{k: {"nodeSelector": SYSTEM} for k in ("prometheusOperator",)},
                "prometheus": {"prometheusSpec": {"nodeSelector": SYSTEM}},
            },
        )
    )
    assert [f.resource for f in fails(stack, "order")] == ["keda"]
    by_name(stack, "keda")["dependsOn"] = ["kps"]
    assert not fails(stack, "order")


def test_pod_before_its_pod_identity_association() -> None:
    stack = healthy()
    by_name(stack, "a-release")["dependsOn"] = ["ca"]
    (f,) = fails(stack, "order")
    assert f.resource == "a-release" and "serving/a-engine" in f.message and "a-pia" in f.message


def test_kubernetes_resources_wait_for_cni_and_dns_through_the_provider() -> None:
    stack = healthy()
    by_name(stack, "eks-k8s")["dependsOn"] = ["eks-eks"]
    found = fails(stack, "order")
    assert {f.resource for f in found} >= {"ca", "keda", "a-release", "a-scaledobject"}
    assert all("eks-vpc-cni" in f.message and "eks-coredns" in f.message for f in found)


def test_resources_wait_for_the_namespace_the_plan_creates() -> None:
    stack = healthy()
    stack["resources"].append(
        rec("kubernetes:core/v1:Namespace", "ns-serving", provider="eks-k8s", metadata={"name": "serving"})
    )
    (f,) = fails(stack, "order")
    assert f.resource == "a-release" and "namespace serving before ns-serving" in f.message
    by_name(stack, "a-release")["dependsOn"].append("ns-serving")
    assert not fails(stack, "order")


def test_self_managed_cni_and_dns_cannot_be_waited_for() -> None:
    stack = drop(healthy(), "eks-vpc-cni", "eks-coredns")
    by_name(stack, "eks-k8s")["dependsOn"] = ["eks-eks"]
    (f,) = fails(stack, "order")
    assert f.resource == "eks-eks" and f.key == "paddock:versions.eksAddons"
    assert "vpc-cni and coredns are EKS's self-managed defaults" in f.message


def test_coredns_addon_waits_for_the_nodes_it_runs_on() -> None:
    stack = healthy()
    by_name(stack, "eks-coredns")["dependsOn"] = ["eks-eks"]
    (f,) = fails(stack, "order")
    assert f.resource == "eks-coredns" and "before system-ng" in f.message


def test_depending_on_a_component_waits_for_its_children() -> None:
    stack = healthy()
    by_name(stack, "a-pia")["parent"] = "model-a"
    stack["resources"].append(rec("paddock:serving:ModelServer", "model-a"))
    by_name(stack, "a-release")["dependsOn"] = ["model-a", "ca"]  # the component, not the association
    assert not fails(stack, "order")


# --- disk ----------------------------------------------------------------------------------------------
def test_cache_and_image_exceed_the_root_volume() -> None:
    stack = healthy()
    stack["plans"]["a"] = {"checkpoint_gib": 70.0, "replicas_per_node": 1}
    stack["manifests"]["a"] = engine_manifest(size_limit="80Gi")
    (f,) = fails(stack, "disk")
    assert (
        f.resource == "gpu-a-ng"
        and f.key == "paddock:models[0].gpu"
        and "exceed 90 GiB usable of the 100 GiB data volume" in f.message
    )
    assert "NVMe is not mounted" in f.message


def test_raid0_nvme_holds_the_cache() -> None:
    stack = healthy()
    stack["plans"]["a"] = {"checkpoint_gib": 70.0, "replicas_per_node": 1}
    stack["manifests"]["a"] = engine_manifest(size_limit="80Gi")
    by_name(stack, "gpu-a-lt")["inputs"]["userData"] = "localStorage:\n  strategy: RAID0\n"
    assert not fails(stack, "disk")  # g6e.xlarge: 250 GB local NVMe


def test_plan_cache_on_nvme_needs_the_instance_store_mounted() -> None:
    stack = healthy()
    stack["plans"]["a"] |= {"cache_disk": "nvme", "cache_gib": 20.0, "image_gib": 20.0}
    (f,) = fails(stack, "disk")
    assert f.resource == "gpu-a-ng" and "does not mount the instance store" in f.message
    by_name(stack, "gpu-a-lt")["inputs"]["userData"] = base64.b64encode(
        b"[settings.bootstrap-commands.x]\ncommands = [['apiclient', 'ephemeral-storage', 'init'], "
        b"['apiclient', 'ephemeral-storage', 'bind', '--dirs', '/var/lib/kubelet']]\n"
    ).decode()  # Bottlerocket's form, base64 as EC2 takes it
    assert not fails(stack, "disk")


def test_plan_cache_and_image_figures_are_used_when_present() -> None:
    stack = healthy()
    by_name(stack, "gpu-a-lt")["inputs"]["userData"] = "localStorage:\n  strategy: RAID0\n"
    stack["plans"]["a"] |= {"cache_disk": "nvme", "cache_gib": 150.0, "image_gib": 20.0}
    assert not fails(stack, "disk")  # 170 GiB within 90 % of g6e.xlarge's 233 GiB NVMe
    stack["plans"]["a"]["cache_gib"] = 200.0
    (f,) = fails(stack, "disk")
    assert "cache 200 GiB" in f.message and "image 20 GiB" in f.message and "local NVMe RAID0" in f.message


def test_empty_dir_smaller_than_the_checkpoint_is_evicted() -> None:
    stack = healthy()
    stack["manifests"]["a"] = engine_manifest(size_limit="10Gi")
    (f,) = fails(stack, "disk")
    assert f.resource == "a-release" and "sizeLimit 10 GiB < the 15 GiB checkpoint" in f.message


# --- capacity ------------------------------------------------------------------------------------------
def test_instance_not_sold_on_demand_in_the_region() -> None:
    stack = healthy()
    stack["config"]["region"] = "eu-central-1"
    by_name(stack, "gpu-a-ng")["inputs"]["instanceTypes"] = ["p5.48xlarge"]
    (f,) = fails(stack, "capacity")
    assert f.resource == "gpu-a-ng" and f.key == "paddock:models[0].gpu" and "eu-central-1" in f.message
    stack["config"]["models"][0]["capacity_type"] = "capacity-block"
    assert not fails(stack, "capacity")
    stack["config"]["models"][0]["capacity_type"] = "reservation"
    (f,) = fails(stack, "capacity")
    assert f.key == "paddock:models[0].capacityReservationId"
    stack["config"]["models"][0]["capacity_reservation_id"] = "cr-0123"
    assert not fails(stack, "capacity")


# --- controllers ---------------------------------------------------------------------------------------
def test_network_policies_need_vpc_cni_enforcement() -> None:
    stack = healthy()
    stack["manifests"]["a"] = engine_manifest(netpol=True)
    assert not fails(stack, "controllers")
    by_name(stack, "eks-vpc-cni")["inputs"]["configurationValues"] = "{}"
    (f,) = fails(stack, "controllers")
    assert f.resource == "a-release" and f.key == "paddock:versions.eksAddons"


def test_leaderworkerset_needs_the_lws_controller() -> None:
    stack = healthy()
    stack["manifests"]["a"] = engine_manifest(kind="LeaderWorkerSet")
    (f,) = fails(stack, "controllers")
    assert f.resource == "a-release" and f.key == "paddock:versions.lwsChart"
    stack["resources"].append(release("lws", "lws", version="0.10.0", values={"nodeSelector": SYSTEM}))
    assert not fails(stack, "controllers")
    assert [f.resource for f in fails(stack, "order")] == ["a-release"]  # installed, but not before


def test_persistent_volumes_need_the_ebs_csi_driver() -> None:
    stack = healthy()
    stack["resources"].append(
        release(
            "kps",
            "kube-prometheus-stack",
            version="75.15.1",
            values={"prometheus": {"prometheusSpec": {"storageSpec": {"volumeClaimTemplate": {}}}}},
        )
    )
    assert any("aws-ebs-csi-driver" in f.message for f in fails(stack, "controllers"))
    stack["resources"].append(rec("aws:eks/addon:Addon", "eks-ebs", addonName="aws-ebs-csi-driver"))
    assert not any("aws-ebs-csi-driver" in f.message for f in fails(stack, "controllers"))


def test_gpu_pods_need_the_device_plugin_on_their_pool() -> None:
    stack = drop(healthy(), "device-plugin")
    (f,) = fails(stack, "controllers")
    assert f.resource == "a-release" and f.key == "paddock:versions.nvidiaDevicePluginChart"
    assert "no NVIDIA device plugin runs on gpu-a-ng" in f.message
    by_name(stack, "gpu-a-ng")["inputs"]["amiType"] = "BOTTLEROCKET_x86_64_NVIDIA"  # bundles the plugin
    assert not fails(stack, "controllers")


def test_pod_identity_needs_its_agent() -> None:
    stack = drop(healthy(), "eks-pod-identity-agent")
    (f,) = fails(stack, "controllers")
    assert f.key == "paddock:versions.eksAddons" and "eks-pod-identity-agent" in f.message


def test_nodepools_need_karpenter() -> None:
    stack = healthy()
    stack["resources"].append(
        rec(
            "kubernetes:karpenter.sh/v1:NodePool",
            "np",
            provider="eks-k8s",
            spec={"template": {"spec": {"taints": []}}},
        )
    )
    (f,) = fails(stack, "controllers")
    assert f.resource == "np" and f.key == "paddock:versions.karpenterChart"


# --- reachability --------------------------------------------------------------------------------------
def test_private_endpoint_in_a_created_vpc_is_unreachable() -> None:
    stack = healthy()
    by_name(stack, "eks-eks")["inputs"]["vpcConfig"]["endpointPublicAccess"] = False
    (f,) = fails(stack, "reachability")
    assert f.key == "paddock:cluster.endpointPublicAccess" and "first deploy" in f.message
    stack["config"]["network"]["create"] = False
    (f,) = fails(stack, "reachability")
    assert f.key == "paddock:cluster.privateAccessCidrs"
    stack["config"]["cluster"]["private_access_cidrs"] = ["10.0.0.0/8"]
    assert [f.verdict for f in run(stack, "reachability")] == ["assumed"]


def test_findings_serialise_and_name_resource_and_key() -> None:
    stack = healthy()
    stack["manifests"]["a"] = engine_manifest(size_limit="10Gi")
    (f,) = fails(stack, "disk")
    assert json.loads(json.dumps(f.to_dict()))["key"] == "paddock:models[0].model"
    assert f.line().startswith("disk: a-release: ") and f.line().endswith("[paddock:models[0].model]")


# --- Karpenter pools -------------------------------------------------------------------------------------
def _karpenter_stack(*, raid0: bool) -> dict[str, object]:
    stack = drop(healthy(), "gpu-a-ng", "gpu-a-lt", "ca")
    node_class: dict[str, object] = {
        "blockDeviceMappings": [{"deviceName": "/dev/xvda", "ebs": {"volumeSize": "100Gi"}}]
    }
    if raid0:
        node_class["instanceStorePolicy"] = "RAID0"
    stack["resources"] += [
        release("karpenter", "karpenter", version="1.14.1", values={"nodeSelector": SYSTEM}),
        rec(
            "kubernetes:karpenter.sh/v1:NodePool",
            "a-pool",
            deps=("karpenter",),
            provider="eks-k8s",
            spec={
                "template": {
                    "metadata": {"labels": {"paddock.dev/model": "a", "nvidia.com/gpu.present": "true"}},
                    "spec": {
                        "nodeClassRef": {"name": "gpu"},
                        "taints": [{"key": "nvidia.com/gpu", "value": "true", "effect": "NoSchedule"}],
                        "requirements": [
                            {
                                "key": "node.kubernetes.io/instance-type",
                                "operator": "In",
                                "values": ["g6e.xlarge"],
                            }
                        ],
                    },
                }
            },
        ),
        rec(
            "kubernetes:karpenter.k8s.aws/v1:EC2NodeClass",
            "a-class",
            deps=("karpenter",),
            provider="eks-k8s",
            metadata={"name": "gpu"},
            spec=node_class,
        ),
    ]
    by_name(stack, "a-release")["dependsOn"] = ["a-pia", "karpenter"]
    stack["plans"]["a"] = {"checkpoint_gib": 70.0, "replicas_per_node": 1}
    stack["manifests"]["a"] = engine_manifest(size_limit="80Gi")
    return stack


def test_karpenter_grows_a_nodepool_installed_first() -> None:
    stack = _karpenter_stack(raid0=True)
    assert not fails(stack, "scheduling") and not fails(stack, "controllers") and not fails(stack, "order")
    by_name(stack, "a-release")["dependsOn"] = ["a-pia"]
    (f,) = fails(stack, "scheduling")
    assert "need a-pool to grow from min 0" in f.message and "karpenter is not installed before" in f.message


def test_karpenter_disk_comes_from_the_ec2nodeclass() -> None:
    assert not fails(_karpenter_stack(raid0=True), "disk")  # 70 + 32 GiB on g6e.xlarge's RAID0 NVMe
    (f,) = fails(_karpenter_stack(raid0=False), "disk")
    assert f.resource == "a-pool" and "100 GiB data volume" in f.message
