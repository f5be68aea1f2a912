"""Where a session's pipeline is put together: avatar, FAQ, LLM, TTS, lip-sync queue, clip store."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings

from avatars.selectors import avatar_get_usable, consent_window, faq_entries_for
from contracts.media import FPS, Box
from conversation.avatar import AvatarRuntime
from conversation.canned.store import DjangoClipStore
from conversation.dialogue.session import Session
from conversation.handoff.triage import HandOffRules, Triage
from conversation.llm.base import FaqItem, primary_language, system_prompts
from conversation.llm.faq import FaqAnswerer
from conversation.llm.select import DEFAULT_CLAUDE_MODEL, build_answering
from conversation.protocol import AvatarInfo, IdleClip, Ready
from conversation.reply.ports import TurnTimeouts
from conversation.reply.render_queue import CeleryRenderQueue
from conversation.reply.turn import TurnContext
from conversation.tts.select import build_tts, engine_for, usable_voice
from conversation.tts.voices import VoiceRegistry, installed_voices
from conversation.voice import models
from conversation.voice.recognizer import QueueRecognizer
from conversation.voice.voice_input import VoiceSetup
from handoff.desk import DeskForSession
from handoff.selectors import rules_for


@dataclass(frozen=True)
class SessionSetup:
    avatar: AvatarRuntime
    faq: tuple[FaqItem, ...]
    consent_until: datetime | None  # when the last valid consent expires; None: open-ended
    voices: VoiceRegistry
    handoff_rules: HandOffRules = HandOffRules()


def load_session_setup(slug: str) -> SessionSetup:
    """Read everything a session needs once, at connect (raises AvatarUnavailable)."""
    avatar = avatar_get_usable(slug=slug)
    voices = installed_voices(settings.TTS_VOICES_DIR)
    # The voice that will speak: its id goes into the canned-clip key, so a voice that falls
    # back to espeak-ng never serves clips under the neural voice's name. Not loaded here:
    # daphne drops a WebSocket that is not accepted within 5 s, and the warm-up loads it.
    # Each language's voice (chosen in the admin) the same way.
    engine = engine_for(avatar.tts_backend)
    languages = tuple(avatar.languages)
    spoken = {
        language: usable_voice(
            voices, avatar.voice_for(language), language, engine=engine, load=False
        ).id
        for language in languages
    }
    runtime = AvatarRuntime(
        id=avatar.pk,
        slug=avatar.slug,
        name=avatar.name,
        baked_checksum=avatar.baked_checksum,
        renderer=avatar.renderer_in_use,
        tts_backend=avatar.tts_backend,
        voice=spoken[avatar.language],
        language=avatar.language,
        languages=languages,
        persona=avatar.persona,
        geometry=dict(avatar.geometry),
        idle_clip=avatar.idle_clip,
        voices=spoken,
    )
    faq = tuple(
        FaqItem(
            entry_id=entry.pk,
            question=entry.question,
            paraphrases=tuple(entry.paraphrase_list),
            answer=entry.answer,
            language=entry.language,
            priority=entry.priority,
        )
        for entry in faq_entries_for(avatar)
    )
    rules = rules_for(avatar.pk)
    return SessionSetup(
        avatar=runtime,
        faq=faq,
        consent_until=consent_window(avatar.pk).until,
        voices=voices,
        handoff_rules=HandOffRules(faq_entry_ids=rules.faq_entry_ids, keywords=rules.keywords),
    )


def build_context(session: Session, setup: SessionSetup, channel: str) -> TurnContext:
    avatar = setup.avatar
    answering = build_answering(
        faq=FaqAnswerer(setup.faq),
        anthropic_api_key=settings.ANTHROPIC_API_KEY,
        anthropic_model=settings.LLM_MODEL or DEFAULT_CLAUDE_MODEL,
        llm_base_url=settings.LLM_BASE_URL,
        llm_model=settings.LLM_MODEL or "default",
        llm_api_key=settings.LLM_API_KEY,
        timeout_s=settings.LLM_TIMEOUT_S,
    )
    return TurnContext(
        avatar=avatar,
        faq=answering.faq,
        llm=answering.llm,
        tts=build_tts(
            avatar.tts_backend, voices=setup.voices, espeak_program=settings.ESPEAK_PROGRAM
        ),
        renders=CeleryRenderQueue(channel),
        clips=DjangoClipStore(),
        timeouts=TurnTimeouts(
            llm_first_token_s=settings.LLM_FIRST_TOKEN_TIMEOUT_S,
            llm_total_s=settings.LLM_TIMEOUT_S,
            lipsync_s=settings.LIPSYNC_TIMEOUT_S,
            tts_sentence_s=settings.TTS_TIMEOUT_S,
        ),
        output=session.gate,
        streaming=settings.REPLY_STREAMING,
        system_prompts=system_prompts(avatar.persona, setup.faq, avatar.languages),
        triage=Triage(
            desk=DeskForSession(
                avatar_id=avatar.id, session_id=str(session.session_id), channel_name=channel
            ),
            rules=setup.handoff_rules,
            send=session.gate.send,
        ),
    )


def build_voice(setup: SessionSetup, channel: str) -> VoiceSetup:
    """How the session hears: where recognition runs, on the process's shared VAD model."""
    recognizer = (
        QueueRecognizer(channel, alternatives=settings.ASR_ALTERNATIVES)
        if settings.ASR_LOCATION == "speech"
        else models.local_recognizer()
    )
    # The questions alone: with every paraphrase too, Whisper base starts writing FAQ phrases
    # it did not hear (on the spoken test set: WER 32.8 % with the questions, 37.6 % with all).
    # In the avatar's own language: the recogniser uses them only when it hears that one.
    own = primary_language(setup.avatar.language)
    faq = [item for item in setup.faq if primary_language(item.language) == own] or setup.faq
    questions = [item.question for item in faq]
    return VoiceSetup(
        recognizer=recognizer,
        activity=models.voice_activity,
        languages=setup.avatar.languages,
        hints=models.hints_from(questions),
        turn_model=models.turn_model()[0],
        hold_s=settings.TURN_HOLD_MS / 1000,
        max_hold_s=settings.TURN_MAX_SILENCE_MS / 1000,
    )


def ready_message(session: Session, setup: SessionSetup) -> Ready:
    avatar = setup.avatar
    geometry = avatar.geometry
    base = f"{settings.MEDIA_URL}{avatar.idle_clip}/"
    box = geometry.get("face_box") or [0, 0, geometry.get("width", 1), geometry.get("height", 1)]
    return Ready(
        session_id=session.session_id,
        avatar=AvatarInfo(
            slug=avatar.slug,
            name=avatar.name,
            width=int(geometry.get("width", 1)),  # type: ignore[call-overload]
            height=int(geometry.get("height", 1)),  # type: ignore[call-overload]
            fps=FPS,
            idle_clip=IdleClip(webm=base + "idle.webm", mp4=base + "idle.mp4"),
            poster=base + "idle_poster.jpg",
            face_box=Box(*box),  # type: ignore[misc]
        ),
        languages=avatar.languages,
    )
