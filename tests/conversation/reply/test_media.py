"""The media assembler: chunks released in seq order, with their frames or, when late, without."""

from __future__ import annotations

import uuid

from contracts.media import Box
from contracts.messages import FramesReady, RenderFailed
from conversation.reply.media import MediaAssembler, PendingChunk

TURN = uuid.uuid4()
ONE_SECOND = bytes(32_000)  # PCM16 at 16 kHz


def pending(seq: int, deadline: float, audio: bytes = ONE_SECOND) -> PendingChunk:
    return PendingChunk(seq=seq, audio=audio, first_frame=25 * seq, sentence=0, deadline=deadline)


def frames(seq: int, count: int = 2) -> FramesReady:
    return FramesReady(
        turn_id=str(TURN),
        seq=seq,
        part=0,
        parts=1,
        first_frame=25 * seq,
        idle_indices=tuple(range(count)),
        boxes=(Box(0, 0, 8, 8),) * count,
        jpegs=(b"\xff\xd8jpeg",) * count,
    )


def assembler(*chunks: PendingChunk) -> MediaAssembler:
    media = MediaAssembler(TURN)
    for chunk in chunks:
        media.add(chunk)
    return media


def test_chunks_go_in_seq_order_whatever_order_their_frames_come_in() -> None:
    media = assembler(pending(0, 10.0), pending(1, 10.0))
    assert media.on_frames(frames(1))
    assert media.release(0.0) == []  # chunk 1 is ready, chunk 0 is not: nothing yet
    assert media.on_frames(frames(0))
    released = media.release(0.0)
    assert [(r.chunk.seq, r.lipsync_late, len(r.chunk.frames)) for r in released] == [
        (0, False, 2),
        (1, False, 2),
    ]
    assert not media.on_frames(frames(0))  # released: a duplicate is stale


def test_without_a_playing_answer_a_chunk_goes_audio_only_at_its_deadline() -> None:
    media = assembler(pending(0, 1.5))
    assert media.release(1.4) == [] and media.next_deadline() == 1.5
    [late] = media.release(1.5)
    assert late.lipsync_late and late.chunk.frames == () and late.chunk.audio == ONE_SECOND


def test_a_chunk_waits_for_its_frames_while_the_client_still_has_audio_to_play() -> None:
    # Queued at 0 with a 1.5 s timeout, but the client plays earlier audio until 4.0.
    media = assembler(pending(0, 1.5))
    assert media.next_deadline(needed_at=4.0) == 4.0
    assert media.release(2.0, needed_at=4.0) == []  # past its deadline, not yet needed
    assert media.on_frames(frames(0))
    [released] = media.release(2.5, needed_at=4.0)
    assert not released.lipsync_late and len(released.chunk.frames) == 2


def test_the_client_needing_a_chunk_before_its_deadline_does_not_cut_the_wait_short() -> None:
    media = assembler(pending(0, 1.5))
    assert media.next_deadline(needed_at=0.5) == 1.5
    assert media.release(1.0, needed_at=0.5) == []
    [late] = media.release(1.5, needed_at=0.5)
    assert late.lipsync_late


def test_each_released_chunk_pushes_back_when_the_next_one_is_needed() -> None:
    # Both chunks are past their deadline (1.0); chunk 0 has its frames. The client needs chunk
    # 0 at 3.0, so chunk 1 only one second of audio later, at 4.0: at 3.5 chunk 1 still waits.
    media = assembler(pending(0, 1.0), pending(1, 1.0))
    media.on_frames(frames(0))
    assert [r.chunk.seq for r in media.release(3.5, needed_at=3.0)] == [0]
    assert media.release(3.5, needed_at=4.0) == []
    [late] = media.release(4.0, needed_at=4.0)
    assert late.chunk.seq == 1 and late.lipsync_late
    # Needed at 2.0, chunk 1 is needed at 3.0: at 3.5 both go, the second without frames.
    media = assembler(pending(0, 1.0), pending(1, 1.0))
    media.on_frames(frames(0))
    released = media.release(3.5, needed_at=2.0)
    assert [(r.chunk.seq, r.lipsync_late) for r in released] == [(0, False), (1, True)]


def test_a_failed_render_goes_audio_only_at_once_and_input_closes_the_turn() -> None:
    media = assembler(pending(0, 10.0))
    assert media.on_failed(RenderFailed(turn_id=str(TURN), seq=0))
    [late] = media.release(0.0, needed_at=5.0)
    assert late.lipsync_late
    assert not media.done
    media.close_input()
    assert media.done
