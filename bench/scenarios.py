"""The benchmark's scenarios: each drives the stack over real WebSockets and returns figures."""

from __future__ import annotations

import asyncio
import json
import random
import re
import statistics
import threading
import time
from typing import Any

from bench.client import BenchClient, TurnTrace
from bench.stack import Stack, process_usage
from bench.stats import summary

FAQ_QUESTIONS = (
    "What are your opening hours?",
    "How long does shipping take?",
    "How much does shipping cost?",
    "How do I reset my password?",
    "How can I contact you?",
)
THREE_SENTENCES = "How do I return an item?"  # its demo answer has three sentences
SPOKEN = "What are your opening hours?"


def _ms(values: list[float | None]) -> list[float]:
    return [v for v in values if v is not None]


def _session_figures(traces: list[TurnTrace]) -> dict[str, Any]:
    audio = sum(t.audio_s for t in traces)
    size = sum(t.media_bytes + t.text_bytes for t in traces)
    frames = sum(m.frames for t in traces for m in t.media)
    playouts = [t.playout() for t in traces]
    return {
        "audio_s": round(audio, 2),
        "mbit_per_s_while_speaking": round(size * 8 / audio / 1e6, 3) if audio else None,
        "frames_per_audio_s": round(frames / audio, 1) if audio else None,
        "underruns": sum(p["underruns"] for p in playouts),
        "realtime_factor_min": min((p["realtime_factor"] for p in playouts), default=None),
    }


async def typed(stack: Stack, repeats: int) -> dict[str, Any]:
    """Typed FAQ questions: each asked once after the answer cache was cleared (a miss, rendered
    live), then again (a hit, replayed from the cache)."""
    client = await BenchClient.connect(stack.url)
    misses: list[TurnTrace] = []
    hits: list[TurnTrace] = []
    try:
        # The first turn after start pays for loading models and warming the worker: shown
        # on its own, not mixed into the steady-state figures.
        first = await client.ask("Which payment methods do you accept?")
        for i in range(repeats):
            question = FAQ_QUESTIONS[i % len(FAQ_QUESTIONS)]
            await asyncio.to_thread(stack.clear_answer_cache)
            for _ in range(2):
                trace = await client.ask(question)
                assert trace.end is not None
                (hits if trace.end["cache_hit"] else misses).append(trace)
                await asyncio.sleep(0.5)  # the answer is stored just after its turn_end
    finally:
        await client.close()
    return {
        "first_turn_ttfw_ms": first.ttfw_ms(),
        "ttfw_miss_ms": summary(_ms([t.ttfw_ms() for t in misses])),
        "ttfw_hit_ms": summary(_ms([t.ttfw_ms() for t in hits])),
        "server_ttfw_miss_ms": summary(_ms([t.end["ttfw_ms"] for t in misses if t.end])),
        "fallbacks": sorted({f for t in misses + hits if t.end for f in t.end["fallbacks"]}),
        "speaking_session": _session_figures(misses),
        "speaking_session_cache_hit": _session_figures(hits),
    }


async def spoken(stack: Stack, repeats: int) -> dict[str, Any]:
    """A spoken FAQ question (espeak-ng, with room noise), streamed in 20 ms frames at real
    time; TTFW counts from the end of speech in the audio (VAD hang-over included)."""
    from bench.audio import espeak_recording

    before, after = 0.6, 1.2
    pcm, speech_end_s = espeak_recording(SPOKEN, silence_before=before, silence_after=after)
    client = await BenchClient.connect(stack.url)
    traces: list[TurnTrace] = []
    heard: list[bool] = []
    try:
        for _ in range(repeats):
            trace, _ = await client.speak(pcm.tobytes(), speech_end_s)
            traces.append(trace)
            heard.append(
                bool(trace.subtitles)
                and trace.subtitles[0]["text"].startswith("Our customer service")
            )
    finally:
        await client.close()
    return {
        "ttfw_from_end_of_speech_ms": summary(_ms([t.ttfw_ms() for t in traces])),
        "understood": f"{sum(heard)}/{len(heard)}",
        "cache_hits": sum(bool(t.end and t.end["cache_hit"]) for t in traces),
    }


def _words(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s]", " ", text.lower()).split())


