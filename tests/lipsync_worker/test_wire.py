"""Frames leave the worker in order, as JPEG crops, in messages under the layer's size limit."""

from __future__ import annotations

import cv2
import msgpack
import numpy as np

from contracts.messages import FramesReady
from lipsync_worker.contract import Box, RenderedFrame
from lipsync_worker.wire import encode_jpeg, frames_messages


def chunk_frames(smooth: bool) -> list[RenderedFrame]:
    rng = np.random.default_rng(0)
    frames = []
    for i in range(25):
        if smooth:
            image = np.full((256, 256, 3), (180, 140, 120), dtype=np.uint8)
        else:  # noise: the worst case for JPEG size
            image = rng.integers(0, 255, (256, 256, 3), dtype=np.uint8)
        frames.append(
            RenderedFrame(
                index=50 + i, idle_index=(7 + i) % 100, box=Box(128, 140, 256, 256), image=image
            )
        )
    return frames


def test_a_face_like_chunk_is_one_message_that_round_trips() -> None:
    [message] = frames_messages("turn-1", 3, chunk_frames(smooth=True), render_ms=12.3456)
    back = msgpack.unpackb(msgpack.packb(message.encode()))
    assert FramesReady.decode(back) == message
    assert (back["seq"], back["part"], back["parts"], back["first_frame"]) == (3, 0, 1, 50)
    assert back["idle_indices"] == [(7 + i) % 100 for i in range(25)]
    assert back["boxes"][0] == [128, 140, 256, 256]
    decoded = cv2.imdecode(np.frombuffer(back["jpegs"][0], np.uint8), cv2.IMREAD_COLOR)
    assert decoded.shape == (256, 256, 3)


def test_large_crops_split_into_parts_under_the_limit_in_order() -> None:
    messages = frames_messages("turn-1", 4, chunk_frames(smooth=False), render_ms=1.0)
    assert len(messages) > 1
    assert all(len(msgpack.packb(m.encode())) < 1_000_000 for m in messages)
    assert [m.part for m in messages] == list(range(len(messages)))
    assert {m.parts for m in messages} == {len(messages)}
    indices = [m.first_frame + k for m in messages for k in range(len(m.jpegs))]
    assert indices == list(range(50, 75))


def test_jpeg_keeps_colour_order() -> None:
    red = np.zeros((32, 32, 3), dtype=np.uint8)
    red[..., 0] = 255
    bgr = cv2.imdecode(np.frombuffer(encode_jpeg(red), np.uint8), cv2.IMREAD_COLOR)
    assert bgr[16, 16, 2] > 200 and bgr[16, 16, 0] < 60
