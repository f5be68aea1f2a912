"""Builds a random-initialised tiny multilingual Whisper, converted for faster-whisper, once."""

from __future__ import annotations

import ast
import importlib.util
import json
from pathlib import Path

import pytest

# GPT-2's split pattern, which Whisper's tiktoken encodings use.
_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
_VOCAB_SIZE = 51865  # the multilingual vocabulary (pre large-v3): 99 languages, 1501 timestamps


def _whisper_package() -> Path:
    # Located, not imported: `import whisper` needs numba and triton, which we do not install.
    spec = importlib.util.find_spec("whisper")
    if spec is None or not spec.submodule_search_locations:
        pytest.fail("the openai-whisper package (installed --no-deps) provides the vocabulary")
    return Path(next(iter(spec.submodule_search_locations)))


def _languages(package: Path) -> list[str]:
    """Whisper's language codes in token order, read from its tokenizer.py."""
    tree = ast.parse((package / "tokenizer.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "LANGUAGES":
            return list(ast.literal_eval(node.value))[:99]
    pytest.fail("no LANGUAGES in whisper/tokenizer.py")


def _special_tokens(languages: list[str]) -> list[str]:
    return [
        "<|endoftext|>",
        "<|startoftranscript|>",
        *(f"<|{code}|>" for code in languages),
        "<|translate|>",
        "<|transcribe|>",
        "<|startoflm|>",
        "<|startofprev|>",
        "<|nospeech|>",
        "<|notimestamps|>",
        *(f"<|{i * 0.02:.2f}|>" for i in range(1501)),
    ]


def build_tiny_whisper(out_dir: Path, work_dir: Path) -> Path:
    """A CTranslate2 Whisper directory (model.bin, tokenizer.json, preprocessor config)."""
    import ctranslate2
    import torch
    from transformers import (
        GenerationConfig,
        PreTrainedTokenizerFast,
        WhisperConfig,
        WhisperFeatureExtractor,
        WhisperForConditionalGeneration,
    )
    from transformers.convert_slow_tokenizer import TikTokenConverter

    package = _whisper_package()
    languages = _languages(package)
    specials = _special_tokens(languages)
    backend = TikTokenConverter(
        vocab_file=str(package / "assets" / "multilingual.tiktoken"),
        pattern=_PATTERN,
        extra_special_tokens=specials,
    ).converted()
    assert backend.get_vocab_size() == _VOCAB_SIZE
    ids: dict[str, int] = {}
    for token in specials[:-1501]:
        token_id = backend.token_to_id(token)
        assert token_id is not None, token
        ids[token] = token_id

    hf_dir = work_dir / "hf"
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        bos_token="<|endoftext|>",
        eos_token="<|endoftext|>",
        unk_token="<|endoftext|>",
        pad_token="<|endoftext|>",
    )
    tokenizer.save_pretrained(hf_dir)

    torch.manual_seed(0)
    config = WhisperConfig(
        vocab_size=_VOCAB_SIZE,
        num_mel_bins=80,
        d_model=64,
        encoder_layers=2,
        decoder_layers=2,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=128,
        decoder_ffn_dim=128,
        max_source_positions=1500,
        max_target_positions=448,
        pad_token_id=ids["<|endoftext|>"],
        bos_token_id=ids["<|endoftext|>"],
        eos_token_id=ids["<|endoftext|>"],
        decoder_start_token_id=ids["<|startoftranscript|>"],
    )
    model = WhisperForConditionalGeneration(config).eval()
    model.generation_config = GenerationConfig(
        decoder_start_token_id=ids["<|startoftranscript|>"],
        eos_token_id=ids["<|endoftext|>"],
        suppress_tokens=[],
        begin_suppress_tokens=[220, ids["<|endoftext|>"]],
        lang_to_id={f"<|{code}|>": ids[f"<|{code}|>"] for code in languages},
        no_timestamps_token_id=ids["<|notimestamps|>"],
    )
    model.save_pretrained(hf_dir)

    ctranslate2.converters.TransformersConverter(str(hf_dir)).convert(str(out_dir), force=True)
    (out_dir / "tokenizer.json").write_text(backend.to_str())
    WhisperFeatureExtractor(feature_size=80).save_pretrained(out_dir)
    json.loads((out_dir / "preprocessor_config.json").read_text())  # written and readable
    return out_dir


@pytest.fixture(scope="session")
def tiny_whisper_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("tiny-whisper")
    return build_tiny_whisper(root / "ct2", root)
