"""Admin for hand-offs: each avatar's policy (rules, webhook), the tickets with their webhook
attempts, and the shared transcripts. Tickets change only through the console and services."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from handoff.models import HandOff, HandOffPolicy, TranscriptLine, WebhookAttempt


@admin.register(HandOffPolicy)
class HandOffPolicyAdmin(admin.ModelAdmin):
    list_display = ("avatar", "webhook_url", "webhook_timeout_s")
    search_fields = ("avatar__slug", "avatar__name", "always_keywords")
    filter_horizontal = ("always_faq_entries",)
    fieldsets = (
        (None, {"fields": ("avatar",)}),
        ("Always hand off", {"fields": ("always_faq_entries", "always_keywords")}),
        ("Webhook", {"fields": ("webhook_url", "webhook_secret", "webhook_timeout_s")}),
    )


class _ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class WebhookAttemptInline(_ReadOnlyInline):
    model = WebhookAttempt
    fields = ("number", "at", "host", "status_code", "error", "duration_ms", "delivered")
    readonly_fields = fields


class TranscriptInline(_ReadOnlyInline):
    """Shown only to staff who may view transcripts (the customer agreed to share them)."""

    model = TranscriptLine
    fields = ("seq", "role", "text", "at")
    readonly_fields = fields

    def has_view_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return request.user.has_perm("handoff.view_transcriptline")


@admin.register(HandOff)
class HandOffAdmin(admin.ModelAdmin):
    list_display = (
        "created_at",
        "avatar",
        "status",
        "reason",
        "language",
        "transcript_consent",
        "taken_by",
        "taken_at",
        "closed_at",
        "webhook",
    )
    list_filter = ("status", "reason", "webhook", "transcript_consent", "avatar", "created_at")
    search_fields = ("id", "session_id")
    date_hierarchy = "created_at"
    readonly_fields = [f.name for f in HandOff._meta.fields] + ["faq_topics"]
    inlines = [TranscriptInline, WebhookAttemptInline]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
