"""Text normalisation and hashing for deduplication, after cc_net's `text_normalizer`.

Two lines that differ only in case, accents, digits, punctuation or spacing are the
same line for deduplication ("Page 3 of 10." == "page 7 of 12"). `normalize_line`:
case-fold (lowercase, and "ß" == "ss"); NFD, then drop non-spacing marks (Unicode
category Mn: accents, as cc_net's `strip_accents`); every decimal digit (Nd) -> "0";
every punctuation character (P*), control character (Cc) and invisible format
character (Cf: soft hyphen, zero-width space, BOM) removed; whitespace runs
collapsed to one space; ends stripped. Symbols (S*: "$", "€", "|") stay. cc_net
removes only ~30 listed punctuation marks; we remove all of P*.

Hashes are 64-bit blake2b digests of the normalised UTF-8, read as *signed*
little-endian int64, so they fit Beam's varint coder and a Parquet int64 column as
is. At 64 bits a chance collision needs billions of distinct keys to become likely,
as in cc_net (which keeps 8 bytes of sha1). Character classes come from Python's
`unicodedata`, so all workers must run the same Python minor version (Beam asks
that anyway) for their hashes to agree.

Cost, one core: ~3 us per 60-character ASCII line (a bytes.translate fast path),
~10 us for accented or Cyrillic ones; about 16 us/KB of English text.
"""
from __future__ import annotations

import hashlib
import unicodedata

__all__ = ["normalize_line", "line_hash", "line_hashes", "document_key", "line_digests", "LazyTranslation"]


def _dropped(cp: int) -> bool:
    cat = unicodedata.category(chr(cp))
    # Tabs, newlines and the like separate words: they are left for str.split.
    return cat[0] == "P" or cat in ("Mn", "Cf") or (cat == "Cc" and not chr(cp).isspace())


class LazyTranslation(dict):
    """A `str.translate` table that classifies each code point on first sight.

    `classify(cp)` returns what `translate` wants (None to drop, a str, or `cp` to
    keep). Only the characters a process meets are classified (a few thousand on a
    multilingual crawl) instead of a start-up scan of all 1.1M code points.
    """

    MAX_ENTRIES = 1 << 17  # past this (adversarial input), classify without caching

    def __init__(self, classify):
        super().__init__()
        self._classify = classify

    def __missing__(self, cp: int):
        value = self._classify(cp)
        if len(self) < self.MAX_ENTRIES:
            self[cp] = value
        return value

    def __reduce__(self):  # pickled empty: the cache is rebuilt where it is used
        return type(self), (self._classify,)


def _dedup_form(cp: int):
    return None if _dropped(cp) else "0" if unicodedata.category(chr(cp)) == "Nd" else cp


_NON_ASCII = LazyTranslation(_dedup_form)
# ASCII lines (most of English CommonCrawl) take a bytes.translate path, 6x faster.
_ASCII_MAP = bytes(ord("0") if chr(c).isdecimal() else ord(" ") if chr(c).isspace() else c for c in range(256))
_ASCII_DROP = bytes(c for c in range(128) if _dropped(c))


def _normalized_bytes(line: str) -> bytes:
    if line.isascii():
        return b" ".join(line.encode("ascii").lower().translate(_ASCII_MAP, _ASCII_DROP).split())
    text = unicodedata.normalize("NFD", line.casefold()).translate(_NON_ASCII)
    # surrogatepass: a lone surrogate (from a lossy decode upstream) hashes instead of crashing.
    return " ".join(text.split()).encode("utf-8", "surrogatepass")


def normalize_line(line: str) -> str:
    """The dedup form of a line (or of any text: newlines become spaces)."""
    return _normalized_bytes(line).decode("utf-8", "surrogatepass")


def _hash(normalized: bytes) -> int:
    digest = hashlib.blake2b(normalized, digest_size=8).digest()
    return int.from_bytes(digest, "little", signed=True)


def line_hash(line: str) -> int:
    """64-bit signed hash of the normalised line."""
    return _hash(_normalized_bytes(line))


def line_hashes(text: str) -> list[int | None]:
    """One hash per `\\n`-separated line; None for lines that normalise to nothing.

    Blank and punctuation-only lines ("", "* * *", "...") take no part in
    deduplication: they carry no content and would otherwise match everywhere
    (cc_net skips empty normalised lines too).
    """
    out: list[int | None] = []
    for line in text.split("\n"):
        norm = _normalized_bytes(line)
        out.append(_hash(norm) if norm else None)
    return out


def document_key(text: str) -> int:
    """64-bit signed hash of the whole normalised text, for exact-duplicate detection.

    Line breaks count as spaces, so re-wrapped copies of a page collide on purpose.
    """
    return _hash(_normalized_bytes(text))


def line_digests(text: str) -> tuple[int, list[int | None]]:
    """`(document_key(text), line_hashes(text))` from one normalisation pass.

    Normalisation works character by character and collapses whitespace, so the
    whole text normalises to its non-empty normalised lines joined by one space.
    """
    whole = hashlib.blake2b(digest_size=8)
    hashes: list[int | None] = []
    first = True
    for line in text.split("\n"):
        norm = _normalized_bytes(line)
        if norm:
            whole.update(norm if first else b" " + norm)
            first = False
            hashes.append(_hash(norm))
        else:
            hashes.append(None)
    return int.from_bytes(whole.digest(), "little", signed=True), hashes
