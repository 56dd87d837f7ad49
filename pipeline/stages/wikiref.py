"""Stage "wikiref" (LLaMA-1): P(wiki) from the Wikipedia-reference classifier; below the threshold, dropped.

LLaMA-1 kept CommonCrawl pages "classified as used as references in Wikipedia";
the classifier (fastText, `filters.wikiref`) is trained by the models stage.
Extra stat rows: (source, "wikiref", "score_bin:<0.0..0.9>") -> P(wiki) in 0.1 bins,
over kept and dropped documents.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from collections.abc import Mapping
from pathlib import Path

import apache_beam as beam

from filters.wikiref import WikiRefFilter
from pipeline.localize import ModelFile, model_file
from pipeline.settings import between
from pipeline.stages.judge import FilterStage
from pipeline.stats import StageResult, sum_pairs
from pipeline.summary import text_bar

WIKIREF = "wikiref"


@dataclass(frozen=True, kw_only=True)
class WikirefSettings:
    """Config `cc.wikiref`: documents with P(wiki) below the threshold are dropped (RedPajama: 0.25)."""

    threshold: float = between(0.25, 0, 1)


def score_bin(score: float) -> str:
    return f"{min(math.floor(score * 10), 9) / 10:.1f}"


class WikiRef(beam.PTransform):
    """Stage "wikiref": `wikiref_score` = P(wiki) (filters.wikiref); below `threshold` -> dropped."""

    def __init__(self, source: str, settings: WikirefSettings, model: ModelFile | Mapping | str | Path):
        super().__init__()
        self._source = source
        path, sha256 = model_file(model)
        self._filter = WikiRefFilter(path, settings.threshold)
        self._checksums = {"model_path": sha256} if sha256 else None

    def expand(self, docs) -> StageResult:
        source = self._source
        # The filter writes the score on the document it is given; Beam forbids mutating inputs.
        copies = docs | "Copy" >> beam.Map(dataclasses.replace)
        result = copies | FilterStage(self._filter, source, self._checksums)
        scores = (
            (result.kept, result.rejected | "RejectedDocs" >> beam.Map(lambda r: r.doc))
            | "AllDocs" >> beam.Flatten()
            | "ScoreBins" >> beam.Map(
                lambda d: ((source, WIKIREF, f"score_bin:{score_bin(d.wikiref_score)}"), (1, d.nbytes)))
            | "SumScoreBins" >> beam.CombinePerKey(sum_pairs)
        )
        stats = (result.stats, scores) | "AllStats" >> beam.Flatten()
        return StageResult(result.kept, result.rejected, stats)


def summary_lines(entry: dict, indent: str = " " * 15) -> list[str]:
    """The P(wiki) histogram of this stage's stats.json entry, in bin order."""
    lines = []
    hist = sorted((entry.get("score_bin") or {}).items())
    most = max((v for _, v in hist), default=0)
    if hist:
        lines.append(f"{indent}P(wiki) of every document scored:")
    for label, count in hist:
        lines.append(f"{indent}  {label}-{float(label) + 0.1:.1f} {count:>7,} {text_bar(count, most)}")
    return lines
