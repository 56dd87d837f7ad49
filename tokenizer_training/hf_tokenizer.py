"""Our SentencePiece model as a Hugging Face fast tokenizer, written as plain JSON.

    DIR/tokenizer.json          the `tokenizers` library's format: BPE with byte fallback
    DIR/tokenizer_config.json   what `transformers.AutoTokenizer.from_pretrained(DIR)` reads

Why our own converter: transformers reads tokenizer.model through sentencepiece's generated
protobuf module, which needs protobuf >= 7 while Apache Beam pins protobuf < 7. So the
vocabulary is read here through SentencePieceProcessor's API, and neither transformers nor
tokenizers is needed to write the files.

How SentencePiece encodes with a BPE model (bpe_model.cc): the text is normalised (LLaMA's
settings: a "▁" in front, every space replaced by "▁", nothing else changed), split into
characters, and the adjacent pair whose concatenation is the highest-scoring normal piece is
joined, again and again, the leftmost pair on equal scores; a character that is no piece
becomes its UTF-8 byte pieces. `tokenizers`' BPE joins the adjacent pair with the
lowest-ranked merge, the leftmost pair on equal ranks, with the same byte fallback. So the
merges are every split of a normal piece into two normal pieces, ranked by that piece's score.
Ranks are distinct where scores need not be: among merges of equal score the one with the
longer left part comes first, which is SentencePiece's leftmost-first order where equal
scores meet in LLaMA's vocabulary (its whitespace runs, "▁▁" to 16 "▁", all score -1e9 and
grow from the left).

One difference is configured away: "<s>" written inside a text is plain text to SentencePiece
but a special token to transformers by default; `split_special_tokens` makes it plain text in
transformers too. (The bare `tokenizers.Tokenizer` does not store that setting: set its
`encode_special_tokens = True` for the same behaviour.)
"""
from __future__ import annotations

import enum
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

import sentencepiece as spm

HF_TOKENIZER_FILE = "tokenizer.json"  # only in a Hugging Face directory; OUT/tokenizer/tokenizer.json is our card
HF_CONFIG_FILE = "tokenizer_config.json"
WHITESPACE = "\u2581"  # SentencePiece's "▁"


class Kind(enum.IntEnum):
    """SentencePiece's piece types (ModelProto.SentencePiece.Type); GGUF's token types use the same numbers."""

    NORMAL = 1
    UNKNOWN = 2
    CONTROL = 3
    USER_DEFINED = 4
    UNUSED = 5
    BYTE = 6


@dataclass(frozen=True)
class Piece:
    text: str
    score: float
    kind: Kind


def byte_piece(b: int) -> str:
    return f"<0x{b:02X}>"


# ------------------------------------------------------------------ reading a SentencePiece model

def pieces_from_sentencepiece(sp: spm.SentencePieceProcessor) -> list[Piece]:
    """Every piece with its score and type, in id order, through the processor's API."""
    return [Piece(sp.id_to_piece(i), sp.get_score(i), _kind(sp, i)) for i in range(sp.get_piece_size())]


def _kind(sp: spm.SentencePieceProcessor, i: int) -> Kind:
    # The API cannot tell a user-defined piece from a normal one; LLaMA's settings define none.
    if sp.is_unknown(i):
        return Kind.UNKNOWN
    if sp.is_control(i):
        return Kind.CONTROL
    if sp.is_byte(i):
        return Kind.BYTE
    if sp.is_unused(i):
        return Kind.UNUSED
    return Kind.NORMAL


# Leading, trailing and repeated spaces, a tab, a newline, the marker itself, and a ligature and
# a full-width letter that NFKC would change: LLaMA's normalisation only marks spaces.
_NORMALISATION_PROBE = "  \ufb01 \uff21\t\n  x\u2581 "


def conversion_problems(sp: spm.SentencePieceProcessor) -> list[str]:
    """What keeps this model from converting exactly (empty when it has LLaMA's settings)."""
    found = []
    model_type = _model_type(sp.serialized_model_proto())
    if model_type != 2:
        found.append(f"model type is {_MODEL_TYPES.get(model_type, model_type)}, not bpe")
    expected = WHITESPACE + _NORMALISATION_PROBE.replace(" ", WHITESPACE)
    if sp.normalize(_NORMALISATION_PROBE) != expected:
        found.append(f"normalisation is not LLaMA's (identity, add_dummy_prefix, remove_extra_whitespaces off): "
                     f"{_NORMALISATION_PROBE!r} becomes {sp.normalize(_NORMALISATION_PROBE)!r}, not {expected!r}")
    return found


