"""LLaMA's own vocabulary and llama.cpp's reference tokenizations (samples.fixtures.llama_spm_vocab).

The GGUF file holds LLaMA's 32,000 pieces with their scores and SentencePiece types. `.inp`
holds texts, each followed by "\\n__ggml_vocab_test__\\n"; `.out` one line of ids per text. Those
ids are what transformers' fast Llama tokenizer gives with add_special_tokens=False (llama.cpp's
convert_hf_to_gguf_update.py writes them): no BOS, and the dummy prefix "▁" in front of every
non-empty text, as SentencePiece's encode gives them (" " is [259], "▁▁"; "" is []).
"""
from __future__ import annotations

import struct
from pathlib import Path

import sentencepiece as spm

from samples.fixtures import llama_spm_vocab
from tokenizer_training.hf_tokenizer import Kind, Piece, write_hf_files

BOS_ID, EOS_ID, UNK_ID = 1, 2, 0  # LLaMA's
SEPARATOR = "\n__ggml_vocab_test__\n"


def llama_pieces() -> list[Piece]:
    """The GGUF vocabulary: tokens, scores, token types (GGUF numbers them as SentencePiece does)."""
    import gguf  # a test-only dependency

    fields = gguf.GGUFReader(llama_spm_vocab()).fields
    texts = fields["tokenizer.ggml.tokens"].contents()
    scores = fields["tokenizer.ggml.scores"].contents()
    types = fields["tokenizer.ggml.token_type"].contents()
    return [Piece(text, score, Kind(kind)) for text, score, kind in zip(texts, scores, types, strict=True)]


def reference_cases() -> list[tuple[str, list[int]]]:
    """(text, expected ids without BOS) for every case in the .inp/.out files."""
    path = llama_spm_vocab()
    texts = Path(f"{path}.inp").read_text(encoding="utf-8").split(SEPARATOR)
    assert texts[-1] == "", "the .inp file ends with a separator"
    expected = Path(f"{path}.out").read_text(encoding="utf-8").splitlines()
    return [(text, [int(i) for i in ids.split()]) for text, ids in zip(texts[:-1], expected, strict=True)]


def write_hf_dir(out_dir: Path, pieces: list[Piece]) -> Path:
    """Our conversion of the vocabulary, with LLaMA's special ids and context, as a directory AutoTokenizer loads."""
    write_hf_files(pieces, out_dir, bos_id=BOS_ID, eos_id=EOS_ID, unk_id=UNK_ID, model_max_length=4096)
    return out_dir


def sentencepiece_model(pieces: list[Piece]) -> spm.SentencePieceProcessor:
    """SentencePiece itself on the GGUF vocabulary, with LLaMA's model settings: the reference
    implementation to compare against. The ModelProto is written in the protobuf wire format by
    hand (sentencepiece_model.proto field numbers), as the generated module needs a newer protobuf."""
    proto = bytearray()
    for p in pieces:  # ModelProto.pieces (1): piece (1), score (2), type (3)
        proto += _field(1, 2, _field(1, 2, p.text.encode()) + _field(2, 5, struct.pack("<f", p.score))
                        + _field(3, 0, _varint(p.kind)))
    # TrainerSpec (2): model_type (3) BPE = 2, vocab_size (4), byte_fallback (35).
    proto += _field(2, 2, _field(3, 0, _varint(2)) + _field(4, 0, _varint(len(pieces))) + _field(35, 0, _varint(1)))
    # NormalizerSpec (3): name (1) identity, add_dummy_prefix (3) on, remove_extra_whitespaces (4) off,
    # escape_whitespaces (5) on.
    proto += _field(3, 2, _field(1, 2, b"identity") + _field(3, 0, _varint(1)) + _field(4, 0, _varint(0))
                    + _field(5, 0, _varint(1)))
    return spm.SentencePieceProcessor(model_proto=bytes(proto))


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b, n = n & 0x7F, n >> 7
        out.append(b | 0x80 if n else b)
        if not n:
            return bytes(out)


def _field(number: int, wire: int, payload: bytes) -> bytes:
    return _varint(number << 3 | wire) + (_varint(len(payload)) + payload if wire == 2 else payload)
