"""How many messages one trip connection may send: a token bucket per connection.

The teacher steers the class (a camera being turned sends up to ten views a second), a
pupil mostly answers; what comes faster than the bucket allows is refused with an
``error`` and never reaches the hub.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from server.errors import N_
from server.trips.protocol import TEACHER, ProtocolError

# (messages per second, burst) a connection may send; the rest is refused.
TEACHER_RATE = (20.0, 40)
PUPIL_RATE = (5.0, 10)


class TokenBucket:
    """``rate`` messages a second on average, ``burst`` at once; :meth:`allow` spends one."""

    def __init__(
        self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate = rate
        self.burst = float(burst)
        self.clock = clock
        self.tokens = float(burst)
        self.stamp = clock()

    def allow(self) -> bool:
        now = self.clock()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


def bucket_for(role: str, clock: Callable[[], float] = time.monotonic) -> TokenBucket:
    rate, burst = TEACHER_RATE if role == TEACHER else PUPIL_RATE
    return TokenBucket(rate, burst, clock)


def rate_limited() -> ProtocolError:
    return ProtocolError(
        "rate_limited", N_("Too many messages at once; wait a moment and try again.")
    )
