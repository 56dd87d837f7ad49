"""Benchmark decontamination: the n-grams of evaluation examples, and the documents that share them.

GPT-3's rule (Brown et al. 2020, appendix C): text is compared after lowercasing,
removing punctuation and splitting on whitespace (dashes count as spaces here:
"Romans--countrymen" and "Romans — countrymen" are the same words); an example's n-grams are its
13-grams, or the whole example when it is shorter; a training document that shares
any of them is contaminated. 13-grams found in very many training documents (GPT-3:
more than 10) are boilerplate or common phrases, not contamination, and are ignored;
that count is global, so it is taken by the pipeline (pipeline.stages.decontamination),
not here.

Hashes: each word is hashed once (64-bit blake2b), and a window of k words is a
polynomial of its word hashes mod 2^64 (plus its length), computed for all windows
of a document at once with numpy. Eval examples and documents go through the same
`normalize_words` and `window_hashes`, so their n-grams compare exactly.

`EvalIndex` holds every eval n-gram hash (sorted, unique) with the examples it
comes from; it is small (eval sets are) and pickles as a few numpy arrays, so the
pipeline hands it to every worker as a side input. `EvalIndex.find(text)` gives the
eval n-grams a document contains.
"""
from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from filters.normalize import LazyTranslation

NGRAM = 13  # GPT-3's n for most benchmarks
MAX_NGRAM_DOCS = 10  # GPT-3: 13-grams in more than 10 training documents are ignored

def _punctuation(cp: int):
    """Dashes (Pd) separate words ("Romans--countrymen", "girl. — Ye"); other punctuation goes ("don't")."""
    category = unicodedata.category(chr(cp))
    return " " if category == "Pd" else None if category[0] == "P" else cp


_PUNCT = LazyTranslation(_punctuation)
_ASCII_TABLE = bytes(ord(" ") if _punctuation(c) == " " else c for c in range(256))
_ASCII_DELETE = bytes(c for c in range(128) if _punctuation(c) is None)


def normalize_words(text: str) -> list[str]:
    """Lowercase, punctuation (Unicode P*) removed, dashes as spaces, split on whitespace."""
    text = text.lower()
    if text.isascii():  # most text: bytes.translate is several times faster
        return text.encode("ascii").translate(_ASCII_TABLE, _ASCII_DELETE).decode("ascii").split()
    return text.translate(_PUNCT).split()


# --------------------------------------------------------------------------- hashing

_MOD = 1 << 64
_BASE = np.uint64(0x100000001B3)  # odd: the polynomial stays a bijection per position
_LENGTH_SALT = 0x9E3779B97F4A7C15  # windows of different lengths never share a hash by construction
_WORD_CACHE: dict[str, int] = {}
_WORD_CACHE_MAX = 1 << 20  # words; about 100 MB at most


def word_hash(word: str) -> int:
    cached = _WORD_CACHE.get(word)
    if cached is None:
        cached = int.from_bytes(hashlib.blake2b(word.encode("utf-8"), digest_size=8).digest(), "little")
        if len(_WORD_CACHE) >= _WORD_CACHE_MAX:  # a long-lived worker: start again, never grow unbounded
            _WORD_CACHE.clear()
        _WORD_CACHE[word] = cached
    return cached


def word_hashes(words: list[str]) -> np.ndarray:
    return np.fromiter((word_hash(w) for w in words), dtype=np.uint64, count=len(words))


def window_hashes(hashes: np.ndarray, k: int) -> np.ndarray:
    """The hash of every window of k consecutive words (len - k + 1 of them; none if fewer words),
    as signed int64: what Beam's integer coder carries."""
    n = len(hashes) - k + 1
    if k < 1 or n < 1:
        return np.empty(0, dtype=np.int64)
    out = np.zeros(n, dtype=np.uint64)
    for j in range(k):  # Horner: ((w0 * B + w1) * B + w2) ..., wrapping mod 2^64
        out *= _BASE
        out += hashes[j:j + n]
    out ^= np.uint64((k * _LENGTH_SALT) % _MOD)
    return out.view(np.int64)


def ngram_hash(words: list[str]) -> int:
    """The hash of one word sequence as a window (for tests and reports)."""
    return int(window_hashes(word_hashes(words), len(words))[0])


def example_ngrams(text: str, n: int = NGRAM) -> tuple[int, np.ndarray]:
    """(k, the distinct hashes of an example's k-grams): k = n, or the example's length if shorter."""
    words = normalize_words(text)
    k = min(n, len(words))
    return k, np.unique(window_hashes(word_hashes(words), k))


# --------------------------------------------------------------------------- the index

@dataclass(frozen=True)
class Example:
    eval_set: str
    index: int  # position in the set: its files in the order given, lines in file order
    text: str


