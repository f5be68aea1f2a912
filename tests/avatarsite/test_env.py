"""Configuration: one module reads the environment, and the README documents all of it."""

from __future__ import annotations

from pathlib import Path

import pytest

from avatarsite import env

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


def test_undeclared_variables_cannot_be_read() -> None:
    with pytest.raises(KeyError):
        env.env_str("SOMETHING_UNDECLARED", "x")


@pytest.mark.parametrize("name", sorted(env.VARIABLES))
def test_readme_documents_every_variable(name: str) -> None:
    assert f"`{name}`" in README


def test_generated_secret_is_stable_and_private(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(env, "VAR_DIR", tmp_path)
    monkeypatch.delenv("SECRET_KEY", raising=False)
    first = env.stored_secret("SECRET_KEY", "secret_key")
    assert first == env.stored_secret("SECRET_KEY", "secret_key") and len(first) >= 40
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0
    monkeypatch.setenv("SECRET_KEY", "from-env")
    assert env.stored_secret("SECRET_KEY", "secret_key") == "from-env"


def test_cross_session_batching_runs_the_lipsync_worker_on_threads() -> None:
    assert env.lipsync_pool_flags({}) == ["--pool=solo"]
    assert env.lipsync_pool_flags({"LIPSYNC_BATCH_CHUNKS": "0"}) == ["--pool=solo"]
    threads = env.lipsync_pool_flags({"LIPSYNC_BATCH_CHUNKS": "16"})
    assert threads == ["--pool=threads", "--concurrency=16"]
