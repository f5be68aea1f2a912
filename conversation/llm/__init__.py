"""The LLM stage: streaming text backends (Claude, OpenAI-compatible, local FAQ) behind one Protocol."""

from __future__ import annotations

from conversation.llm.base import (
    HANDOFF_ANSWERS,
    ChatTurn,
    FaqItem,
    FaqMatch,
    LlmBackend,
    LlmError,
    LlmErrorKind,
    LlmRequest,
    handoff_answer,
    system_prompt,
    system_prompts,
)

__all__ = [
    "HANDOFF_ANSWERS",
    "ChatTurn",
    "FaqItem",
    "FaqMatch",
    "LlmBackend",
    "LlmError",
    "LlmErrorKind",
    "LlmRequest",
    "handoff_answer",
    "system_prompt",
    "system_prompts",
]
