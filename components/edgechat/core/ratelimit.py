"""Token buckets, pure: the caller passes the time and keeps the bucket."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RateLimit:
    per_second: float = 5.0
    burst: int = 20

    @property
    def unlimited(self) -> bool:
        return self.per_second <= 0


@dataclass(frozen=True, slots=True)
class Bucket:
    tokens: float
    updated_ms: int

    @classmethod
    def full(cls, limit: RateLimit, now_ms: int) -> Bucket:
        return cls(float(limit.burst), now_ms)

    def take(self, limit: RateLimit, now_ms: int) -> tuple[Bucket, int]:
        """Spend one token.  Returns the new bucket and 0, or the unchanged
        bucket and how many milliseconds until a token is there."""
        if limit.unlimited:
            return self, 0
        elapsed = max(0, now_ms - self.updated_ms)
        tokens = min(float(limit.burst), self.tokens + elapsed * limit.per_second / 1000)
        if tokens >= 1:
            return Bucket(tokens - 1, now_ms), 0
        wait_ms = math.ceil((1 - tokens) * 1000 / limit.per_second)
        return Bucket(tokens, now_ms), max(1, wait_ms)

    def is_full(self, limit: RateLimit, now_ms: int) -> bool:
        elapsed = max(0, now_ms - self.updated_ms)
        return self.tokens + elapsed * limit.per_second / 1000 >= limit.burst
