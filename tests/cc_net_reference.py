"""cc_net's WET reading, line dedup and perplexity, re-implemented from its source, for the tests.

Written from facebookresearch/cc_net (commit bda555b): `process_wet_file.py`
(group_by_docs, parse_doc, parse_warc_file, CCShardReader's min_len), `text_normalizer.py`
(normalize, normalize_for_dedup, UNICODE_PUNCT, the regular expressions),
`dedup.py` (compute_hashes, HashesCollector, DuplicatesRemover, finalize_doc),
`flat_hash_set.py` (AbstractDedupHashSet.add) and `perplexity.py` (SentencePiece.do,
DocLM.do, pp), and independent of our code: nothing here imports from `filters` or
`pipeline`. The tests compare our cc_net mode with these functions.

One deliberate difference: `parse_doc` reads the WARC headers by name. cc_net reads
them by fixed position (line 2 the URL, line 8 the Content-Length...), which fails on
files whose headers come in another order, such as the bundled sample's (its
WARC-Warcinfo-ID line moves Content-Length to line 9); we read headers by name too.
"""
from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable, Iterator

# ------------------------------------------------------------------ text_normalizer.py

PUNCT_MAP = {
    "，": ",", "。": ".", "、": ",", "„": '"', "”": '"', "“": '"', "«": '"', "»": '"', "１": '"',
    "」": '"', "「": '"', "《": '"', "》": '"', "´": "'", "∶": ":", "：": ":", "？": "?", "！": "!",
    "（": "(", "）": ")", "；": ";", "–": "-", "—": " - ", "．": ". ", "～": "~", "’": "'", "…": "...",
    "━": "-", "〈": "<", "〉": ">", "【": "[", "】": "]", "％": "%", "►": "-",
}
PUNCT_CLASS = "[" + "".join(PUNCT_MAP) + "]"
CONTROL_CLASS = "[" + "".join(chr(c) for c in [*range(0, 32), *range(127, 160)]) + "]"
PUNCT_RE = re.compile(PUNCT_CLASS)
CONTROL_RE = re.compile(CONTROL_CLASS)
PUNCT_OR_CONTROL_RE = re.compile(PUNCT_CLASS[:-1] + CONTROL_CLASS[1:])  # one class, as cc_net joins them
DIGITS_RE = re.compile(r"\d")


def without_accents(line: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFD", line) if unicodedata.category(c) != "Mn")


def normalize(line: str) -> str:
    """text_normalizer.normalize(line) with its defaults: accent, case, numbers, punct=1."""
    line = line.strip()
    if not line:
        return line
    line = without_accents(line.lower())
    line = DIGITS_RE.sub("0", line)
    line = "".join(PUNCT_MAP.get(c, c) for c in line)
    return CONTROL_RE.sub("", line)


def normalize_for_dedup(line: str) -> str:
    line = line.strip()
    if not line:
        return line
    line = DIGITS_RE.sub("0", line.lower())
    return PUNCT_OR_CONTROL_RE.sub("", line)


# ------------------------------------------------------------------ process_wet_file.py

def group_by_docs(lines: Iterable[str]) -> Iterator[tuple[list[str], list[str]]]:
    """(header lines, block lines) per record; every line stripped; a record ends where
    a line reads "WARC/1.0"."""
    headers: list[str] = []
    block: list[str] = []
    in_headers = True
    for raw in lines:
        line = raw.strip()
        if in_headers:
            headers.append(line)
            in_headers = line != ""
        elif line == "WARC/1.0":
            yield headers, block
            headers, block, in_headers = [line], [], True
        else:
            block.append(line)
    if block:
        yield headers, block


def parse_doc(headers: list[str], block: list[str]) -> dict | None:
    if not headers or len(block) < 2:
        return None
    fields = {}
    for header in headers[1:]:
        name, _, value = header.partition(":")
        fields[name.strip()] = value.strip()
    if fields.get("WARC-Type") != "conversion":
        return None
    end = -2 if not block[-1] and not block[-2] else None
    return {"url": fields.get("WARC-Target-URI"), "record_id": fields.get("WARC-Record-ID"),
            "title": block[0], "raw_content": "\n".join(block[1:end])}


def read_wet(lines: Iterable[str], min_len: int = 300) -> Iterator[dict]:
    """parse_warc_file with CCShardReader's min_len: documents of min_len characters or more."""
    for headers, block in group_by_docs(lines):
        doc = parse_doc(headers, block)
        if doc and len(doc["raw_content"]) >= min_len:
            yield doc


# ------------------------------------------------------------------ dedup.py, flat_hash_set.py

def line_hash(line: str) -> int:
    """compute_hashes of one line: the SHA-1's first 8 bytes as a uint64 (little-endian)."""
    return int.from_bytes(hashlib.sha1(normalize_for_dedup(line).encode("utf-8")).digest()[:8], "little")


def compute_hashes(content: str) -> list[int] | None:
    if not content:
        return None
    return [line_hash(line) for line in content.split("\n")]


class HashSet(dict):
    """AbstractDedupHashSet over a dict: hash -> 1 once it has been added in two batches."""

    def add(self, batch: list[int]) -> list[int]:
        contains = [int(h in self) for h in batch]  # looked up before the batch is added
        for h, seen in zip(batch, contains):
            self[h] = seen
        return contains


def collect_hashes(contents: Iterable[str]) -> HashSet:
    """HashesCollector: each document's hashes added as one batch."""
    hashes = HashSet()
    for content in contents:
        doc_hashes = compute_hashes(content)
        if doc_hashes is not None:
            hashes.add(doc_hashes)
    return hashes


def finalize(content: str, hashes: list[int]) -> str:
    """finalize_doc: a zero hash (removed) goes, and each other hash keeps its first line."""
    seen: set[int] = set()
    kept = []
    for line, h in zip(content.split("\n"), hashes):
        if h not in seen and h != 0:
            kept.append(line)
        seen.add(h)
    return "\n".join(kept)


def remove_duplicates(content: str, duplicates: HashSet) -> str | None:
    """DuplicatesRemover.do: None for a dropped document, else its deduplicated text."""
    if not content:
        return None
    doc_hashes = compute_hashes(content)
    keep = [duplicates.get(h, 0) < 1 for h in doc_hashes]
    if sum(keep) == 0:
        return None
    return finalize(content, [h if k else 0 for h, k in zip(doc_hashes, keep)])


def deduplicate_two_pass(contents: list[str]) -> list[str | None]:
    """Hashes of every document first, then each document without the duplicated lines."""
    duplicates = collect_hashes(contents)
    return [remove_duplicates(content, duplicates) for content in contents]


# ------------------------------------------------------------------ perplexity.py

def tokenized(sp, text: str) -> str:
    """SentencePiece.do with normalize=True (as mine.py runs MultiSentencePiece)."""
    return " ".join(sp.encode_as_pieces(normalize(text)))


def doc_log_score(lm, tokens: str) -> tuple[float, int] | None:
    """DocLM.do with normalize=False: (summed log10 score, summed length), None when unscored."""
    if not tokens:
        return None
    log_score, length = 0.0, 0
    for line in tokens.split("\n"):
        log_score += lm.score(line)
        length += len(line.split()) + 1
    return log_score, length


def perplexity(sp, lm, text: str) -> float | None:
    """The unrounded perplexity cc_net stores rounded to 0.1 (pp)."""
    scored = doc_log_score(lm, tokenized(sp, text))
    return None if scored is None else 10.0 ** (-scored[0] / scored[1])
