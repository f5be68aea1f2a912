"""Admin for avatars, consent, FAQ, canned clips, turn records and widget origins. Actions call
services."""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path
from typing import Any

from asgiref.sync import sync_to_async
from django.contrib import admin, messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html

from avatars import services, voice_catalogue
from avatars.forms import (
    LANGUAGE_CODE,
    AvatarForm,
    ConsentInlineForm,
    PreviewSpeakingForm,
    RevokeForm,
    WidgetOriginForm,
    preview_sentence,
    voice_choices,
    voice_field_name,
    voice_languages,
)
from avatars.models import (
    Avatar,
    CannedClip,
    ConsentEvent,
    ConsentRecord,
    FAQEntry,
    TurnRecord,
    WidgetOrigin,
)
from avatars.selectors import avatar_bake_states, avatar_has_valid_consent
from avatarsite.http import origins

BAKE_STATES_MAX = 500  # avatars one status request may ask about


class ConsentInline(admin.StackedInline):
    model = ConsentRecord
    form = ConsentInlineForm
    extra = 0
    readonly_fields = ("revoked_at",)
    show_change_link = True


@admin.register(Avatar)
class AvatarAdmin(admin.ModelAdmin):
    form = AvatarForm
    list_display = (
        "name",
        "slug",
        "bake_status",
        "consent_ok",
        "renderer",
        "renderer_in_use",
        "language",
    )
    list_filter = ("status", "renderer", "renderer_in_use", "tts_backend", "language")
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}
    fieldsets = [
        (None, {"fields": ("name", "slug", "source_media")}),
        (
            "Bake",
            {
                "fields": (
                    "status",
                    "status_reason",
                    "renderer",
                    "crop_size",
                    "renderer_in_use",
                    "renderer_reason",
                    "baked_at",
                    "baked_path",
                    "baked_checksum",
                    "idle_clip",
                    "geometry",
                )
            },
        ),
        (
            "Voice and languages",
            {"fields": ("tts_backend", "voice", "language", "other_languages", "persona")},
        ),
        ("History", {"fields": ("created_at", "updated_at")}),
    ]
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
    actions = ["bake", "prerender_faq_clips", "preview_speaking"]

    class Media:  # the Status column follows running bakes; voice samples play on the page
        css = {"all": ("avatars/bake_status.css", "avatars/voice_preview.css")}
        js = ("avatars/bake_status.js", "avatars/voice_preview.js")

    def get_urls(self) -> list[URLPattern]:
        states = path(
            "bake-status/",
            self.admin_site.admin_view(self.bake_states),
            name="avatars_avatar_bake_status",
        )
        # The two previews check who asks themselves: asynchronous, they take no thread of
        # the process's shared one while a voice or a renderer works.
        preview = path("voice-preview/", self.voice_preview, name="avatars_avatar_voice_preview")
        speaking = path(
            "<int:pk>/preview-speaking/",
            self.preview_speaking_page,
            name="avatars_avatar_preview_speaking",
        )
        return [states, preview, speaking, *super().get_urls()]

    def get_fieldsets(self, request: HttpRequest, obj: Avatar | None = None) -> Any:
        """A voice picker per language the avatar speaks, after the main language's."""
        avatar = obj or Avatar()
        others = [
            voice_field_name(language, avatar.language)
            for language in voice_languages(avatar)
            if language != avatar.language
        ]
        return [
            (name, {**options, "fields": _after(options["fields"], "voice", others)})
            for name, options in super().get_fieldsets(request, obj)
        ]

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> Any:
        # The other languages' pickers are made by the form itself, not by the model's fields.
        named = kwargs.pop("fields", None) or [
            field for _, options in self.get_fieldsets(request, obj) for field in options["fields"]
        ]
        fields = [field for field in named if not field.startswith("voice_")]
        return super().get_form(request, obj, change, fields=fields, **kwargs)

    async def voice_preview(self, request: HttpRequest) -> HttpResponse:
        """GET ?voice=kokoro:jm_kumo&language=ja&backend=piper: a WAV of a short sentence in
        that voice, spoken as a session would speak it (espeak-ng when the voice fails), on a
        thread of its own (`preview_speaking_page` says why)."""
        if not await sync_to_async(self.admin_site.has_permission)(request):
            return redirect_to_login(request.get_full_path(), reverse("admin:login"))
        if not await sync_to_async(self.has_view_permission)(request):
            raise PermissionDenied
        language = request.GET.get("language", "").lower()
        voice = request.GET.get("voice", "")
        backend = request.GET.get("backend", Avatar.TtsBackend.PIPER)
        catalogue = voice_catalogue.catalogue()
        if catalogue is None:
            return HttpResponse("No voices in this process.", status=503, content_type="text/plain")
        if not LANGUAGE_CODE.fullmatch(language) or backend not in Avatar.TtsBackend.values:
            return HttpResponse(
                "Unknown language or backend.", status=400, content_type="text/plain"
            )
        if voice not in [key for key, _ in voice_choices(language, backend)]:
            return HttpResponse("Not an installed voice.", status=400, content_type="text/plain")
        try:
            sample = await asyncio.to_thread(
                catalogue.sample, voice=voice, language=language, backend=backend
            )
        except voice_catalogue.SampleFailed as error:
            return HttpResponse(
                f"The voice could not speak: {error}", status=503, content_type="text/plain"
            )
        response = HttpResponse(sample.wav, content_type="audio/wav")
        response["X-Voice"] = sample.voice
        response["Cache-Control"] = "private, no-store"
        return response

    def bake_states(self, request: HttpRequest) -> JsonResponse:
        """GET ?id=1&id=2: status, label and failure reason of these avatars."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        ids = [int(i) for i in request.GET.getlist("id") if i.isdigit()][:BAKE_STATES_MAX]
        return JsonResponse({"avatars": avatar_bake_states(ids)})

    @admin.display(description="Status", ordering="status")
    def bake_status(self, avatar: Avatar) -> str:
        return format_html(
            '<span class="bake-status" data-avatar="{}" data-status="{}" aria-live="polite">'
            '{}</span><div class="bake-reason">{}</div>',
            avatar.pk,
            avatar.status,
            avatar.get_status_display(),
            avatar.status_reason,
        )

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

    @admin.action(description="Preview speaking", permissions=["view"])
    def preview_speaking(
        self, request: HttpRequest, queryset: QuerySet[Avatar]
    ) -> HttpResponse | None:
        """To the page where staff see the avatar say a sentence (`preview_speaking_page`)."""
        avatar = queryset.first()
        refusal = _preview_refusal(avatar, queryset.count())
        if refusal or avatar is None:
            self.message_user(request, f"Not previewed: {refusal}", messages.ERROR)
            return None
        return HttpResponseRedirect(
            reverse("admin:avatars_avatar_preview_speaking", args=[avatar.pk])
        )

    async def preview_speaking_page(self, request: HttpRequest, pk: int) -> HttpResponse:
        """A sentence to say and, once sent, the avatar saying it: an MP4 with sound and a
        contact sheet of the mouth, rendered from a private bake of its picture. Nothing is
        saved; the files travel in the page as data URLs. Asynchronous, the rendering on a
        thread of its own: the few seconds it takes never hold up the one thread the process's
        synchronous work (customers' sessions' database reads included) shares."""
        site = self.admin_site
        if not await sync_to_async(site.has_permission)(request):
            return redirect_to_login(request.get_full_path(), reverse("admin:login"))
        if not await sync_to_async(self.has_view_permission)(request):
            raise PermissionDenied
        avatar = await Avatar.objects.filter(pk=pk).afirst()
        refusal = await sync_to_async(_preview_refusal)(avatar, 1)
        previewer = voice_catalogue.previewer()
        if refusal or avatar is None or previewer is None:
            why = refusal or "no previews in this process."
            return HttpResponse(f"Not previewed: {why}", status=409, content_type="text/plain")
        asked = "preview" in request.POST
        form = PreviewSpeakingForm(
            request.POST if asked else None, initial={"text": preview_sentence(avatar.language)}
        )
        made = None
        if asked and form.is_valid():
            try:
                made = await asyncio.to_thread(
                    previewer.render,
                    source=Path(avatar.source_media.path),
                    text=form.cleaned_data["text"],
                    voice=avatar.voice,
                    language=avatar.language,
                    backend=avatar.tts_backend,
                )
            except voice_catalogue.PreviewFailed as error:
                form.add_error(None, f"No preview: {error}")
        context = {
            **await sync_to_async(site.each_context)(request),
            "title": f"Preview {avatar.name} speaking",
            "avatar": avatar,
            "form": form,
            "opts": self.model._meta,
            "made": made,
            "video": _data_url("video/mp4", made.mp4) if made else "",
            "sheet": _data_url("image/png", made.sheet) if made else "",
        }
        response = TemplateResponse(request, "admin/avatars/preview_speaking.html", context)
        await sync_to_async(response.render)()
        response["Cache-Control"] = "private, no-store"  # the face stays out of caches
        return response


def _preview_refusal(avatar: Avatar | None, chosen: int) -> str:
    """Why this choice cannot be previewed; "" when it can."""
    if chosen != 1 or avatar is None:
        return "choose one avatar."
    if not avatar_has_valid_consent(avatar):
        return f"{avatar.slug} has no valid consent record, and no avatar is shown without one."
    if not avatar.source_media:
        return f"{avatar.slug} has no picture or video yet."
    return ""


def _data_url(kind: str, content: bytes) -> str:
    return f"data:{kind};base64,{base64.b64encode(content).decode('ascii')}"


def _after(fields: Any, anchor: str, extra: list[str]) -> tuple[str, ...]:
    fields = tuple(fields)
    if anchor not in fields:
        return fields
    at = fields.index(anchor) + 1
    return (*fields[:at], *extra, *fields[at:])


@admin.register(ConsentRecord)
class ConsentRecordAdmin(admin.ModelAdmin):
    list_display = (
        "record",
        "avatar_link",
        "depicted_person",
        "consented_by",
        "granted_at",
        "expires_at",
        "is_valid",
    )
    list_display_links = ("record",)
    list_select_related = ("avatar",)
    list_filter = ("granted_at", "expires_at", "revoked_at")
    search_fields = ("avatar__slug", "avatar__name", "depicted_person", "consented_by")
    readonly_fields = ("revoked_at", "revoked_by", "revoked_reason", "created_at")
    actions = ["revoke"]

    @admin.display(description="Record", ordering="pk")
    def record(self, consent: ConsentRecord) -> str:
        return f"Consent #{consent.pk}"

    @admin.display(description="Avatar", ordering="avatar__name")
    def avatar_link(self, consent: ConsentRecord) -> str:
        page = reverse("admin:avatars_avatar_change", args=[consent.avatar_id])
        return format_html('<a href="{}">{}</a>', page, consent.avatar)

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


@admin.register(WidgetOrigin)
class WidgetOriginAdmin(admin.ModelAdmin):
    """Sites that may embed the widget, beside WIDGET_ORIGINS: effective on every web process
    within seconds (avatarsite/http/origins.py)."""

    form = WidgetOriginForm
    list_display = ("origin", "allowed_for", "note", "created_at")
    list_filter = ("avatar",)
    search_fields = ("origin", "note", "avatar__slug")
    list_select_related = ("avatar",)

    @admin.display(description="Allowed for", ordering="avatar__name")
    def allowed_for(self, row: WidgetOrigin) -> str:
        return str(row.avatar) if row.avatar else "every avatar"

    def save_model(
        self, request: HttpRequest, obj: WidgetOrigin, form: object, change: bool
    ) -> None:
        super().save_model(request, obj, form, change)
        transaction.on_commit(origins.forget)  # this process at once, the others within seconds

    def delete_model(self, request: HttpRequest, obj: WidgetOrigin) -> None:
        super().delete_model(request, obj)
        transaction.on_commit(origins.forget)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[WidgetOrigin]) -> None:
        super().delete_queryset(request, queryset)
        transaction.on_commit(origins.forget)
