"""CommonCrawl: cc_net's reading, dedup and language id, then LLaMA-1's two quality filters.

    cc.line_dedup.mode cc_net (default; LLaMA-1's cc_net, exactly):
    WET -> min_length -> line_dedup -> lid -> [near_dedup] -> perplexity -> wikiref -> kept
    cc.line_dedup.mode normalized (our earlier rules; WARC input too):
    WET/WARC -> exact_dedup -> line_dedup -> lid -> [near_dedup] -> perplexity -> wikiref -> kept
                      \\______________\\___________\\________\\____________\\___________-> rejected, stats

near_dedup (`cc.near_dedup.enabled`, beyond LLaMA-1): MinHash document near-dedup by
connected components (pipeline.stages.near_dedup), after line dedup and LID so it
runs on fewer documents, before the quality stages.

The mode also sets how WET records are read (`pipeline.readers.warc_records`: cc_net
strips every line and takes the first as the title) and `cc.perplexity.scoring`
how documents are scored. Each stage is a shared transform of `pipeline.stages`;
this module holds the source's config section, its parser and the chain. A quality
stage whose model the models stage could not produce (no KenLM model for any
language, no wikiref classifier) is left out with a warning, never faked.
"""
from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import apache_beam as beam

from pipeline.readers.warc import make_parser
from pipeline.settings import section
from pipeline.sources.base import LlamaShare, Source
from pipeline.stages import near_dedup, perplexity, wikiref
from pipeline.stages.lid import LID, LanguageId, LidSettings
from pipeline.stages.line_dedup import LINE_DEDUP, LineDedupSettings, dedup_stage_names, dedup_transform
from pipeline.stages.near_dedup import NEAR_DEDUP, NearDedupSettings
from pipeline.stages.perplexity import PERPLEXITY, Perplexity, PerplexitySettings
from pipeline.stages.wikiref import WIKIREF, WikiRef, WikirefSettings
from pipeline.stats import StageResult, run_stages

log = logging.getLogger(__name__)

NAME = "cc"


@dataclass(frozen=True, kw_only=True)
class CCSettings:
    """Config `cc`."""

    # resiliparse main-content extraction for WARC HTML (line_dedup.mode normalized; WET text as is)
    main_content: bool = True
    line_dedup: LineDedupSettings = section(LineDedupSettings)
    lid: LidSettings = section(LidSettings)
    # document near-dedup, off in LLaMA-1's recipe; after LID (fewer documents), before the quality stages
    near_dedup: NearDedupSettings = section(NearDedupSettings)
    perplexity: PerplexitySettings = section(PerplexitySettings)
    wikiref: WikirefSettings = section(WikirefSettings)


def quality_stages(source: str, ppl: PerplexitySettings, ref: WikirefSettings,
                   cards: Mapping[str, Any]) -> list[tuple[str, beam.PTransform]]:
    """The perplexity and wikiref stages with the models of OUT/models/cards.json (those that exist)."""
    stages = []
    models = {lang: (card["sentencepiece"], card["kenlm"]) for lang, card in (cards.get("perplexity") or {}).items()}
    if models:
        stages.append(("Perplexity", Perplexity(source, ppl, models)))
    else:
        log.warning("%s: no KenLM model: the perplexity stage is skipped", source)
    if ref.enabled and (cards.get("wikiref") or {}).get("path"):
        stages.append(("WikiRef", WikiRef(source, ref, cards["wikiref"])))
    elif ref.enabled:
        log.warning("%s: no wikiref classifier: the wikiref stage is skipped", source)
    return stages


class CurateCC(beam.PTransform):
    """The CommonCrawl chain; rejects and stats of every stage, flattened."""

    def __init__(self, settings: CCSettings, cards: Mapping[str, Any], source: str = NAME):
        super().__init__()
        self._stages = [
            ("Dedup", dedup_transform(source, settings.line_dedup)),
            ("LanguageId", LanguageId(source, settings.lid, cards["lid"])),
            *near_dedup.stages(source, settings.near_dedup),
            *quality_stages(source, settings.perplexity, settings.wikiref, cards),
        ]

    def expand(self, docs) -> StageResult:
        return run_stages(docs, self._stages)


LINE_DEDUP_NOTES = {
    "cc_net": "cc_net's deduplicate_two_pass: a line (normalize_for_dedup, SHA-1) in 2+ documents "
              "goes from all of them",
    "normalized": "lines compared with case, accents, digits, punctuation and spacing ignored, "
                  "after exact_dedup (not cc_net's)",
}


def _summary_lines(stage: str, entry: dict) -> list[str]:
    if stage == LINE_DEDUP:
        return [" " * 15 + f"mode {mode}: " + LINE_DEDUP_NOTES.get(mode.split(",")[0], "")
                for mode in entry.get("mode", {})]
    if stage == NEAR_DEDUP:
        return near_dedup.summary_lines(entry)
    if stage == PERPLEXITY:
        return perplexity.summary_lines(entry)
    if stage == WIKIREF:
        return wikiref.summary_lines(entry)
    return []


SOURCE = Source(
    name=NAME,
    settings=CCSettings,
    parser=lambda cc: make_parser(main_content=cc.main_content, source=NAME, report_skipped=True,
                                  cc_net=cc.line_dedup.mode == "cc_net"),
    curate=CurateCC,
    stages=lambda cc: (*dedup_stage_names(cc.line_dedup), LID, *near_dedup.stage_names(cc.near_dedup), PERPLEXITY,
                       *([WIKIREF] if cc.wikiref.enabled else [])),
    llama=LlamaShare(0.670, 1.10, "3.3 TB"),
    summary_lines=_summary_lines,
)
