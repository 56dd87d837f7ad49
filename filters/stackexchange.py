"""StackExchange: post bodies to text, a question and its answers to one document.

LLaMA-1 (section 2): "We kept the data from the 28 largest websites, removed the
HTML tags from text and sorted the answers by score (from highest to lowest)."
A thread becomes one document in a readable layout:

    Q: <title>

    <question text>

    A: <best answer text>

    A: <next answer text>

Answers are sorted by their integer score, highest first (the dump stores scores as
strings: "10" must come before "9"); ties go to the accepted answer, then to the
older post (smaller id), so the order is deterministic. Questions without answers
are dropped (`no_answers`), as RedPajama's StackExchange subset does: a question
alone is not a Q&A pair. Answers whose question is not in the dump (deleted posts
are left out of the dumps) are dropped as `orphan_answer`.
"""
from __future__ import annotations

import html
import re
from html.parser import HTMLParser
from typing import ClassVar, Iterable, NamedTuple

from filters.base import DocumentFilter, Drop
from filters.document import Document

QUESTION, ANSWER = 1, 2

# LLaMA-1 kept "the 28 largest websites". This list is the largest sites of the
# Internet Archive StackExchange dump (2023 releases) as we recall their archive
# sizes; it is not read from a dump, and the ranking drifts between releases, so
# check it against your dump's file sizes and set stackexchange.sites accordingly.
LARGEST_SITES: tuple[str, ...] = (
    "stackoverflow.com", "math.stackexchange.com", "superuser.com", "askubuntu.com", "serverfault.com",
    "unix.stackexchange.com", "tex.stackexchange.com", "electronics.stackexchange.com",
    "physics.stackexchange.com", "stats.stackexchange.com", "english.stackexchange.com",
    "mathoverflow.net", "apple.stackexchange.com", "gaming.stackexchange.com", "gis.stackexchange.com",
    "softwareengineering.stackexchange.com", "salesforce.stackexchange.com", "ell.stackexchange.com",
    "codereview.stackexchange.com", "magento.stackexchange.com", "dba.stackexchange.com",
    "wordpress.stackexchange.com", "diy.stackexchange.com", "mathematica.stackexchange.com",
    "security.stackexchange.com", "scifi.stackexchange.com", "sharepoint.stackexchange.com",
    "drupal.stackexchange.com",
)

_BLOCK = frozenset("p div h1 h2 h3 h4 h5 h6 blockquote ul ol table tr pre hr dl dt dd section".split())
_SKIP = frozenset(("script", "style"))


class _TextExtractor(HTMLParser):
    """HTML -> text: paragraphs as blank-line separated blocks, list items as "- ",
    <pre> blocks verbatim (code keeps its line breaks and indentation), entities decoded."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._pre = 0
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in _SKIP:
            self._skip += 1
        elif tag == "br":
            self.parts.append("\n")
        elif tag == "li":
            self.parts.append("\n- ")
        elif tag in _BLOCK:
            self.parts.append("\n\n")
            if tag == "pre":
                self._pre += 1
        elif tag in ("td", "th"):
            self.parts.append(" ")

    def handle_startendtag(self, tag, attrs):
        if tag == "br":
            self.parts.append("\n")
        elif tag == "hr":
            self.parts.append("\n\n")

    def handle_endtag(self, tag):
        if tag in _SKIP:
            self._skip = max(0, self._skip - 1)
        elif tag in _BLOCK:
            if tag == "pre":
                self._pre = max(0, self._pre - 1)
            self.parts.append("\n\n")

    def handle_data(self, data):
        if self._skip:
            return
        if self._pre:
            # Protect code whitespace from the collapsing below.
            self.parts.append(data.replace(" ", "\x00").replace("\n", "\x01"))
        else:
            self.parts.append(re.sub(r"\s+", " ", data))


def html_to_text(html: str) -> str:
    """A post body (HTML) as plain text."""
    parser = _TextExtractor()
    parser.feed(html)
    parser.close()
    text = "".join(parser.parts)
    lines = [line.strip(" ") for line in text.split("\n")]
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
    text = text.replace("\x00", " ").replace("\x01", "\n")
    # A <pre> block's own trailing newline would otherwise add blank lines.
    return re.sub(r"\n[ \t]*\n(?:[ \t]*\n)+", "\n\n", text).strip()


class Answer(NamedTuple):
    post_id: int
    score: int
    body_html: str
    accepted: bool = False


def sort_answers(answers: Iterable[Answer]) -> list[Answer]:
    """Highest integer score first; ties: the accepted answer, then the smaller id."""
    return sorted(answers, key=lambda a: (-int(a.score), not a.accepted, a.post_id))


def format_thread(title: str, question_html: str, answers: Iterable[Answer]) -> str:
    # Titles are plain text, but some dumps carry HTML entities in them (&quot;).
    parts = [f"Q: {html.unescape(title).strip()}".rstrip(), html_to_text(question_html)]
    parts += [f"A: {html_to_text(a.body_html)}" for a in sort_answers(answers)]
    return "\n\n".join(p for p in parts if p)


class StackExchangeFilter(DocumentFilter):
    """Stage "stackexchange": keep question threads with answers from the chosen sites.

    Input documents come from the pairing step (pipeline/sources/stackexchange.py): one per
    thread, with meta "kind": "thread" (a question and its answers), "orphan_answer",
    "other_post" (tag wikis and the other post types), or "duplicate_post".
    """

    stage: ClassVar[str] = "stackexchange"
    reasons: ClassVar[tuple[str, ...]] = (
        "site_not_selected", "post_type", "duplicate_post", "orphan_answer", "no_answers",
    )

    def __init__(self, sites: Iterable[str] | None = LARGEST_SITES):
        self.sites = None if sites is None else frozenset(s.lower() for s in sites)
        if self.sites is not None and not self.sites:
            raise ValueError("stackexchange.sites must name at least one site, or be null for all sites")

    def apply(self, doc: Document) -> Document | Drop:
        if self.sites is not None and doc.meta.get("site", "").lower() not in self.sites:
            return Drop("site_not_selected")
        kind = doc.meta.get("kind")
        if kind == "other_post":
            return Drop("post_type")
        if kind == "duplicate_post":
            return Drop("duplicate_post")
        if kind == "orphan_answer":
            return Drop("orphan_answer")
        if not doc.meta.get("answer_count"):
            return Drop("no_answers")
        return doc
