"""Wikipedia curation: MediaWiki XML dumps -> plain-text articles of the 20 LLaMA languages.

    dumps -> read (parse_mediawiki) -> FilterStage(WikipediaFilter) -> kept
                  \\ read stats                     \\-> rejected, stats

Every page of a dump becomes a Document, so the filter stage accounts for all of
them (in == kept + dropped by reason); the reader's own statistics (files,
documents read, malformed pages) come first in the stats.
"""
from __future__ import annotations

from dataclasses import dataclass

import apache_beam as beam

from filters.wikitext import LLAMA_LANGUAGES, WikipediaFilter
from pipeline.readers.wikipedia import SOURCE as NAME
from pipeline.readers.wikipedia import parse_mediawiki
from pipeline.settings import at_least
from pipeline.sources.base import LlamaShare, Source
from pipeline.stages.judge import FilterStage
from pipeline.stats import StageResult


@dataclass(frozen=True, kw_only=True)
class WikipediaSettings:
    """Config `wikipedia`."""

    languages: tuple[str, ...] = tuple(sorted(LLAMA_LANGUAGES))  # LLaMA-1's 20 wikis
    min_chars: int = at_least(100, 0)  # cleaned articles shorter than this are stubs


class CurateWikipedia(beam.PTransform):
    """Pages read from MediaWiki dumps (`*.xml`, `*.xml.bz2`, multistream too) -> articles kept.

    One stage, "wikipedia": `filters.wikitext.WikipediaFilter` with `wikipedia.min_chars`
    and `wikipedia.languages`.
    """

    def __init__(self, settings: WikipediaSettings):
        super().__init__()
        # Built now so a bad setting fails at pipeline construction, not on a worker.
        self._filter = WikipediaFilter(min_chars=settings.min_chars, languages=settings.languages)

    def expand(self, pages) -> StageResult:
        return pages | "Filter" >> FilterStage(self._filter, NAME)


SOURCE = Source(
    name=NAME,
    settings=WikipediaSettings,
    parser=lambda wiki: parse_mediawiki,
    curate=lambda wiki, cards: CurateWikipedia(wiki),
    stages=lambda wiki: (WikipediaFilter.stage,),
    llama=LlamaShare(0.045, 2.45, "83 GB"),
)
