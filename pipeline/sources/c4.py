"""C4: its JSON lines as published, or rebuilt from CommonCrawl WET/WARC with C4's rules.

`c4.mode: released` (the default): LLaMA used C4 as published, so its JSON lines
are read, counted and written unchanged, every document kept (RedPajama's C4 is
the same: allenai/c4 "en", only reformatted):

    docs -> Released ("released": in == kept) -> kept

`c4.mode: rebuild`: C4's own steps, for WET/WARC input or raw C4-style pages:

    docs -> C4Clean ("c4_rules_v1") -> LanguageId ("lid") -> SpanDedup ("c4_dedup") -> kept
              \\___________________________\\_____________________\\___-> rejected, stats

Either mode may end with document near-dedup (`c4.near_dedup.enabled`, beyond
LLaMA-1: MinHash by connected components, pipeline.stages.near_dedup).

Published C4 text has been through these steps already ("the preprocessing of C4
also contains deduplication and language identification steps", LLaMA-1), which is
why `released` does not repeat them. A released C4 has no crawl files, so WET/WARC
patterns in inputs.c4 with `released` are a config error.

Order: TFDS runs clean -> dedup -> langdetect. Here LID runs before dedup so the
dataset-wide shuffle only carries English pages; a span shared by an English and a
non-English page is then judged among English pages only.

LID: C4 kept pages langdetect gave >= 0.99 English; we use the project's fastText
lid.176 model (`filters.lid.LanguageIdFilter`, `c4.lid` in the config), whose
probabilities are calibrated differently.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import apache_beam as beam

from filters.c4 import DEDUP_UNITS, C4Rules, dedup_units, load_bad_words, remove_units
from filters.document import Document
from filters.line_dedup import DEFAULT_SHARDS, LineRows, first_occurrence_removals
from pipeline.readers.jsonl import C4Input, is_warc_name
from pipeline.settings import at_least, invalid, one_of, section
from pipeline.sources.base import LlamaShare, Source
from pipeline.stages.judge import Judge, judged
from pipeline.stages import near_dedup
from pipeline.stages.lid import LID, LanguageId, LidSettings
from pipeline.stages.near_dedup import NEAR_DEDUP, NearDedupSettings
from pipeline.stages.shard_dedup import JudgeShards, doc_tag, emit_rows, positions_of
from pipeline.stats import Chain, StageResult, run_stages

NAME = "c4"
RELEASED = "released"
REBUILD = "rebuild"
RULES = C4Rules.stage
DEDUP = "c4_dedup"
ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True, kw_only=True)
class C4RulesSettings:
    """Config `c4.rules`: C4's page and line rules (Raffel et al. 2020, section 2.2)."""

    min_words_per_line: int = at_least(5, 0)
    min_sentences: int = at_least(3, 0)
    max_word_length: int = at_least(1000, 1)  # C4's clean_utils
    bad_words: str | None = "configs/c4_badwords_en.txt"  # LDNOOBW English; None: no bad-words rule


@dataclass(frozen=True, kw_only=True)
class SpanDedupSettings:
    """Config `c4.dedup`."""

    unit: str = one_of("span", *DEDUP_UNITS)  # span: C4's three-sentence spans; line: TFDS's lines
    span_sentences: int = at_least(3, 1)
    shards: int = at_least(DEFAULT_SHARDS, 1)  # span-hash shards, each judged in one worker's memory


@dataclass(frozen=True, kw_only=True)
class C4Settings:
    """Config `c4`."""

    mode: str = one_of(RELEASED, RELEASED, REBUILD)  # released: C4 as published; rebuild: the steps below
    main_content: bool = False  # whole-page text for WARC HTML, as C4 (WET text is used as is)
    rules: C4RulesSettings = section(C4RulesSettings)
    lid: LidSettings = section(LidSettings)
    dedup: SpanDedupSettings = section(SpanDedupSettings)
    # document near-dedup, off in LLaMA-1's recipe; last, in either mode
    near_dedup: NearDedupSettings = section(NearDedupSettings)


def check_inputs(settings: C4Settings, patterns: tuple[str, ...]) -> None:
    """Refuse crawl files with mode released, before any work: a released C4 is JSON lines."""
    crawl = [p for p in patterns if is_warc_name(p)]
    if settings.mode == RELEASED and crawl:
        raise invalid("c4.mode", f"is released (C4 JSON as published), but inputs.c4 lists WET/WARC files {crawl}; "
                      "set c4.mode: rebuild to build C4 from a crawl")


# --- stage "released" ---------------------------------------------------------------------

class _PassThrough(beam.DoFn):
    def __init__(self, source: str):
        self._source = source

    def setup(self):
        self._judge = Judge(self._source, RELEASED)

    def process(self, doc: Document):
        yield from self._judge.arrived(doc)
        yield from self._judge.keep(doc)


