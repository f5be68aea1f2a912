"""One session's hand-off: when to pass the customer to a person, the ticket that opens, and
what the customer said (held here, in memory; stored by the desk only with their yes).

The reply pipeline asks `decide` once per answered question and speaks `hand_off`'s line; the
session hands client and console messages to `handle`. The desk (the ticket's storage and the
agents' console) is a port: `handoff.desk.DeskForSession` is the real one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol
from uuid import UUID

from pydantic import BaseModel

from contracts.messages import AgentChat, DeskNotice
from conversation.handoff.phrases import (
    Reason,
    already_line,
    asks_for_person,
    consent_answer,
    handoff_line,
    has_keyword,
    same_question,
)
from conversation.llm.base import FaqMatch
from conversation.protocol import (
    AgentMessage,
    ErrorCode,
    HandOffConsent,
    HandOffNotice,
    ProtocolError,
)

log = logging.getLogger(__name__)

LOG_LINES = 400  # the conversation kept for a transcript: far more than a support chat holds
REMEMBERED_QUESTIONS = 20


@dataclass(frozen=True)
class HandOffRules:
    """The avatar's operator rules: these FAQ entries and keywords always go to a person."""

    faq_entry_ids: frozenset[int] = frozenset()
    keywords: tuple[str, ...] = ()


class HandOffDesk(Protocol):
    """Where tickets go: stored, announced to the console, the transcript kept when allowed."""

    async def open(self, *, reason: str, language: str, faq_entry_ids: Sequence[int]) -> str: ...

    async def consent(
        self, hand_off_id: str, *, given: bool, lines: Sequence[tuple[str, str]]
    ) -> None: ...

    async def line(self, hand_off_id: str, *, role: str, text: str, store: bool) -> None: ...

    async def leave(self, hand_off_id: str) -> None: ...


Send = Callable[[BaseModel], Awaitable[None]]


async def _nowhere(message: BaseModel) -> None:
    return None


