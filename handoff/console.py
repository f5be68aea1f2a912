"""The agents' console socket: staff with the console permission see open hand-offs live, open
one (its shared transcript, then its lines as they are said), take it, have the avatar say
their words (or send them as plain chat), and give the conversation back.

One channel-layer group per hand-off and one lobby group, on the Redis layer: a console on any
web process reaches a customer's session on any other through the session's own channel.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any, Literal

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from contracts.messages import (
    HANDOFF_LOBBY,
    AgentChat,
    AgentSays,
    DeskNotice,
    HandOffChanged,
    HandOffLine,
    MessageError,
    handoff_group,
)
from handoff import selectors, services
from handoff.models import HandOff

log = logging.getLogger(__name__)

REFUSED = 4003  # not signed in as staff with the console permission
MAX_WORDS = 1000


class _Command(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    handoff_id: str = Field(min_length=36, max_length=36)


class Watch(_Command):
    type: Literal["watch"]


class Take(_Command):
    type: Literal["take"]


class Say(_Command):
    type: Literal["say"]
    text: str = Field(min_length=1, max_length=MAX_WORDS)
    spoken: bool = True


class GiveBack(_Command):
    type: Literal["give_back"]


class Refresh(BaseModel):
    """The list again: group messages can be lost (dropped over capacity, or expired), so the
    page asks now and then as well."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    type: Literal["refresh"]


Command = Annotated[Watch | Take | Say | GiveBack | Refresh, Field(discriminator="type")]
commands: TypeAdapter[Command] = TypeAdapter(Command)


def agent_name(user: Any) -> str:
    return str(user.get_full_name() or user.get_username())


@database_sync_to_async
def _may_use_console(user: Any) -> bool:
    return bool(
        user is not None
        and user.is_authenticated
        and user.is_staff
        and user.is_active
        and user.has_perm("handoff.use_console")
    )


@database_sync_to_async
def _open_list() -> list[dict[str, Any]]:
    return [selectors.handoff_summary(h) for h in selectors.handoffs_open()]


@database_sync_to_async
def _opened(hand_off_id: str) -> dict[str, Any] | None:
    hand_off = selectors.handoff_get(hand_off_id)
    if hand_off is None:
        return None
    return {
        "type": "handoff",
        "handoff": selectors.handoff_summary(hand_off),
        "transcript": [
            {"role": line.role, "text": line.text} for line in selectors.transcript_of(hand_off)
        ],
    }


@database_sync_to_async
def _held_by(hand_off_id: str, user: Any) -> HandOff | None:
    """The hand-off if `user` holds it now, and its customer is still there."""
    hand_off = selectors.handoff_get(hand_off_id)
    if hand_off is None or hand_off.status != HandOff.Status.TAKEN:
        return None
    return hand_off if hand_off.taken_by_id == user.pk and hand_off.channel_name else None


