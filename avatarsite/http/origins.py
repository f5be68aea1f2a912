"""Which sites may embed the widget: `WIDGET_ORIGINS` (the bootstrap list) and the admin's
Widget origins rows, for every avatar or for one.

No message travels between web processes when an operator adds or removes a site: each process
keeps the table for REFRESH_S seconds and then reads it again, so a change takes effect on every
process within that, without a restart.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from django.conf import settings
from django.db import DatabaseError, connections

from avatars.selectors import widget_origins

log = logging.getLogger(__name__)

REFRESH_S = 2.0  # how stale a process's table may be; one indexed query per process this often
ANY = "*"


def normalize_origin(origin: str) -> str | None:
    """`scheme://host[:port]` in lower case with default ports dropped; None if not an origin."""
    parts = urlsplit(origin.strip().lower())
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        return None
    try:
        port = parts.port
    except ValueError:
        return None
    default = 443 if parts.scheme == "https" else 80
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"{parts.scheme}://{host}" + (f":{port}" if port and port != default else "")


def written_origin(text: str) -> str | None:
    """What an operator typed as a site, normalised; None unless it is an origin and only that
    (no path, query or user name)."""
    parts = urlsplit(text.strip())
    if parts.path not in ("", "/") or parts.query or parts.fragment or "@" in parts.netloc:
        return None
    return normalize_origin(text)


@dataclass(frozen=True)
class OriginTable:
    """Normalised origins allowed for every avatar, and those allowed for one avatar only."""

    for_all: frozenset[str]
    for_avatar: Mapping[str, frozenset[str]] = field(default_factory=dict)

    def allows(self, origin: str, avatar_slug: str | None) -> bool:
        if ANY in self.for_all or origin in self.for_all:
            return True
        if avatar_slug is None:
            # The WebSocket asks without an avatar: its token, checked next, names the avatar
            # and the origin, and was only issued after the check for that avatar.
            return any(origin in origins for origins in self.for_avatar.values())
        return origin in self.for_avatar.get(avatar_slug, frozenset())


def _bootstrap() -> frozenset[str]:
    written = [o.strip() for o in settings.WIDGET_ORIGINS]
    normal = {ANY if o == ANY else normalize_origin(o) for o in written}
    return frozenset(o for o in normal if o)


def _table_from(rows: list[tuple[str, str | None]]) -> OriginTable:
    for_all: set[str] = set()
    for_avatar: dict[str, set[str]] = {}
    for origin, slug in rows:
        if slug is None:
            for_all.add(origin)
        else:
            for_avatar.setdefault(slug, set()).add(origin)
    return OriginTable(frozenset(for_all), {s: frozenset(o) for s, o in for_avatar.items()})


def _rows_on_own_thread() -> list[tuple[str, str | None]]:
    try:
        return widget_origins()
    finally:
        connections.close_all()  # this thread ends here: its connection must not linger


def _read_rows() -> list[tuple[str, str | None]]:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return widget_origins()
    # Asked from an event loop's thread (the WebSocket consumer), where the ORM may not run:
    # one short query on a thread of its own, at most once per REFRESH_S per process.
    with ThreadPoolExecutor(1, thread_name_prefix="widget-origins") as pool:
        return pool.submit(_rows_on_own_thread).result()


class _Cache:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.table: OriginTable | None = None
        self.read_at = 0.0

    def current(self) -> OriginTable:
        with self.lock:
            if self.table is not None and time.monotonic() - self.read_at < REFRESH_S:
                return self.table
            try:
                self.table = _table_from(_read_rows())
            except DatabaseError:
                # The last table read, else the bootstrap list: a database outage must not
                # open the widget to every site, nor close it to the ones already allowed.
                log.warning("widget origins could not be read; using the last list")
                if self.table is None:
                    return OriginTable(frozenset())
            self.read_at = time.monotonic()
            return self.table

    def forget(self) -> None:
        with self.lock:
            self.table = None


_cache = _Cache()


def allowed_origins() -> OriginTable:
    """The table in force on this process: `WIDGET_ORIGINS` as set now, and the admin's rows
    as read at most REFRESH_S ago."""
    bootstrap = _bootstrap()
    if ANY in bootstrap:
        return OriginTable(bootstrap)  # every site: nothing to read
    admin = _cache.current()
    return OriginTable(bootstrap | admin.for_all, admin.for_avatar)


def forget() -> None:
    """Read the table again at the next check (this process only; the others follow within
    REFRESH_S)."""
    _cache.forget()