class Triage:
    """Off (no desk: pre-rendering, the benchmark) it never hands off."""

    def __init__(
        self,
        *,
        desk: HandOffDesk | None = None,
        rules: HandOffRules | None = None,
        send: Send = _nowhere,
    ) -> None:
        self.desk = desk
        self.rules = rules or HandOffRules()
        self.send = send
        self.hand_off_id: str | None = None
        self.agent: str | None = None  # the person holding the conversation, if one does
        self.consent: bool | None = None
        self._log: list[tuple[str, str]] = []
        self._unanswered: list[str] = []
        self._topics: dict[int, None] = {}  # FAQ entries touched, in order
        self._opening: asyncio.Task[None] | None = None

    @property
    def agent_holds(self) -> bool:
        """A person answers now: the avatar says only their words."""
        return self.agent is not None

    # --- deciding ------------------------------------------------------------------------

    def decide(self, text: str, *, match: FaqMatch | None, llm_on: bool) -> Reason | None:
        """Why this question goes to a person, or None when the avatar answers it."""
        if self.desk is None:
            return None
        if match is not None:
            self._topics[match.entry_id] = None
        if asks_for_person(text):
            return Reason.ASKED_FOR_PERSON
        if has_keyword(text, self.rules.keywords) or (
            match is not None and match.entry_id in self.rules.faq_entry_ids
        ):
            return Reason.OPERATOR_RULE
        if match is not None:
            return None
        if not llm_on:
            return Reason.NO_ANSWER
        if any(same_question(text, before) for before in self._unanswered):
            return Reason.REPEATED
        self._unanswered = [*self._unanswered[-REMEMBERED_QUESTIONS + 1 :], text]
        return None

    def spoken_consent(self, text: str) -> bool | None:
        """A yes or no to "may I share our conversation?" while that question is open."""
        if self.hand_off_id is None or self.consent is not None:
            return None
        return consent_answer(text)

    # --- acting --------------------------------------------------------------------------

    async def hand_off(
        self, reason: Reason, *, text: str, language: str, spoken: str | None = None
    ) -> str:
        """Open the ticket (one per open hand-off); the line the avatar says about it (or
        `spoken`, when it said something already)."""
        if self.desk is None or self.hand_off_id is not None or self._opening is not None:
            line = already_line(language)
        else:
            # Its own task: a barge-in that cancels the turn must not lose a ticket half made.
            self._opening = asyncio.create_task(self._open(self.desk, reason, language))
            await asyncio.shield(self._opening)
            line = handoff_line(reason, language)
        await self.noted(customer=text, avatar=spoken or line)
        return spoken or line

    async def _open(self, desk: HandOffDesk, reason: Reason, language: str) -> None:
        try:
            self.hand_off_id = await desk.open(
                reason=reason, language=language, faq_entry_ids=list(self._topics)
            )
        except Exception:  # no ticket: the avatar still says a colleague will help
            log.exception("could not open a hand-off")
            self._opening = None
            return
        self.consent, self.agent = None, None
        await self.send(
            HandOffNotice(handoff_id=UUID(self.hand_off_id), status="waiting", ask_consent=True)
        )

    async def record_consent(self, given: bool) -> None:
        """The customer's answer; the first one counts. With yes, the conversation so far goes
        to the desk as the transcript."""
        if self.desk is None or self.hand_off_id is None or self.consent is not None:
            return
        self.consent = given
        lines = list(self._log) if given else []  # taken now: later lines are stored one by one
        await self.desk.consent(self.hand_off_id, given=given, lines=lines)
        await self.send(
            HandOffNotice(
                handoff_id=UUID(self.hand_off_id),
                status="taken" if self.agent_holds else "waiting",
                consent=given,
                agent=self.agent,
            )
        )

    async def noted(self, *, customer: str = "", avatar: str = "", agent: str = "") -> None:
        """A turn's words: kept for a transcript; passed to the console while a ticket is open
        (stored only with consent; shown live without it only to the person holding it)."""
        for role, text in (("customer", customer), ("avatar", avatar), ("agent", agent)):
            if not text:
                continue
            self._log = [*self._log[-LOG_LINES + 1 :], (role, text)]
            if (
                self.desk is not None
                and self.hand_off_id is not None
                and (self.consent or self.agent_holds)
            ):
                await self.desk.line(
                    self.hand_off_id, role=role, text=text, store=self.consent is True
                )

    async def handle(self, message: Any) -> None:
        """A hand-off message: the client's consent, or the console's take-over and chat."""
        if isinstance(message, HandOffConsent):
            if self.hand_off_id is None or str(message.handoff_id) != self.hand_off_id:
                raise ProtocolError(ErrorCode.NOT_READY, "no such hand-off in this session")
            await self.record_consent(message.consent)
        elif self.hand_off_id is None or message.hand_off_id != self.hand_off_id:
            log.info("a console message for a hand-off this session no longer has: dropped")
        elif isinstance(message, DeskNotice):
            await self._desk_notice(message)
        elif isinstance(message, AgentChat) and self.agent_holds:
            await self.send(
                AgentMessage(
                    handoff_id=UUID(message.hand_off_id), agent=message.agent, text=message.text
                )
            )
            await self.noted(agent=message.text)

    async def _desk_notice(self, notice: DeskNotice) -> None:
        """A person took the conversation (the avatar only says their words from now on), or
        gave it back (the hand-off is over; a new one may open)."""
        hand_off_id = UUID(notice.hand_off_id)
        if notice.status == "taken":
            self.agent = notice.agent or "Agent"
            await self.send(
                HandOffNotice(
                    handoff_id=hand_off_id, status="taken", consent=self.consent, agent=self.agent
                )
            )
        else:
            self.agent = self.hand_off_id = self._opening = None
            self.consent = None
            await self.send(HandOffNotice(handoff_id=hand_off_id, status="closed"))

    async def leave(self) -> None:
        """The customer left: an open hand-off ends as abandoned."""
        if self._opening is not None:
            with contextlib.suppress(Exception):
                await self._opening
        if self.desk is not None and self.hand_off_id is not None:
            hand_off_id, self.hand_off_id = self.hand_off_id, None
            await self.desk.leave(hand_off_id)
