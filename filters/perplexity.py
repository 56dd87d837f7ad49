"""KenLM perplexity of a document, as cc_net's `perplexity.DocLM`, and its buckets.

Scoring, per language (cc_net keeps one SentencePiece + KenLM pair per language):

    text -> `normalize_text` -> paragraphs (non-blank lines) -> SentencePiece pieces
         -> KenLM `score(pieces, bos=True, eos=True)` (log10 probability)

    perplexity = 10 ** (-sum(log10 prob) / sum(tokens + 1))   over the paragraphs

which is cc_net's formula: each paragraph counts its end-of-sentence token. Blank
paragraphs (nothing left after normalisation) are skipped; a document with none is
left unscored (`perplexity` None). Lower perplexity means "more like the reference
text" (Wikipedia). Buckets follow cc_net's `PerplexityBucket`: below the head
cutoff -> head, below the tail cutoff -> middle, else tail.

Models load lazily, once per process, cached by path (load time logged).
"""
from __future__ import annotations

import dataclasses
import logging
import math
import threading
import time
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from filters.base import DocumentFilter, Drop
from filters.document import Document
from filters.normalize import LazyTranslation

log = logging.getLogger(__name__)

__all__ = [
    "BUCKETS", "normalize_text", "normalize_for_lm", "paragraphs", "perplexity", "document_score", "LanguageModel",
    "load_language_model", "PerplexityScorer", "percentile", "bucket_of",
]

BUCKETS = ("head", "middle", "tail")

# cc_net's `text_normalizer.UNICODE_PUNCT`: punctuation is mapped to ASCII, not
# removed, so the LM still sees sentence structure. (cc_net maps the full-width "１"
# to '"', a slip; digits become "0" here first, as they do in cc_net's order.)
UNICODE_PUNCT = {
    "，": ",", "。": ".", "、": ",", "„": '"', "”": '"', "“": '"', "«": '"', "»": '"',
    "」": '"', "「": '"', "《": '"', "》": '"', "´": "'", "∶": ":", "：": ":", "？": "?",
    "！": "!", "（": "(", "）": ")", "；": ";", "–": "-", "—": " - ", "．": ". ", "～": "~",
    "’": "'", "…": "...", "━": "-", "〈": "<", "〉": ">", "【": "[", "】": "]", "％": "%",
    "►": "-",
}


def _lm_form(cp: int):
    """One non-ASCII character as `normalize_text` writes it (after lowercase and NFD)."""
    char = chr(cp)
    cat = unicodedata.category(char)
    if cat == "Mn":
        return None
    if cat == "Nd":
        return "0"
    if cat == "Cc" and char != "\n":  # cc_net removes controls; whitespace ones separate words
        return " " if char.isspace() else None
    return UNICODE_PUNCT.get(char, cp)


_NON_ASCII = LazyTranslation(_lm_form)
# ASCII text (most of English CommonCrawl) takes a bytes.translate path, ~5x faster.
_ASCII_MAP = bytes(ord("0") if 48 <= c <= 57 else ord(" ") if c != 10 and chr(c).isspace() and c < 32 else c
                   for c in range(256))
_ASCII_DROP = bytes(c for c in range(128) if (c < 32 or c == 127) and not chr(c).isspace())


def normalize_text(text: str) -> str:
    """cc_net's `text_normalizer.normalize` (accent, case, numbers, punct=1), newlines kept.

    Lowercase; NFD then accents (Unicode Mn) dropped; every decimal digit -> "0";
    Unicode punctuation -> its ASCII form (`UNICODE_PUNCT`); control characters
    removed (tabs become spaces: cc_net deletes them, gluing words). Not
    `filters.normalize.normalize_line`: dedup removes all punctuation, the LM keeps it.
    """
    if text.isascii():
        return text.encode("ascii").lower().translate(_ASCII_MAP, _ASCII_DROP).decode("ascii")
    return unicodedata.normalize("NFD", text.lower()).translate(_NON_ASCII)


def normalize_for_lm(line: str) -> str:
    """One line as cc_net normalises it for its LM, ends stripped."""
    return normalize_text(line.strip()).strip()


def paragraphs(text: str) -> list[str]:
    """The document's non-blank lines, normalised and stripped: what is tokenized and scored."""
    if text.isascii():
        lines = normalize_text(text).split("\n")
    else:
        # Most lines of a page with one "©" are still ASCII: those take the fast path,
        # the rest the slow one, each group in one call (a call per line costs more).
        # Normalisation never adds or removes a "\n", so the lines stay aligned.
        lines = text.split("\n")
        ascii_lines = [i for i, line in enumerate(lines) if line.isascii()]
        other_lines = [i for i, line in enumerate(lines) if not line.isascii()]
        for group in (ascii_lines, other_lines):
            if group:
                done = normalize_text("\n".join([lines[i] for i in group])).split("\n")
                for i, line in zip(group, done, strict=True):
                    lines[i] = line
    return [p for p in (line.strip() for line in lines) if p]


