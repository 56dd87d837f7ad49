"""filters.line_dedup's sharded half: packing lines into rows and judging a shard.

The reference is the rule in plain Python over whole documents; the sharded code
must agree with it for any documents, any number of shards, with and without
keep_first.
"""
from __future__ import annotations

import hashlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from filters.line_dedup import ROW, LineRows, first_occurrence_removals, removal_positions
from filters.normalize import line_digests


def tag(doc_id: str) -> int:
    return int.from_bytes(hashlib.blake2b(doc_id.encode(), digest_size=8).digest(), "little", signed=True)


def key(doc_id: str, docs: dict[str, str]) -> tuple[int, int]:
    return line_digests(docs[doc_id])[0], tag(doc_id)


def sharded(docs: dict[str, str], shards: int, keep_first: bool) -> dict[tuple[int, int], list[int]]:
    rows = LineRows(shards)
    for doc_id, text in docs.items():
        text_key, hashes = line_digests(text)
        rows.add(text_key, tag(doc_id), hashes, doc_id if keep_first else None)
    out: dict[tuple[int, int], list[int]] = {}
    seen_shards = set()
    for shard, payload, ids in rows.drain():
        assert shard not in seen_shards and 0 <= shard < shards
        seen_shards.add(shard)
        assert (ids is not None) == keep_first
        for k, positions in removal_positions(np.frombuffer(payload, ROW), ids).items():
            out.setdefault(k, []).extend(positions.tolist())
    assert len(rows) == 0  # drained
    return {k: sorted(v) for k, v in out.items()}


def reference(docs: dict[str, str], keep_first: bool) -> dict[tuple[int, int], list[int]]:
    """A line goes where its hash occurs in 2+ distinct texts (all copies, or all but
    the smallest id's text with keep_first)."""
    digests = {doc_id: line_digests(text) for doc_id, text in docs.items()}
    texts_of: dict[int, set[int]] = {}
    for text_key, hashes in digests.values():
        for h in hashes:
            if h is not None:
                texts_of.setdefault(h, set()).add(text_key)
    out: dict[bytes, list[int]] = {}
    for doc_id, (text_key, hashes) in digests.items():
        for i, h in enumerate(hashes):
            if h is None or len(texts_of[h]) < 2:
                continue
            if keep_first:
                first = min(d for d, (_, hs) in digests.items() if h in hs)
                if digests[first][0] == text_key:
                    continue
            out.setdefault(key(doc_id, docs), []).append(i)
    return out


DOCS = {
    "a": "Home\nAbout us\nA story about cats.\nHome",
    "b": "Home\nAbout us\nA story about dogs.",
    "c": "A story about dogs.\nsomething else",
    "d": "HOME!!\nnothing shared",  # normalises to "home"
    "e": "Home\nAbout us\nA story about cats.\nHome",  # exact copy of a: counts once
}


@pytest.mark.parametrize("shards", [1, 2, 64])
def test_a_line_in_two_texts_goes_everywhere_one_in_one_text_stays(shards):
    got = sharded(DOCS, shards, keep_first=False)
    assert got == reference(DOCS, keep_first=False)
    assert got[key("a", DOCS)] == [0, 1, 3]  # "Home" twice and "About us"; its cat line is only in a and its copy e
    assert got[key("c", DOCS)] == [0] and got[key("d", DOCS)] == [0]


def test_keep_first_leaves_the_smallest_ids_copy_and_its_exact_duplicates():
    got = sharded(DOCS, 3, keep_first=True)
    assert got == reference(DOCS, keep_first=True)
    assert key("a", DOCS) not in got and key("e", DOCS) not in got  # a is first; e has a's text
    assert got[key("b", DOCS)] == [0, 1] and got[key("c", DOCS)] == [0]


def test_nothing_shared_means_no_orders_and_an_empty_buffer_drains_to_nothing():
    assert sharded({"x": "one line", "y": "another line"}, 4, keep_first=False) == {}
    assert list(LineRows(4).drain()) == []
    assert removal_positions(np.zeros(0, ROW)) == {}


def test_rows_are_28_bytes_and_bad_shard_counts_are_refused():
    assert ROW.itemsize == 28
    for bad in (0, -1, 1.5, True, "8"):
        with pytest.raises(ValueError, match="shards"):
            LineRows(bad)


lines = st.sampled_from(["Home", "home!", "About us", "Contact 2024", "Contact 1999", "", "* * *",
                         "Cats", "dogs", "Été", "ete", "unique words here"])


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(st.text("abcdef", min_size=1, max_size=3),
                       st.lists(lines, max_size=8).map("\n".join), max_size=8),
       st.integers(1, 9), st.booleans())
def test_sharded_verdicts_equal_the_plain_rule(docs, shards, keep_first):
    assert sharded(docs, shards, keep_first) == reference(docs, keep_first)


# ------------------------------------------------------------- C4: first occurrence

def first_occurrence_sharded(pages: list[tuple[str, list[int]]], shards: int) -> dict[tuple[int, int], list[int]]:
    """pages: (id, unit hashes in order); the same id twice is the same record read twice."""
    rows = LineRows(shards)
    for page_id, hashes in pages:
        rows.add(tag(page_id), tag(page_id), hashes, page_id)
    out: dict[tuple[int, int], list[int]] = {}
    for _, payload, ids in rows.drain():
        for k, positions in first_occurrence_removals(np.frombuffer(payload, ROW), ids).items():
            out.setdefault(k, []).extend(positions.tolist())
    return {k: sorted(v) for k, v in out.items()}


def first_occurrence_reference(pages: list[tuple[str, list[int]]]) -> dict[tuple[int, int], list[int]]:
    """Every occurrence but the first (smallest id, then position) goes; a record read
    twice repeats the first occurrence exactly and keeps it too."""
    first: dict[int, tuple[str, int]] = {}
    for page_id, hashes in pages:
        for pos, h in enumerate(hashes):
            first[h] = min(first.get(h, (page_id, pos)), (page_id, pos))
    out: dict[tuple[int, int], list[int]] = {}
    for page_id, hashes in pages:
        for pos, h in enumerate(hashes):
            if first[h] != (page_id, pos):
                out.setdefault((tag(page_id), tag(page_id)), []).append(pos)
    return {k: sorted(v) for k, v in out.items()}


def test_first_occurrence_keeps_the_smallest_id_earliest_copy_only():
    pages = [("b", [1, 2, 1]), ("a", [2, 3]), ("c", [3, 4]), ("a", [2, 3])]  # "a" read twice
    got = first_occurrence_sharded(pages, 2)
    assert got == first_occurrence_reference(pages)
    assert got == {(tag("b"), tag("b")): [1, 2], (tag("c"), tag("c")): [0]}  # b's 2nd unit and repeat; c's 3


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.sampled_from("abcdef"), st.lists(st.integers(0, 6), max_size=6)), max_size=8),
       st.integers(1, 5))
def test_first_occurrence_sharded_equals_the_plain_rule(pages, shards):
    # One id, one text: a repeated id carries the same units (a record read twice).
    units = {}
    pages = [(page_id, units.setdefault(page_id, hashes)) for page_id, hashes in pages]
    assert first_occurrence_sharded(pages, shards) == first_occurrence_reference(pages)
