"""Whether a local TCP port is free to listen on, and which process holds it when it is not.

The supervisor asks before it starts anything: a port held by an orphan of an earlier run would
otherwise make its web process fail and restart for ever while the orphan answers in its place.
The holder is found through Linux's /proc, where this user may read it; elsewhere it is unnamed.
"""

from __future__ import annotations

import errno
import socket
from pathlib import Path

PROC = Path("/proc")
_LISTEN = "0A"  # TCP state LISTEN in /proc/net/tcp


def port_taken(host: str, port: int) -> bool:
    """True when a server could not listen on host:port now: bound as daphne, Flower and
    redis-server bind (SO_REUSEADDR), so a closed socket still in TIME_WAIT does not count."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as error:
            return error.errno == errno.EADDRINUSE
    return False


def port_holder(port: int) -> str | None:
    """'pid N (command …)' of the process listening on `port`, when /proc lets us see it."""
    inodes = _listening_inodes(port)
    if not inodes:
        return None
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            for fd in (entry / "fd").iterdir():
                if fd.readlink().name in inodes:
                    return f"pid {entry.name} ({_command(entry)})"
        except OSError:  # another user's process, or gone meanwhile
            continue
    return None


def _listening_inodes(port: int) -> set[str]:
    """The names ('socket:[INODE]') of the sockets listening on `port`, IPv4 and IPv6."""
    found: set[str] = set()
    for table in ("tcp", "tcp6"):
        try:
            lines = (PROC / "net" / table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state == _LISTEN and int(local.rsplit(":", 1)[1], 16) == port:
                found.add(f"socket:[{inode}]")
    return found


def _command(process: Path, width: int = 70) -> str:
    words = (process / "cmdline").read_bytes().split(b"\0")
    command = " ".join(w.decode(errors="replace") for w in words if w)
    return command if len(command) <= width else command[: width - 1] + "…"
