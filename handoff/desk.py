"""The desk as a customer's session sees it: tickets stored through the services, announced to
the agents' consoles over the channel layer.

It implements `conversation.handoff.triage.HandOffDesk` (by shape: this app never imports the
conversation package). One per session, built when the session opens.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from channels.db import database_sync_to_async
from channels.layers import get_channel_layer

from contracts.messages import HANDOFF_LOBBY, HandOffChanged, HandOffLine, handoff_group
from handoff import services

log = logging.getLogger(__name__)


class DeskForSession:
    def __init__(self, *, avatar_id: int, session_id: str, channel_name: str) -> None:
        self.avatar_id = avatar_id
        self.session_id = session_id
        self.channel_name = channel_name

    async def open(self, *, reason: str, language: str, faq_entry_ids: Sequence[int]) -> str:
        hand_off = await database_sync_to_async(services.handoff_open)(
            avatar_id=self.avatar_id,
            session_id=self.session_id,
            channel_name=self.channel_name,
            reason=reason,
            language=language,
            faq_entry_ids=list(faq_entry_ids),
        )
        await _announce(str(hand_off.pk), hand_off.status)
        return str(hand_off.pk)

    async def consent(
        self, hand_off_id: str, *, given: bool, lines: Sequence[tuple[str, str]]
    ) -> None:
        await database_sync_to_async(services.handoff_consent_record)(
            hand_off_id=hand_off_id, given=given, lines=list(lines)
        )
        await _announce(hand_off_id, "consent")

    async def line(self, hand_off_id: str, *, role: str, text: str, store: bool) -> None:
        if store:
            await database_sync_to_async(services.handoff_transcript_append)(
                hand_off_id=hand_off_id, role=role, text=text
            )
        await _send(handoff_group(hand_off_id), HandOffLine(hand_off_id, role, text).encode())

    async def leave(self, hand_off_id: str) -> None:
        ended = await database_sync_to_async(services.handoff_abandon)(hand_off_id=hand_off_id)
        if ended is not None:
            await _announce(hand_off_id, ended.status)


async def _announce(hand_off_id: str, status: str) -> None:
    message = HandOffChanged(hand_off_id, status).encode()
    await _send(HANDOFF_LOBBY, message)
    await _send(handoff_group(hand_off_id), message)


async def _send(group: str, message: dict) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        await layer.group_send(group, message)
    except Exception as error:  # a console that misses one refreshes from the database
        log.warning("could not tell the consoles (%s)", type(error).__name__)