def judge_utterance(
    faq: str | None, said: str, ended: float, log: list[tuple[float, dict[str, Any]]]
) -> dict[str, Any]:
    """What one utterance got, as the customer saw it: the final transcript, whether the right
    FAQ entry answered, whether an answer sounded before they had finished, and TTFW from the
    last audible sample."""
    from avatars.demo_data import DEMO_FAQ
    from bench.wer import word_error_rate

    answers = {question: answer for question, _, answer in DEMO_FAQ}
    finals = [m["text"] for _, m in log if m["type"] == "transcript" and m.get("final")]
    media = [(at, m["turn_id"]) for at, m in log if m["type"] == "media" and not m["end"]]
    cut = {m["turn_id"]: m["reason"] for _, m in log if m["type"] == "interrupted"}
    answered = [tid for _, tid in media if cut.get(tid) in (None, "client")]
    turn = answered[0] if answered else None
    subtitles = [m["text"] for _, m in log if m["type"] == "subtitle" and m["turn_id"] == turn]
    first = _words(subtitles[0]) if subtitles else ""
    if faq is not None:
        right = bool(first) and _words(answers[faq]).startswith(first)
    else:  # not in the FAQ: any answer but a FAQ entry's
        right = not any(_words(a).startswith(first) for a in answers.values()) if first else True
    heard_media = {tid for _, tid in media}
    return {
        "transcript": finals[-1] if finals else "",
        "wer": word_error_rate(said, finals[-1] if finals else ""),
        "right_answer": right,
        "false_end_of_turn": any(at < ended for at, _ in media),
        "ttfw_ms": min((at - ended) * 1000 for at, tid in media if tid == turn) if turn else None,
        "revised": sum(1 for reason in cut.values() if reason == "revised"),
        "retracted": sum(
            1 for tid, reason in cut.items() if reason == "speech" and tid not in heard_media
        ),
    }


async def _say_all(url: str, items: list[Any]) -> list[dict[str, Any]]:
    client = await BenchClient.connect(url)
    results = []
    try:
        for item in items:
            marks = item.marks()
            ended, log = await client.utter(item.pcm().tobytes(), marks.speech_end_s)
            results.append({"name": item.name, **judge_utterance(item.faq, item.text, ended, log)})
    finally:
        await client.close()
    return results


def _hearing_figures(results: list[dict[str, Any]], items: list[Any]) -> dict[str, Any]:
    from bench.wer import corpus_word_error_rate

    by_name = {item.name: item for item in items}
    in_faq = [r for r in results if by_name[r["name"]].faq is not None]
    return {
        "utterances": len(results),
        "wer": round(
            corpus_word_error_rate((by_name[r["name"]].text, r["transcript"]) for r in results), 3
        ),
        "right_faq": f"{sum(r['right_answer'] for r in in_faq)}/{len(in_faq)}",
        "right_faq_rate": round(sum(r["right_answer"] for r in in_faq) / max(len(in_faq), 1), 3),
        "false_end_of_turn": f"{sum(r['false_end_of_turn'] for r in results)}/{len(results)}",
        "false_end_of_turn_rate": round(
            sum(r["false_end_of_turn"] for r in results) / max(len(results), 1), 3
        ),
        "ttfw_from_end_of_speech_ms": summary(_ms([r["ttfw_ms"] for r in results])),
        "revised": sum(r["revised"] for r in results),
        "retracted": sum(r["retracted"] for r in results),
        "misses": [
            {k: r[k] for k in ("name", "transcript", "right_answer", "false_end_of_turn")}
            for r in results
            if not r["right_answer"] or r["false_end_of_turn"]
        ],
        "ttfw_by_utterance_ms": {r["name"]: r["ttfw_ms"] and round(r["ttfw_ms"]) for r in results},
    }


async def hearing(
    stack: Stack, speakers: tuple[int, ...] = (1, 4), limit: int | None = None
) -> dict[str, Any]:
    """The spoken test set (bench/spoken_set.py) over the documented protocol, at real-time
    pace: one speaker through the whole set, then `speakers` at once each through a share of
    it; Whisper base (the default) and pocketsphinx (one speaker) side by side."""
    from bench.spoken_set import spoken_set

    items = spoken_set()[:limit]
    await asyncio.to_thread(lambda: [item.wav_path() for item in items])  # made once, cached
    out: dict[str, Any] = {}
    for backend, url in (("whisper", stack.url), ("pocketsphinx", stack.pocketsphinx_url)):
        if not url:
            continue
        figures: dict[str, Any] = {}
        # The fallback is compared with one speaker: its load figure is not a product figure.
        for count in speakers if backend == "whisper" else speakers[:1]:
            shares = [items[i::count] for i in range(count)]
            results = await asyncio.gather(*(_say_all(url, share) for share in shares))
            figures[f"{count}_speakers"] = _hearing_figures(
                [r for rs in results for r in rs], items
            )
        out[backend] = figures
    return out


async def barge_in(stack: Stack, repeats: int, seed: int = 7) -> dict[str, Any]:
    """Interrupt an answer at a random point: interrupt -> `interrupted`, and -> the last
    media of the old turn that still arrived; media of the old turn after `interrupted`."""
    rng = random.Random(seed)
    client = await BenchClient.connect(stack.url)
    to_interrupted: list[float] = []
    to_last_media: list[float] = []
    try:
        for _ in range(repeats):
            trace, sent = await client.ask_and_interrupt(THREE_SENTENCES, rng.uniform(0.1, 1.5))
            await asyncio.sleep(1.0)  # anything of the old turn still in flight arrives now
            assert trace.interrupted_at is not None
            to_interrupted.append((trace.interrupted_at - sent) * 1000)
            late = [m.at for m in trace.media if m.at >= sent]
            to_last_media.append((max(late) - sent) * 1000 if late else 0.0)
            await client.wait_for("state", 30, state="idle")
    finally:
        await client.close()
    return {
        "interrupt_to_interrupted_ms": summary(to_interrupted),
        "interrupt_to_last_old_media_ms": summary(to_last_media),
        "old_media_after_interrupted": client.stray_media,
    }


