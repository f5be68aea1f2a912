"""Avatars, the consent that allows them, FAQ answers, canned clips and turn records.

Rules about these rows (who may bake, when consent counts) live in `services.py` and
`selectors.py`, not here.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.core.files.storage import FileSystemStorage
from django.db import models
from django.db.models import Q
from django.utils import timezone


def private_storage() -> FileSystemStorage:
    """Files never public; their URLs lead to a view that shows sources and evidence to staff."""
    return FileSystemStorage(
        location=settings.PRIVATE_MEDIA_ROOT, base_url=settings.PRIVATE_MEDIA_URL
    )


def _generated_name(prefix: str, filename: str) -> str:
    """Store uploads under a random name: the original name is neither trusted nor kept."""
    suffix = "".join(c for c in filename.rsplit(".", 1)[-1].lower() if c.isalnum())[:8]
    return f"{prefix}/{uuid.uuid4().hex}.{suffix or 'bin'}"


def avatar_source_path(instance: Avatar, filename: str) -> str:
    return _generated_name("sources", filename)


def consent_evidence_path(instance: ConsentRecord, filename: str) -> str:
    return _generated_name("consent", filename)


class Avatar(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        BAKING = "baking", "Baking"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"

    class RendererKind(models.TextChoices):
        AUTO = "auto", "Automatic (MuseTalk with a GPU, else CPU)"
        CPU = "cpu", "CPU renderer"
        MUSETALK = "musetalk", "MuseTalk v1.5"

    class TtsBackend(models.TextChoices):
        PIPER = "piper", "Neural voices: Piper, Kokoro for Japanese (else espeak-ng)"
        ESPEAK = "espeak", "espeak-ng"

    slug = models.SlugField(unique=True)
    name = models.CharField(max_length=100)
    source_media = models.FileField(
        upload_to=avatar_source_path,
        storage=private_storage,
        blank=True,
        help_text="A short frontal video (5-30 s, one face, steady light) or a photo.",
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    status_reason = models.CharField(
        max_length=300, blank=True, help_text="Why the last bake failed, in plain words."
    )
    renderer = models.CharField(
        max_length=10, choices=RendererKind.choices, default=RendererKind.AUTO
    )
    renderer_in_use = models.CharField(
        max_length=10, blank=True, help_text="The renderer the last bake actually used."
    )
    renderer_reason = models.CharField(
        max_length=200, blank=True, help_text="Why the worker chose that renderer."
    )
    bake_params = models.JSONField(
        default=dict,
        blank=True,
        help_text='Settings of the next bake, e.g. {"crop_size": 256}; edited as fields in the admin.',
    )
    baked_path = models.CharField(max_length=300, blank=True)
    baked_checksum = models.CharField(max_length=64, blank=True)
    baked_at = models.DateTimeField(null=True, blank=True)
    idle_clip = models.CharField(
        max_length=300, blank=True, help_text="Public path of the idle clip, under MEDIA_URL."
    )
    geometry = models.JSONField(
        default=dict, blank=True, help_text="Frame size, fps and face box of the baked avatar."
    )
    tts_backend = models.CharField(
        max_length=10, choices=TtsBackend.choices, default=TtsBackend.PIPER
    )
    voice = models.CharField(
        max_length=100,
        blank=True,
        default="",
        help_text=(
            "The voice of the main language. Empty: its default voice. Else an installed voice "
            "of the backend, e.g. piper:en_US-joe-medium (or any voice in the voices folder), "
            "kokoro:jm_kumo (Japanese) or espeak-ng:en-gb; a language without a voice of its "
            "own in `voices` speaks with this one when it can, else with its default, and a "
            "missing or broken neural voice speaks with espeak-ng."
        ),
    )
    voices = models.JSONField(
        default=dict,
        blank=True,
        help_text='The voice of each further language, e.g. {"ja": "kokoro:jm_kumo"}; chosen '
        "in the admin from the voices installed for the language.",
    )
    language = models.CharField(max_length=16, default="en")
    other_languages = models.JSONField(
        default=list, blank=True, help_text="Further languages the avatar may answer in."
    )
    persona = models.TextField(
        blank=True, help_text="System prompt: who the avatar is and how it speaks."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.slug})"

    @property
    def languages(self) -> list[str]:
        """The main language first, then the others, each once."""
        return list(dict.fromkeys([self.language, *self.other_languages]))

    def voice_for(self, language: str) -> str:
        """The voice asked for `language` ("" for its default): the main language's is
        `voice`; another's is its entry in `voices` (the same code, else the same base
        language), else `voice`."""
        if language == self.language:
            return self.voice
        if language in self.voices:
            return str(self.voices[language])
        base = language.split("-", 1)[0]
        same = [v for code, v in self.voices.items() if code.split("-", 1)[0] == base]
        return str(same[0]) if same else self.voice


class ConsentQuerySet(models.QuerySet["ConsentRecord"]):
    def valid(self, at: Any = None) -> ConsentQuerySet:
        now = at or timezone.now()
        return self.filter(granted_at__lte=now, revoked_at__isnull=True).filter(
            Q(expires_at__isnull=True) | Q(expires_at__gt=now)
        )


class ConsentRecord(models.Model):
    avatar = models.ForeignKey(Avatar, on_delete=models.PROTECT, related_name="consents")
    depicted_person = models.CharField(
        max_length=200, help_text="The person whose face and likeness the avatar shows."
    )
    consented_by = models.CharField(
        max_length=200,
        help_text="Who gave consent: the person, or who holds the right to decide for them.",
    )
    scope = models.TextField(
        help_text="What may be done with the likeness: channels, sites, languages, edits."
    )
    purpose = models.TextField(help_text="Why: the service the avatar is used for.")
    evidence = models.FileField(
        upload_to=consent_evidence_path,
        storage=private_storage,
        blank=True,
        help_text="Signed form or release; kept private, shown to staff only.",
    )
    evidence_note = models.TextField(
        blank=True, help_text="Where the evidence lies or what it says, when there is no file."
    )
    granted_at = models.DateTimeField(help_text="When consent took effect.")
    expires_at = models.DateTimeField(
        null=True, blank=True, help_text="When it ends by itself; empty for no end date."
    )
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.CharField(max_length=200, blank=True)
    revoked_reason = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ConsentQuerySet.as_manager()

    class Meta:
        ordering = ["-granted_at"]

    def __str__(self) -> str:
        return f"Consent of {self.depicted_person} for {self.avatar.slug}"


class WidgetOrigin(models.Model):
    """A site allowed to embed the widget: for every avatar, or for one.

    `WIDGET_ORIGINS` is the bootstrap list; these rows add to it without a restart. `origin`
    is stored normalised (lower case, no default port): the admin's form does that.
    """

    origin = models.CharField(
        max_length=200,
        help_text="The site's origin: scheme, host and port if not the default, "
        "e.g. https://shop.example.com. No path.",
    )
    avatar = models.ForeignKey(
        Avatar,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="widget_origins",
        help_text="Empty: the site may show every avatar. Else only this one.",
    )
    note = models.CharField(
        max_length=200, blank=True, help_text="Whose site it is, or why it is allowed."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["origin"]
        constraints = [
            models.UniqueConstraint(
                fields=["origin", "avatar"], name="widget_origin_once_per_avatar"
            ),
            models.UniqueConstraint(
                fields=["origin"],
                condition=Q(avatar__isnull=True),
                name="widget_origin_once_for_all",
                violation_error_message="This origin is already allowed for every avatar.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.origin} ({self.avatar.slug if self.avatar else 'every avatar'})"


class FAQEntry(models.Model):
    avatar = models.ForeignKey(
        Avatar,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="faq_entries",
        help_text="Empty: the entry applies to every avatar.",
    )
    language = models.CharField(max_length=16, default="en")
    question = models.CharField(max_length=300)
    paraphrases = models.TextField(blank=True, help_text="Other ways to ask it, one per line.")
    answer = models.TextField()
    active = models.BooleanField(default=True)
    priority = models.IntegerField(default=0, help_text="Higher wins when two entries match.")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-priority", "question"]
        verbose_name = "FAQ entry"
        verbose_name_plural = "FAQ entries"

    def __str__(self) -> str:
        return self.question

    @property
    def paraphrase_list(self) -> list[str]:
        return [line.strip() for line in self.paraphrases.splitlines() if line.strip()]


class CannedClip(models.Model):
    """A pre-rendered answer: its chunks stream at once when the same text is answered again."""

    cache_key = models.CharField(max_length=64, unique=True)
    avatar = models.ForeignKey(Avatar, on_delete=models.CASCADE, related_name="canned_clips")
    voice = models.CharField(max_length=100)
    renderer = models.CharField(max_length=10)
    faq_entry = models.ForeignKey(FAQEntry, null=True, blank=True, on_delete=models.SET_NULL)
    media_path = models.CharField(max_length=300, help_text="Under PRIVATE_MEDIA_ROOT.")
    media_bytes = models.PositiveIntegerField(default=0)
    duration_ms = models.PositiveIntegerField(default=0)
    frame_count = models.PositiveIntegerField(default=0)
    chunk_count = models.PositiveIntegerField(default=0)
    hits = models.PositiveIntegerField(default=0)
    last_hit_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.avatar.slug} {self.cache_key[:12]}"


class TurnRecord(models.Model):
    """One conversation turn's timings and outcome. Never the user's words, audio or face."""

    class Fallback(models.TextChoices):
        ONE_MOMENT = "one_moment", "LLM late: 'one moment' clip"
        HANDOFF = "handoff", "LLM failed: hand-off answer"
        SUBTITLES_ONLY = "subtitles_only", "TTS failed: subtitles only"
        AUDIO_ONLY = "audio_only", "Lip-sync late or failed: audio over idle"

    turn_id = models.UUIDField(primary_key=True)
    session_id = models.UUIDField(db_index=True)
    avatar = models.ForeignKey(Avatar, null=True, on_delete=models.SET_NULL, related_name="+")
    input_kind = models.CharField(max_length=10, default="text")
    started_at = models.DateTimeField(db_index=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    transitions = models.JSONField(
        default=list, help_text="[state, milliseconds since the turn started] in order."
    )
    ttfw_ms = models.FloatField(null=True, blank=True, help_text="Time to first word.")
    stage_ms = models.JSONField(default=dict, help_text="Latency of each stage by name.")
    fallbacks = models.JSONField(default=list)
    cache_hit = models.BooleanField(default=False)
    interrupted = models.BooleanField(default=False)
    barge_in_ms = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return str(self.turn_id)


class ConsentEvent(models.Model):
    """Audit trail of consent ending: who ended it, when, why, and what was withdrawn."""

    class Kind(models.TextChoices):
        REVOKED = "revoked", "Revoked"
        EXPIRED = "expired", "Expired"

    avatar = models.ForeignKey(Avatar, on_delete=models.PROTECT, related_name="consent_events")
    consent = models.ForeignKey(
        ConsentRecord, null=True, blank=True, on_delete=models.PROTECT, related_name="events"
    )
    kind = models.CharField(max_length=10, choices=Kind.choices)
    actor = models.CharField(
        max_length=200, help_text="Who ended consent: a staff user, or 'system: expiry'."
    )
    at = models.DateTimeField(default=timezone.now, db_index=True)
    reason = models.TextField()
    withdrawn = models.BooleanField(
        default=False, help_text="The avatar was taken out of use: no other consent allowed it."
    )
    clips_purged = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-at"]

    def __str__(self) -> str:
        return f"{self.avatar.slug}: consent {self.kind} by {self.actor}"
