from __future__ import annotations

from tests.conversation.conftest import demo_avatar  # noqa: F401  the baked demo avatar
