"""Per-client request rate limit: a token bucket per client in each worker process."""
from __future__ import annotations

import math
import threading
import time

from ..outcomes import error


class RateLimiter:
    def __init__(self, per_minute: int):
        self._capacity = float(per_minute)
        self._rate = per_minute / 60.0
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def check(self, client_id: str) -> None:
        if self._capacity <= 0:
            return  # 0 turns the limit off
        now = time.monotonic()
        with self._lock:
            tokens, stamp = self._buckets.get(client_id, (self._capacity, now))
            tokens = min(self._capacity, tokens + (now - stamp) * self._rate)
            if tokens < 1.0:
                self._buckets[client_id] = (tokens, now)
                wait = math.ceil((1.0 - tokens) / self._rate)
                raise error(429, "throttled", f"Rate limit of {int(self._capacity)} requests a minute exceeded",
                            headers={"Retry-After": str(max(wait, 1))})
            self._buckets[client_id] = (tokens - 1.0, now)
