"""Reads about avatars: which may be shown, their consent, their FAQ."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Q, QuerySet
from django.utils import timezone

from avatars.models import Avatar, ConsentRecord, FAQEntry, WidgetOrigin


class Unavailable(enum.StrEnum):
    UNKNOWN = "unknown"
    NOT_READY = "not_ready"
    NO_CONSENT = "no_consent"


class AvatarUnavailable(Exception):
    """The avatar cannot be used for a session; `reason` says why in a way a client can act on."""

    def __init__(self, reason: Unavailable, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass(frozen=True)
class ConsentWindow:
    """Whether an avatar may be baked or shown at a moment, and until when (None: no end)."""

    valid: bool
    until: datetime | None


def consent_valid_for(avatar: Avatar, *, at: datetime | None = None) -> ConsentRecord | None:
    """The consent record that currently allows this avatar, if any."""
    return ConsentRecord.objects.valid(at).filter(avatar=avatar).order_by("-granted_at").first()


def consent_window(avatar_id: int, *, at: datetime | None = None) -> ConsentWindow:
    """The one reading of consent every path uses: valid now, and the latest end among the
    valid records (an open-ended record means no end). An unknown avatar has none."""
    ends = list(
        ConsentRecord.objects.valid(at)
        .filter(avatar_id=avatar_id)
        .values_list("expires_at", flat=True)
    )
    if not ends:
        return ConsentWindow(valid=False, until=None)
    if any(end is None for end in ends):
        return ConsentWindow(valid=True, until=None)
    return ConsentWindow(valid=True, until=max(end for end in ends if end is not None))


def avatar_has_valid_consent(avatar: Avatar, *, at: datetime | None = None) -> bool:
    return consent_window(avatar.pk, at=at).valid


def avatar_get_usable(*, slug: str) -> Avatar:
    """The avatar for a live session: it must exist, be baked and have valid consent."""
    avatar = Avatar.objects.filter(slug=slug).first()
    if avatar is None:
        raise AvatarUnavailable(Unavailable.UNKNOWN, f"There is no avatar '{slug}'.")
    if not avatar_has_valid_consent(avatar):
        raise AvatarUnavailable(Unavailable.NO_CONSENT, "This avatar is not available.")
    if avatar.status != Avatar.Status.READY:
        raise AvatarUnavailable(Unavailable.NOT_READY, "This avatar is not ready yet.")
    return avatar


def avatar_list_public(*, baking: bool = False) -> QuerySet[Avatar]:
    """Ready avatars whose consent is valid now: the only ones a page may show. With `baking`,
    also those being baked now, usable once their bake ends (a fresh start's demo avatar)."""
    now = timezone.now()
    allowed = ConsentRecord.objects.valid(now).values("avatar_id")
    statuses = [Avatar.Status.READY, *([Avatar.Status.BAKING] if baking else [])]
    return Avatar.objects.filter(status__in=statuses, pk__in=allowed)


def avatar_bake_states(ids: list[int]) -> list[dict[str, object]]:
    """Status, its label and reason of these avatars: what the avatar list shows while bakes run."""
    rows = Avatar.objects.filter(pk__in=ids).values("pk", "status", "status_reason")
    return [
        {
            "id": row["pk"],
            "status": row["status"],
            "label": Avatar.Status(row["status"]).label,
            "reason": row["status_reason"],
        }
        for row in rows
    ]


def widget_origins() -> list[tuple[str, str | None]]:
    """Every origin the admin allows: (origin, the slug of its one avatar, or None for all)."""
    return list(WidgetOrigin.objects.values_list("origin", "avatar__slug"))


def faq_entries_for(avatar: Avatar, *, language: str | None = None) -> QuerySet[FAQEntry]:
    """Active FAQ entries that apply to this avatar (its own and the global ones)."""
    entries = FAQEntry.objects.filter(active=True).filter(Q(avatar=avatar) | Q(avatar__isnull=True))
    if language:
        entries = entries.filter(language=language)
    return entries.order_by("-priority", "pk")


def avatar_get(avatar_id: int) -> Avatar | None:
    return Avatar.objects.filter(pk=avatar_id).first()


def avatar_get_by_slug(slug: str) -> Avatar | None:
    return Avatar.objects.filter(slug=slug).first()


def avatar_get_baked(avatar_id: int, baked_checksum: str) -> Avatar:
    """The avatar as baked with this checksum (raises Avatar.DoesNotExist after a re-bake)."""
    return Avatar.objects.get(pk=avatar_id, baked_checksum=baked_checksum)


def avatars_baked_ready() -> QuerySet[Avatar]:
    """Ready avatars with baked artifacts: what a lipsync worker loads when it starts."""
    return Avatar.objects.filter(status=Avatar.Status.READY).exclude(baked_checksum="")


def faq_entry_get(entry_id: int) -> FAQEntry:
    return FAQEntry.objects.get(pk=entry_id)
