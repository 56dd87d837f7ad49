"""Line deduplication without Beam: per document, and per shard of line hashes.

Two rules. `normalized` (ours, after cc_net's idea): `line_positions` is what a
document contributes to the global count of which documents contain which lines
(each distinct line once, with where it occurs), under `filters.normalize.line_hash`;
`remove_line_positions` applies the verdict without hashing the text again;
`distinct_line_hashes` and `remove_lines` are the same by hash; `removal_positions`
judges one shard (exact copies count once). `cc_net` (cc_net's
`dedup.deduplicate_two_pass`, exactly): `cc_net_rows` is what a document contributes
(each distinct `cc_net_line_hash` once, the empty line's apart),
`shared_line_positions` judges one shard (a hash in two or more documents is a
duplicate) and `cc_net_remove_duplicates` applies the verdict to a document as cc_net's
`DuplicatesRemover` and `finalize_doc` do. `first_occurrence_removals` is C4's rule.

`LineRows` packs many documents' lines into fixed-size rows split into shards by line
hash; the shuffle that brings a shard's rows together is the pipeline's
(pipeline.stages.shard_dedup). All are pure, so the same logic runs in a unit test,
in Beam, or in a Spark job.
"""
from __future__ import annotations

from array import array
from collections.abc import Container, Iterable

import numpy as np

from filters.normalize import CC_NET_EMPTY_HASH, line_hashes


def line_positions(text: str) -> dict[int, list[int]]:
    """Hash of each distinct non-blank line -> the indices of the `\\n`-separated lines
    that normalise to it.

    A line repeated within one document therefore counts as one document: line
    dedup removes boilerplate shared *across* pages, and leaves repetition inside a
    page to the quality filters.
    """
    positions: dict[int, list[int]] = {}
    for i, h in enumerate(line_hashes(text)):
        if h is not None:
            positions.setdefault(h, []).append(i)
    return positions


def distinct_line_hashes(text: str) -> set[int]:
    """The hashes of the document's non-blank lines, each once."""
    return set(line_positions(text))


def remove_line_positions(text: str, positions: Iterable[int]) -> tuple[str, int]:
    """The text without the lines at these indices, and how many lines went.

    Lines are `\\n`-separated and the rest is kept byte for byte (blank lines and
    `\\r` included), so a document with nothing to remove comes back unchanged.
    """
    drop = set(positions)
    if not drop:
        return text, 0
    lines = text.split("\n")
    kept = [line for i, line in enumerate(lines) if i not in drop]
    return "\n".join(kept), len(lines) - len(kept)


def remove_lines(text: str, remove: Container[int]) -> tuple[str, int]:
    """The text without every line whose hash is in `remove`, and how many lines went."""
    return remove_line_positions(text, (i for i, h in enumerate(line_hashes(text)) if h is not None and h in remove))


# --- the global half, sharded -------------------------------------------------------------
#
# Every non-blank line of every document becomes one fixed-size row. Rows are split
# by line hash into shards; a shard holds every occurrence of its hashes, so it can
# be judged on its own, in memory, with numpy: a shuffle by shard (Beam's
# GroupByKey) then takes the place of a per-line shuffle, with 28 bytes per line
# instead of a Python element per line.
#
# A document is named by its text key (the hash of its whole normalised text, which
# exact copies share) and a 64-bit tag that tells apart the copies.

ROW = np.dtype([("line", "<i8"), ("text", "<i8"), ("doc", "<i8"), ("pos", "<u4")])
# Shards of a laptop-sized run; a full crawl wants tens of thousands (configs/llama.yaml).
DEFAULT_SHARDS = 64


def check_shards(shards: object, name: str = "shards") -> int:
    """`shards` if it is an integer >= 1, else a ValueError naming the setting."""
    if isinstance(shards, bool) or not isinstance(shards, int) or shards < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {shards!r}")
    return shards


