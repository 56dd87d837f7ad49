"""Books: Project Gutenberg and Books3-style plain text, Gutenberg boilerplate removed,
near-duplicates (MinHash LSH, >= 90% estimated shingle overlap) removed.

    docs -> Gutenberg ("gutenberg") -> NearDedup ("near_dedup") -> kept
              \\______________________\\_____________________-> rejected, stats

LLaMA-1 (section 2): "We remove books with more than 90% content overlap." Content
overlap is measured as the Jaccard similarity of word 5-gram shingles, estimated
with MinHash (filters.minhash).

Near-duplicates are removed by `pipeline.stages.near_dedup` (its docstring gives
the rule and how it runs on Beam's shuffle).
"""
from __future__ import annotations

from dataclasses import dataclass

import apache_beam as beam

from filters.books import GutenbergStrip
from filters.minhash import MinHashParams
from pipeline.readers.books import parse_books
from pipeline.settings import section
from pipeline.sources.base import LlamaShare, Source
from pipeline.stages.judge import FilterStage
from pipeline.stages.near_dedup import NEAR_DEDUP, NearDedup
from pipeline.stats import StageResult, run_stages, sum_pairs

NAME = "books"
GUTENBERG = GutenbergStrip.stage


@dataclass(frozen=True, kw_only=True)
class BooksSettings:
    """Config `books`: near-duplicate removal at 90% content overlap (LLaMA-1)."""

    near_dedup: MinHashParams = section(MinHashParams)


class Gutenberg(beam.PTransform):
    """Stage "gutenberg": `filters.books.GutenbergStrip`, plus "markers:<kind>" rows.

    The markers rows count the kept books by which Gutenberg markers they had
    (both / start_only / end_only / none); a text still naming Project Gutenberg
    where a marker is missing is dropped as `gutenberg_markers_missing`.
    """

    def __init__(self, source: str):
        super().__init__()
        self._source = source

    def expand(self, docs) -> StageResult:
        result = docs | FilterStage(GutenbergStrip(), self._source)
        source = self._source
        markers = (
            result.kept
            | "Markers" >> beam.Map(lambda d: ((source, GUTENBERG, f"markers:{d.meta.get('gutenberg_markers', 'none')}"),
                                               (1, d.nbytes)))
            | "SumMarkers" >> beam.CombinePerKey(sum_pairs)
        )
        stats = (result.stats, markers) | "AllStats" >> beam.Flatten()
        return StageResult(result.kept, result.rejected, stats)


class CurateBooks(beam.PTransform):
    """Gutenberg -> NearDedup; rejects and stats of both, flattened."""

    def __init__(self, source: str, settings: BooksSettings):
        super().__init__()
        self._gutenberg = Gutenberg(source)
        self._near = NearDedup(settings.near_dedup, source)

    def expand(self, docs) -> StageResult:
        return run_stages(docs, [("Gutenberg", self._gutenberg), ("NearDedup", self._near)])


SOURCE = Source(
    name=NAME,
    settings=BooksSettings,
    parser=lambda books: parse_books,
    curate=lambda books, cards: CurateBooks(NAME, books),
    stages=lambda books: (GUTENBERG, NEAR_DEDUP),
    llama=LlamaShare(0.045, 2.23, "85 GB"),
)
