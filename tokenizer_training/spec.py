"""The LLaMA tokenizer settings, as one validated dataclass.

LLaMA-1 (paper, section 2.1): BPE with SentencePiece, numbers split into digits,
unknown UTF-8 characters decomposed into bytes, 32k pieces. The other values are
those of LLaMA's released `tokenizer.model` trainer_spec / normalizer_spec.
What is fixed here defines "the LLaMA tokenizer"; what varies between runs
(vocabulary size for small tests, threads) is a field.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

UNK_ID, BOS_ID, EOS_ID = 0, 1, 2  # LLaMA's ids; no padding piece

# Settings that make this tokenizer LLaMA's; not configurable on purpose.
LLAMA_FIXED: dict[str, Any] = {
    "model_type": "bpe",
    "split_digits": True,  # every digit its own piece
    "byte_fallback": True,  # the 256 <0xNN> pieces; unknown characters become bytes, never <unk>
    "normalization_rule_name": "identity",  # no NFKC: text is kept exactly
    "add_dummy_prefix": True,
    "remove_extra_whitespaces": False,  # runs of spaces, tabs survive
    "allow_whitespace_only_pieces": True,
    "split_by_unicode_script": True,
    "split_by_whitespace": True,
    "split_by_number": True,
    "treat_whitespace_as_suffix": False,
    "unk_id": UNK_ID,
    "bos_id": BOS_ID,
    "eos_id": EOS_ID,
    "pad_id": -1,
    "hard_vocab_limit": True,
    "vocabulary_output_piece_score": True,
    # We sample the corpus ourselves (deterministically, by the mixture); SentencePiece
    # must use every sentence it is given, in the order given.
    "input_sentence_size": 0,
    "shuffle_input_sentence": False,
}


@dataclass(frozen=True, kw_only=True)
class TokenizerSpec:
    vocab_size: int = 32000  # LLaMA
    character_coverage: float = 0.99995  # LLaMA
    max_sentencepiece_length: int = 16  # LLaMA
    # Bytes. SentencePiece skips longer sentences; we cut long lines below it instead.
    max_sentence_length: int = 4192  # SentencePiece's default, and LLaMA's
    seed_sentencepiece_size: int = 1_000_000  # LLaMA
    # SentencePiece's BPE result depends on the thread count, so it is pinned here
    # (and recorded in the card) rather than taken from the machine.
    num_threads: int = 8

    def __post_init__(self) -> None:
        # 3 specials + 256 byte pieces come first; BPE needs some room after them.
        if not isinstance(self.vocab_size, int) or not 300 <= self.vocab_size <= 1 << 16:
            raise ValueError(f"vocab_size must be an integer in [300, 65536] (uint16 shards), got {self.vocab_size!r}")
        if not 0.9 <= self.character_coverage <= 1.0:
            raise ValueError(f"character_coverage must be in [0.9, 1], got {self.character_coverage!r}")
        if not 1 <= self.max_sentencepiece_length <= 512:
            raise ValueError(f"max_sentencepiece_length must be in [1, 512], got {self.max_sentencepiece_length!r}")
        if self.max_sentence_length < 64:
            raise ValueError(f"max_sentence_length must be >= 64 bytes, got {self.max_sentence_length!r}")
        if self.num_threads < 1:
            raise ValueError(f"num_threads must be >= 1, got {self.num_threads!r}")

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TokenizerSpec:
        """Build from a config section, ignoring keys that are not tokenizer settings."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in names})

    def trainer_kwargs(self) -> dict[str, Any]:
        """Every argument given to SentencePieceTrainer (and written to the card)."""
        return {**LLAMA_FIXED, **dataclasses.asdict(self)}
