"""What the kernel says about this test process's children: found, alive, reaped, writing."""

from __future__ import annotations

import os
from pathlib import Path


def child_pids(program: str) -> list[int]:
    """Live (or zombie) children of this test process whose command runs `program`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == os.getpid() and any(arg.endswith(program.encode()) for arg in argv[:2]):
            found.append(int(entry.name))
    return found


def process_state(pid: int) -> str | None:
    """The kernel's state letter for `pid` (Z: zombie), None once it is gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return None


def bytes_written(pid: int) -> int | None:
    """How many bytes `pid` has written so far (/proc/PID/io), None once it is gone."""
    try:
        io = Path(f"/proc/{pid}/io").read_text()
    except OSError:
        return None
    return int(next(line for line in io.splitlines() if line.startswith("wchar:")).split()[1])


def cmdline(pid: int) -> list[str]:
    return [a.decode() for a in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0") if a]
