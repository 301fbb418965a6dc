"""The sizing engine: engine memory models (vLLM, TGI), explicit sizing and instance recommendation.

Public API: :func:`size_on_gpu`, :func:`recommend`, :func:`plan_for_deployment`, all returning a
:class:`~serving.sizing.plan.ServingPlan`.
"""

from __future__ import annotations

from serving.sizing.explicit import size_on_gpu
from serving.sizing.plan import Rejection, ServingPlan
from serving.sizing.recommend import NoFitError, plan_for_deployment, recommend

__all__ = ["NoFitError", "Rejection", "ServingPlan", "plan_for_deployment", "recommend", "size_on_gpu"]
