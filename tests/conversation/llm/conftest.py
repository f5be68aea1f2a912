from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conversation.llm.fake_servers import FakeServer


@pytest.fixture
def fake_server() -> Iterator[FakeServer]:
    server = FakeServer().start()
    yield server
    server.stop()
