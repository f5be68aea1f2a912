from __future__ import annotations

from django.apps import AppConfig


class ConversationConfig(AppConfig):
    name = "conversation"
    verbose_name = "Conversation"

    def ready(self) -> None:
        from avatars import voice_catalogue
        from conversation.preview import CpuPreviewer
        from conversation.tts.catalogue import InstalledVoices

        # The admin lists this process's installed voices and plays samples of them, and
        # shows an avatar speaking a sentence before it goes live.
        voice_catalogue.install(InstalledVoices())
        voice_catalogue.install_previewer(CpuPreviewer())
