"""Text normalisation and hashing for deduplication: two rules, ours and cc_net's.

`normalized` (our rule: `normalize_line`, `line_hash`, `line_hashes`, `document_key`,
`line_digests`), used by CC line dedup in mode `normalized`, CC exact dedup, C4 and
MinHash. Two lines that differ only in case, accents, digits, punctuation or spacing
are the same line ("Page 3 of 10." == "page 7 of 12"): case-fold (lowercase, and
"ß" == "ss"); NFD, then drop non-spacing marks (Unicode category Mn: accents);
every decimal digit (Nd) -> "0"; every punctuation character (P*), control character
(Cc) and invisible format character (Cf: soft hyphen, zero-width space, BOM)
removed; whitespace runs collapsed to one space; ends stripped. Symbols (S*: "$",
"€", "|") stay. This is broader than cc_net's rule: cc_net strips no accents for
dedup, collapses no whitespace and removes only ~33 listed punctuation marks.
Hashes are 64-bit blake2b digests of the normalised UTF-8. Lines that normalise to
nothing get no hash (`line_hashes` gives None) and take no part in dedup.

`cc_net` (`normalize_for_dedup`, `cc_net_line_hash`, `cc_net_line_hashes`): cc_net's
`text_normalizer.normalize_for_dedup` and `dedup.compute_hashes`, exactly: ends
stripped (`str.strip`), lowercase (`str.lower`, not case folding), every decimal
digit (Nd, what `re`'s `\\d` matches) -> "0", then the characters of cc_net's
`UNICODE_PUNCT` list and the control characters U+0000-001F and U+007F-009F removed.
No accent stripping, no whitespace collapse, no other punctuation removed: "Café, 12"
-> "café, 00". The hash is the first 8 bytes of the SHA-1 of the normalised UTF-8
(read little-endian, as cc_net's numpy view on x86). Every line has one, the empty
line included (`CC_NET_EMPTY_HASH`, the SHA-1 of nothing), as in cc_net.

All hashes are read as *signed* little-endian int64, so they fit Beam's varint
coder and a Parquet int64 column as is. At 64 bits a chance collision needs
billions of distinct keys to become likely. Character classes come from Python's
`unicodedata`, so all workers must run the same Python minor version (Beam asks
that anyway) for their hashes to agree.

Cost, one core: ~3 us per 60-character ASCII line (a bytes.translate fast path),
~10 us for accented or Cyrillic ones; about 16 us/KB of English text.
"""
from __future__ import annotations

import hashlib
import unicodedata

__all__ = ["normalize_line", "line_hash", "line_hashes", "document_key", "line_digests", "LazyTranslation",
           "UNICODE_PUNCT", "normalize_for_dedup", "cc_net_line_hash", "cc_net_line_hashes", "CC_NET_EMPTY_HASH"]


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
    deduplication: they carry no content and would otherwise match everywhere.
    (cc_net hashes them like any line: see `cc_net_line_hashes`.)
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


# --- cc_net's rule ---------------------------------------------------------------------------

# cc_net's `text_normalizer.UNICODE_PUNCT`: what its LM normalisation maps each mark to
# (filters.perplexity); its dedup normalisation removes the marks instead. "１" (a
# full-width digit) is listed too, but digits become "0" first, so it never applies.
UNICODE_PUNCT = {
    "，": ",", "。": ".", "、": ",", "„": '"', "”": '"', "“": '"', "«": '"', "»": '"', "１": '"',
    "」": '"', "「": '"', "《": '"', "》": '"', "´": "'", "∶": ":", "：": ":", "？": "?",
    "！": "!", "（": "(", "）": ")", "；": ";", "–": "-", "—": " - ", "．": ". ", "～": "~",
    "’": "'", "…": "...", "━": "-", "〈": "<", "〉": ">", "【": "[", "】": "]", "％": "%",
    "►": "-",
}
# cc_net's NON_PRINTING_CHARS_RE: the C0 controls, DEL and the C1 controls.
CC_NET_NON_PRINTING = frozenset([*range(0, 32), *range(127, 160)])


def _cc_net_dedup_form(cp: int):
    char = chr(cp)
    if unicodedata.category(char) == "Nd":  # digits first, as cc_net: "１" -> "0"
        return "0"
    if cp in CC_NET_NON_PRINTING or char in UNICODE_PUNCT:
        return None
    return cp


_CC_NET_DEDUP = LazyTranslation(_cc_net_dedup_form)
_CC_NET_ASCII_MAP = bytes(ord("0") if 48 <= c <= 57 else c for c in range(256))
_CC_NET_ASCII_DROP = bytes(c for c in range(128) if c in CC_NET_NON_PRINTING)


def _cc_net_dedup_bytes(line: str) -> bytes:
    line = line.strip()
    if line.isascii():
        return line.encode("ascii").lower().translate(_CC_NET_ASCII_MAP, _CC_NET_ASCII_DROP)
    # surrogatepass: a lone surrogate (from a lossy decode upstream) hashes instead of crashing.
    return line.lower().translate(_CC_NET_DEDUP).encode("utf-8", "surrogatepass")


def normalize_for_dedup(line: str) -> str:
    """cc_net's `text_normalizer.normalize_for_dedup`: strip, lowercase, digits -> "0",
    `UNICODE_PUNCT` and control characters removed. Accents and inner spacing stay."""
    return _cc_net_dedup_bytes(line).decode("utf-8", "surrogatepass")


def _cc_net_hash(normalized: bytes) -> int:
    return int.from_bytes(hashlib.sha1(normalized).digest()[:8], "little", signed=True)


def cc_net_line_hash(line: str) -> int:
    """cc_net's line hash: SHA-1 of `normalize_for_dedup(line)`, its first 8 bytes as a signed int64."""
    return _cc_net_hash(_cc_net_dedup_bytes(line))


def cc_net_line_hashes(text: str) -> list[int]:
    """cc_net's `dedup.compute_hashes`: one hash per `\\n`-separated line, blank lines included."""
    return [_cc_net_hash(_cc_net_dedup_bytes(line)) for line in text.split("\n")]


# The hash of every line that normalises to nothing (blank, or only listed marks and
# controls): nearly every CommonCrawl document has one, so the dedup stage counts it apart.
CC_NET_EMPTY_HASH = _cc_net_hash(b"")
