"""ArXiv curation: one stage, the LaTeX cleaner (filters.latex.ArxivFilter).

Cleaning is per paper, so it streams: no shuffle. Extra stat row:
(arxiv, "arxiv", "latin1_fallback") -> (papers, bytes) whose source was not UTF-8 and
was read as latin-1 (filters.latex.decode_tex), counted on the stage's input.
"""
from __future__ import annotations

from dataclasses import dataclass

import apache_beam as beam

from filters.latex import ArxivFilter
from pipeline.dofn import FilterStage
from pipeline.read import read_source
from pipeline.readers.arxiv import parse_arxiv
from pipeline.stats import StageResult, sum_pairs

SOURCE = "arxiv"


@dataclass(frozen=True, kw_only=True)
class ArxivSettings:
    """Config `arxiv`: nothing to set; the cleaning is RedPajama's and LLaMA-1's."""


class CurateArxiv(beam.PTransform):
    def expand(self, papers) -> StageResult:
        result = papers | "Clean" >> FilterStage(ArxivFilter(), SOURCE)
        latin1 = (
            papers
            | "Latin1" >> beam.Filter(lambda d: d.meta.get("encoding") == "latin-1")
            | "OneLatin1" >> beam.Map(lambda d: ((SOURCE, "arxiv", "latin1_fallback"), (1, d.nbytes)))
            | "SumLatin1" >> beam.CombinePerKey(sum_pairs)
        )
        return StageResult(result.kept, result.rejected, (result.stats, latin1) | "AllStats" >> beam.Flatten())


def build_arxiv(p, config, models: dict) -> tuple[StageResult, beam.PCollection]:
    """Builder for pipeline/curate.py: read inputs.arxiv, clean."""
    papers, read_stats = read_source(p, config, SOURCE, parse_arxiv)
    return papers | "CurateArxiv" >> CurateArxiv(), read_stats
