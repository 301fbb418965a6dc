"""A per-alias circuit breaker so a dead primary is not hit by every request.

closed --(failure_threshold consecutive failures)--> open --(cooldown elapsed)--> half-open (one probe)
half-open --probe succeeds--> closed;  --probe fails--> open again for another cooldown.
The clock is injectable (seconds, monotonic) so tests step time without sleeping.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from serving.gateway.config import BreakerPolicy


class CircuitBreaker:
    def __init__(self, policy: BreakerPolicy, clock: Callable[[], float] = time.monotonic) -> None:
        self.policy = policy
        self._clock = clock
        self._failures = 0
        self._opened_at: float | None = None
        self._probing = False

    @property
    def state(self) -> str:
        """``closed``, ``open`` or ``half_open``."""
        if self._opened_at is None:
            return "closed"
        if self._clock() - self._opened_at >= self.policy.cooldown_seconds:
            return "half_open"
        return "open"

    def allow(self) -> bool:
        """Whether this request may try the primary (half-open lets exactly one probe through)."""
        state = self.state
        if state == "closed":
            return True
        if state == "half_open" and not self._probing:
            self._probing = True
            return True
        return False

    def success(self) -> None:
        self._failures, self._opened_at, self._probing = 0, None, False

    def failure(self) -> None:
        self._failures += 1
        if self._probing or self._failures >= self.policy.failure_threshold:
            self._opened_at = self._clock()
        self._probing = False

    def release(self) -> None:
        """The request ended without a verdict on the primary (e.g. a 4xx the client caused)."""
        self._probing = False
