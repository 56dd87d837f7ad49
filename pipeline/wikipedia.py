"""Wikipedia curation: MediaWiki XML dumps -> plain-text articles of the 20 LLaMA languages.

    dumps -> ReadDocuments(parse_mediawiki) -> FilterStage(WikipediaFilter) -> kept
                       \\ read stats                       \\-> rejected, stats

Every page of a dump becomes a Document, so the filter stage accounts for all of
them (in == kept + dropped by reason); the reader's own statistics (files,
documents read, malformed pages) come first in the stats.
"""
from __future__ import annotations

from collections.abc import Iterable

import apache_beam as beam

from filters.wikitext import LLAMA_LANGUAGES, WikipediaFilter
from pipeline.dofn import FilterStage
from pipeline.read import ReadDocuments, Sampling
from pipeline.readers.wikipedia import SOURCE, parse_mediawiki
from pipeline.stats import StageResult


class CurateWikipedia(beam.PTransform):
    """Read MediaWiki dumps (`*.xml`, `*.xml.bz2`, multistream too) and keep articles.

    Applied to a pipeline root (`p | CurateWikipedia([...])`); returns a StageResult.
    `min_chars`, `languages`, `disambiguation_templates` and `drop_sections` go to
    `filters.wikitext.WikipediaFilter` (None keeps its defaults); `strict` turns a
    malformed page into a failure instead of a counted skip.
    """

    def __init__(self, paths: Iterable[str], sampling: Sampling = Sampling(), *,
                 min_chars: int = 100, languages: Iterable[str] = LLAMA_LANGUAGES,
                 disambiguation_templates: Iterable[str] | None = None,
                 drop_sections: Iterable[str] | None = None, strict: bool = False):
        super().__init__()
        self._paths = list(paths)
        self._sampling, self._strict = sampling, strict
        # Built now so a bad setting fails at pipeline construction, not on a worker.
        self._filter = WikipediaFilter(
            min_chars=min_chars, languages=languages,
            disambiguation_templates=disambiguation_templates, drop_sections=drop_sections,
        )

    def expand(self, pbegin) -> StageResult:
        read = ReadDocuments(self._paths, parse_mediawiki, SOURCE, self._sampling, self._strict)
        docs = pbegin | "Read" >> read
        result = docs | "Filter" >> FilterStage(self._filter, SOURCE)
        stats = (read.stats, result.stats) | "Stats" >> beam.Flatten()
        return StageResult(result.kept, result.rejected, stats)