async def concurrency(stack: Stack, levels: list[int]) -> dict[str, Any]:
    """N sessions ask at once, with the cache cleared: every answer is rendered live."""
    out: dict[str, Any] = {}
    for n in levels:
        await asyncio.to_thread(stack.clear_answer_cache)
        clients = [await BenchClient.connect(stack.url) for _ in range(n)]
        started = time.perf_counter()
        try:
            traces = await asyncio.gather(
                *(
                    c.ask(FAQ_QUESTIONS[i % len(FAQ_QUESTIONS)], timeout=180)
                    for i, c in enumerate(clients)
                )
            )
        finally:
            for client in clients:
                await client.close()
        wall = time.perf_counter() - started
        playouts = [t.playout() for t in traces]
        frames = sum(m.frames for t in traces for m in t.media)
        out[str(n)] = {
            "sessions": n,
            "sessions_without_underrun": sum(p["underruns"] == 0 for p in playouts),
            "sessions_with_lips_throughout": sum(
                all(m.frames for m in t.media if m.audio_s) for t in traces
            ),
            "underruns": sum(p["underruns"] for p in playouts),
            "ttfw_ms": summary(_ms([t.ttfw_ms() for t in traces])),
            "lips_fraction": round(
                sum(m.audio_s for t in traces for m in t.media if m.frames)
                / max(1e-9, sum(t.audio_s for t in traces)),
                3,
            ),
            "fallbacks": sorted({f for t in traces if t.end for f in t.end["fallbacks"]}),
            "frames_served_per_s": round(frames / wall, 1),
            "realtime_factor_min": min(p["realtime_factor"] for p in playouts),
        }
    return out


async def full_text(stack: Stack, repeats: int) -> dict[str, Any]:
    """The three-sentence answer with streaming on, and with it off (REPLY_STREAMING=0)."""
    if stack.baseline_url is None:
        return {"skipped": "the baseline server runs only in a stack the benchmark starts"}
    results: dict[str, list[float]] = {"streaming": [], "full_text": []}
    for url, key in ((stack.url, "streaming"), (stack.baseline_url, "full_text")):
        client = await BenchClient.connect(url)
        try:
            for _ in range(repeats):
                await asyncio.to_thread(stack.clear_answer_cache)
                trace = await client.ask(THREE_SENTENCES)
                if (ttfw := trace.ttfw_ms()) is not None:
                    results[key].append(ttfw)
                assert len(trace.subtitles) == 3, "the answer should have three sentences"
        finally:
            await client.close()
    streaming, full = (statistics.median(results[k]) for k in ("streaming", "full_text"))
    return {
        "ttfw_streaming_ms": summary(results["streaming"]),
        "ttfw_full_text_ms": summary(results["full_text"]),
        "ratio": round(streaming / full, 3) if full else None,
    }


def stages_from_logs(stack: Stack) -> dict[str, Any]:
    """Per-stage latency from the turn records the web process logs (one JSON line a turn)."""
    stages: dict[str, list[float]] = {}
    for log in stack.logs("web"):
        for line in log.read_text(errors="replace").splitlines():
            start = line.find('{"event":"turn"')
            if start < 0:
                continue
            record = json.loads(line[start:])
            for stage, ms in (record.get("stage_ms") or {}).items():
                stages.setdefault(stage, []).append(float(ms))
    return {stage: summary(values) for stage, values in sorted(stages.items())}


def renderer_fps(stack: Stack) -> dict[str, Any]:
    if not stack.owned:
        return {}
    text = stack.manage("bench_lipsync", "--seconds", "3", "--renderer", "all")
    results = json.loads(text[text.index("{") :])
    return {
        kind: row.get("frames_per_second", "not measured: " + str(row.get("reason", "")))
        for kind, row in results.items()
    }


class UsageSampler:
    """CPU share and peak memory of each process of the stack while the benchmark runs."""

    def __init__(self, pids: dict[str, int], every_s: float = 0.5) -> None:
        self.pids = pids
        self.every_s = every_s
        self.peak: dict[str, int] = dict.fromkeys(pids, 0)
        self.start = {name: process_usage(pid)[0] for name, pid in pids.items()}
        self.started = time.monotonic()
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stopping.wait(self.every_s):
            for name, pid in self.pids.items():
                self.peak[name] = max(self.peak[name], process_usage(pid)[1])

    def stop(self) -> dict[str, Any]:
        self.stopping.set()
        self.thread.join()
        wall = time.monotonic() - self.started
        return {
            name: {
                "cpu_percent": round((process_usage(pid)[0] - self.start[name]) / wall * 100, 1),
                "peak_rss_mb": round(self.peak[name] / 2**20, 1),
            }
            for name, pid in self.pids.items()
        }
