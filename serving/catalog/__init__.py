"""Catalogs: models (catalog ids, HF ids, config.json paths), GPUs, EC2 instances, prices, Bedrock
Claude prices.

Data lives in ``serving/catalog/data/*.yaml``; every record carries its source and date. Everything is
loaded once per process and cached.
"""

from __future__ import annotations

from serving.catalog.hardware import (
    REGIONS,
    Availability,
    BedrockOptions,
    BedrockPrice,
    GpuSpec,
    InstanceSpec,
    availability,
    bedrock_options,
    bedrock_prices,
    check_region,
    get_gpu,
    get_instance,
    instance_price,
    is_offered,
    list_gpus,
    list_instances,
)
from serving.catalog.models import ModelSpec, get_model, list_models, load_config_file, parse_hf_config

__all__ = [
    "REGIONS",
    "Availability",
    "BedrockOptions",
    "BedrockPrice",
    "GpuSpec",
    "InstanceSpec",
    "ModelSpec",
    "availability",
    "bedrock_options",
    "bedrock_prices",
    "check_region",
    "get_gpu",
    "get_instance",
    "get_model",
    "instance_price",
    "is_offered",
    "list_gpus",
    "list_instances",
    "list_models",
    "load_config_file",
    "parse_hf_config",
]
