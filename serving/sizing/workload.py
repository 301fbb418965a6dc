"""The workload a recommendation sizes: clients, the maximum context and the expected prompt/output mix.

``--context`` is the maximum tokens of one request (max_model_len; one such request must always fit).
With ``--prompt-tokens``/``--output-tokens`` the KV cache is sized for ``concurrency`` requests of that
expected length and throughput/latency are estimated for that mix; without them every request is assumed to
use the whole context (the worst case) and the estimates use DEFAULT_OUTPUT_SHARE of it as output.
"""

from __future__ import annotations

from dataclasses import dataclass

from serving.errors import InputError

DEFAULT_OUTPUT_SHARE = 0.125
"""Output share of a full-context request when no mix is given (estimates only)."""
MAX_DEFAULT_OUTPUT = 1024
"""Cap on that default output length (tokens)."""


@dataclass(frozen=True, kw_only=True)
class Workload:
    """What the replicas must serve."""

    concurrency: int
    """Requests in flight at once (clients of a closed loop)."""
    context: int
    """Maximum tokens of one request (prompt + output): max_model_len."""
    prompt_tokens: int
    output_tokens: int
    expected: bool
    """True when the mix was given (KV sized for it), False for the full-context worst case."""

    @property
    def request_tokens(self) -> int:
        """KV tokens one request holds at its end."""
        return self.prompt_tokens + self.output_tokens

    def basis(self) -> str:
        """One line saying which workload the plan is sized for."""
        if self.expected:
            return (
                f"sized for {self.concurrency} requests of {self.prompt_tokens} prompt + "
                f"{self.output_tokens} "
                f"output tokens (expected mix), max {self.context} tokens per request"
            )
        return (
            f"sized for the worst case: {self.concurrency} requests of the full {self.context} tokens "
            f"(estimates assume {self.prompt_tokens} prompt + {self.output_tokens} output; give "
            "--prompt-tokens/--output-tokens for the expected mix)"
        )


def workload(
    *, context: int, concurrency: int, prompt_tokens: int | None = None, output_tokens: int | None = None
) -> Workload:
    """Validate and fill the workload (InputError names the flag)."""
    if context < 1:
        raise InputError(f"must be >= 1, got {context}", field="--context")
    if concurrency < 1:
        raise InputError(f"must be >= 1, got {concurrency}", field="--concurrency")
    if prompt_tokens is None and output_tokens is None:
        output = max(1, min(MAX_DEFAULT_OUTPUT, round(context * DEFAULT_OUTPUT_SHARE)))
        prompt = max(1, context - output)
        return Workload(
            concurrency=concurrency,
            context=context,
            prompt_tokens=prompt,
            output_tokens=output,
            expected=False,
        )
    if prompt_tokens is None or output_tokens is None:
        missing = "--prompt-tokens" if prompt_tokens is None else "--output-tokens"
        raise InputError("give both --prompt-tokens and --output-tokens for an expected mix", field=missing)
    if prompt_tokens < 1:
        raise InputError(f"must be >= 1, got {prompt_tokens}", field="--prompt-tokens")
    if output_tokens < 1:
        raise InputError(f"must be >= 1, got {output_tokens}", field="--output-tokens")
    if prompt_tokens + output_tokens > context:
        raise InputError(
            f"{prompt_tokens} + {output_tokens} exceeds --context {context} (the maximum per request)",
            field="--prompt-tokens",
        )
    return Workload(
        concurrency=concurrency,
        context=context,
        prompt_tokens=prompt_tokens,
        output_tokens=output_tokens,
        expected=True,
    )
