"""Admin forms: an avatar's source checked and scaled on arrival, its bake settings, extra
languages and the voice of each language as fields instead of JSON, consent with its
provenance, and widget origins written the one way they are compared."""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.urls import reverse
from django.utils.html import format_html

from avatars import voice_catalogue
from avatars.media_checks import check_avatar_source, check_one_face, scaled_to_limit
from avatars.models import Avatar, ConsentRecord, WidgetOrigin
from avatarsite.http.origins import written_origin

LANGUAGE_CODE = re.compile(r"[a-z]{2,3}(-[a-z0-9]{2,8})*")
DEFAULT_CROP_SIZE = 256  # the CPU renderer's, when bake_params name none


class LanguageListField(forms.CharField):
    """Language codes separated by commas, kept as a list."""

    def prepare_value(self, value: Any) -> Any:
        return ", ".join(value) if isinstance(value, list) else value

    def to_python(self, value: Any) -> list[str]:  # type: ignore[override]
        text = super().to_python(value) or ""
        codes = [code.lower() for code in re.split(r"[,;\s]+", text) if code]
        wrong = [code for code in codes if not LANGUAGE_CODE.fullmatch(code)]
        if wrong:
            raise ValidationError(
                f"Not a language code: {', '.join(wrong)}. Write codes such as ja, fr or pt-br.",
                code="invalid",
            )
        return list(dict.fromkeys(codes))


class VoiceSelect(forms.Select):
    """The voices of one language, with a button that plays a sample of the one selected."""

    def __init__(self, language: str) -> None:
        super().__init__(attrs={"data-voice-language": language})
        self.language = language

    def render(self, name: str, value: Any, attrs: Any = None, renderer: Any = None) -> Any:
        select = super().render(name, value, attrs, renderer)
        return select + format_html(
            ' <button type="button" class="button voice-preview" data-url="{}" '
            'data-language="{}" data-select="{}">Play a sample</button>'
            '<audio class="voice-preview-audio" preload="none"></audio>'
            '<span class="voice-preview-state" aria-live="polite"></span>',
            reverse("admin:avatars_avatar_voice_preview"),
            self.language,
            (attrs or {}).get("id", f"id_{name}"),
        )


class VoiceField(forms.ChoiceField):
    """A voice id (`engine:name`); a bare name such as `en-us` is taken for the listed voice of
    that name."""

    def to_python(self, value: Any) -> str:
        text = super().to_python(value)
        ids = [str(key) for key, _ in self.choices]
        if text and text not in ids:
            text = next((key for key in ids if key.partition(":")[2] == text), text)
        return text


def voice_field_name(language: str, main: str) -> str:
    """The main language's voice is the model's `voice`; each other one's `voice_<code>`."""
    return "voice" if language == main else f"voice_{language}"


