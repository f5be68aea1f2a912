"""Runs a synthesizer program: text on stdin, its stdout streamed back, killed when abandoned."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import AsyncGenerator, Callable, Sequence

from conversation.tts.base import TtsError, TtsErrorKind

logger = logging.getLogger(__name__)

READ_SIZE = 8192
_STDERR_TAIL = 4096
_DRAIN_S = 2.0

# Decides the error kind of a non-zero exit from the status and the end of stderr.
Classify = Callable[[int, bytes], TtsErrorKind]


def _failed(returncode: int, stderr: bytes) -> TtsErrorKind:
    return TtsErrorKind.FAILED


async def stream_stdout(
    argv: Sequence[str],
    stdin_data: bytes,
    *,
    source: str,
    timeout_s: float,
    classify: Classify = _failed,
) -> AsyncGenerator[bytes, None]:
    """Yields the program's stdout as it comes; raises TtsError when it cannot run or fails.

    `timeout_s` bounds the time spent waiting on the program, not the time the consumer holds
    a block: a slow consumer stalls the program through the pipe and is not its fault.
    """
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            # Own process group: a wrapper script's children die with it.
            start_new_session=True,
        )
    except (FileNotFoundError, PermissionError, NotADirectoryError) as exc:
        raise TtsError(
            TtsErrorKind.MISSING_PROGRAM, f"{source}: cannot run {argv[0]!r} ({exc.strerror})"
        ) from None
    except OSError as exc:  # e.g. not an executable format
        raise TtsError(
            TtsErrorKind.FAILED, f"{source}: cannot start {argv[0]!r} ({exc.strerror})"
        ) from None
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    stderr_tail = asyncio.create_task(_tail(proc.stderr))
    try:
        # The transport buffers what the pipe cannot take yet: no deadlock on long text.
        proc.stdin.write(stdin_data)
        proc.stdin.close()
        loop = asyncio.get_running_loop()
        waited = 0.0
        while True:
            started = loop.time()
            try:
                async with asyncio.timeout(timeout_s - waited):
                    data = await proc.stdout.read(READ_SIZE)
            except TimeoutError:
                raise TtsError(
                    TtsErrorKind.TIMEOUT, f"{source} took longer than {timeout_s:g} s"
                ) from None
            waited += loop.time() - started
            if not data:
                break
            yield data
        try:
            async with asyncio.timeout(max(timeout_s - waited, 1.0)):
                returncode = await proc.wait()
                stderr = await stderr_tail
        except TimeoutError:
            raise TtsError(
                TtsErrorKind.TIMEOUT, f"{source} did not exit after its output ended"
            ) from None
        if returncode != 0:
            # Only the exit status goes into the message: stderr may echo the spoken text.
            raise TtsError(
                classify(returncode, stderr), f"{source} exited with status {returncode}"
            )
    finally:
        await _end(proc, stderr_tail)


async def _tail(stream: asyncio.StreamReader) -> bytes:
    tail = b""
    while chunk := await stream.read(READ_SIZE):
        tail = (tail + chunk)[-_STDERR_TAIL:]
    return tail


async def _end(proc: asyncio.subprocess.Process, stderr_tail: asyncio.Task[bytes]) -> None:
    """Kills the program if it still runs, closes its pipes and reaps it: no zombie, no orphan."""
    if proc.returncode is None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
    if proc.stdin is not None:
        proc.stdin.close()
    try:
        async with asyncio.timeout(_DRAIN_S):
            # Before 3.12, wait() returns only once every pipe is closed, and a stdout paused by
            # a consumer that held a block never reads its EOF: read both pipes to their end.
            if proc.stdout is not None:
                while await proc.stdout.read(READ_SIZE):
                    pass
            await stderr_tail
            await proc.wait()
    except TimeoutError:
        # Only a process outside the group can hold a pipe this long; the child itself is
        # dead and the event loop's child watcher reaps it.
        stderr_tail.cancel()
        logger.warning("tts: pipes of pid %s still open after kill", proc.pid)
