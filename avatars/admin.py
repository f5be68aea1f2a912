"""Admin for avatars, consent, FAQ, canned clips and turn records. Actions call services."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.files.uploadedfile import UploadedFile
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone

from avatars import services
from avatars.media_checks import check_avatar_source
from avatars.models import Avatar, CannedClip, ConsentEvent, ConsentRecord, FAQEntry, TurnRecord
from avatars.selectors import avatar_has_valid_consent


class ConsentInline(admin.TabularInline):
    model = ConsentRecord
    extra = 0
    fields = ("depicted_person", "consented_by", "granted_at", "expires_at", "revoked_at")
    readonly_fields = ("revoked_at",)
    show_change_link = True


class AvatarForm(forms.ModelForm):
    """Checks a newly uploaded source by its content before anything is stored."""

    def clean_source_media(self) -> object:
        upload = self.cleaned_data.get("source_media")
        if isinstance(upload, UploadedFile):  # a new upload, not the stored file
            kind = check_avatar_source(upload)
            # The stored name comes from the content's type; upload_to adds a random stem.
            upload.name = f"source.{kind.extension}"
        return upload


@admin.register(Avatar)
class AvatarAdmin(admin.ModelAdmin):
    form = AvatarForm
    list_display = (
        "name",
        "slug",
        "status",
        "consent_ok",
        "renderer",
        "renderer_in_use",
        "language",
    )
    list_filter = ("status", "renderer", "renderer_in_use", "tts_backend", "language")
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}
    readonly_fields = (
        "status",
        "status_reason",
        "renderer_in_use",
        "renderer_reason",
        "baked_path",
        "baked_checksum",
        "baked_at",
        "idle_clip",
        "geometry",
        "created_at",
        "updated_at",
    )
    inlines = [ConsentInline]
    actions = ["bake", "prerender_faq_clips"]

    @admin.display(boolean=True, description="Consent valid")
    def consent_ok(self, avatar: Avatar) -> bool:
        return avatar_has_valid_consent(avatar)

    @admin.action(description="Bake selected avatars")
    def bake(self, request: HttpRequest, queryset: QuerySet[Avatar]) -> None:
        for avatar in queryset:
            try:
                services.avatar_bake_request(avatar=avatar)
            except (services.ConsentMissing, services.AvatarNotBakeable) as exc:
                self.message_user(request, f"Not baked: {exc}", messages.ERROR)
            else:
                self.message_user(
                    request,
                    f"Bake of {avatar.slug} queued on the lip-sync queue; its status turns "
                    "'ready' or 'failed' when a lip-sync worker has run it.",
                    messages.INFO,
                )

    @admin.action(description="Pre-render FAQ answer clips")
    def prerender_faq_clips(self, request: HttpRequest, queryset: QuerySet[Avatar]) -> None:
        for avatar in queryset:
            try:
                count = services.faq_clips_prerender_request(avatar=avatar)
            except (services.ConsentMissing, services.AvatarNotBakeable) as exc:
                self.message_user(request, f"Not queued: {exc}", messages.ERROR)
            else:
                self.message_user(
                    request,
                    f"{count} answer clips of {avatar.slug} queued; they appear under "
                    "Canned clips as workers render them.",
                    messages.INFO,
                )


class RevokeForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea, help_text="Why consent is revoked.")


@admin.register(ConsentRecord)
class ConsentRecordAdmin(admin.ModelAdmin):
    list_display = (
        "avatar",
        "depicted_person",
        "consented_by",
        "granted_at",
        "expires_at",
        "is_valid",
    )
    list_filter = ("granted_at", "expires_at", "revoked_at")
    search_fields = ("avatar__slug", "avatar__name", "depicted_person", "consented_by")
    readonly_fields = ("revoked_at", "revoked_by", "revoked_reason", "created_at")
    actions = ["revoke"]

    @admin.display(boolean=True, description="Valid now")
    def is_valid(self, consent: ConsentRecord) -> bool:
        return ConsentRecord.objects.valid().filter(pk=consent.pk).exists()

    @admin.action(description="Revoke selected consent records")
    def revoke(
        self, request: HttpRequest, queryset: QuerySet[ConsentRecord]
    ) -> HttpResponse | None:
        form = RevokeForm(request.POST if "confirm" in request.POST else None)
        if "confirm" in request.POST and form.is_valid():
            who = request.user.get_username()
            for consent in queryset:
                services.consent_revoke(
                    consent=consent, revoked_by=who, reason=form.cleaned_data["reason"]
                )
            self.message_user(
                request,
                f"Revoked {queryset.count()} consent records. Avatars left without consent "
                "were withdrawn: sessions ended, clips and baked artifacts purged.",
                messages.SUCCESS,
            )
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": "Revoke consent",
            "records": queryset,
            "form": form,
            "action": "revoke",
            "opts": self.model._meta,
            "now": timezone.now(),
        }
        return TemplateResponse(request, "admin/avatars/consent_revoke_confirm.html", context)


@admin.register(FAQEntry)
class FAQEntryAdmin(admin.ModelAdmin):
    list_display = ("question", "avatar", "language", "priority", "active", "updated_at")
    list_filter = ("active", "language", "avatar")
    list_editable = ("active", "priority")
    search_fields = ("question", "paraphrases", "answer")


@admin.register(CannedClip)
class CannedClipAdmin(admin.ModelAdmin):
    list_display = (
        "avatar",
        "faq_entry",
        "renderer",
        "voice",
        "duration_ms",
        "hits",
        "last_hit_at",
    )
    list_filter = ("avatar", "renderer", "voice")
    search_fields = ("cache_key", "faq_entry__question")
    readonly_fields = [f.name for f in CannedClip._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(TurnRecord)
class TurnRecordAdmin(admin.ModelAdmin):
    list_display = ("turn_id", "avatar", "started_at", "ttfw_ms", "cache_hit", "interrupted")
    list_filter = ("avatar", "cache_hit", "interrupted", "input_kind", "started_at")
    search_fields = ("turn_id", "session_id")
    date_hierarchy = "started_at"
    readonly_fields = [f.name for f in TurnRecord._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(ConsentEvent)
class ConsentEventAdmin(admin.ModelAdmin):
    """The audit trail of consent ending: read-only, kept even after the avatar is withdrawn."""

    list_display = ("at", "avatar", "kind", "actor", "withdrawn", "clips_purged")
    list_filter = ("kind", "withdrawn", "at")
    search_fields = ("avatar__slug", "actor", "reason")
    date_hierarchy = "at"
    readonly_fields = [f.name for f in ConsentEvent._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
