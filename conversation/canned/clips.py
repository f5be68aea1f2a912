"""Canned clips: a finished answer's media chunks and subtitles, stored once, replayed at once.

File layout (`<PRIVATE_MEDIA_ROOT>/clips/<cache key>.avclip`): the magic line `AVCLIP1\\n`, a
u32 length and a JSON header (subtitles by seq, duration, frames), then each chunk as a u32
length and the packed media message with an all-zero turn id, patched per replay.
"""

from __future__ import annotations

import json
import os
import struct
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from uuid import UUID

from conversation.protocol import MediaChunk

MAGIC = b"AVCLIP1\n"
_LEN = struct.Struct("<I")
_TURN_ID = slice(4, 20)  # where the turn id sits in a packed media message
_NIL = UUID(int=0)


@dataclass(frozen=True)
class ClipSentence:
    seq: int
    sentence: int
    text: str


@dataclass(frozen=True)
class StoredClip:
    sentences: tuple[ClipSentence, ...]
    chunks: tuple[bytes, ...]  # packed media messages with a nil turn id
    duration_ms: int
    frame_count: int

    def replay(self, turn_id: UUID) -> Iterator[tuple[int, bytes]]:
        """(seq, packed message) for a new turn, in order."""
        for seq, packed in enumerate(self.chunks):
            yield seq, packed[: _TURN_ID.start] + turn_id.bytes + packed[_TURN_ID.stop :]


def clip_path(root: Path, cache_key: str) -> Path:
    if len(cache_key) != 64 or not all(c in "0123456789abcdef" for c in cache_key):
        raise ValueError("cache key must be a sha256 hex digest")
    return root / "clips" / f"{cache_key}.avclip"


def encode(chunks: Sequence[MediaChunk], sentences: Sequence[ClipSentence]) -> StoredClip:
    packed = []
    duration = frames = 0
    for seq, chunk in enumerate(chunks):
        neutral = MediaChunk(
            turn_id=_NIL,
            seq=seq,
            audio=chunk.audio,
            sample_rate=chunk.sample_rate,
            first_frame=chunk.first_frame,
            frames=chunk.frames,
        )
        packed.append(neutral.pack())
        duration += len(chunk.audio) // 2 * 1000 // chunk.sample_rate
        frames += len(chunk.frames)
    return StoredClip(tuple(sentences), tuple(packed), duration, frames)


def write(path: Path, clip: StoredClip) -> int:
    """Write atomically (temp file, then rename): readers never see half a clip. Returns bytes."""
    header = json.dumps(
        {
            "sentences": [[s.seq, s.sentence, s.text] for s in clip.sentences],
            "duration_ms": clip.duration_ms,
            "frame_count": clip.frame_count,
            "chunks": len(clip.chunks),
        }
    ).encode()
    body = [MAGIC, _LEN.pack(len(header)), header]
    for packed in clip.chunks:
        body += [_LEN.pack(len(packed)), packed]
    data = b"".join(body)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".clip-")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return len(data)


def read(path: Path) -> StoredClip:
    data = path.read_bytes()
    if not data.startswith(MAGIC):
        raise ValueError(f"{path.name} is not a canned clip")
    offset = len(MAGIC)
    (size,) = _LEN.unpack_from(data, offset)
    header = json.loads(data[offset + 4 : offset + 4 + size])
    offset += 4 + size
    chunks = []
    for _ in range(header["chunks"]):
        (size,) = _LEN.unpack_from(data, offset)
        packed = data[offset + 4 : offset + 4 + size]
        MediaChunk.unpack(packed)  # a damaged clip fails here, not in a customer's browser
        chunks.append(packed)
        offset += 4 + size
    sentences = tuple(ClipSentence(*item) for item in header["sentences"])
    return StoredClip(sentences, tuple(chunks), header["duration_ms"], header["frame_count"])
