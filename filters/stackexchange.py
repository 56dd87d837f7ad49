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
are kept by default, as RedPajama's StackExchange subset keeps them (its filter.py
writes a titled question with no answers as a pair of its own); with
`keep_unanswered=False` they are dropped (`no_answers`). Answers whose question is
not in the dump (deleted posts are left out of the dumps) are dropped as
`orphan_answer`.

Which sites: RedPajama's count.py ranks the sites by the rows of their Posts.xml
(every post type; comments and users are other files) and its filter.py keeps the
first 28. `rank_sites` is that ranking, with ties broken by site name so it is
deterministic; the pipeline counts the posts it reads and ranks them on Beam.
"""
from __future__ import annotations

import html
import re
from html.parser import HTMLParser
from typing import ClassVar, Iterable, NamedTuple

from filters.base import DocumentFilter, Drop
from filters.document import Document

QUESTION, ANSWER = 1, 2

# LLaMA-1 kept "the 28 largest websites": stackexchange.sites = "largest:28".
DEFAULT_LARGEST = 28

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


def rank_sites(posts_per_site: Iterable[tuple[str, int]]) -> list[tuple[str, int]]:
    """(site, posts) pairs, most posts first; ties by site name (count.py leaves them to listdir)."""
    return sorted(posts_per_site, key=lambda sc: (-sc[1], sc[0]))


def largest_sites(posts_per_site: Iterable[tuple[str, int]], n: int) -> tuple[str, ...]:
    """The n sites with the most posts (RedPajama's count.py + filter.py: the first 28)."""
    return tuple(site for site, _ in rank_sites(posts_per_site)[:n])


class StackExchangeFilter(DocumentFilter):
    """Stage "stackexchange": keep question threads from the chosen sites.

    Input documents come from the pairing step (pipeline/sources/stackexchange.py): one per
    thread, with meta "kind": "thread" (a question and its answers), "orphan_answer",
    "other_post" (tag wikis and the other post types), or "duplicate_post".
    `sites`: the sites kept (None: every site); `keep_unanswered`: keep a question
    with no answer (RedPajama) or drop it (`no_answers`).
    """

    stage: ClassVar[str] = "stackexchange"
    reasons: ClassVar[tuple[str, ...]] = (
        "site_not_selected", "post_type", "duplicate_post", "orphan_answer", "no_answers",
    )

    def __init__(self, sites: Iterable[str] | None = None, keep_unanswered: bool = True):
        self.sites = None if sites is None else frozenset(s.lower() for s in sites)
        self.keep_unanswered = keep_unanswered

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
        if not doc.meta.get("answer_count") and not self.keep_unanswered:
            return Drop("no_answers")
        return doc
