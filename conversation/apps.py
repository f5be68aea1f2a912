from __future__ import annotations

from django.apps import AppConfig


class ConversationConfig(AppConfig):
    name = "conversation"
    verbose_name = "Conversation"

    def ready(self) -> None:
        from django.conf import settings

        from avatars import voice_catalogue
        from conversation.tts.catalogue import InstalledVoices

        # The admin lists this process's installed voices and plays samples of them.
        voice_catalogue.install(InstalledVoices(settings.TTS_VOICES_DIR, settings.MODELS_DIR))
