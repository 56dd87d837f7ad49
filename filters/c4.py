"""The C4 page rules (Raffel et al. 2020, section 2.2), as TFDS's `c4_utils.clean_page`.

Line by line, in TFDS's order (stripped; wiki citation marks such as "[1]",
"[edit]", "[citation needed]" cut out first):

  too_long_word   a word longer than `max_word_length` (1000) chars: line removed
  no_end_mark     not ending in . ! ? or ", or ending in "...": line removed
  too_few_words   fewer than `min_words_per_line` (5) words: line removed
  lorem_ipsum     "lorem ipsum" in a kept line: the whole page is dropped
  javascript      "javascript" in the line: line removed
  curly_bracket   "{" in a kept line (probably code): the whole page is dropped
  policy          cookie / privacy / terms-of-use boilerplate: line removed

Then the page is dropped when a word of the bad-words list occurs in its kept text
(`bad_words`) or when the kept lines hold fewer than `min_sentences` (3) sentences
(`too_few_sentences`). The defaults are those of TFDS's c4_utils (5 words a line,
3 sentences a page); the C4 paper's text says 3 and 5.

Differences from TFDS, on purpose:
- Sentences are counted by `split_sentences`, a rule-based splitter, not NLTK's
  punkt (whose model would have to be downloaded at run time).
- Bad words match at the start and end of a line too (TFDS's `[^a-z]word[^a-z]`
  needs a character on both sides).

Pure Python: the same rules run in a unit test, in Beam (pipeline.sources.c4) or in Spark.
"""
from __future__ import annotations

import dataclasses
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from filters.base import DocumentFilter, Drop
from filters.document import Document
from filters.normalize import line_hashes

__all__ = [
    "C4Rules", "CleanResult", "split_sentences", "load_bad_words", "bad_words_regex",
    "dedup_units", "remove_units", "LINE_REASONS", "PAGE_REASONS", "STAGE", "DEDUP_UNITS",
]

STAGE = "c4_rules_v1"

END_MARKS = (".", "?", "!", '"')
ELLIPSIS = "..."
POLICY_SUBSTRINGS = (
    "terms of use", "privacy policy", "cookie policy", "uses cookies", "use of cookies", "use cookies",
)
CITATION = re.compile(r"\[\d*\]|\[edit\]|\[citation needed\]")

# Why a line was removed (counted, not reasons: the page itself may be kept).
LINE_REASONS = ("too_long_word", "no_end_mark", "too_few_words", "javascript", "policy")
# Why a page was dropped.
PAGE_REASONS = ("lorem_ipsum", "curly_bracket", "bad_words", "too_few_sentences", "empty")

# --- sentences -------------------------------------------------------------------

# Abbreviations after which a full stop does not end a sentence (punkt learns these
# from data; a short list catches the frequent ones in English web text).
_ABBREVIATIONS = frozenset("""
mr mrs ms dr prof sr jr st mt vs etc e.g i.e cf al approx dept est fig figs inc ltd co corp
no nos vol vols p pp ed eds rev gen col lt sgt capt gov sen rep jan feb mar apr jun jul aug
sep sept oct nov dec u.s u.k a.m p.m ph.d
""".split())
# A boundary: terminal punctuation, optional closing quotes/brackets, whitespace, and
# the next sentence starting with an upper-case letter, a digit or an opening quote.
_BOUNDARY = re.compile(r"""[.!?]+["'\u201d\u2019)\]]*\s+(?=["'\u201c\u2018(\[]?[A-Z0-9])""")


def split_sentences(text: str) -> list[str]:
    """Sentences of `text` (one line or many), by punctuation and capitalisation.

    "He left. She stayed." is two; "Dr. Smith came." and "e.g. This" are not split
    after the abbreviation; "It was 5 p.m. and late." stays one (lower case next).
    """
    sentences = []
    start = 0
    for m in _BOUNDARY.finditer(text):
        end = m.start() + len(m.group(0).rstrip())
        head = text[start:m.start()]
        last = head.rsplit(None, 1)[-1].lower() if head.strip() else ""
        last = last.lstrip("\"'(\u201c\u2018[")
        if m.group(0)[0] == "." and (last in _ABBREVIATIONS or (len(last) == 1 and last.isalpha())):
            continue  # "Dr." or an initial such as "J."
        sentences.append(text[start:end].strip())
        start = m.end()
    tail = text[start:].strip()
    if tail:
        sentences.append(tail)
    return [s for s in sentences if s]


# --- bad words -------------------------------------------------------------------

def load_bad_words(path: str | Path) -> list[str]:
    """One word or phrase a line; blank lines and lines starting with '#' are skipped."""
    words = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            words.append(line.lower())
    if not words:
        raise ValueError(f"{path}: no bad words in the list")
    return words


def _trie_pattern(words: list[str]) -> str:
    """One regex for many literals, factored as a trie ("ab|ac" -> "a(?:b|c)").

    Python's re tries a flat alternation branch by branch at every position; the
    factored form rejects most positions after a character or two (~10x faster on
    the 400-entry list).
    """
    trie: dict = {}
    for word in words:
        node = trie
        for ch in word:
            node = node.setdefault(ch, {})
        node[""] = True

    def pattern(node: dict) -> str:
        ends = "" in node
        branches = [re.escape(ch) + pattern(child) for ch, child in sorted(node.items()) if ch]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 and not ends else "(?:" + "|".join(branches) + ")"
        return body + "?" if ends else body

    return pattern(trie)


def bad_words_regex(words: Iterable[str]) -> re.Pattern:
    """Matches any listed word or phrase standing on its own (no letter either side)."""
    return re.compile(r"(?<![a-z])%s(?![a-z])" % _trie_pattern(sorted({w.lower() for w in words})))


# --- the rules ---------------------------------------------------------------------

