"""Decode slots: never more decodes than slots, finals before partials, and a slot is held
until its thread finishes even when its caller gives up."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from conversation.voice.decoding import DecodeSlots, Priority


class Gate:
    """Work that blocks its thread until released, and notes the order it started in."""

    def __init__(self) -> None:
        self.started: list[str] = []
        self.running = 0
        self.most = 0
        self._lock = threading.Lock()
        self._go: dict[str, threading.Event] = {}

    def work(self, name: str):
        self._go[name] = threading.Event()

        def run() -> str:
            with self._lock:
                self.started.append(name)
                self.running += 1
                self.most = max(self.most, self.running)
            self._go[name].wait(5)
            with self._lock:
                self.running -= 1
            return name

        return run

    def finish(self, name: str) -> None:
        self._go[name].set()


async def _until(condition, timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.005)


async def test_finals_go_before_partials_that_waited_longer() -> None:
    slots, gate = DecodeSlots(1), Gate()
    with ThreadPoolExecutor(4) as pool:
        first = asyncio.create_task(slots.run(Priority.PARTIAL, pool, gate.work("p1")))
        await _until(lambda: gate.started == ["p1"])
        partial = asyncio.create_task(slots.run(Priority.PARTIAL, pool, gate.work("p2")))
        await asyncio.sleep(0.01)
        final = asyncio.create_task(slots.run(Priority.FINAL, pool, gate.work("f")))
        await asyncio.sleep(0.01)
        assert slots.waiting == 2 and slots.running == 1

        for name in ("p1", "f", "p2"):
            gate.finish(name)
        assert await asyncio.gather(first, final, partial) == ["p1", "f", "p2"]
    assert gate.started == ["p1", "f", "p2"] and gate.most == 1


async def test_never_more_decodes_than_slots() -> None:
    slots, gate = DecodeSlots(2), Gate()
    with ThreadPoolExecutor(8) as pool:
        names = [f"d{i}" for i in range(6)]
        tasks = [asyncio.create_task(slots.run(Priority.FINAL, pool, gate.work(n))) for n in names]
        await _until(lambda: len(gate.started) == 2)
        for name in names:
            await _until(lambda name=name: name in gate.started)
            gate.finish(name)
        await asyncio.gather(*tasks)
    assert gate.most == 2 and gate.started == names


async def test_a_cancelled_caller_keeps_the_slot_until_its_decode_ends() -> None:
    slots, gate = DecodeSlots(1), Gate()
    with ThreadPoolExecutor(4) as pool:
        running = asyncio.create_task(slots.run(Priority.PARTIAL, pool, gate.work("a")))
        await _until(lambda: gate.started == ["a"])
        running.cancel()
        with pytest.raises(asyncio.CancelledError):
            await running
        nxt = asyncio.create_task(slots.run(Priority.FINAL, pool, gate.work("b")))
        await asyncio.sleep(0.05)
        assert gate.started == ["a"] and slots.running == 1  # "a" still decodes

        gate.finish("a")
        await _until(lambda: gate.started == ["a", "b"])
        gate.finish("b")
        assert await nxt == "b"
    assert gate.most == 1 and slots.running == 0


async def test_a_cancelled_waiter_gives_its_turn_to_the_next() -> None:
    slots, gate = DecodeSlots(1), Gate()
    with ThreadPoolExecutor(4) as pool:
        first = asyncio.create_task(slots.run(Priority.FINAL, pool, gate.work("a")))
        await _until(lambda: gate.started == ["a"])
        gone = asyncio.create_task(slots.run(Priority.FINAL, pool, gate.work("gone")))
        after = asyncio.create_task(slots.run(Priority.PARTIAL, pool, gate.work("c")))
        await asyncio.sleep(0.01)
        gone.cancel()
        gate.finish("a")
        await _until(lambda: gate.started == ["a", "c"])
        gate.finish("c")
        assert await first == "a" and await after == "c"
        assert gone.cancelled()
    assert slots.running == 0 and slots.waiting == 0


class ReadingsAsr:
    """A backend that reports how many other readings each decode was asked for."""

    name = "readings"

    def __init__(self) -> None:
        self.asked: list[int] = []

    def transcribe(self, audio, *, language, hints=(), alternatives=0, other_languages=()):  # type: ignore[no-untyped-def]
        from conversation.asr.base import Transcript

        self.asked.append(alternatives)
        others = tuple(f"reading {i}" for i in range(1, alternatives + 1))
        return Transcript("reading 0", True, language, None, alternatives=others)


async def test_only_a_final_transcript_asks_for_other_readings() -> None:
    import numpy as np

    from conversation.voice.recognizer import LocalRecognizer

    backend = ReadingsAsr()
    recognizer = LocalRecognizer(backend, alternatives=3)
    audio = np.zeros(1600, dtype=np.int16)

    final = await recognizer.recognize(audio, language="en", hints=())
    partial = await recognizer.recognize(audio, language="en", hints=(), priority=Priority.PARTIAL)

    assert backend.asked == [3, 0]
    assert final.alternatives == ("reading 1", "reading 2", "reading 3")
    assert partial.alternatives == ()


def test_a_recognition_result_carries_its_readings_over_the_channel_layer() -> None:
    import msgpack

    from contracts.messages import AsrResult, MessageError

    sent = AsrResult("r-1", text="best", language="en", alternatives=("second", "third"))
    wire = msgpack.unpackb(msgpack.packb(sent.encode()))  # tuples travel as lists

    assert AsrResult.decode(wire) == sent
    assert AsrResult.decode({"request_id": "r-2", "text": "x"}).alternatives == ()
    with pytest.raises(MessageError):
        AsrResult.decode({**wire, "alternatives": [1, 2]})