class LineRows:
    """A buffer of line rows, drained as `(shard, rows bytes, ids)` per non-empty shard.

    `ids` maps each document tag in the shard to its document id, only when the
    caller passes ids (`keep_first` needs them to find the first document).
    """

    def __init__(self, shards: int):
        self.shards = check_shards(shards)
        self._lines, self._pos = array("q"), array("I")
        self._texts, self._docs = array("q"), array("q")
        self._counts: list[int] = []
        self._ids: list[str] | None = None

    def __len__(self) -> int:
        return len(self._lines)

    def add(self, text_key: int, doc_tag: int, hashes: list[int | None], doc_id: str | None = None) -> None:
        """One document: its text key, tag and line hashes (None for blank lines)."""
        before = len(self._lines)
        for i, h in enumerate(hashes):
            if h is not None:
                self._lines.append(h)
                self._pos.append(i)
        self._texts.append(text_key)
        self._docs.append(doc_tag)
        self._counts.append(len(self._lines) - before)
        if doc_id is not None:
            if self._ids is None:
                self._ids = []
            self._ids.append(doc_id)

    def drain(self):
        """Yield `(shard, rows bytes, ids or None)` for every shard with rows, and empty the buffer."""
        if not self._lines:
            self.__init__(self.shards)
            return
        per_doc = np.repeat(np.arange(len(self._counts)), self._counts)
        rows = np.empty(len(self._lines), ROW)
        rows["line"] = np.frombuffer(self._lines, np.int64)
        rows["pos"] = np.frombuffer(self._pos, np.uint32)
        rows["text"] = np.frombuffer(self._texts, np.int64)[per_doc]
        rows["doc"] = np.frombuffer(self._docs, np.int64)[per_doc]
        ids, tags = self._ids, self._docs
        shard = shard_of(rows["line"], self.shards)
        order = np.argsort(shard, kind="stable")
        rows, shard, per_doc = rows[order], shard[order], per_doc[order]
        bounds = np.flatnonzero(np.diff(shard)) + 1
        for start, stop in zip(np.r_[0, bounds], np.r_[bounds, len(rows)]):
            shard_ids = None
            if ids is not None:
                shard_ids = {tags[d]: ids[d] for d in np.unique(per_doc[start:stop]).tolist()}
            yield int(shard[start]), rows[start:stop].tobytes(), shard_ids
        self.__init__(self.shards)


def shard_of(line_hashes: np.ndarray, shards: int) -> np.ndarray:
    """The shard of each line hash (its unsigned value modulo `shards`)."""
    return (line_hashes.view(np.uint64) % np.uint64(shards)).astype(np.int64)


def removal_positions(rows: np.ndarray, ids: dict[int, str] | None = None) -> dict[tuple[int, int], np.ndarray]:
    """Rows of one shard (all occurrences of their line hashes) -> (text key, document
    tag): the line positions to remove from that document.

    A line is removed where its hash occurs in two or more distinct texts (text keys:
    exact duplicates count once, and a line repeated inside one document counts
    once). With `ids` (keep_first), the document with the smallest id (then tag)
    keeps its copies, and so does any exact duplicate of it.
    """
    if not len(rows):
        return {}
    rows = rows[np.lexsort((rows["text"], rows["line"]))]
    line, text = rows["line"], rows["text"]
    new_line = np.r_[True, line[1:] != line[:-1]]
    new_pair = new_line | np.r_[True, text[1:] != text[:-1]]
    starts = np.flatnonzero(new_line)
    texts_per_line = np.add.reduceat(new_pair.astype(np.int64), starts)
    run = np.cumsum(new_line) - 1
    remove = (texts_per_line >= 2)[run]
    if ids is not None:
        stops = np.r_[starts[1:], len(rows)]
        doc = rows["doc"]
        for r in np.flatnonzero(texts_per_line >= 2).tolist():
            a, b = starts[r], stops[r]
            first = min(range(a, b), key=lambda i: (ids[int(doc[i])], int(doc[i])))
            remove[a:b] &= text[a:b] != text[first]
    return _by_document(rows[remove])


