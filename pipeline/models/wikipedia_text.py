"""Wikipedia article text for the reference models, streamed on the launcher (plain Python, no Beam).

The same reader and cleaner as the Wikipedia curation stage (parse_mediawiki +
WikipediaFilter), so the language models learn the text the stage keeps.
"""
from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from filters.document import Document
from filters.perplexity import paragraphs
from pipeline.models.cache import match_files
from pipeline.read import iter_file
from pipeline.readers.base import Malformed

log = logging.getLogger(__name__)

MALFORMED_LOG_LIMIT = 5


@dataclass
class LangCorpus:
    """One language's normalised training text, written as it streams in.

    `lines` turns an article into its training lines: by default `paragraphs`; the
    perplexity models pass the normalisation of their scoring
    (`filters.perplexity.training_lines`)."""

    path: Path
    max_bytes: int
    lines: Callable[[str], list[str]] = paragraphs
    file: Any = None
    sha256: Any = field(default_factory=hashlib.sha256)
    articles: int = 0
    paragraphs: int = 0
    bytes: int = 0
    truncated: bool = False

    @property
    def full(self) -> bool:
        return self.truncated

    def add(self, text: str) -> None:
        if self.file is None:
            self.file = open(self.path, "w", encoding="utf-8")
        self.articles += 1
        for norm in self.lines(text):  # exactly what the scorer will see
            raw = norm.encode("utf-8") + b"\n"
            if self.bytes + len(raw) > self.max_bytes:
                self.truncated = True  # full: it stops at a paragraph boundary
                return
            self.file.write(norm + "\n")
            self.sha256.update(raw)
            self.bytes += len(raw)
            self.paragraphs += 1


def wikipedia_articles(config: dict, languages: Iterable[str],
                       enough: Callable[[str], bool] = lambda lang: False) -> Iterator[Document]:
    """Cleaned Wikipedia articles of `languages`, streamed from `inputs.wikipedia`.

    The same reader and cleaner as the Wikipedia curation stage (parse_mediawiki +
    WikipediaFilter with `wikipedia.min_chars`), in plain Python on the launcher.
    Malformed pages are counted, a few logged, and skipped (`strict` fails instead).
    A file is left as soon as `enough(its language)` is true (one wiki per dump file).
    """
    from filters.wikitext import WikipediaFilter
    from pipeline.readers.wikipedia import parse_mediawiki

    languages = frozenset(languages)
    keep = WikipediaFilter(min_chars=config.wikipedia.min_chars, languages=languages)
    malformed = 0
    for path in match_files(config.inputs.wikipedia):
        for item in iter_file(path, parse_mediawiki, config.sample, config.strict):
            if isinstance(item, Malformed):
                malformed += 1
                if malformed <= MALFORMED_LOG_LIMIT:
                    log.warning("models: skipping malformed page in %s at %d: %s", item.path, item.offset, item.error)
                continue
            lang = item.meta.get("wiki_lang")
            if lang not in languages or enough(lang):
                break  # one wiki per dump file: nothing more is wanted from this one
            result = keep.apply(item)
            if isinstance(result, Document):
                yield result