def perplexity(log10_prob: float, length: int) -> float:
    """cc_net's `pp`: 10 ** (-log10 probability / tokens), tokens counting each </s>."""
    return 10.0 ** (-log10_prob / length)


def document_score(lm, tokenized: Iterable[str]) -> tuple[float, int]:
    """(sum of KenLM log10 probabilities, sum of tokens + 1) over tokenized paragraphs.

    `lm` is a `kenlm.Model`; each paragraph is space-separated tokens, scored as a
    sentence (with <s> and </s>).
    """
    log10_prob, length = 0.0, 0
    for paragraph in tokenized:
        log10_prob += lm.score(paragraph, bos=True, eos=True)
        length += len(paragraph.split()) + 1  # KenLM splits on whitespace too
    return log10_prob, length


class LanguageModel:
    """One language's SentencePiece tokenizer and KenLM model. Use `load_language_model`."""

    def __init__(self, sentencepiece_path: str, kenlm_path: str):
        import kenlm  # C extensions: imported only where a model is used
        import sentencepiece

        self.sp = sentencepiece.SentencePieceProcessor(model_file=sentencepiece_path)
        self.lm = kenlm.Model(kenlm_path)

    def tokenize(self, paragraphs: Sequence[str]) -> list[list[str]]:
        """Normalised paragraphs -> their pieces (cc_net's `tokenized` field, unjoined)."""
        # One batched call; num_threads=1: Beam already runs a worker per core.
        return self.sp.encode(list(paragraphs), out_type=str, num_threads=1)

    def score(self, text: str) -> tuple[float, int]:
        """document_score of the text's normalised, tokenized paragraphs."""
        log10_prob, length = 0.0, 0
        for pieces in self.tokenize(paragraphs(text)):
            log10_prob += self.lm.score(" ".join(pieces), bos=True, eos=True)
            length += len(pieces) + 1
        return log10_prob, length

    def perplexity(self, text: str) -> float | None:
        """The document's perplexity, None when no paragraph has text."""
        log10_prob, length = self.score(text)
        return perplexity(log10_prob, length) if length else None


_MODELS: dict[tuple[str, str], LanguageModel] = {}
_LOCK = threading.Lock()  # Beam runs several bundles per process in threads


def load_language_model(sentencepiece_path: str | Path, kenlm_path: str | Path) -> LanguageModel:
    """The (SentencePiece, KenLM) pair, loaded once per process."""
    key = (str(Path(sentencepiece_path).resolve()), str(Path(kenlm_path).resolve()))
    with _LOCK:
        model = _MODELS.get(key)
        if model is None:
            start = time.perf_counter()
            model = _MODELS[key] = LanguageModel(*key)
            log.info("loaded SentencePiece %s and KenLM %s in %.2fs", key[0], key[1], time.perf_counter() - start)
    return model


class PerplexityScorer(DocumentFilter):
    """Sets `doc.perplexity` with the model of the document's language; never drops.

    `models` maps a language code to (sentencepiece path, KenLM path). A document
    whose language has no model, or with no text, stays unscored (None).
    """

    stage = "perplexity"
    reasons = ()

    def __init__(self, models: Mapping[str, tuple[str | Path, str | Path]]):
        self.models = {lang: (str(sp), str(lm)) for lang, (sp, lm) in models.items()}
        self._loaded: dict[str, LanguageModel] = {}

    def __getstate__(self):
        return {**self.__dict__, "_loaded": {}}  # C objects: workers reload in setup()

    def setup(self) -> None:
        for lang, paths in self.models.items():
            self._loaded[lang] = load_language_model(*paths)

    def apply(self, doc: Document) -> Document | Drop:
        if doc.lang not in self.models:
            return doc
        model = self._loaded.get(doc.lang)
        if model is None:
            model = self._loaded[doc.lang] = load_language_model(*self.models[doc.lang])
        ppl = model.perplexity(doc.text)
        # Rounded as cc_net does (0.1): the stored value is for reading and bucketing.
        return dataclasses.replace(doc, perplexity=None if ppl is None else round(ppl, 1))


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) with linear interpolation (numpy's default method)."""
    if not sorted_values:
        raise ValueError("percentile of no values")
    if not 0 <= q <= 100:
        raise ValueError(f"percentile must be in [0, 100], got {q}")
    pos = (len(sorted_values) - 1) * q / 100
    lo = math.floor(pos)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


def bucket_of(ppl: float, head_cutoff: float, tail_cutoff: float) -> str:
    """cc_net's buckets: ppl < head cutoff -> head, < tail cutoff -> middle, else tail."""
    if ppl < head_cutoff:
        return "head"
    if ppl < tail_cutoff:
        return "middle"
    return "tail"