def first_occurrence_removals(rows: np.ndarray, ids: dict[int, str]) -> dict[tuple[int, int], np.ndarray]:
    """Rows of one shard -> (text key, document tag): the unit positions to remove.

    C4's rule: of all occurrences of a unit hash, in any documents, only the first
    stays: the one in the document with the smallest id (then tag), at its earliest
    position; every other occurrence goes, repeats inside that document included. A
    record read twice (same id and text, so the same tag) repeats the first
    occurrence exactly and keeps it too (the join keeps one of the two records).
    """
    if not len(rows):
        return {}
    tags = np.unique(rows["doc"])
    by_id = sorted(range(len(tags)), key=lambda i: (ids[int(tags[i])], int(tags[i])))
    rank_of = np.empty(len(tags), np.int64)
    rank_of[by_id] = np.arange(len(tags))
    rank = rank_of[np.searchsorted(tags, rows["doc"])]
    rows = rows[np.lexsort((rows["pos"], rank, rows["line"]))]
    line = rows["line"]
    new_line = np.r_[True, line[1:] != line[:-1]]
    first = np.flatnonzero(new_line)[np.cumsum(new_line) - 1]
    gone = rows[(rows["doc"] != rows["doc"][first]) | (rows["pos"] != rows["pos"][first])]
    return _by_document(gone)


def _by_document(gone: np.ndarray) -> dict[tuple[int, int], np.ndarray]:
    """Rows to remove -> (text key, document tag): their positions, sorted."""
    if not len(gone):
        return {}
    gone = gone[np.lexsort((gone["pos"], gone["doc"], gone["text"]))]
    new_doc = np.r_[True, (gone["text"][1:] != gone["text"][:-1]) | (gone["doc"][1:] != gone["doc"][:-1])]
    starts = np.flatnonzero(new_doc)
    stops = np.r_[starts[1:], len(gone)]
    return {(int(gone["text"][a]), int(gone["doc"][a])): gone["pos"][a:b] for a, b in zip(starts, stops)}


# --- cc_net's rule ------------------------------------------------------------------------
#
# cc_net's HashesCollector adds each document's line hashes to a FlatHashSet as one batch:
# a hash already there (from an earlier document) is marked a duplicate, so a hash is a
# duplicate when it occurs in two or more documents (records: the same page read twice is
# two), and a line repeated only inside one document is not. Here each document sends one
# row per distinct hash (at its first line), so "two or more rows" is the same rule. The
# empty line's hash (blank lines and lines of only listed marks) is in nearly every
# document: it would put every document's row into one shard, so it is counted apart
# (the stage counts documents that have it) and never sent as a row.


def cc_net_rows(hashes: list[int]) -> list[int | None]:
    """A document's cc_net line hashes -> what `LineRows.add` takes: each distinct hash at
    its first line, None at repeats and at every empty line (counted apart)."""
    seen = {CC_NET_EMPTY_HASH}
    out: list[int | None] = []
    for h in hashes:
        if h in seen:
            out.append(None)
        else:
            seen.add(h)
            out.append(h)
    return out


def shared_line_positions(rows: np.ndarray, ids: dict[int, str] | None = None) -> dict[tuple[int, int], np.ndarray]:
    """Rows of one shard (one per document and distinct cc_net line hash) -> (text key,
    document tag): the positions of its rows whose hash has two or more rows.

    `ids` is unused (cc_net's two-pass rule removes every copy); it is there for
    `pipeline.stages.shard_dedup.JudgeShards`.
    """
    if not len(rows):
        return {}
    rows = rows[np.argsort(rows["line"], kind="stable")]
    line = rows["line"]
    new_line = np.r_[True, line[1:] != line[:-1]]
    starts = np.flatnonzero(new_line)
    counts = np.diff(np.r_[starts, len(rows)])
    shared = (counts >= 2)[np.cumsum(new_line) - 1]
    return _by_document(rows[shared])


def cc_net_remove_duplicates(text: str, hashes: list[int], duplicated: Container[int]) -> tuple[str, int] | None:
    """cc_net's DuplicatesRemover.do + finalize_doc on one document: (text, lines removed),
    or None when the document is to be dropped.

    None when the text is empty or every line's hash is a duplicate. Otherwise the
    lines whose hash is a duplicate go, and of the others each hash keeps its first
    line only (a zero hash, cc_net's mark of a removed line, goes too).
    """
    if not text:
        return None
    if all(h in duplicated for h in hashes):
        return None
    lines = text.split("\n")
    seen: set[int] = set()
    kept = []
    for line, h in zip(lines, hashes, strict=True):
        if h not in seen and h != 0 and h not in duplicated:
            kept.append(line)
        seen.add(h)
    return "\n".join(kept), len(lines) - len(kept)