@dataclass(slots=True)
class CleanResult:
    text: str  # the kept lines, "\n"-joined (empty when dropped)
    reason: str | None  # None: keep the page
    lines_in: int = 0
    removed: Counter = field(default_factory=Counter)  # line reason -> lines removed
    sentences: int = 0


class C4Rules(DocumentFilter):
    """C4's line and page rules; see the module docstring for each reason.

    The kept page's text is its kept lines (stripped, citations removed) joined by
    "\\n", as in C4's published JSON.
    """

    stage = STAGE
    reasons = PAGE_REASONS

    def __init__(self, *, min_words_per_line: int = 5, min_sentences: int = 3,
                 max_word_length: int = 1000, bad_words: Iterable[str] | None = None):
        for name, value, low in (("min_words_per_line", min_words_per_line, 0),
                                 ("min_sentences", min_sentences, 0),
                                 ("max_word_length", max_word_length, 1)):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"c4.rules.{name} must be an integer >= {low}, got {value!r}")
        self.min_words_per_line = min_words_per_line
        self.min_sentences = min_sentences
        self.max_word_length = max_word_length
        self.bad_words = tuple(bad_words) if bad_words else ()
        self._bad = bad_words_regex(self.bad_words) if self.bad_words else None

    def __getstate__(self):
        # Compiled regexes pickle, but the list is small: rebuild it on the worker.
        return {k: v for k, v in self.__dict__.items() if k != "_bad"}

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._bad = bad_words_regex(self.bad_words) if self.bad_words else None

    def _line_reason(self, line: str) -> tuple[str | None, str]:
        """(reason the line goes or None, the line as kept)."""
        if len(line) > self.max_word_length and max(map(len, line.split())) > self.max_word_length:
            return "too_long_word", line
        line = CITATION.sub("", line)
        if not line.endswith(END_MARKS) or line.endswith(ELLIPSIS):
            return "no_end_mark", line
        if len(line.split()) < self.min_words_per_line:
            return "too_few_words", line
        lower = line.lower()
        if "lorem ipsum" in lower:
            return "lorem_ipsum", line
        if "javascript" in lower:
            return "javascript", line
        if "{" in line:
            return "curly_bracket", line
        if any(p in lower for p in POLICY_SUBSTRINGS):
            return "policy", line
        return None, line

    def clean(self, text: str) -> CleanResult:
        """Apply the rules to a page's text; counts every removed line by reason."""
        result = CleanResult("", None)
        kept: list[str] = []
        for raw in text.splitlines():
            result.lines_in += 1
            reason, line = self._line_reason(raw.strip())
            if reason in ("lorem_ipsum", "curly_bracket"):
                result.reason = reason
                return result
            if reason is not None:
                result.removed[reason] += 1
                continue
            result.sentences += len(split_sentences(line))
            kept.append(line)
        cleaned = "\n".join(kept).strip()
        if self._bad is not None and self._bad.search(cleaned.lower()):
            result.reason = "bad_words"
        elif result.sentences < self.min_sentences:
            result.reason = "too_few_sentences"
        elif not cleaned:
            result.reason = "empty"
        else:
            result.text = cleaned
        return result

    def apply(self, doc: Document) -> Document | Drop:
        result = self.clean(doc.text)
        if result.reason is not None:
            return Drop(result.reason)
        return dataclasses.replace(doc, text=result.text)


# --- dataset-wide dedup of repeated text (the per-document halves; pipeline.sources.c4 shuffles) ---

DEDUP_UNITS = ("span", "line")


def dedup_units(text: str, unit: str = "span", span_sentences: int = 3) -> list[tuple[int, range]]:
    """What a page contributes to dataset-wide dedup: (hash, lines covered) per unit, in order.

    unit "span" (the C4 paper): every window of `span_sentences` consecutive
    sentences, across line breaks; a page with fewer sentences has none.
    unit "line" (what TFDS's code does): every line.
    Hashes are `filters.normalize.line_hash` of the unit's text, so case, digits,
    punctuation and spacing do not matter; units that normalise to nothing are skipped.
    A unit's position in the list is its position for "first occurrence wins".
    """
    if unit not in DEDUP_UNITS:
        raise ValueError(f"c4.dedup.unit must be one of {DEDUP_UNITS}, got {unit!r}")
    lines = text.split("\n")
    if unit == "line":
        hashes = line_hashes(text)
        return [(h, range(i, i + 1)) for i, h in enumerate(hashes) if h is not None]
    if isinstance(span_sentences, bool) or not isinstance(span_sentences, int) or span_sentences < 1:
        raise ValueError(f"c4.dedup.span_sentences must be an integer >= 1, got {span_sentences!r}")
    sentences = [(i, s) for i, line in enumerate(lines) for s in split_sentences(line)]
    units = []
    for k in range(len(sentences) - span_sentences + 1):
        window = sentences[k:k + span_sentences]
        h = line_hashes(" ".join(s for _, s in window))[0]
        if h is not None:
            units.append((h, range(window[0][0], window[-1][0] + 1)))
    return units


def remove_units(text: str, positions: Iterable[int], unit: str = "span",
                 span_sentences: int = 3) -> tuple[str, int, int]:
    """Drop every line covered by the units at `positions` (indexes into `dedup_units`).

    Returns the new text, the number of lines removed and the sentences left.
    """
    positions = set(positions)
    lines = text.split("\n")
    drop: set[int] = set()
    if positions:
        for pos, (_, covered) in enumerate(dedup_units(text, unit, span_sentences)):
            if pos in positions:
                drop.update(covered)
    kept = [line for i, line in enumerate(lines) if i not in drop]
    sentences = sum(len(split_sentences(line)) for line in kept)
    return "\n".join(kept), len(lines) - len(kept), sentences
