"""Create the demo avatar, its consent record and the demo FAQ (English and Japanese);
idempotent."""

from __future__ import annotations

import io
from typing import Any

from django.core.files.base import ContentFile
from django.core.management.base import BaseCommand
from django.db import transaction

from avatars import demo_data, services
from avatars.models import Avatar, FAQEntry
from avatars.selectors import avatar_has_valid_consent


def _portrait_png() -> bytes:
    from PIL import Image
    from skimage import data

    buffer = io.BytesIO()
    Image.fromarray(data.astronaut()).save(buffer, format="PNG")
    return buffer.getvalue()


class Command(BaseCommand):
    help = "Load the demo avatar (public-domain portrait), its consent record and a shop FAQ."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--bake", action="store_true", help="Queue a bake when not ready.")

    @transaction.atomic
    def handle(self, *args: Any, **options: Any) -> None:
        avatar, created = Avatar.objects.get_or_create(
            slug=demo_data.DEMO_SLUG,
            defaults={
                "name": demo_data.DEMO_NAME,
                "persona": demo_data.DEMO_PERSONA,
                "other_languages": demo_data.DEMO_OTHER_LANGUAGES,
            },
        )
        if not avatar.source_media:
            avatar.source_media.save("astronaut.png", ContentFile(_portrait_png()), save=True)
        if not avatar_has_valid_consent(avatar):
            services.consent_grant(avatar=avatar, **demo_data.DEMO_CONSENT)
        for language, entries in (("en", demo_data.DEMO_FAQ), ("ja", demo_data.DEMO_FAQ_JA)):
            # Each language once: an installation from before Japanese gets its entries too.
            if not FAQEntry.objects.filter(avatar__isnull=True, language=language).exists():
                FAQEntry.objects.bulk_create(
                    FAQEntry(
                        language=language,
                        question=q,
                        paraphrases="\n".join(p),
                        answer=a,
                        priority=0,
                    )
                    for q, p, a in entries
                )
        baking = options["bake"] and avatar.status in (Avatar.Status.DRAFT, Avatar.Status.FAILED)
        if baking:
            services.avatar_bake_request(avatar=avatar)
        self.stdout.write(
            f"demo avatar '{avatar.slug}' {'created' if created else 'present'}, "
            f"status {avatar.status}{', bake queued' if baking else ''}; "
            f"{FAQEntry.objects.filter(avatar__isnull=True).count()} FAQ entries"
        )
