"""Project Gutenberg header/footer stripping, on hand-written marker layouts and the real sample."""
from pathlib import Path

import pytest

from filters.base import Drop
from filters.books import GutenbergStrip, strip_gutenberg
from filters.document import Document

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "data" / "sample" / "books"

BOOK = "CHAPTER I.\n\nIt is a truth universally acknowledged, that a single man\nin possession of a good fortune, must be in want of a wife."

MODERN = f"""The Project Gutenberg eBook of Pride and Prejudice, by Jane Austen

This eBook is for the use of anyone anywhere in the United States and
most other parts of the world at no cost and with almost no restrictions
whatsoever.

Title: Pride and Prejudice

Author: Jane Austen

Release Date: June, 1998 [eBook #1342]

Language: English

*** START OF THE PROJECT GUTENBERG EBOOK PRIDE AND PREJUDICE ***

{BOOK}

*** END OF THE PROJECT GUTENBERG EBOOK PRIDE AND PREJUDICE ***

Section 1. General Terms of Use and Redistributing Project Gutenberg-tm
electronic works
"""

LEGACY = f"""The Project Gutenberg EBook of Pride and Prejudice, by Jane Austen

**Welcome To The World of Free Plain Vanilla Electronic Texts**

*END*THE SMALL PRINT! FOR PUBLIC DOMAIN ETEXTS*Ver.04.29.93*END*

{BOOK}

End of Project Gutenberg's Pride and Prejudice, by Jane Austen

This file should be named 1342.txt or 1342.zip. Project Gutenberg licence follows.
"""


def book(text: str, doc_id: str = "books/pg1342") -> Document:
    return Document(id=doc_id, source="books", text=text)


def test_modern_markers_cut_header_and_footer():
    s = strip_gutenberg(MODERN)
    assert s.text == BOOK
    assert s.markers == "both" and not s.leftover
    assert s.header == {"title": "Pride and Prejudice", "author": "Jane Austen", "language": "English"}


def test_this_ebook_variant_without_spaces_and_crlf():
    text = MODERN.replace("*** START OF THE PROJECT GUTENBERG EBOOK", "***START OF THIS PROJECT GUTENBERG EBOOK")
    text = text.replace("*** END OF THE", "*** END OF THIS").replace("\n", "\r\n")
    s = strip_gutenberg(text)
    assert s.markers == "both"
    assert s.text == BOOK.replace("\n", "\r\n")


def test_redundant_end_line_before_the_end_marker_is_cut():
    text = MODERN.replace("\n*** END OF", "\nEnd of the Project Gutenberg EBook of Pride and Prejudice\n\n*** END OF")
    assert strip_gutenberg(text).text == BOOK


def test_legacy_small_print_and_end_line():
    s = strip_gutenberg(LEGACY)
    assert s.markers == "both" and not s.leftover
    assert s.text.strip() == BOOK


def test_filter_keeps_stripped_book_and_records_markers():
    out = GutenbergStrip().apply(book(MODERN))
    assert out.text == BOOK
    assert out.meta == {"gutenberg_markers": "both",
                        "gutenberg_header": {"title": "Pride and Prejudice", "author": "Jane Austen",
                                             "language": "English"}}


def test_text_without_markers_or_mention_is_kept_unchanged():
    out = GutenbergStrip().apply(book(BOOK))
    assert out.text == BOOK and out.meta == {"gutenberg_markers": "none"}


def test_header_without_start_marker_is_dropped():
    text = MODERN.replace("*** START OF THE PROJECT GUTENBERG EBOOK PRIDE AND PREJUDICE ***", "")
    assert strip_gutenberg(text).markers == "end_only"
    assert GutenbergStrip().apply(book(text)) == Drop("gutenberg_markers_missing")


def test_licence_footer_without_end_marker_is_dropped():
    text = MODERN.replace("*** END OF THE PROJECT GUTENBERG EBOOK PRIDE AND PREJUDICE ***", "")
    assert strip_gutenberg(text).markers == "start_only"
    assert GutenbergStrip().apply(book(text)) == Drop("gutenberg_markers_missing")


def test_start_marker_only_without_footer_is_kept():
    text = MODERN.split("*** END OF")[0]
    out = GutenbergStrip().apply(book(text))
    assert out.text.strip() == BOOK and out.meta["gutenberg_markers"] == "start_only"


def test_nothing_between_the_markers_is_empty():
    text = MODERN.replace(BOOK, "")
    assert GutenbergStrip().apply(book(text)) == Drop("empty")


def test_mention_in_the_middle_of_a_long_unmarked_book_is_kept():
    middle = "A chapter about Project Gutenberg and its volunteers.\n"
    filler = "word " * 5000 + "\n"  # 25 kB either side, past BOUNDARY_CHARS
    out = GutenbergStrip().apply(book(filler + middle + filler))
    assert not isinstance(out, Drop)


@pytest.fixture(scope="module")
def sample():
    from samples.build_c4_books import build

    build(ROOT / "data" / "sample")
    return SAMPLE


def test_real_wrapped_sample_strips_to_the_unwrapped_edition(sample):
    # areopagitica_gut.txt is areopagitica.txt wrapped in Gutenberg markers with CRLF.
    wrapped = (sample / "areopagitica_gut.txt").read_text(encoding="utf-8").replace("\r\n", "\n")
    plain = (sample / "areopagitica.txt").read_text(encoding="utf-8")
    s = strip_gutenberg(wrapped)
    assert s.markers == "both"
    assert s.header["title"] == "Areopagitica"
    assert s.text.strip("\n") == plain.strip("\n")
    assert "Project Gutenberg" not in s.text


def test_real_unwrapped_sample_has_no_markers(sample):
    for name in ("areopagitica.txt", "hamlet_gut_f.txt", "paradiseregained.txt"):
        s = strip_gutenberg((sample / name).read_text(encoding="utf-8"))
        assert (s.markers, s.leftover) == ("none", False), name
