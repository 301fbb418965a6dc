"""Controllers under Pulumi mocks: LWS and EFA releases only when asked for, system charts atomic, and bad
versions named before any child exists."""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s
import pytest

from components.controllers import Controllers, ControllersArgs
from serving.chart_overrides import ReleasePolicy
from tests.components.deps import run_graph


def _program(**kwargs: object) -> None:
    provider = k8s.Provider("k8s", kubeconfig="{}")
    Controllers("ctl", ControllersArgs(provider=provider, **kwargs))  # type: ignore[arg-type]


def test_nothing_without_versions() -> None:
    graph = run_graph(lambda: _program())
    assert not graph.of_type(":Release")


def test_lws_only_and_after_edges() -> None:
    def body() -> None:
        import pulumi_aws as aws

        nodes = aws.iam.Role("system-nodes", assume_role_policy="{}")
        _program(
            lws_chart_version="0.10.0",
            releases=ReleasePolicy(system_node_selector={"paddock.dev/pool": "system"}),
            after=[nodes],
        )

    graph = run_graph(body)
    assert graph.of_type(":Release") == ["ctl-lws"]
    lws = graph.inputs["ctl-lws"]
    assert (lws["atomic"], lws["cleanupOnFail"], lws["createNamespace"]) == (True, True, True)
    assert "system-nodes" in graph.waits("ctl-lws")
    assert lws["values"]["nodeSelector"] == {"paddock.dev/pool": "system"}


def test_bad_versions_are_named_before_any_child() -> None:
    with pytest.raises(pulumi.InputPropertiesError) as err:
        run_graph(lambda: _program(lws_chart_version="latest", efa_device_plugin_chart_version="0.5"))
    text = str(err.value)
    assert "lws_chart_version: 'latest' is not a chart version" in text
    assert "efa_device_plugin_chart_version: '0.5' is not a chart version" in text