_MODEL_TYPES = {1: "unigram", 2: "bpe", 3: "word", 4: "char"}


def _model_type(model_proto: bytes) -> int:
    """TrainerSpec.model_type of a serialized ModelProto, read from the protobuf wire format
    (the generated protobuf module needs a newer runtime than Apache Beam allows)."""
    for number, value in _proto_fields(model_proto):
        if number == 2:  # ModelProto.trainer_spec
            return next((v for n, v in _proto_fields(value) if n == 3), 1)  # TrainerSpec.model_type, default unigram
    return 1


def _proto_fields(data: bytes) -> Iterator[tuple[int, int | bytes]]:
    """(field number, value) of each field of a protobuf message: ints for varints, bytes otherwise."""
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        wire = key & 7
        if wire == 0:
            value, pos = _varint(data, pos)
        elif wire == 2:
            size, pos = _varint(data, pos)
            value, pos = data[pos:pos + size], pos + size
        elif wire in (1, 5):  # fixed 64 / 32 bits
            size = 8 if wire == 1 else 4
            value, pos = data[pos:pos + size], pos + size
        else:
            raise ValueError(f"not a SentencePiece model: protobuf wire type {wire}")
        yield key >> 3, value


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        b = data[pos]
        value |= (b & 0x7F) << shift
        pos, shift = pos + 1, shift + 7
        if not b & 0x80:
            return value, pos


# ------------------------------------------------------------------ the conversion

def vocabulary_problems(pieces: Sequence[Piece], *, bos_id: int, eos_id: int, unk_id: int) -> list[str]:
    """What in a vocabulary the BPE conversion cannot reproduce (empty when it is LLaMA-like)."""
    found = []
    texts = [p.text for p in pieces]
    if len(set(texts)) != len(texts):
        found.append("duplicate pieces")
    for name, i, kind in (("unk", unk_id, Kind.UNKNOWN), ("bos", bos_id, Kind.CONTROL), ("eos", eos_id, Kind.CONTROL)):
        if not 0 <= i < len(pieces) or pieces[i].kind != kind:
            found.append(f"{name} id {i} is not a {kind.name.lower()} piece")
    kinds = {p.text: p.kind for p in pieces}
    missing = [byte_piece(b) for b in range(256) if kinds.get(byte_piece(b)) != Kind.BYTE]
    if missing:
        found.append(f"no byte fallback: {len(missing)} byte pieces missing, e.g. {missing[:3]}")
    unsupported = [p.text for p in pieces if p.kind in (Kind.USER_DEFINED, Kind.UNUSED)]
    if unsupported:
        found.append(f"user-defined or unused pieces, e.g. {unsupported[:3]}")
    # SentencePiece can join characters that are no piece; BPE merges join pieces only.
    loose = sorted({c for p in pieces if p.kind == Kind.NORMAL for c in p.text if kinds.get(c) != Kind.NORMAL})
    if loose:
        found.append(f"characters inside pieces that are no piece themselves, e.g. {loose[:3]}")
    return found


def bpe_merges(pieces: Sequence[Piece]) -> list[tuple[str, str]]:
    """Every (left, right) of normal pieces that concatenate to a normal piece, best first:
    higher score of the joined piece, then longer left part (see the module docstring)."""
    normal = {p.text for p in pieces if p.kind == Kind.NORMAL}
    ranked = []
    for i, p in enumerate(pieces):
        if p.kind != Kind.NORMAL:
            continue
        for cut in range(1, len(p.text)):
            left, right = p.text[:cut], p.text[cut:]
            if left in normal and right in normal:
                ranked.append(((-p.score, -cut, i), (left, right)))
    ranked.sort()
    return [pair for _, pair in ranked]


