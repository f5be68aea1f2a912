from __future__ import annotations

from django.apps import AppConfig


class ConversationConfig(AppConfig):
    name = "conversation"
    verbose_name = "Conversation"

    def ready(self) -> None:
        from avatars import voice_catalogue
        from conversation.tts.catalogue import InstalledVoices

        # The admin lists this process's installed voices and plays samples of them.
        voice_catalogue.install(InstalledVoices())
