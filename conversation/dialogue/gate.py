"""The send gate: everything that reaches a session's client passes here, one message at a time.

It holds the session's current turn. A stage of a turn that was interrupted, or replaced by a
newer one, may still try to send (it has not yet seen its cancellation): the gate refuses it,
so no media of an old turn ever follows `interrupted`. The reply's stages see it as their
`TurnOutput`.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from pydantic import BaseModel

from conversation.dialogue.turn_state import TurnState, TurnStateMachine
from conversation.protocol import State
from conversation.reply.turn import Turn


@dataclass
class Transport:
    """How the session reaches its client (the consumer's send and close methods)."""

    send_text: Callable[[str], Awaitable[None]]
    send_bytes: Callable[[bytes], Awaitable[None]]
    close: Callable[[int], Awaitable[None]] | None = None


class Gate:
    def __init__(self, transport: Transport, machine: TurnStateMachine) -> None:
        self.transport = transport
        self.machine = machine
        self.lock = asyncio.Lock()  # held for every send and every change of the turn
        self.turn: Turn | None = None
        self.bytes_sent = 0

    def current(self, turn_id: str) -> Turn | None:
        """The running turn if it is `turn_id`: lip-sync replies of older turns are stale."""
        turn = self.turn
        return turn if turn is not None and str(turn.turn_id) == turn_id else None

    # --- for the turn's stages (TurnOutput) -------------------------------------------------

    async def send_json(self, turn: Turn, message: BaseModel) -> bool:
        async with self.lock:
            if turn.cancelled or turn is not self.turn:
                return False
            await self.send_locked(message)
            return True

    async def send_media(self, turn: Turn, packed: bytes) -> bool:
        async with self.lock:
            if turn.cancelled or turn is not self.turn:
                return False
            await self.send_bytes_locked(packed)
            return True

    async def turn_speaking(self, turn: Turn) -> None:
        async with self.lock:
            if turn is self.turn and self.machine.state is TurnState.THINKING:
                await self.move_locked(TurnState.SPEAKING)

    # --- for the session ---------------------------------------------------------------------

    async def send(self, message: BaseModel) -> None:
        async with self.lock:
            await self.send_locked(message)

    async def send_locked(self, message: BaseModel) -> None:
        await self.transport.send_text(message.model_dump_json())

    async def send_bytes_locked(self, data: bytes) -> None:
        self.bytes_sent += len(data)
        await self.transport.send_bytes(data)

    async def move(self, to: TurnState) -> None:
        async with self.lock:
            await self.move_locked(to)

    async def move_locked(self, to: TurnState, *, turn_id: uuid.UUID | None = None) -> None:
        change = self.machine.transition(to, at=time.monotonic(), turn_id=turn_id)
        await self.send_locked(State(state=change.state, turn_id=change.turn_id))
