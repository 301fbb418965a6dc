"""Engine versions and the memory-accounting regime each one implies.

vLLM: V0 engine (< 0.8), V1 (>= 0.8); activation profile shrank at 0.17; CUDA-graph memory is estimated and
budgeted from 0.20 (default --gpu-memory-utilization 0.90 -> 0.92); the printed "GPU KV cache size" became
concurrency x max_model_len at 0.21; 0.33 subtracts the null block at admission and defaults
max_num_batched_tokens to 16384 on >= 160 GiB GPUs (shared/reference/vllm-tgi-memory.md §1).
TGI: the KV reserve changed at 2.4, 3.0, 3.1 and 3.3 (§2).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from serving.errors import InputError

#: newest versions whose accounting is modelled (the defaults)
DEFAULT_VERSIONS = {"vllm": "0.33.0", "tgi": "3.3.6"}
_OLDEST = {"vllm": (0, 5, 0), "tgi": (2, 0, 0)}
#: versions with published startup logs in bench/data/vllm-calibration-cases.csv (oldest, newest)
CALIBRATED = {"vllm": ((0, 5, 3), (0, 19, 0)), "tgi": ((2, 2, 0), (2, 2, 0))}
_IMAGE_TAG = re.compile(r":v?(\d+\.\d+(?:\.\d+)?)(?:[-+@].*)?$")
_VERSION = re.compile(r"^v?(\d+)\.(\d+)(?:\.(\d+))?(?:[.\-+]?(?:post|dev|rc)?\d*.*)?$")


@dataclass(frozen=True, kw_only=True)
class EngineVersion:
    """A parsed engine version and its accounting regime."""

    engine: str
    text: str
    """Normalised ``X.Y.Z``."""
    number: tuple[int, int, int]

    def at_least(self, major: int, minor: int, patch: int = 0) -> bool:
        """True when this version is >= major.minor.patch."""
        return self.number >= (major, minor, patch)

    @property
    def vllm_v1(self) -> bool:
        """vLLM's V1 engine (default from 0.8)."""
        return self.engine == "vllm" and self.at_least(0, 8)

    @property
    def default_gpu_memory_utilization(self) -> float:
        """vLLM's default --gpu-memory-utilization (0.92 from 0.20, 0.90 before); TGI fraction 1.0."""
        if self.engine == "tgi":
            return 1.0
        return 0.92 if self.at_least(0, 20) else 0.90


def parse_version(engine: str, version: str | None, *, field: str = "--engine-version") -> EngineVersion:
    """Parse ``version`` (``0.11.0``, ``v0.6.6.post1``, ``3.3.6``) for ``engine``; None = newest modelled."""
    text = version if version is not None else DEFAULT_VERSIONS[engine]
    match = _VERSION.match(text.strip())
    if not match:
        raise InputError(f"'{text}' is not a version like 0.11.0", field=field)
    number = (int(match.group(1)), int(match.group(2)), int(match.group(3) or 0))
    if number < _OLDEST[engine]:
        oldest = ".".join(map(str, _OLDEST[engine]))
        raise InputError(f"{engine} {text} is older than the oldest modelled ({oldest})", field=field)
    return EngineVersion(engine=engine, text=".".join(map(str, number)), number=number)


def image_version(image: str | None) -> str | None:
    """The engine version an image reference pins by its tag (``vllm/vllm-openai:v0.11.0`` -> ``0.11.0``);
    None for no image, a digest-only reference or a tag that is not a version (``latest``)."""
    found = _IMAGE_TAG.search(image or "")
    return found.group(1) if found else None


def calibration_note(version: EngineVersion) -> str | None:
    """A warning when ``version`` lies outside the versions that published logs calibrate, else None."""
    oldest, newest = CALIBRATED[version.engine]
    if oldest <= version.number <= newest:
        return None
    span = f"{'.'.join(map(str, oldest))}-{'.'.join(map(str, newest))}"
    what = "CUDA-graph budget and printed capacity are extrapolated" if version.engine == "vllm" else ""
    return (
        f"{version.engine} {version.text} is outside the calibrated range ({span}, published startup logs): "
        f"the memory terms are extrapolated{'; ' + what if what else ''}; check the engine's startup log"
    )
