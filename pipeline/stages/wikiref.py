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
REFERENCE = 0.5  # P(wiki) at which a page is "classified as a reference"


@dataclass(frozen=True, kw_only=True)
class WikirefSettings:
    """Config `cc.wikiref`. LLaMA-1 kept pages "classified as used as references in Wikipedia":
    P(wiki) >= 0.5 is that classification; RedPajama kept P(wiki) >= 0.25, a looser cut that
    keeps more pages, and so do we by default. The summary shows the kept share at both."""

    enabled: bool = True  # false: no classifier is trained and the stage does not run
    threshold: float = between(0.25, 0, 1)


def score_bin(score: float) -> str:
    return f"{min(math.floor(score * 10), 9) / 10:.1f}"


class WikiRef(beam.PTransform):
    """Stage "wikiref": `wikiref_score` = P(wiki) (filters.wikiref); below `threshold` -> dropped."""

    def __init__(self, source: str, settings: WikirefSettings, model: ModelFile | Mapping | str | Path):
        super().__init__()
        self._source, self._cuts = source, sorted({settings.threshold, REFERENCE})
        path, sha256 = model_file(model)
        self._filter = WikiRefFilter(path, settings.threshold)
        self._checksums = {"model_path": sha256} if sha256 else None

    def expand(self, docs) -> StageResult:
        source = self._source
        # The filter writes the score on the document it is given; Beam forbids mutating inputs.
        copies = docs | "Copy" >> beam.Map(dataclasses.replace)
        result = copies | FilterStage(self._filter, source, self._checksums)
        cuts = self._cuts
        scores = (
            (result.kept, result.rejected | "RejectedDocs" >> beam.Map(lambda r: r.doc))
            | "AllDocs" >> beam.Flatten()
            | "ScoreRows" >> beam.FlatMap(lambda d: score_rows(source, d, cuts))
            | "SumScoreRows" >> beam.CombinePerKey(sum_pairs)
        )
        stats = (result.stats, scores) | "AllStats" >> beam.Flatten()
        return StageResult(result.kept, result.rejected, stats)


def score_rows(source: str, doc, cuts: list[float]):
    """A scored document's rows: its P(wiki) bin, and "at_least:<t>" for each cut it reaches."""
    yield (source, WIKIREF, f"score_bin:{score_bin(doc.wikiref_score)}"), (1, doc.nbytes)
    for cut in cuts:
        if doc.wikiref_score >= cut:
            yield (source, WIKIREF, f"at_least:{cut:g}"), (1, doc.nbytes)


def summary_lines(entry: dict, indent: str = " " * 15) -> list[str]:
    """The kept share at RedPajama's cut and at "classified as a reference", then the P(wiki)
    histogram of this stage's stats.json entry, in bin order."""
    lines = []
    scored = entry.get("in", {}).get("documents", 0)
    for cut, count in sorted((entry.get("at_least") or {}).items(), key=lambda kv: float(kv[0])):
        name = "classified as a reference" if float(cut) == REFERENCE else "cc.wikiref.threshold"
        share = 100 * count / scored if scored else 0.0
        lines.append(f"{indent}P(wiki) >= {cut} ({name}): {count:,} of {scored:,} ({share:.1f}%)")
    hist = sorted((entry.get("score_bin") or {}).items())
    most = max((v for _, v in hist), default=0)
    if hist:
        lines.append(f"{indent}P(wiki) of every document scored:")
    for label, count in hist:
        lines.append(f"{indent}  {label}-{float(label) + 0.1:.1f} {count:>7,} {text_bar(count, most)}")
    return lines
