"""KenLM perplexity of a document, after cc_net's `perplexity` module, and its buckets.

One SentencePiece + KenLM pair per language (as cc_net), and two ways to score a
document (`cc.perplexity.scoring`):

`cc_net` (cc_net's `mine.py`: `MultiSentencePiece(normalize=True)` then
`DocLM(normalize=False)`, exactly):

    text -> `normalize_cc_net` (the whole document: `text_normalizer.normalize`, which
         deletes the newlines, so the lines are glued into one) -> SentencePiece pieces
         joined by spaces -> split on "\\n" (one line) -> KenLM `score(line)` (bos, eos)

    perplexity = 10 ** (-log10 score / (pieces + 1)), rounded to 0.1

`paragraph` (our earlier rule): each non-blank line is normalised on its own
(`normalize_text`: the same mapping, newlines kept, tabs made spaces), tokenized and
scored as a sentence, and

    perplexity = 10 ** (-sum(log10 prob) / sum(tokens + 1))   over the paragraphs

A document with nothing left after normalisation is left unscored (`perplexity`
None; cc_net leaves it without a perplexity, in bucket "all"). Lower perplexity means
"more like the reference text" (Wikipedia). Buckets follow cc_net's
`PerplexityBucket`: below the head cutoff -> head, below the tail cutoff -> middle,
else tail.

The models stage trains the pair on Wikipedia paragraphs normalised as the scoring
normalises (`training_lines`): `normalize_cc_net` of each paragraph for `cc_net`
(cc_net normalised each article's opening text with `text_normalizer.normalize`),
`paragraphs` for `paragraph`.

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
from filters.normalize import CC_NET_NON_PRINTING, UNICODE_PUNCT, LazyTranslation

log = logging.getLogger(__name__)

__all__ = [
    "BUCKETS", "SCORINGS", "UNICODE_PUNCT", "normalize_text", "normalize_for_lm", "normalize_cc_net", "paragraphs",
    "training_lines", "perplexity", "document_score", "LanguageModel", "load_language_model", "PerplexityScorer",
    "percentile", "bucket_of",
]

BUCKETS = ("head", "middle", "tail")
SCORINGS = ("cc_net", "paragraph")

# UNICODE_PUNCT (filters.normalize) is cc_net's `text_normalizer.UNICODE_PUNCT`:
# punctuation is mapped to ASCII, not removed, so the LM still sees sentence
# structure. (It maps the full-width "１" to '"', but digits become "0" first, in
# cc_net's order and here.)


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


def _cc_net_form(cp: int):
    """One non-ASCII character as cc_net's `normalize` writes it (after lowercase and NFD)."""
    char = chr(cp)
    cat = unicodedata.category(char)
    if cat == "Mn":  # strip_accents
        return None
    if cat == "Nd":  # DIGIT_RE: r"\d" matches Unicode Nd
        return "0"
    if cp in CC_NET_NON_PRINTING:  # remove_non_printing_char comes after the punctuation map
        return None
    return UNICODE_PUNCT.get(char, cp)


_CC_NET = LazyTranslation(_cc_net_form)
_CC_NET_ASCII_MAP = bytes(ord("0") if 48 <= c <= 57 else c for c in range(256))
_CC_NET_ASCII_DROP = bytes(c for c in range(128) if c in CC_NET_NON_PRINTING)


def normalize_cc_net(text: str) -> str:
    """cc_net's `text_normalizer.normalize(text)` (accent, case, numbers, punct=1), exactly.

    Ends stripped; lowercase; NFD with the non-spacing marks (Mn) dropped (so the
    result is in NFD: Hangul comes out as jamo, as in cc_net); every decimal digit
    -> "0"; `UNICODE_PUNCT` -> its ASCII form; then the control characters U+0000-001F
    and U+007F-009F deleted: newlines and tabs too, so a document's lines are glued
    together ("end of line\\nNext" -> "end of linenext").
    """
    text = text.strip()
    if text.isascii():
        return text.encode("ascii").lower().translate(_CC_NET_ASCII_MAP, _CC_NET_ASCII_DROP).decode("ascii")
    return unicodedata.normalize("NFD", text.lower()).translate(_CC_NET)


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


def training_lines(text: str, scoring: str = "cc_net") -> list[str]:
    """A Wikipedia article's training sentences for the LM of `scoring`: its non-blank
    lines (paragraphs), each normalised as that scoring normalises text."""
    if scoring == "paragraph":
        return paragraphs(text)
    if scoring != "cc_net":
        raise ValueError(f"scoring must be one of {', '.join(SCORINGS)}, got {scoring!r}")
    return [norm for norm in (normalize_cc_net(line) for line in text.split("\n")) if norm]


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
        """document_score of the text's normalised, tokenized paragraphs (scoring `paragraph`)."""
        log10_prob, length = 0.0, 0
        for pieces in self.tokenize(paragraphs(text)):
            log10_prob += self.lm.score(" ".join(pieces), bos=True, eos=True)
            length += len(pieces) + 1
        return log10_prob, length

    def cc_net_tokenized(self, text: str) -> str:
        """cc_net's `SentencePiece.do` with normalize=True: the pieces of the normalised
        document, joined by spaces (its `tokenized` field)."""
        return " ".join(self.sp.encode(normalize_cc_net(text), out_type=str))

    def cc_net_score(self, text: str) -> tuple[float, int]:
        """(log10 score, length) as cc_net's `DocLM.do` (normalize=False) sums them over
        the tokenized text's "\\n"-separated lines: KenLM's score with <s> and </s>,
        and the line's whitespace-separated tokens + 1. (0.0, 0) for no text."""
        tokenized = self.cc_net_tokenized(text)
        log10_prob, length = 0.0, 0
        if not tokenized:
            return log10_prob, length
        for line in tokenized.split("\n"):  # one line: normalisation removed every newline
            log10_prob += self.lm.score(line)
            length += len(line.split()) + 1
        return log10_prob, length

    def perplexity(self, text: str, scoring: str = "cc_net") -> float | None:
        """The document's perplexity under `scoring` (unrounded), None when there is nothing to score."""
        log10_prob, length = self.cc_net_score(text) if scoring == "cc_net" else self.score(text)
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

    `models` maps a language code to (sentencepiece path, KenLM path); `scoring` is
    `cc_net` or `paragraph` (the module docstring). A document whose language has no
    model, or with no text, stays unscored (None).
    """

    stage = "perplexity"
    reasons = ()

    def __init__(self, models: Mapping[str, tuple[str | Path, str | Path]], scoring: str = "cc_net"):
        if scoring not in SCORINGS:
            raise ValueError(f"scoring must be one of {', '.join(SCORINGS)}, got {scoring!r}")
        self.models = {lang: (str(sp), str(lm)) for lang, (sp, lm) in models.items()}
        self.scoring = scoring
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
        ppl = model.perplexity(doc.text, self.scoring)
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