@dataclass(frozen=True, eq=False)
class EvalIndex:
    """Every eval n-gram hash, sorted, with the (set, example) pairs it comes from (CSR arrays)."""

    n: int
    sets: tuple[str, ...]  # eval set names, sorted; ref_set holds positions in it
    hashes: np.ndarray  # int64, sorted, unique
    ref_start: np.ndarray  # int64, len(hashes) + 1: refs of hashes[i] are ref_*[ref_start[i]:ref_start[i + 1]]
    ref_set: np.ndarray  # int32
    ref_example: np.ndarray  # int64
    lengths: tuple[int, ...]  # window lengths to look for in documents (n, and shorter examples' lengths)
    examples: dict[str, int]  # examples per set
    empty: dict[str, int]  # examples per set with no word at all (nothing to look for)
    ngrams: dict[str, int]  # distinct n-grams per set

    @classmethod
    def build(cls, examples: Iterable[Example], n: int = NGRAM) -> "EvalIndex":
        examples = sorted(examples, key=lambda e: (e.eval_set, e.index))
        sets = tuple(sorted({e.eval_set for e in examples}))
        set_id = {name: i for i, name in enumerate(sets)}
        count = dict.fromkeys(sets, 0)
        empty = dict.fromkeys(sets, 0)
        parts, lengths = [], {n}
        for e in examples:
            count[e.eval_set] += 1
            k, grams = example_ngrams(e.text, n)
            if k == 0:
                empty[e.eval_set] += 1
                continue
            lengths.add(k)
            parts.append((grams, set_id[e.eval_set], e.index))
        hashes = np.concatenate([g for g, _, _ in parts] or [np.empty(0, np.int64)])
        ref_set = np.concatenate([np.full(len(g), s, np.int32) for g, s, _ in parts] or [np.empty(0, np.int32)])
        ref_example = np.concatenate([np.full(len(g), i, np.int64) for g, _, i in parts] or [np.empty(0, np.int64)])
        order = np.lexsort((ref_example, ref_set, hashes))  # by hash, then set, then example
        hashes, ref_set, ref_example = hashes[order], ref_set[order], ref_example[order]
        unique, first = np.unique(hashes, return_index=True)
        ngrams = {name: int(len(np.unique(hashes[ref_set == i]))) for i, name in enumerate(sets)}
        return cls(n=n, sets=sets, hashes=unique, ref_start=np.append(first, len(hashes)).astype(np.int64),
                   ref_set=ref_set, ref_example=ref_example, lengths=tuple(sorted(lengths)),
                   examples=count, empty=empty, ngrams=ngrams)

    def __len__(self) -> int:
        return len(self.hashes)

    def find(self, text: str) -> list[tuple[int, str]]:
        """The eval n-grams the text contains: (hash, the normalised n-gram), each once, by hash."""
        if not len(self.hashes):
            return []
        words = normalize_words(text)
        if not words:
            return []
        hashes = word_hashes(words)
        found: dict[int, str] = {}
        for k in self.lengths:
            windows = window_hashes(hashes, k)
            if not len(windows):
                continue
            at = np.searchsorted(self.hashes, windows)
            np.minimum(at, len(self.hashes) - 1, out=at)
            for i in np.flatnonzero(self.hashes[at] == windows):
                found.setdefault(int(windows[i]), " ".join(words[i:i + k]))
        return sorted(found.items())

    def refs(self, ngram: int) -> list[tuple[str, int]]:
        """The (eval set, example index) pairs an n-gram hash comes from."""
        i = int(np.searchsorted(self.hashes, np.int64(ngram)))
        if i >= len(self.hashes) or int(self.hashes[i]) != ngram:
            return []
        lo, hi = int(self.ref_start[i]), int(self.ref_start[i + 1])
        return [(self.sets[s], int(e)) for s, e in zip(self.ref_set[lo:hi], self.ref_example[lo:hi])]


def contaminated_by(index: EvalIndex, matched: Iterable[int], too_common: set[int] | dict) -> list[tuple[str, int]]:
    """The examples a document is contaminated by: those of its matched n-grams that are not too common."""
    refs = {ref for h in matched if h not in too_common for ref in index.refs(h)}
    return sorted(refs)


# --------------------------------------------------------------------------- eval files

def is_json_lines(path: str) -> bool:
    name = path.lower().removesuffix(".gz")
    return name.endswith((".jsonl", ".json", ".ndjson"))


def parse_examples(path: str, lines: Iterable[str], eval_set: str, start: int, text_field: str = "text"):
    """The examples of one eval file: JSON lines with a `text_field`, or plain text one example a line.

    Indices count from `start` (the set's files are numbered as one sequence). A
    JSON line that does not parse or lacks the field is a ValueError naming the file
    and line: a skipped example would be a silent hole in the check."""
    import json

    as_json = is_json_lines(path)
    index = start
    for lineno, line in enumerate(lines, 1):
        line = line.rstrip("\r\n")
        if not line.strip():
            continue  # blank lines are not examples (and take no index)
        if as_json:
            try:
                record = json.loads(line)
                text = record[text_field]
            except (ValueError, KeyError, TypeError) as e:
                raise ValueError(f"{path}:{lineno}: not a JSON object with a {text_field!r} string ({e})") from None
            if not isinstance(text, str):
                raise ValueError(f"{path}:{lineno}: {text_field!r} is not a string")
        else:
            text = line
        yield Example(eval_set, index, text)
        index += 1
