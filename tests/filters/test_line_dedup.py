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

from filters.line_dedup import (
    ROW, LineRows, cc_net_remove_duplicates, cc_net_rows, first_occurrence_removals, removal_positions,
    shared_line_positions,
)
from filters.normalize import CC_NET_EMPTY_HASH, cc_net_line_hashes, line_digests
from tests import cc_net_reference as ref


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


# ------------------------------------------------------------- cc_net: deduplicate_two_pass
# The reference is cc_net's HashesCollector + FlatHashSet.add (one batch per document)
# + DuplicatesRemover/finalize_doc, re-implemented from its source (tests/cc_net_reference.py).

def cc_net_sharded(docs: list[tuple[str, str]], shards: int) -> list[str | None]:
    """Our cc_net rule as the stage runs it: rows by shard, each shard judged alone, the
    empty line counted apart, then each record's verdict (None: dropped)."""
    def record_tag(doc_id: str, text: str) -> int:  # a record read twice has one tag
        return tag(doc_id + "\x00" + text)

    rows, blank = LineRows(shards), 0
    for doc_id, text in docs:
        if not text:
            continue
        hashes = cc_net_line_hashes(text)
        rows.add(record_tag(doc_id, text), record_tag(doc_id, text), cc_net_rows(hashes))
        blank += CC_NET_EMPTY_HASH in hashes
    orders: dict[int, list[int]] = {}
    for _, payload, ids in rows.drain():
        assert ids is None
        for (text_key, doc), positions in shared_line_positions(np.frombuffer(payload, ROW)).items():
            assert text_key == doc
            orders.setdefault(doc, []).extend(positions.tolist())
    out = []
    for doc_id, text in docs:
        hashes = cc_net_line_hashes(text) if text else []
        duplicated = {hashes[p] for p in orders.get(record_tag(doc_id, text), [])}
        if blank >= 2:
            duplicated.add(CC_NET_EMPTY_HASH)
        result = cc_net_remove_duplicates(text, hashes, duplicated)
        out.append(None if result is None else result[0])
    return out


def test_cc_net_removes_every_copy_of_a_shared_line_and_drops_emptied_documents():
    docs = [
        ("a", "Home\nAbout us\nA story about cats.\nHome\n"),
        ("b", "HOME\nabout us\nA story about dogs."),
        ("c", "A story about dogs.\nsomething else\nsomething else"),
        ("d", "Home\nAbout us\nA story about cats.\nHome\n"),  # a copy of a under another id
        ("e", "Only here"),
    ]
    expected = ref.deduplicate_two_pass([text for _, text in docs])
    assert expected == [None, None, "something else", None, "Only here"]  # a and d: every line is shared
    for shards in (1, 3, 64):
        assert cc_net_sharded(docs, shards) == expected


def test_cc_net_keeps_a_documents_own_repeats_once_and_its_blank_line_unless_shared():
    alone = [("a", "x\n\nx\ny\n\n")]
    assert cc_net_sharded(alone, 2) == ref.deduplicate_two_pass(["x\n\nx\ny\n\n"]) == ["x\n\ny"]
    two = [("a", "x\n\nx\ny\n\n"), ("b", "z\n\nw")]  # both have a blank line: it goes from both
    assert cc_net_sharded(two, 2) == ref.deduplicate_two_pass([t for _, t in two]) == ["x\ny", "z\nw"]


def test_cc_net_a_record_read_twice_is_two_documents():
    docs = [("a", "Read twice\nfrom one file"), ("a", "Read twice\nfrom one file"), ("b", "Other")]
    assert cc_net_sharded(docs, 4) == ref.deduplicate_two_pass([t for _, t in docs]) == [None, None, "Other"]


def test_cc_net_shard_judge_needs_two_rows():
    assert shared_line_positions(np.zeros(0, ROW)) == {}
    rows = LineRows(1)
    rows.add(1, 1, [5, 6, None])
    rows.add(2, 2, [6, 7])
    ((_, payload, _),) = list(rows.drain())
    got = {k: v.tolist() for k, v in shared_line_positions(np.frombuffer(payload, ROW)).items()}
    assert got == {(1, 1): [1], (2, 2): [0]}
    assert cc_net_rows([5, 5, CC_NET_EMPTY_HASH, 6, 5]) == [5, None, None, 6, None]


cc_net_lines = st.sampled_from(["Home", "home", "HOME!", "About us", "Contact 2024", "Contact 1999", "", "  ",
                                "…", "* * *", "Cats", "cats", "Été", "été", "ete", "unique words here"])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from("abcdefgh"), st.lists(cc_net_lines, max_size=8).map("\n".join)),
                max_size=9),
       st.integers(1, 9))
def test_cc_net_sharded_equals_deduplicate_two_pass(docs, shards):
    # One id, one text: a repeated id is the same record read again.
    texts: dict[str, str] = {}
    docs = [(doc_id, texts.setdefault(doc_id, text)) for doc_id, text in docs]
    assert cc_net_sharded(docs, shards) == ref.deduplicate_two_pass([text for _, text in docs])


@settings(max_examples=100, deadline=None)
@given(st.lists(st.text(st.characters(codec=None, exclude_categories=("Cs",)), max_size=40), max_size=6),
       st.integers(1, 5))
def test_cc_net_sharded_equals_deduplicate_two_pass_on_any_text(texts, shards):
    docs = [(str(i), text) for i, text in enumerate(texts)]
    assert cc_net_sharded(docs, shards) == ref.deduplicate_two_pass(texts)