class ConsoleConsumer(AsyncJsonWebsocketConsumer):
    user: Any = None
    watching: str | None = None

    async def connect(self) -> None:
        user = self.scope.get("user")
        await self.accept()
        if not await _may_use_console(user):
            await self.close(code=REFUSED)
            return
        self.user = user
        await self.channel_layer.group_add(HANDOFF_LOBBY, self.channel_name)
        await self._send_list()

    async def disconnect(self, code: int) -> None:
        if self.user is None:
            return
        await self.channel_layer.group_discard(HANDOFF_LOBBY, self.channel_name)
        if self.watching is not None:
            await self.channel_layer.group_discard(handoff_group(self.watching), self.channel_name)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        if self.user is None:
            return
        try:
            command = commands.validate_python(content)
        except ValidationError as error:
            first = error.errors(include_url=False, include_input=False)[0]
            where = ".".join(str(part) for part in first["loc"][1:]) or "message"
            await self._error(f"{where}: {first['msg']}")
            return
        if isinstance(command, Watch):
            await self._watch(command.handoff_id)
        elif isinstance(command, Take):
            await self._take(command.handoff_id)
        elif isinstance(command, Say):
            await self._say(command)
        elif isinstance(command, GiveBack):
            await self._give_back(command.handoff_id)
        elif isinstance(command, Refresh):
            await self._send_list()
            if self.watching is not None:
                await self._send_status(self.watching)

    # --- commands ------------------------------------------------------------------------

    async def _watch(self, hand_off_id: str) -> None:
        opened = await _opened(hand_off_id)
        if opened is None:
            await self._error("There is no such hand-off.")
            return
        if self.watching is not None:
            await self.channel_layer.group_discard(handoff_group(self.watching), self.channel_name)
        self.watching = hand_off_id
        await self.channel_layer.group_add(handoff_group(hand_off_id), self.channel_name)
        await self.send_json(opened)

    async def _take(self, hand_off_id: str) -> None:
        try:
            hand_off = await database_sync_to_async(services.handoff_take)(
                hand_off_id=hand_off_id, user=self.user
            )
        except (services.HandOffUnavailable, HandOff.DoesNotExist) as refusal:
            await self._error(str(refusal) or "There is no such hand-off.")
            return
        notice = DeskNotice(hand_off_id, "taken", agent_name(self.user))
        await self.channel_layer.send(hand_off.channel_name, notice.encode())
        await self._announce(hand_off_id, hand_off.status)
        await self._send_status(hand_off_id)

    async def _say(self, command: Say) -> None:
        hand_off = await _held_by(command.handoff_id, self.user)
        if hand_off is None:
            await self._error("Take the hand-off first; only the person holding it can answer.")
            return
        kind = AgentSays if command.spoken else AgentChat
        words = kind(command.handoff_id, agent_name(self.user), command.text)
        await self.channel_layer.send(hand_off.channel_name, words.encode())

    async def _give_back(self, hand_off_id: str) -> None:
        held = await _held_by(hand_off_id, self.user)  # its session's channel, before it closes
        try:
            hand_off = await database_sync_to_async(services.handoff_give_back)(
                hand_off_id=hand_off_id, user=self.user
            )
        except (services.HandOffUnavailable, HandOff.DoesNotExist) as refusal:
            await self._error(str(refusal) or "There is no such hand-off.")
            return
        if held is not None:
            notice = DeskNotice(hand_off_id, "closed")
            await self.channel_layer.send(held.channel_name, notice.encode())
        await self._announce(hand_off_id, hand_off.status)
        await self._send_status(hand_off_id)

    # --- channel-layer events ------------------------------------------------------------

    async def handoff_changed(self, event: dict[str, Any]) -> None:
        try:
            changed = HandOffChanged.decode(event)
        except MessageError:
            return
        await self._send_list()
        if changed.hand_off_id != self.watching:
            return
        if changed.status == "consent":
            # The customer's yes brings the conversation so far: an agent who opened the
            # hand-off before it gets the whole view again, transcript and all.
            if opened := await _opened(self.watching):
                await self.send_json(opened)
            return
        await self._send_status(self.watching)

    async def handoff_line(self, event: dict[str, Any]) -> None:
        try:
            line = HandOffLine.decode(event)
        except MessageError:
            return
        if line.hand_off_id == self.watching:
            await self.send_json({"type": "line", "role": line.role, "text": line.text})

    # --- sending -------------------------------------------------------------------------

    async def _send_list(self) -> None:
        await self.send_json({"type": "list", "handoffs": await _open_list()})

    async def _send_status(self, hand_off_id: str) -> None:
        if hand_off_id == self.watching and (opened := await _opened(hand_off_id)):
            await self.send_json({"type": "status", "handoff": opened["handoff"]})

    async def _announce(self, hand_off_id: str, status: str) -> None:
        message = HandOffChanged(hand_off_id, status).encode()
        await self.channel_layer.group_send(HANDOFF_LOBBY, message)
        await self.channel_layer.group_send(handoff_group(hand_off_id), message)

    async def _error(self, message: str) -> None:
        await self.send_json({"type": "error", "message": message})
