"""Load a trained tokenizer and check the properties the LLaMA recipe promises.

`problems(sp)` lists what is wrong (empty when the model is sound): special ids,
the 256 byte pieces, digits split. Round-tripping and byte fallback are properties
of encoding text, checked by `roundtrips` / `unknown_ids`, which tests drive with
generated text. One known exception, shared with LLaMA's own tokenizer: U+2581
("▁") is SentencePiece's whitespace marker, so it decodes as a space.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Iterable

import sentencepiece as spm

from tokenizer_training.spec import BOS_ID, EOS_ID, UNK_ID

WHITESPACE_MARKER = "\u2581"  # the one character that does not round-trip
_DIGIT = re.compile(r"[0-9]")


def load(path: str | Path) -> spm.SentencePieceProcessor:
    return spm.SentencePieceProcessor(model_file=str(path))


def byte_piece(b: int) -> str:
    return f"<0x{b:02X}>"


def problems(sp: spm.SentencePieceProcessor) -> list[str]:
    found = []
    if (sp.unk_id(), sp.bos_id(), sp.eos_id(), sp.pad_id()) != (UNK_ID, BOS_ID, EOS_ID, -1):
        found.append(f"special ids unk/bos/eos/pad are {sp.unk_id()}/{sp.bos_id()}/{sp.eos_id()}/{sp.pad_id()}, "
                     f"expected {UNK_ID}/{BOS_ID}/{EOS_ID}/-1")
    missing = [byte_piece(b) for b in range(256) if not sp.is_byte(sp.piece_to_id(byte_piece(b)))]
    if missing:
        found.append(f"{len(missing)} byte pieces missing, e.g. {missing[:3]}")
    merged = [sp.id_to_piece(i) for i in range(sp.get_piece_size())
              if not sp.is_byte(i) and _DIGIT.search(sp.id_to_piece(i)) and len(sp.id_to_piece(i)) > 1]
    if merged:
        found.append(f"{len(merged)} pieces join a digit with other characters, e.g. {merged[:3]}")
    return found


def roundtrips(sp: spm.SentencePieceProcessor, text: str) -> bool:
    return sp.decode(sp.encode(text)) == text


def unknown_ids(sp: spm.SentencePieceProcessor, text: str) -> int:
    """How many <unk> ids encoding `text` produces (byte fallback makes this 0)."""
    return sum(1 for i in sp.encode(text) if i == sp.unk_id())


def bytes_per_token(sp: spm.SentencePieceProcessor, texts: Iterable[str]) -> float | None:
    """UTF-8 bytes per token over `texts` (no BOS/EOS): higher means better compression."""
    nbytes = ntokens = 0
    for text in texts:
        nbytes += len(text.encode("utf-8"))
        ntokens += len(sp.encode(text))
    return nbytes / ntokens if ntokens else None
