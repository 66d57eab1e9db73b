"""Flask-Limiter's Redis storage, made to answer the rate-limit headers from its own hits.

Flask-Limiter reads every applied window again after the view to fill the headers (one
more Redis round trip per window). Here the moving-window hit is one Lua script that
acquires the entry exactly as `limits` does and also returns the window it leaves behind;
that window, like one read by a test, is remembered for the rest of the request, so the
headers cost no round trip and an outage after the view cannot reach them.
Selected by the `proxyapp+redis://` scheme (config builds it from REDIS_URL).
"""

from __future__ import annotations

import time
from typing import ClassVar

from flask import g, has_request_context

from config import LIMITER_STORAGE_SCHEME_PREFIX as SCHEME_PREFIX
from limits.storage import RedisStorage

# The entry acquisition of `limits`' acquire_moving_window.lua, then the window's oldest
# entry and count as its moving_window.lua finds them; one round trip, one atomic step.
_ACQUIRE_AND_REPORT = """
local timestamp = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local expiry = tonumber(ARGV[3])
local amount = tonumber(ARGV[4])
local acquired = 0
if amount <= limit then
    local entry = redis.call('lindex', KEYS[1], limit - amount)
    if not (entry and tonumber(entry) >= timestamp - expiry) then
        local entries = {}
        for i = 1, amount do entries[i] = timestamp end
        for i = 1, #entries, 5000 do
            redis.call('lpush', KEYS[1], unpack(entries, i, math.min(i + 4999, #entries)))
        end
        redis.call('ltrim', KEYS[1], 0, limit - 1)
        redis.call('expire', KEYS[1], expiry)
        acquired = 1
    end
end
local low, high, index = 0, limit - 1, -1
while low <= high do
    local mid = math.floor((low + high) / 2)
    local value = tonumber(redis.call('lindex', KEYS[1], mid))
    if value and value >= timestamp - expiry then
        index = mid
        low = mid + 1
    else
        high = mid - 1
    end
end
if index < 0 then
    return {acquired, tostring(timestamp), 0}
end
return {acquired, redis.call('lindex', KEYS[1], index), index + 1}
"""


class HitReportingRedisStorage(RedisStorage):
    """`limits`' Redis storage whose moving-window hits also report the window to this request."""

    STORAGE_SCHEME: ClassVar[list[str]] = [f"{SCHEME_PREFIX}redis", f"{SCHEME_PREFIX}rediss", f"{SCHEME_PREFIX}redis+unix"]

    def __init__(self, uri: str, **options) -> None:
        super().__init__(uri.removeprefix(SCHEME_PREFIX), **options)

    def initialize_storage(self, uri: str) -> None:
        """Register our script beside the library's."""
        super().initialize_storage(uri)
        self.lua_acquire_and_report = self.get_connection().register_script(_ACQUIRE_AND_REPORT)

    def acquire_entry(self, key: str, limit: int, expiry: int, amount: int = 1) -> bool:
        """Acquire like `limits` does, remembering the resulting window for this request."""
        acquired, oldest, count = self.lua_acquire_and_report(
            [self.prefixed_key(key)], [time.time(), limit, expiry, amount])
        if has_request_context():
            g.setdefault("rate_windows", {})[(key, limit, expiry)] = (float(oldest), int(count))
        return bool(acquired)

    def get_moving_window(self, key: str, limit: int, expiry: int) -> tuple[float, int]:
        """The window this request's own hit or test left, else read from Redis (and remembered).

        Windows that are only tested (the password-failure windows) are read here before the
        view; remembering them means the headers, made after the view, never touch Redis.
        """
        if not has_request_context():
            return super().get_moving_window(key, limit, expiry)
        known = g.setdefault("rate_windows", {})
        if (key, limit, expiry) not in known:
            known[(key, limit, expiry)] = super().get_moving_window(key, limit, expiry)
        return known[(key, limit, expiry)]

