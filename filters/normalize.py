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

import functools
import hashlib
import re
import sys
import unicodedata

__all__ = ["normalize_line", "line_hash", "line_hashes", "document_key", "line_digests"]


def _dropped(cp: int) -> bool:
    cat = unicodedata.category(chr(cp))
    # Tabs, newlines and the like separate words: they are left for str.split.
    return cat[0] == "P" or cat in ("Mn", "Cf") or (cat == "Cc" and not chr(cp).isspace())


def _char_class(codepoints: list[int]) -> str:
    """A regex character class from code points, as ranges (a long list of singles is slow)."""
    ranges: list[list[int]] = []
    for cp in codepoints:
        if ranges and ranges[-1][1] == cp - 1:
            ranges[-1][1] = cp
        else:
            ranges.append([cp, cp])
    return "".join(re.escape(chr(a)) + (f"-{re.escape(chr(b))}" if b > a else "") for a, b in ranges)


@functools.cache
def _tables():
    """Built once per process (~0.2 s): the regexes for any text, byte tables for ASCII."""
    dropped = [cp for cp in range(sys.maxunicode + 1) if _dropped(cp)]
    # Python's re matches a BMP-only class with a fast bitmap; one that reaches past
    # U+FFFF is ~20x slower, so astral characters get their own, rarely used, pass.
    drop_bmp = re.compile(f"[{_char_class([c for c in dropped if c <= 0xFFFF])}]+")
    drop_astral = re.compile(f"[{_char_class([c for c in dropped if c > 0xFFFF])}]+")
    # ASCII lines (most of English CommonCrawl) take a bytes.translate path, 6x faster.
    ascii_map = bytes(
        ord("0") if chr(c).isdecimal() else ord(" ") if chr(c).isspace() else c for c in range(256)
    )
    ascii_drop = bytes(c for c in range(128) if _dropped(c))
    return drop_bmp, drop_astral, ascii_map, ascii_drop


_ASTRAL = re.compile("[\U00010000-\U0010FFFF]")
_DIGIT = re.compile(r"\d")  # for str patterns: exactly Unicode category Nd


def _normalized_bytes(line: str) -> bytes:
    drop_bmp, drop_astral, ascii_map, ascii_drop = _tables()
    if line.isascii():
        return b" ".join(line.encode("ascii").lower().translate(ascii_map, ascii_drop).split())
    text = drop_bmp.sub("", unicodedata.normalize("NFD", line.casefold()))
    if _ASTRAL.search(text):
        text = drop_astral.sub("", text)
    text = _DIGIT.sub("0", text)
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