class AvatarForm(forms.ModelForm):
    """Checks a newly uploaded source by its content, scales it down when it is larger than a
    bake needs, and looks for the face, all before anything is stored."""

    crop_size = forms.TypedChoiceField(
        label="Face crop size",
        choices=[
            ("", f"Default ({DEFAULT_CROP_SIZE} px)"),
            ("192", "192 px: lighter, faster to render"),
            ("256", "256 px"),
            ("320", "320 px: sharper, slower to render"),
        ],
        coerce=int,
        empty_value=None,
        required=False,
        help_text="Side of the face picture the CPU renderer animates, in pixels. MuseTalk "
        "always works at 256 px. Takes effect at the next bake.",
    )
    other_languages = LanguageListField(
        required=False,
        help_text="Further languages the avatar may answer in besides its main language: "
        "codes separated by commas, e.g. ja, fr. Empty: the main language only.",
    )

    class Meta:
        model = Avatar
        fields = (  # bake_params is edited through crop_size
            "name",
            "slug",
            "source_media",
            "renderer",
            "tts_backend",
            "voice",
            "language",
            "other_languages",
            "persona",
        )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["crop_size"].initial = self.instance.bake_params.get("crop_size")
        self.voice_languages = voice_languages(self.instance)
        for language in self.voice_languages:
            name = voice_field_name(language, self.instance.language)
            self.fields[name] = self._voice_field(language, self.instance.voice_for(language))
            self.initial[name] = self.fields[name].to_python(self.instance.voice_for(language))

    def _voice_field(self, language: str, current: str) -> VoiceField:
        choices = voice_choices(language, self.instance.tts_backend)
        field = VoiceField(
            label=f"Voice ({language})",
            choices=choices,
            required=False,
            widget=VoiceSelect(language),
            help_text=f"The voice that speaks {language}, from the voices installed for it. A "
            "missing or broken neural voice speaks with espeak-ng. Save to get a voice for a "
            "language just added.",
        )
        if current and field.to_python(current) not in [key for key, _ in choices]:
            # As stored: an espeak-ng voice the list omits, or a neural voice since removed
            # (espeak-ng speaks for it).
            field.choices = [*choices, (current, f"{current} (as stored; not in this list)")]
        return field

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        backend = data.get("tts_backend") or self.instance.tts_backend
        for language in self.voice_languages:
            name = voice_field_name(language, self.instance.language)
            chosen = data.get(name) or ""
            unchanged = chosen == self.initial.get(name)
            allowed = [key for key, _ in voice_choices(language, backend)]
            if chosen and not unchanged and chosen not in allowed:
                self.add_error(name, f"Not a voice of the {backend} backend: choose again.")
        return data

    def clean_source_media(self) -> object:
        upload = self.cleaned_data.get("source_media")
        if isinstance(upload, UploadedFile):  # a new upload, not the stored file
            kind = check_avatar_source(upload)
            upload, kind = scaled_to_limit(upload, kind)
            check_one_face(upload, kind)
            # The stored name comes from the content's type; upload_to adds a random stem.
            upload.name = f"source.{kind.extension}"
        return upload

    def save(self, commit: bool = True) -> Avatar:
        avatar: Avatar = super().save(commit=False)
        params = {k: v for k, v in avatar.bake_params.items() if k != "crop_size"}
        if self.cleaned_data.get("crop_size"):
            params["crop_size"] = self.cleaned_data["crop_size"]
        avatar.bake_params = params
        voices = {
            language: chosen
            for language in self.voice_languages
            if language != avatar.language
            and (
                chosen := self.cleaned_data.get(voice_field_name(language, self.instance.language))
            )
        }
        # Languages without a picker on this page (added just now) keep what they had.
        kept = {k: v for k, v in avatar.voices.items() if k not in self.voice_languages}
        avatar.voices = {**kept, **voices}
        if commit:
            avatar.save()
            self.save_m2m()
        return avatar


def voice_languages(avatar: Avatar) -> list[str]:
    """The languages that get a voice picker: those the avatar speaks as stored."""
    return avatar.languages if avatar.language else ["en"]


def voice_choices(language: str, backend: str) -> list[tuple[str, str]]:
    """The installed voices of `language` on `backend`, the default ("") first."""
    catalogue = voice_catalogue.catalogue()
    if catalogue is None:  # a process without the conversation app: the default only
        return [("", "Default")]
    return [(choice.id, choice.label) for choice in catalogue.choices(language, backend=backend)]


class ConsentInlineForm(forms.ModelForm):
    """Consent entered on the avatar's page, provenance included."""

    class Meta:
        model = ConsentRecord
        fields = (
            "depicted_person",
            "consented_by",
            "scope",
            "purpose",
            "evidence",
            "evidence_note",
            "granted_at",
            "expires_at",
        )
        widgets = {
            "scope": forms.Textarea(attrs={"rows": 2}),
            "purpose": forms.Textarea(attrs={"rows": 2}),
            "evidence_note": forms.Textarea(attrs={"rows": 2}),
        }


# What the admin's "Preview speaking" offers to say, per base language; others get the English.
PREVIEW_SENTENCES = {
    "en": "Our store is open from nine to six, Monday to Saturday. How can I help you today?",
    "ja": "お問い合わせありがとうございます。営業時間は九時から六時までです。",
}
PREVIEW_MAX_CHARS = 300  # a few seconds of speech: rendered while the staff member waits


def preview_sentence(language: str) -> str:
    return PREVIEW_SENTENCES.get(language.split("-")[0].lower(), PREVIEW_SENTENCES["en"])


class PreviewSpeakingForm(forms.Form):
    text = forms.CharField(
        max_length=PREVIEW_MAX_CHARS,
        widget=forms.Textarea(attrs={"rows": 2, "cols": 80}),
        help_text="What the avatar says, in its main language and voice.",
    )


class RevokeForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea, help_text="Why consent is revoked.")


class WidgetOriginForm(forms.ModelForm):
    class Meta:
        model = WidgetOrigin
        fields = ("origin", "avatar", "note")

    def clean_origin(self) -> str:
        origin = written_origin(self.cleaned_data["origin"])
        if origin is None:
            raise ValidationError(
                "Write the site's origin only: scheme, host and port if not the default, "
                "e.g. https://shop.example.com.",
                code="invalid",
            )
        return origin
