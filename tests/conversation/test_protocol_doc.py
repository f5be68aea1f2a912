"""docs/protocol.md stays true: every JSON example in it is a valid v1 message."""

from __future__ import annotations

import json
import re
from pathlib import Path

from conversation.protocol import (
    CLIENT_MESSAGE_TYPES,
    ErrorCode,
    parse_client_message,
    server_message_adapter,
)

DOC = Path(__file__).resolve().parents[2] / "docs" / "protocol.md"


def json_examples() -> list[str]:
    return re.findall(r"```json\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.DOTALL)


def test_every_json_example_is_a_valid_message() -> None:
    examples = json_examples()
    seen = set()
    for example in examples:
        kind = json.loads(example)["type"]
        if kind in CLIENT_MESSAGE_TYPES:
            parse_client_message(example)
        else:
            server_message_adapter.validate_json(example)
        seen.add(kind)
    assert seen >= CLIENT_MESSAGE_TYPES | {
        "ready",
        "state",
        "transcript",
        "subtitle",
        "interrupted",
        "turn_end",
        "error",
        "pong",
        "handoff",
        "agent_message",
    }


def test_every_error_code_is_documented() -> None:
    text = DOC.read_text(encoding="utf-8")
    assert all(f"| `{code}` |" in text for code in ErrorCode)
