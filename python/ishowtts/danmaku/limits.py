"""Per-user limits of the gateway: accepted messages per minute (a sliding 60 s window) and lines waiting
in the queue. Memory stays bounded: users with nothing in the window and nothing queued are forgotten."""

from __future__ import annotations

from collections import deque

UserKey = tuple[str, str]
WINDOW_S = 60.0
_PRUNE_AT = 16384  # users tracked before idle ones are swept


class UserLimits:
    def __init__(self) -> None:
        self._recent: dict[UserKey, deque[float]] = {}
        self._queued: dict[UserKey, int] = {}

    def check(self, user: UserKey, now: float, per_minute: int, max_queued: int) -> str | None:
        """The reason a new message of ``user`` is refused (``user_rate`` / ``user_queue``), else None."""
        if max_queued and self._queued.get(user, 0) >= max_queued:
            return "user_queue"
        if per_minute:
            q = self._recent.get(user)
            if q is not None:
                while q and now - q[0] >= WINDOW_S:
                    q.popleft()
                if len(q) >= per_minute:
                    return "user_rate"
        return None

    def accepted(self, user: UserKey, now: float) -> None:
        self._recent.setdefault(user, deque()).append(now)
        self._queued[user] = self._queued.get(user, 0) + 1
        if len(self._recent) > _PRUNE_AT:
            self._prune(now)

    def left_queue(self, user: UserKey) -> None:
        n = self._queued.get(user, 0) - 1
        if n > 0:
            self._queued[user] = n
        else:
            self._queued.pop(user, None)

    def queued(self, user: UserKey) -> int:
        return self._queued.get(user, 0)

    def clear_queued(self) -> None:
        self._queued.clear()

    def _prune(self, now: float) -> None:
        for user in list(self._recent):
            q = self._recent[user]
            while q and now - q[0] >= WINDOW_S:
                q.popleft()
            if not q:
                del self._recent[user]
