"""What one session allows its client (docs/protocol.md, Limits); 0 switches a limit off."""

from __future__ import annotations

from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from conversation.protocol import ErrorCode, ErrorMessage, ProtocolError


@dataclass(frozen=True)
class SessionLimits:
    """`max_utterance_s` also bounds the audio held for one utterance, so it cannot be off."""

    turns_per_minute: int = 30
    idle_timeout_s: float = 300.0
    max_utterance_s: float = 30.0

    def __post_init__(self) -> None:
        if self.turns_per_minute < 0 or self.idle_timeout_s < 0:
            raise ValueError("session limits are 0 (off) or positive")
        if self.max_utterance_s < 1:
            raise ValueError("max_utterance_s is at least 1 second")

    @classmethod
    def from_settings(cls, settings: Any) -> SessionLimits:
        return cls(
            turns_per_minute=settings.TURNS_PER_MINUTE,
            idle_timeout_s=settings.SESSION_IDLE_TIMEOUT_S,
            max_utterance_s=settings.MAX_UTTERANCE_S,
        )


@dataclass
class TurnRate:
    """At most `per_minute` turns started in any 60 s (0: no limit); refusals are not counted."""

    per_minute: int
    starts: deque[float] = field(default_factory=deque)
    warned_at: float = -1e9

    def admit(self, now: float) -> bool:
        if not self.per_minute:
            return True
        while self.starts and now - self.starts[0] >= 60.0:
            self.starts.popleft()
        if len(self.starts) >= self.per_minute:
            return False
        self.starts.append(now)
        return True

    async def admit_or_tell(
        self, now: float, tell: Callable[[ErrorMessage], Awaitable[None]]
    ) -> bool:
        """Admit a turn, or tell the client that it was dropped (at most once a second)."""
        if self.admit(now):
            return True
        if (refusal := self.refusal(now)) is not None:
            await tell(refusal.to_message())
        return False

    def refusal(self, now: float) -> ProtocolError | None:
        """What to tell a client whose turn was refused: once a second is enough."""
        if now - self.warned_at < 1.0:
            return None
        self.warned_at = now
        message = f"at most {self.per_minute} questions a minute; this one was dropped"
        return ProtocolError(ErrorCode.RATE_LIMITED, message)


@dataclass
class IdleClock:
    """A session with no client message for `timeout_s` is idle (0: never)."""

    timeout_s: float
    heard_at: float  # monotonic: when the client last sent anything, or an answer last ended

    def left(self, now: float) -> float | None:
        """Seconds until the session counts as idle (None: never)."""
        return self.heard_at + self.timeout_s - now if self.timeout_s else None