def tokenizer_json(pieces: Sequence[Piece], *, bos_id: int, eos_id: int, unk_id: int) -> dict:
    """The `tokenizers` serialisation of a LLaMA-style SentencePiece BPE vocabulary (ValueError if it is not one)."""
    problems = vocabulary_problems(pieces, bos_id=bos_id, eos_id=eos_id, unk_id=unk_id)
    if problems:
        raise ValueError("cannot convert this SentencePiece vocabulary to a BPE tokenizer.json: " + "; ".join(problems))
    bos = pieces[bos_id].text
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [_special(i, p.text) for i, p in enumerate(pieces) if p.kind in (Kind.UNKNOWN, Kind.CONTROL)],
        # SentencePiece's add_dummy_prefix and whitespace escaping; no other change (identity).
        # Prepend leaves an empty text empty, as SentencePiece does.
        "normalizer": {"type": "Sequence", "normalizers": [
            {"type": "Prepend", "prepend": WHITESPACE},
            {"type": "Replace", "pattern": {"String": " "}, "content": WHITESPACE},
        ]},
        # No splitting: SentencePiece's BPE runs over the whole text, and its pieces keep "▁" only in front.
        "pre_tokenizer": None,
        "post_processor": _bos_template(bos, bos_id),
        # "▁" back to spaces, byte pieces back to characters, and the dummy prefix off the front.
        "decoder": {"type": "Sequence", "decoders": [
            {"type": "Replace", "pattern": {"String": WHITESPACE}, "content": " "},
            {"type": "ByteFallback"},
            {"type": "Fuse"},
            {"type": "Strip", "content": " ", "start": 1, "stop": 0},
        ]},
        "model": {
            "type": "BPE",
            "dropout": None,
            "unk_token": pieces[unk_id].text,
            "continuing_subword_prefix": None,
            "end_of_word_suffix": None,
            "fuse_unk": True,
            "byte_fallback": True,
            "ignore_merges": False,  # a text that is itself a piece is still built by merges, as in SentencePiece
            "vocab": {p.text: i for i, p in enumerate(pieces)},
            "merges": [list(pair) for pair in bpe_merges(pieces)],
        },
    }


def _special(i: int, text: str) -> dict:
    return {"id": i, "content": text, "single_word": False, "lstrip": False, "rstrip": False,
            "normalized": False, "special": True}


def _bos_template(bos: str, bos_id: int) -> dict:
    """BOS before each sequence (LLaMA adds BOS, not EOS, when encoding a prompt)."""
    def seq(name: str, type_id: int) -> list[dict]:
        return [{"SpecialToken": {"id": bos, "type_id": type_id}}, {"Sequence": {"id": name, "type_id": type_id}}]
    return {"type": "TemplateProcessing", "single": seq("A", 0), "pair": seq("A", 0) + seq("B", 1),
            "special_tokens": {bos: {"id": bos, "ids": [bos_id], "tokens": [bos]}}}


def tokenizer_config(pieces: Sequence[Piece], *, bos_id: int, eos_id: int, unk_id: int, model_max_length: int) -> dict:
    return {
        # The generic fast class loads tokenizer.json as written (LlamaTokenizer would rebuild its
        # own normaliser and pre-tokeniser around our vocabulary), and needs no tokenizer.model.
        "tokenizer_class": "PreTrainedTokenizerFast",
        "bos_token": pieces[bos_id].text,
        "eos_token": pieces[eos_id].text,
        "unk_token": pieces[unk_id].text,
        "add_bos_token": True,
        "add_eos_token": False,
        "split_special_tokens": True,  # "<s>" inside a text is text, as in SentencePiece (and in our shards)
        "clean_up_tokenization_spaces": False,  # decode exactly, as SentencePiece does
        "model_max_length": model_max_length,
    }


def write_hf_tokenizer(model_path: str | Path, out_dir: str | Path, *, model_max_length: int) -> list[Path]:
    """Write tokenizer.json and tokenizer_config.json for the SentencePiece model into out_dir.

    ValueError, before anything is written, when the model lacks LLaMA's settings.
    """
    sp = spm.SentencePieceProcessor(model_file=str(model_path))
    problems = conversion_problems(sp)
    if problems:
        raise ValueError(f"{model_path}: cannot convert to a Hugging Face tokenizer.json: " + "; ".join(problems))
    return write_hf_files(pieces_from_sentencepiece(sp), out_dir, bos_id=sp.bos_id(), eos_id=sp.eos_id(),
                          unk_id=sp.unk_id(), model_max_length=model_max_length)


def write_hf_files(pieces: Sequence[Piece], out_dir: str | Path, *, bos_id: int, eos_id: int, unk_id: int,
                   model_max_length: int) -> list[Path]:
    """tokenizer.json and tokenizer_config.json for any (piece, score, type) vocabulary, such as LLaMA's
    own from a GGUF file; ValueError, before anything is written, when BPE cannot reproduce it."""
    ids = {"bos_id": bos_id, "eos_id": eos_id, "unk_id": unk_id}
    files = {
        HF_TOKENIZER_FILE: tokenizer_json(pieces, **ids),
        HF_CONFIG_FILE: tokenizer_config(pieces, **ids, model_max_length=model_max_length),
    }
    out_dir = Path(out_dir)
    for name, content in files.items():
        indent = None if name == HF_TOKENIZER_FILE else 2  # the vocabulary and merges: one line, not 300,000
        (out_dir / name).write_text(json.dumps(content, indent=indent, ensure_ascii=False) + "\n", encoding="utf-8")
    return [out_dir / name for name in files]