class Released(beam.PTransform):
    """Stage "released": C4 as published, every document kept unchanged and counted (in == kept)."""

    def __init__(self, source: str = NAME):
        super().__init__()
        self._source = source

    def expand(self, docs) -> StageResult:
        return judged(docs, "Released", _PassThrough(self._source))


# --- stage "c4_rules_v1" ---------------------------------------------------------------

class _CleanPages(beam.DoFn):
    def __init__(self, rules: C4Rules, source: str):
        self._rules, self._source = rules, source

    def setup(self):
        self._judge = Judge(self._source, RULES, self._rules.reasons)

    def process(self, doc: Document):
        yield from self._judge.arrived(doc)
        result = self._rules.clean(doc.text)
        if result.reason is not None:
            yield from self._judge.drop(doc, result.reason)
            return
        out = dataclasses.replace(doc, text=result.text)
        yield from self._judge.trimmed(doc, out, result.lines_in, sum(result.removed.values()))
        yield from self._judge.keep(out, *((f"line_drops:{reason}", n, 0) for reason, n in result.removed.items()))


class C4Clean(beam.PTransform):
    """Stage "c4_rules_v1": `filters.c4.C4Rules` on every page.

    Drop reasons: lorem_ipsum, curly_bracket, bad_words, too_few_sentences, empty.
    Extra stat rows, over the pages kept: "lines_in" and "lines_removed" (lines,
    bytes) and "line_drops:<reason>" (lines) for each line rule.
    """

    def __init__(self, rules: C4Rules, source: str):
        super().__init__()
        self._rules, self._source = rules, source

    def expand(self, docs) -> StageResult:
        return judged(docs, "Clean", _CleanPages(self._rules, self._source))


# --- stage "c4_dedup" -------------------------------------------------------------------

_UNITS = "units"


class _Units(beam.DoFn):
    """page -> (tag, page); per bundle, its units' hashes as packed rows by shard.

    Units are C4's three-sentence spans (or lines), numbered in page order; the rows
    carry the page's id, since "first" means the smallest id.
    """

    def __init__(self, unit: str, span_sentences: int, shards: int):
        self._unit, self._n, self._shards = unit, span_sentences, shards

    def start_bundle(self):
        self._rows = LineRows(self._shards)

    def process(self, doc: Document):
        tag = doc_tag(doc)
        yield tag, doc
        hashes = [h for h, _ in dedup_units(doc.text, self._unit, self._n)]
        self._rows.add(tag, tag, hashes, doc.id)
        yield from emit_rows(self._rows, _UNITS)

    def finish_bundle(self):
        yield from emit_rows(self._rows, _UNITS, final=True)


class _RemoveSpans(beam.DoFn):
    """(tag, {"doc": [pages], "remove": [(tag, positions)]}) -> trimmed page, or rejected."""

    def __init__(self, source: str, unit: str, span_sentences: int, min_sentences: int):
        self._source, self._unit, self._n, self._min = source, unit, span_sentences, min_sentences

    def setup(self):
        self._judge = Judge(self._source, DEDUP, SpanDedup.reasons)

    def process(self, element):
        _, joined = element
        docs = list(joined["doc"])
        if not docs:  # orders for a page that is not here: cannot happen, but never crash on it
            return
        doc_id = docs[0].id
        for d in docs:
            yield from self._judge.arrived(d)
        doc, copies = docs[0], docs[1:]
        for copy in copies:  # same id and same text: the same page read twice
            yield from self._judge.drop(dataclasses.replace(copy, meta={**copy.meta, "duplicate_of": doc_id}),
                                        "duplicate_document")
        positions = positions_of(data for _, data in joined["remove"])
        text, n_removed, sentences = remove_units(doc.text, positions, self._unit, self._n)
        out = dataclasses.replace(doc, text=text) if n_removed else doc
        yield from self._judge.trimmed(doc, out, doc.text.count("\n") + 1, n_removed)
        if n_removed:
            out.meta = {**out.meta, "c4_dedup_lines_removed": n_removed}
        if not text.strip():
            yield from self._judge.drop(out, "empty" if self._min == 0 else "too_few_sentences")
        elif sentences < self._min:
            yield from self._judge.drop(out, "too_few_sentences")
        else:
            yield from self._judge.keep(out)


