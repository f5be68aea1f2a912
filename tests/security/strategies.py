"""What a hostile or broken client may send: hypothesis strategies for whole WebSocket frames.

Text frames range from valid protocol messages through message-shaped JSON with wrong fields to
arbitrary text; binary frames from valid PCM16 through odd, empty and oversized blobs.
"""

from __future__ import annotations

import json

from hypothesis import strategies as st

from conversation.protocol import CLIENT_MESSAGE_TYPES, MAX_CLIENT_AUDIO_BYTES

SECRET = "Sx7-private-words"  # planted in inputs: must never come back in a server message

json_leaf = (
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40)
)


def json_containers(inner: st.SearchStrategy) -> st.SearchStrategy:
    return st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)


json_value = st.recursive(json_leaf, json_containers, max_leaves=12)
field_names = st.sampled_from(
    ["text", "protocol_version", "client", "sample_rate", "encoding", "channels", "nonce", "extra"]
)
message_like = st.builds(
    lambda kind, fields: {"type": kind, **fields},
    st.sampled_from(sorted(CLIENT_MESSAGE_TYPES)) | st.text(max_size=12),
    st.dictionaries(field_names, json_value | st.just(SECRET), max_size=4),
)
valid_message = st.sampled_from(
    [
        {"type": "hello", "protocol_version": 1, "client": "fuzz/1"},
        {"type": "text", "text": f"Where is my order? {SECRET}"},
        {"type": "audio_start", "sample_rate": 16000, "encoding": "pcm_s16le", "channels": 1},
        {"type": "audio_stop"},
        {"type": "interrupt"},
        {"type": "ping", "nonce": SECRET},
    ]
)
text_frame = st.one_of(
    valid_message.map(json.dumps),
    message_like.map(json.dumps),
    json_value.map(json.dumps),
    st.text(max_size=200),
    # UTF-8 that is valid JSON text but one character short of closing, and deep nesting
    st.integers(1, 3000).map(lambda depth: "[" * depth),
)
pcm_frame = st.integers(1, MAX_CLIENT_AUDIO_BYTES // 2).flatmap(
    lambda n: st.binary(min_size=2 * n, max_size=2 * n)
)
binary_frame = st.one_of(
    pcm_frame,  # valid PCM16 (noise: the VAD may or may not hear speech)
    st.binary(max_size=MAX_CLIENT_AUDIO_BYTES + 200),  # odd, empty or over 100 ms
    st.integers(MAX_CLIENT_AUDIO_BYTES + 1, 20_000).map(lambda n: bytes(n)),
)
client_frame: st.SearchStrategy[str | bytes] = st.one_of(text_frame, binary_frame)
