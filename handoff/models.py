"""Hand-offs to a person: the ticket, the transcript the customer agreed to share, each webhook
attempt, and each avatar's hand-off policy (operator rules and webhook).

The ticket itself never holds what the customer said. Customer text lives only in
`TranscriptLine`, only when the customer said yes, and only for HANDOFF_TRANSCRIPT_RETENTION_DAYS.
Rules about these rows live in `services.py` and `selectors.py`.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from avatars.models import Avatar, FAQEntry
from handoff.webhook import validate_webhook_url


class HandOffPolicy(models.Model):
    """Per avatar: which topics always go to a person, and where tickets are announced."""

    avatar = models.OneToOneField(Avatar, on_delete=models.CASCADE, related_name="handoff_policy")
    always_faq_entries = models.ManyToManyField(
        FAQEntry,
        blank=True,
        related_name="+",
        help_text="A question that matches one of these entries is handed to a person at once.",
    )
    always_keywords = models.TextField(
        blank=True,
        help_text="One word or phrase per line; a question that contains one is handed to a "
        "person at once (whole words, case ignored).",
    )
    webhook_url = models.URLField(
        blank=True,
        validators=[validate_webhook_url],
        help_text="Each new hand-off is POSTed here as signed JSON (docs/handoff.md). https only; "
        "http to this machine (localhost) only with DEBUG.",
    )
    webhook_secret = models.CharField(
        max_length=200,
        blank=True,
        help_text="Shared secret for the X-Handoff-Signature header (HMAC-SHA256).",
    )
    webhook_timeout_s = models.FloatField(
        default=5.0,
        validators=[MinValueValidator(0.5), MaxValueValidator(30.0)],
        help_text="Seconds an attempt may take before it counts as failed and is retried.",
    )

    class Meta:
        verbose_name = "hand-off policy"
        verbose_name_plural = "hand-off policies"

    def __str__(self) -> str:
        return f"hand-off policy of {self.avatar.slug}"

    @property
    def keyword_list(self) -> list[str]:
        return [line.strip() for line in self.always_keywords.splitlines() if line.strip()]


class HandOff(models.Model):
    """A customer passed to a person. Holds no customer text (see TranscriptLine)."""

    class Status(models.TextChoices):
        WAITING = "waiting", "Waiting for a person"
        TAKEN = "taken", "Taken by a person"
        CLOSED = "closed", "Closed"
        ABANDONED = "abandoned", "Abandoned: the customer left"

    class Reason(models.TextChoices):
        NO_ANSWER = "no_answer", "Nothing matched and no LLM"
        LLM_FAILED = "llm_failed", "The LLM failed"
        ASKED_FOR_PERSON = "asked_for_person", "The customer asked for a person"
        REPEATED = "repeated", "The same question twice without an answer"
        OPERATOR_RULE = "operator_rule", "An operator rule (FAQ entry or keyword)"

    class Webhook(models.TextChoices):
        NONE = "none", "No webhook configured"
        PENDING = "pending", "Not sent yet"
        SENDING = "sending", "Being sent"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed after every retry"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    avatar = models.ForeignKey(Avatar, null=True, on_delete=models.SET_NULL, related_name="+")
    session_id = models.UUIDField(db_index=True)
    channel_name = models.CharField(
        max_length=200, blank=True, help_text="The live session's channel; empty once it ended."
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.WAITING)
    reason = models.CharField(max_length=20, choices=Reason.choices)
    language = models.CharField(max_length=16)
    faq_topics = models.ManyToManyField(
        FAQEntry, blank=True, related_name="+", help_text="FAQ entries the conversation touched."
    )
    transcript_consent = models.BooleanField(
        null=True,
        blank=True,
        help_text="The customer's choice: yes (the transcript is shared), no, or empty (not "
        "answered). Without yes, no customer text is stored or sent.",
    )
    consent_at = models.DateTimeField(null=True, blank=True)
    transcript_purged_at = models.DateTimeField(
        null=True, blank=True, help_text="When retention deleted the transcript."
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    taken_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    taken_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    webhook = models.CharField(max_length=10, choices=Webhook.choices, default=Webhook.NONE)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "hand-off"
        permissions = [("use_console", "Can take hand-offs in the agent console")]

    def __str__(self) -> str:
        return f"hand-off {str(self.id)[:8]} ({self.status})"

    @property
    def open(self) -> bool:
        return self.status in (self.Status.WAITING, self.Status.TAKEN)


class TranscriptLine(models.Model):
    """One line of a conversation the customer agreed to share. The one place customer text is
    stored; deleted after HANDOFF_TRANSCRIPT_RETENTION_DAYS by the daily retention task."""

    class Role(models.TextChoices):
        CUSTOMER = "customer", "Customer"
        AVATAR = "avatar", "Avatar"
        AGENT = "agent", "Agent"

    hand_off = models.ForeignKey(HandOff, on_delete=models.CASCADE, related_name="transcript")
    seq = models.PositiveIntegerField()
    role = models.CharField(max_length=10, choices=Role.choices)
    text = models.TextField()
    at = models.DateTimeField()

    class Meta:
        ordering = ["hand_off", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["hand_off", "seq"], name="transcript_line_seq")
        ]

    def __str__(self) -> str:
        return f"{self.role} line {self.seq}"


class WebhookAttempt(models.Model):
    """One POST of a hand-off to its avatar's webhook: what came back, never the body."""

    hand_off = models.ForeignKey(HandOff, on_delete=models.CASCADE, related_name="attempts")
    number = models.PositiveSmallIntegerField()
    at = models.DateTimeField()
    host = models.CharField(max_length=255)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.CharField(max_length=200, blank=True)
    duration_ms = models.FloatField()
    delivered = models.BooleanField(default=False)

    class Meta:
        ordering = ["hand_off", "number"]

    def __str__(self) -> str:
        return f"attempt {self.number}: {self.status_code or self.error}"