class SpanDedup(beam.PTransform):
    """Stage "c4_dedup": remove text repeated across the dataset, keeping its first occurrence.

    The C4 paper discards "all but one of any three-sentence span occurring more
    than once in the data set". Here every window of `span_sentences` consecutive
    sentences is hashed (normalised: `filters.c4.dedup_units`); a span whose hash
    occurs more than once is kept where it occurs first (smallest document id, then
    position) and, everywhere else, the lines it covers are removed. Lines are the
    unit of removal, as in TFDS, whose code (`remove_duplicate_text`) dedups whole
    lines instead of spans: `unit="line"` does that. Pages left with fewer than
    `min_sentences` sentences are dropped (`too_few_sentences`, as TFDS does after
    dedup); two records with the same id and text keep one (`duplicate_document`).

    Two shuffles, as cc's line dedup (pipeline.stages.shard_dedup): the units as packed rows
    grouped by hash shard (`shards`), each shard judged in memory
    (`filters.line_dedup.first_occurrence_removals`), then the pages joined to their
    removal orders. Extra stat rows: "lines_in", "lines_removed" (lines, bytes).
    """

    reasons = ("too_few_sentences", "duplicate_document", "empty")

    def __init__(self, source: str, settings: SpanDedupSettings, min_sentences: int):
        super().__init__()
        self._shards = settings.shards
        self._source, self._unit, self._n, self._min = source, settings.unit, settings.span_sentences, min_sentences

    def expand(self, docs) -> StageResult:
        units = docs | "Units" >> beam.ParDo(_Units(self._unit, self._n, self._shards)).with_outputs(
            _UNITS, main="pages")
        orders = (
            units[_UNITS]
            | "GroupByShard" >> beam.GroupByKey()
            | "RemovalOrders" >> beam.ParDo(JudgeShards(first_occurrence_removals))
        )
        return judged({"doc": units.pages, "remove": orders} | "JoinByDoc" >> beam.CoGroupByKey(),
                      "RemoveSpans", _RemoveSpans(self._source, self._unit, self._n, self._min))


# --- the whole source ---------------------------------------------------------------------

def resolve_bad_words(path: str | None) -> list[str] | None:
    """The bad-words list named by c4.rules.bad_words (relative paths: CWD, then the repo root)."""
    if not path:
        return None
    candidate = Path(path)
    if not candidate.exists() and not candidate.is_absolute() and (ROOT / candidate).exists():
        candidate = ROOT / candidate
    if not candidate.exists():
        raise FileNotFoundError(f"c4.rules.bad_words: no such file {path!r}")
    return load_bad_words(candidate)


class CurateC4(beam.PTransform):
    """C4Clean -> LanguageId -> SpanDedup; rejects and stats of all three, flattened."""

    def __init__(self, settings: C4Settings, cards: Mapping[str, Any], source: str = NAME):
        super().__init__()
        rules = settings.rules
        self._clean = C4Clean(C4Rules(min_words_per_line=rules.min_words_per_line, min_sentences=rules.min_sentences,
                                      max_word_length=rules.max_word_length,
                                      bad_words=resolve_bad_words(rules.bad_words)), source)
        self._lid = LanguageId(source, settings.lid, cards["lid"])
        self._dedup = SpanDedup(source, settings.dedup, rules.min_sentences)
        self._near = near_dedup.stages(source, settings.near_dedup)

    def expand(self, docs) -> StageResult:
        return run_stages(docs, [("C4Rules", self._clean), ("LanguageId", self._lid), ("SpanDedup", self._dedup),
                                 *self._near])


def curate(settings: C4Settings, cards: Mapping[str, Any]) -> beam.PTransform:
    """The curation of `c4.mode`."""
    if settings.mode == REBUILD:
        return CurateC4(settings, cards)
    near = near_dedup.stages(NAME, settings.near_dedup)
    return Chain([("Released", Released()), *near]) if near else Released()


def stages(settings: C4Settings) -> tuple[str, ...]:
    base = (RELEASED,) if settings.mode == RELEASED else (RULES, LID, DEDUP)
    return (*base, *near_dedup.stage_names(settings.near_dedup))


def _summary_lines(stage: str, entry: dict, indent: str = " " * 15) -> list[str]:
    """Which c4.mode ran, under its first stage."""
    if stage == RELEASED:
        return [f"{indent}c4.mode released: C4 as published, written unchanged (no rules, LID or span dedup)"]
    if stage == RULES:
        return [f"{indent}c4.mode rebuild: C4's page rules, then LID, then three-sentence span dedup"]
    if stage == NEAR_DEDUP:
        return near_dedup.summary_lines(entry, indent)
    return []


SOURCE = Source(
    name=NAME,
    settings=C4Settings,
    parser=lambda c4: C4Input(main_content=c4.main_content, released=c4.mode == RELEASED),
    curate=curate,
    stages=stages,
    llama=LlamaShare(0.150, 1.06, "783 GB"),
    summary_lines=_summary_lines,
    check_inputs=check_inputs,
)
