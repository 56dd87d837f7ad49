"""ArXiv curation: one stage, the LaTeX cleaner (filters.latex.ArxivFilter).

Cleaning is per paper, so it streams: no shuffle. Extra stat row:
(arxiv, "arxiv", "latin1_fallback") -> (papers, bytes) whose source was not UTF-8 and
was read as latin-1 (filters.latex.decode_tex), counted on the stage's input.
"""
from __future__ import annotations

from dataclasses import dataclass

import apache_beam as beam

from filters.latex import ArxivFilter
from pipeline.readers.arxiv import parse_arxiv
from pipeline.sources.base import LlamaShare, Source
from pipeline.stages.judge import FilterStage
from pipeline.stats import StageResult, sum_pairs

NAME = "arxiv"


@dataclass(frozen=True, kw_only=True)
class ArxivSettings:
    """Config `arxiv`: nothing to set; the cleaning is RedPajama's and LLaMA-1's."""


class CurateArxiv(beam.PTransform):
    def expand(self, papers) -> StageResult:
        result = papers | "Clean" >> FilterStage(ArxivFilter(), NAME)
        latin1 = (
            papers
            | "Latin1" >> beam.Filter(lambda d: d.meta.get("encoding") == "latin-1")
            | "OneLatin1" >> beam.Map(lambda d: ((NAME, "arxiv", "latin1_fallback"), (1, d.nbytes)))
            | "SumLatin1" >> beam.CombinePerKey(sum_pairs)
        )
        return StageResult(result.kept, result.rejected, (result.stats, latin1) | "AllStats" >> beam.Flatten())


SOURCE = Source(
    name=NAME,
    settings=ArxivSettings,
    parser=lambda arxiv: parse_arxiv,
    curate=lambda arxiv, cards: CurateArxiv(),
    stages=lambda arxiv: (ArxivFilter.stage,),
    llama=LlamaShare(0.025, 1.06, "92 GB"),
)
