"""Train the LLaMA-style SentencePiece BPE tokenizer from any iterator of texts.

Texts are documents; SentencePiece learns from "sentences", so each document is
cut into its lines (newlines are never inside a piece, as in LLaMA, where "\\n"
is the byte piece <0x0A>), and lines longer than `max_sentence_length` bytes are
cut further instead of being skipped by SentencePiece. The sentences are streamed
to the trainer through `sentence_iterator`, never joined into one string, and
hashed on the way, so the card names exactly the data the model was trained on.
"""
from __future__ import annotations

import hashlib
import io
import json
import logging
import time
from pathlib import Path
from typing import Any, Iterable, Iterator

import sentencepiece as spm

from shard_format import atomic_write

from tokenizer_training.spec import TokenizerSpec

log = logging.getLogger(__name__)

MODEL_FILE = "tokenizer.model"
VOCAB_FILE = "tokenizer.vocab"
CARD_FILE = "tokenizer.json"


def _cut(line: bytes, limit: int) -> Iterator[bytes]:
    """Pieces of at most `limit` bytes, cut after a space when one is near, never inside a character."""
    while len(line) > limit:
        cut = line.rfind(b" ", limit // 2, limit)
        if cut <= 0:
            cut = limit
            while line[cut] & 0xC0 == 0x80:  # a UTF-8 continuation byte: back up to a character start
                cut -= 1
        else:
            cut += 1  # keep the space with the left part
        yield line[:cut]
        line = line[cut:]
    if line:
        yield line


def iter_sentences(texts: Iterable[str], max_sentence_length: int) -> Iterator[str]:
    """The training sentences of documents: non-empty lines, long ones cut."""
    for text in texts:
        for line in text.split("\n"):
            if not line:
                continue
            raw = line.encode("utf-8")
            if len(raw) <= max_sentence_length:
                yield line
            else:
                for piece in _cut(raw, max_sentence_length):
                    yield piece.decode("utf-8")


class _Recorder:
    """Wraps the sentence stream: counts and hashes what SentencePiece consumes."""

    def __init__(self, sentences: Iterable[str]):
        self._sentences = sentences
        self.sha256 = hashlib.sha256()
        self.sentences = 0
        self.bytes = 0

    def __iter__(self) -> Iterator[str]:
        for sentence in self._sentences:
            raw = sentence.encode("utf-8")
            self.sha256.update(raw + b"\n")
            self.sentences += 1
            self.bytes += len(raw)
            yield sentence


class _CountDocs:
    def __init__(self, texts: Iterable[str]):
        self._texts, self.count = texts, 0

    def __iter__(self) -> Iterator[str]:
        for text in self._texts:
            self.count += 1
            yield text


def train_tokenizer(texts: Iterable[str], out_dir: str | Path, spec: TokenizerSpec = TokenizerSpec(),
                    *, extra_card: dict[str, Any] | None = None) -> dict[str, Any]:
    """Train on `texts` (documents), write tokenizer.model/.vocab/.json into `out_dir`, return the card.

    Raises ValueError when the data cannot support the vocabulary (SentencePiece says
    the largest size it could reach).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    docs = _CountDocs(texts)
    recorder = _Recorder(iter_sentences(docs, spec.max_sentence_length))
    kwargs = spec.trainer_kwargs()
    model = io.BytesIO()  # not model_prefix: the model proto would record that (temporary) path
    start = time.perf_counter()
    try:
        spm.SentencePieceTrainer.train(sentence_iterator=iter(recorder), model_writer=model, minloglevel=2, **kwargs)
    except RuntimeError as e:
        if recorder.sentences == 0:
            raise ValueError("no training text: every document was empty") from None
        if "Vocabulary size too high" in str(e):
            raise ValueError(
                f"the tokenizer sample ({recorder.bytes:,} bytes, {recorder.sentences:,} sentences) is too small "
                f"for vocab_size {spec.vocab_size}: {str(e).split('] ', 1)[-1]} (tokenizer.vocab_size, or --vocab-size)"
            ) from None
        raise
    seconds = time.perf_counter() - start
    (out_dir / MODEL_FILE).write_bytes(model.getvalue())
    sp = spm.SentencePieceProcessor(model_proto=model.getvalue())
    write_vocab(out_dir / VOCAB_FILE, sp)
    card = {
        "kind": "sentencepiece_bpe",
        "model_file": MODEL_FILE,
        "vocab_file": VOCAB_FILE,
        "model_sha256": hashlib.sha256(model.getvalue()).hexdigest(),
        "vocab_size": sp.get_piece_size(),
        "special_ids": {"unk": sp.unk_id(), "bos": sp.bos_id(), "eos": sp.eos_id(), "pad": sp.pad_id()},
        "settings": kwargs,
        "training_data": {
            "sha256": recorder.sha256.hexdigest(),  # of the sentences as fed, each followed by "\n"
            "documents": docs.count,
            "sentences": recorder.sentences,
            "bytes": recorder.bytes,
        },
        "sentencepiece_version": spm.__version__,
        "train_seconds": round(seconds, 2),
        **(extra_card or {}),
    }
    write_card(out_dir, card)
    log.info("tokenizer: %d pieces from %s bytes (%d sentences) in %.1fs", card["vocab_size"],
             f"{recorder.bytes:,}", recorder.sentences, seconds)
    return card


def write_vocab(path: Path, sp: spm.SentencePieceProcessor) -> None:
    """SentencePiece's .vocab format: one `piece<TAB>score` line per id."""
    path.write_text("".join(f"{sp.id_to_piece(i)}\t{sp.get_score(i):g}\n" for i in range(sp.get_piece_size())),
                    encoding="utf-8")


def write_card(out_dir: Path, card: dict[str, Any]) -> None:
    with atomic_write(out_dir / CARD_FILE, "w") as f:
        f.write(json.dumps(card, indent=2, ensure_ascii=False) + "\n")
